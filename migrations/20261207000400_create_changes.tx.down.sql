-- squawk-ignore-file require-statement-timeout, ban-drop-table
-- Undoes 20261207000400: the change log and its heads go, with their
-- triggers (ban-drop-table: dropping what the up migration created is the
-- point of a down migration).
SET LOCAL lock_timeout = '5s';
DROP TRIGGER wishlist_items_log_deletes ON wishlist_items;
DROP TRIGGER wishlist_items_log_updates ON wishlist_items;
DROP TRIGGER wishlist_items_log_inserts ON wishlist_items;
DROP FUNCTION wishlist_items_log_changes();
DROP TRIGGER set_images_log_deletes ON set_images;
DROP TRIGGER set_images_log_updates ON set_images;
DROP TRIGGER set_images_log_inserts ON set_images;
DROP FUNCTION set_images_log_changes();
DROP TRIGGER sets_log_deletes ON sets;
DROP TRIGGER sets_log_updates ON sets;
DROP TRIGGER sets_log_inserts ON sets;
DROP FUNCTION sets_log_changes();
DROP FUNCTION log_changes(text, uuid[], uuid[]);
DROP TABLE changes;
DROP TABLE change_heads;
