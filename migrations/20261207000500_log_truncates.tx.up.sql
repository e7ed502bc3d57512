-- squawk-ignore-file require-statement-timeout
-- TRUNCATE fires no row or transition-table triggers, so the change log of
-- 20261207000400 missed it: a `TRUNCATE sets` typed in psql (or a restore
-- that empties tables first) left every device showing sets that were
-- gone. Now a truncate of sets, set_images or wishlist_items logs one
-- RESYNC for every user: what was removed is not known row by row, only
-- that clients must refetch. A truncate that reaches users too (TRUNCATE
-- users CASCADE) takes the log with it, and logs nothing.
--
-- The triggers take SHARE ROW EXCLUSIVE on the three tables for a moment
-- (no scan), bounded by lock_timeout.
SET LOCAL lock_timeout = '5s';

CREATE FUNCTION log_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM log_changes('RESYNC', array_agg(id), array_agg(id)) FROM users;
    RETURN NULL;
END
$$;

CREATE TRIGGER sets_log_truncate AFTER TRUNCATE ON sets
    FOR EACH STATEMENT EXECUTE FUNCTION log_truncate();
CREATE TRIGGER set_images_log_truncate AFTER TRUNCATE ON set_images
    FOR EACH STATEMENT EXECUTE FUNCTION log_truncate();
CREATE TRIGGER wishlist_items_log_truncate AFTER TRUNCATE ON wishlist_items
    FOR EACH STATEMENT EXECUTE FUNCTION log_truncate();
