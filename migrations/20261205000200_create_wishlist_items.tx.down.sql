-- squawk-ignore-file ban-drop-table, require-statement-timeout
-- A down migration exists to drop what its up created; it runs only when an
-- operator rolls back on purpose, so the lock it takes is the point. The
-- release it returns to neither reads nor writes wishlist items. lock_timeout
-- bounds the moment DROP TABLE waits for users (its foreign key's table).
SET LOCAL lock_timeout = '5s';

DROP TABLE wishlist_items;
