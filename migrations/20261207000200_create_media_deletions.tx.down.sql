-- squawk-ignore-file require-statement-timeout, ban-drop-table
-- ban-drop-table: the table is this migration's own, and the release the
-- down returns to neither reads nor writes it.
-- Keys still queued are dropped with the table: their files stay in the
-- store, for `sets db media-gc` (which the release the down returns to has
-- not either; they are unreachable, not lost data).
SET LOCAL lock_timeout = '5s';
DROP TRIGGER IF EXISTS set_images_queue_media_deletion ON set_images;
DROP FUNCTION IF EXISTS set_images_queue_media_deletion();
DROP TABLE IF EXISTS media_deletions;
