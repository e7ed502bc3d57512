-- squawk-ignore-file ban-drop-table, require-statement-timeout
-- ban-drop-table: the side table is the up migration's own; its values are
-- back in sets before it is dropped, and the release the down returns to
-- never reads it.
-- Undoes 20261205000300: the constraint goes first (so the old values may
-- be written back), then every value the up migration moved aside goes back
-- to its set, then the side table and the index go. Up, down, up leaves the
-- same schema and the same values. Each step can be run again after a
-- failure: a value already back is skipped, a table or index already gone
-- is not looked for.

-- Dropping the constraint takes ACCESS EXCLUSIVE on sets and wishlist_items
-- for a moment; it gives up after 5 s rather than queue every read behind a
-- long transaction (the rollback then fails, to be run again).
SET lock_timeout = '5s';
--bun:split
ALTER TABLE sets DROP CONSTRAINT IF EXISTS sets_wishlist_item_fk;
--bun:split
RESET lock_timeout;
--bun:split

-- In batches of 5,000 by set id, each committed on its own, so row locks
-- are held on one batch at a time. A set that points at a wishlist item now
-- (linked after the up migration) keeps that link. Writing a value back is
-- not an edit of the set: derived_only keeps updated_at where it was.
DO $$
DECLARE
    done uuid := '00000000-0000-0000-0000-000000000000';
    upto uuid;
BEGIN
    IF to_regclass('sets_dangling_wishlist_item_ids') IS NULL THEN
        RETURN; -- a re-run after the table was dropped: nothing left to restore
    END IF;
    LOOP
        SELECT b.set_id INTO upto
        FROM (SELECT set_id FROM sets_dangling_wishlist_item_ids
              WHERE set_id > done ORDER BY set_id LIMIT 5000) AS b
        ORDER BY b.set_id DESC LIMIT 1;
        EXIT WHEN upto IS NULL;
        PERFORM set_config('sets.derived_only', 'on', true);
        UPDATE sets AS s SET wishlist_item_id = d.wishlist_item_id
        FROM sets_dangling_wishlist_item_ids AS d
        WHERE d.set_id > done AND d.set_id <= upto
          AND s.id = d.set_id AND s.wishlist_item_id IS NULL;
        done := upto;
        COMMIT;
    END LOOP;
END;
$$;
--bun:split

-- Its foreign key's triggers on sets go with it: a moment's lock on sets,
-- bounded like the constraint's.
SET lock_timeout = '5s';
--bun:split
DROP TABLE IF EXISTS sets_dangling_wishlist_item_ids;
--bun:split
RESET lock_timeout;
--bun:split

-- DROP INDEX CONCURRENTLY blocks no reads or writes.
DROP INDEX CONCURRENTLY IF EXISTS sets_wishlist_item_id_idx;
