-- squawk-ignore-file require-lock-timeout, require-statement-timeout
-- DROP INDEX CONCURRENTLY blocks no reads or writes, and a timeout would
-- only leave the rollback half done.
DROP INDEX CONCURRENTLY IF EXISTS set_images_thumbnail_key_idx;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS set_images_media_key_idx;
