-- squawk-ignore-file prefer-robust-stmts, require-lock-timeout, require-statement-timeout
-- As 20261125000400: dropping first is the robust form of CREATE INDEX
-- CONCURRENTLY (an interrupted build leaves an INVALID index), and neither
-- timeout fits a build that blocks no reads or writes.
--
-- `sets db media-gc` asks, for each file in the store, whether a row points
-- at it: one index lookup per key on these. Partial: images by URL (nearly
-- all rows today) have no key, so the indexes hold uploaded photos only.
DROP INDEX CONCURRENTLY IF EXISTS set_images_media_key_idx;
--bun:split
CREATE INDEX CONCURRENTLY set_images_media_key_idx
    ON set_images (media_key) WHERE media_key IS NOT NULL;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS set_images_thumbnail_key_idx;
--bun:split
CREATE INDEX CONCURRENTLY set_images_thumbnail_key_idx
    ON set_images (thumbnail_key) WHERE thumbnail_key IS NOT NULL;
