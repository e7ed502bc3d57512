-- squawk-ignore-file require-statement-timeout
-- Undoes 20261207000500: truncates go unlogged again.
SET LOCAL lock_timeout = '5s';
DROP TRIGGER wishlist_items_log_truncate ON wishlist_items;
DROP TRIGGER set_images_log_truncate ON set_images;
DROP TRIGGER sets_log_truncate ON sets;
DROP FUNCTION log_truncate();
