-- squawk-ignore-file require-lock-timeout, require-statement-timeout
-- DROP INDEX CONCURRENTLY blocks no reads or writes, and a timeout would
-- only leave the rollback half done.
DROP INDEX CONCURRENTLY IF EXISTS set_images_set_id_position_idx;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS sets_user_theme_created_at_idx;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS sets_user_created_at_idx;
