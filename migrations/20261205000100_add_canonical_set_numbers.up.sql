-- squawk-ignore-file prefer-robust-stmts, require-statement-timeout
-- SPEC §7: a set number's canonical key ("75192", "75192-1" and "75192-01"
-- are all "75192-1"), kept by the database for every writer (the API,
-- imports, psql, db repair) and indexed for the queries that compare it:
-- the setNumber filter and createSet's duplicates.
--
-- Not transactional, so that nothing here holds a lock for the length of a
-- table scan. Measured by bench/migrations/canonical-set-numbers.sh on the
-- 2-core machine with 1,000,000 sets (PostgreSQL 15, default settings), two
-- clients updating random sets throughout:
--   * ADD COLUMN (nullable, no default: no rewrite) and CREATE TRIGGER take
--     ACCESS EXCLUSIVE and SHARE ROW EXCLUSIVE locks on sets for a few
--     milliseconds each; lock_timeout makes them give up (and the migration
--     fail, to be run again) rather than queue every read behind a long
--     transaction;
--   * the backfill commits every 5,000 sets, each batch holding row locks
--     on its own 5,000 rows only, about 180 ms each (35 s in all); the
--     longest a concurrent update waited was 186 ms (492 ms in a second
--     run with another job on the machine), its mean 1.3 ms;
--   * CREATE INDEX CONCURRENTLY blocks neither reads nor writes (2.2 s).
-- Not a STORED generated column: adding one rewrites the whole table under
-- ACCESS EXCLUSIVE, blocking every read and write for the length of it.
-- A statement_timeout would abort the backfill or the build halfway, and a
-- lock_timeout would fail the index build rather than let it wait for older
-- transactions; both are written to be run again after any failure.
--
-- prefer-robust-stmts: CREATE INDEX CONCURRENTLY IF NOT EXISTS would keep an
-- INVALID index left by an interrupted build; dropping it first is the
-- robust form (as in migration 20261125000400). The other statements are
-- IF NOT EXISTS / OR REPLACE already.

-- Every DDL statement below gives up after 5 s rather than queue every read
-- of sets behind a long transaction; the migration then fails, to be run
-- again. RESET before the backfill (see above for the index build's reason).
SET lock_timeout = '5s';
--bun:split

-- The rule, in SQL, so that every writer and every query shares it. The
-- base is compared case-insensitively; the variant is the last "-digits"
-- part, without leading zeros; a number without one is variant 1; an empty
-- number has no key.
CREATE OR REPLACE FUNCTION canonical_set_number(n text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN t = '' THEN NULL
        WHEN t ~ '^.+-[0-9]+$' THEN
            lower(substring(t FROM '^(.+)-[0-9]+$')) || '-' ||
            coalesce(nullif(ltrim(substring(t FROM '-([0-9]+)$'), '0'), ''), '0')
        ELSE lower(t) || '-1'
    END
    FROM (SELECT btrim(n, E' \t\r\n\f\v') AS t) AS trimmed
$$;
--bun:split

-- set_updated_at moves updated_at on every update, as SPEC §1 says. A
-- rebuild of derived columns only (this backfill, `sets db repair`) is not a
-- change of the set, and must not reorder a gallery sorted by UPDATED_AT:
-- such a transaction says so with SET LOCAL sets.derived_only = 'on'.
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('sets.derived_only', true) = 'on' THEN
        RETURN NEW;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
--bun:split

ALTER TABLE sets ADD COLUMN IF NOT EXISTS canonical_set_number text;
--bun:split

-- Recomputed on every insert, and on every update that names either column,
-- so the key cannot be written apart from the number it derives from.
CREATE OR REPLACE FUNCTION sets_canonical_set_number() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.canonical_set_number := canonical_set_number(NEW.set_number);
    RETURN NEW;
END;
$$;
--bun:split

CREATE OR REPLACE TRIGGER sets_canonical_set_number
    BEFORE INSERT OR UPDATE OF set_number, canonical_set_number ON sets
    FOR EACH ROW EXECUTE FUNCTION sets_canonical_set_number();
--bun:split

RESET lock_timeout;
--bun:split

-- The sets written before the trigger existed, in batches of 5,000 by id,
-- each committed on its own (a DO block run outside a transaction may
-- COMMIT). A re-run after a failure skips the rows already right.
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
        UPDATE sets SET canonical_set_number = canonical_set_number(set_number)
        WHERE id > done AND id <= upto
          AND canonical_set_number IS DISTINCT FROM canonical_set_number(set_number);
        done := upto;
        COMMIT;
    END LOOP;
END;
$$;
--bun:split

-- Every API query is one user's: the key is looked up within the user.
DROP INDEX CONCURRENTLY IF EXISTS sets_user_canonical_set_number_idx;
--bun:split
CREATE INDEX CONCURRENTLY sets_user_canonical_set_number_idx
    ON sets (user_id, canonical_set_number);
