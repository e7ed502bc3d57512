-- squawk-ignore-file prefer-robust-stmts, require-statement-timeout
-- SPEC §10: sets.wishlist_item_id references the wishlist, and the database
-- itself guarantees that a set points only at its own owner's item: the
-- foreign key is (wishlist_item_id, user_id) -> wishlist_items (id, user_id).
-- Deleting an item nulls wishlist_item_id alone (SET NULL of the column
-- list; a plain SET NULL would null user_id too, which is NOT NULL).
--
-- The column had no foreign key until now, so existing sets may hold values
-- that point at no item (an older release stored whatever id it was given).
-- They are kept in sets_dangling_wishlist_item_ids with their set id, then
-- cleared, so that the constraint validates and nothing is lost; the down
-- migration puts them back.
--
-- Not transactional, so that nothing here holds a lock for the length of a
-- table scan. The order matters:
--   1. the side table and the index (SET NULL of a deleted item finds its
--      sets through the index instead of scanning sets);
--   2. the constraint, NOT VALID: from then on every write is checked, so no
--      writer (an older release still running) can add a dangling value;
--   3. the values dangling before it are moved to the side table and
--      cleared, in batches committed one by one;
--   4. VALIDATE, which finds none left.
-- Measured by bench/migrations/wishlist-fk.sh on the 2-core machine with
-- 1,000,000 sets, 100,000 of them dangling, two clients updating random
-- sets throughout (PostgreSQL 15): 20.7 s in all. The side table and ADD
-- CONSTRAINT NOT VALID take their locks on sets (SHARE ROW EXCLUSIVE) for
-- milliseconds (0.24 s with psql's start-up); the index builds concurrently
-- in 1.1 s; the move holds row locks of one batch of 5,000 at a time (17.1 s
-- for all 200 batches); VALIDATE takes SHARE UPDATE EXCLUSIVE, which blocks
-- no reads or writes, for 0.6 s. The longest a concurrent update waited was
-- 199 ms (mean 1.3 ms); afterwards 100,000 values were in the side table,
-- none left on sets, and the constraint was validated.
--
-- Every step can be run again after a failure at any point: IF NOT EXISTS,
-- the constraint added only if missing, the move skipping what is cleared
-- already, VALIDATE of a valid constraint doing nothing.
--
-- prefer-robust-stmts: CREATE INDEX CONCURRENTLY IF NOT EXISTS would keep an
-- INVALID index left by an interrupted build; dropping it first is the
-- robust form (as in migration 20261125000400). It also flags VALIDATE
-- outside a transaction, which is safe to run again: validating a valid
-- constraint does nothing. require-statement-timeout: a statement_timeout
-- would abort the move or a scan halfway, to be run again with nothing
-- gained.

-- The DDL that locks sets (the side table's foreign key, the constraint)
-- gives up after 5 s rather than queue every read and write of sets behind a
-- long transaction; the migration then fails, to be run again.
SET lock_timeout = '5s';
--bun:split

-- The values of sets.wishlist_item_id that pointed at no wishlist item of
-- the set's owner when the foreign key arrived, one row per set: what the
-- migration cleared, so that nothing is lost. The down migration puts each
-- back (where the set has no wishlist item by then) and drops the table. A
-- set deleted since takes its row with it.
CREATE TABLE IF NOT EXISTS sets_dangling_wishlist_item_ids (
    set_id           uuid      PRIMARY KEY REFERENCES sets (id) ON DELETE CASCADE,
    wishlist_item_id uuid      NOT NULL,
    moved_at         timestamp NOT NULL DEFAULT now()
);
--bun:split

-- A lock_timeout would fail the index build rather than let it wait for
-- older transactions; SHARE UPDATE EXCLUSIVE blocks no reads or writes.
RESET lock_timeout;
--bun:split

-- ON DELETE SET NULL of a wishlist item updates the sets pointing at it:
-- found through this index, not by scanning sets. Partial: most sets point
-- at no item, and the lookup is always for one.
DROP INDEX CONCURRENTLY IF EXISTS sets_wishlist_item_id_idx;
--bun:split
CREATE INDEX CONCURRENTLY sets_wishlist_item_id_idx
    ON sets (wishlist_item_id) WHERE wishlist_item_id IS NOT NULL;
--bun:split

SET lock_timeout = '5s';
--bun:split

-- NOT VALID: checked for every write from now on, existing rows not read
-- (SHARE ROW EXCLUSIVE on sets and wishlist_items for milliseconds). There
-- is no ADD CONSTRAINT IF NOT EXISTS, hence the look-up, so that a re-run
-- after a later step failed goes on.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'sets'::regclass AND conname = 'sets_wishlist_item_fk') THEN
        ALTER TABLE sets ADD CONSTRAINT sets_wishlist_item_fk
            FOREIGN KEY (wishlist_item_id, user_id) REFERENCES wishlist_items (id, user_id)
            ON DELETE SET NULL (wishlist_item_id) NOT VALID;
    END IF;
END;
$$;
--bun:split

RESET lock_timeout;
--bun:split

-- The values written before the constraint that match no (id, user_id) of
-- wishlist_items (in a real upgrade every one: the table was created empty
-- by the migration before), in batches of 5,000 sets by id, each committed
-- on its own (a DO block run outside a transaction may COMMIT). Per batch:
-- the dangling sets are locked first, then read again in a new snapshot
-- (each statement of a DO block takes one), so that a set linked to a real
-- item meanwhile keeps its link, and the side table gets exactly the value
-- that is cleared. Clearing a value that pointed at nothing is not an edit
-- of the set: derived_only keeps updated_at where it was (set_updated_at,
-- migration 20261205000100). A re-run finds the batches done already
-- cleared; a set moved before (only if someone dropped the constraint in
-- between) keeps the value it held last, which is what down must restore.
DO $$
DECLARE
    done uuid := '00000000-0000-0000-0000-000000000000';
    upto uuid;
BEGIN
    LOOP
        SELECT b.id INTO upto
        FROM (SELECT id FROM sets WHERE id > done ORDER BY id LIMIT 5000) AS b
        ORDER BY b.id DESC LIMIT 1;
        EXIT WHEN upto IS NULL;
        PERFORM set_config('sets.derived_only', 'on', true);
        PERFORM 1 FROM sets AS s
        WHERE s.id > done AND s.id <= upto AND s.wishlist_item_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM wishlist_items AS w
                          WHERE w.id = s.wishlist_item_id AND w.user_id = s.user_id)
        FOR UPDATE OF s;
        WITH moved AS (
            INSERT INTO sets_dangling_wishlist_item_ids AS d (set_id, wishlist_item_id)
            SELECT s.id, s.wishlist_item_id FROM sets AS s
            WHERE s.id > done AND s.id <= upto AND s.wishlist_item_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM wishlist_items AS w
                              WHERE w.id = s.wishlist_item_id AND w.user_id = s.user_id)
            ON CONFLICT (set_id) DO UPDATE
                SET wishlist_item_id = excluded.wishlist_item_id, moved_at = excluded.moved_at
            RETURNING d.set_id
        )
        UPDATE sets SET wishlist_item_id = NULL
        FROM moved WHERE sets.id = moved.set_id;
        done := upto;
        COMMIT;
    END LOOP;
END;
$$;
--bun:split

-- Scans sets under SHARE UPDATE EXCLUSIVE: reads and writes go on (only
-- other schema changes of sets wait), and a lock_timeout would only fail it.
ALTER TABLE sets VALIDATE CONSTRAINT sets_wishlist_item_fk;
