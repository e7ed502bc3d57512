-- squawk-ignore-file require-statement-timeout, ban-drop-column
-- ban-drop-column: the column is this migration's own, and the release the
-- down returns to neither reads nor writes it.
-- Drops what the up migration added and puts set_updated_at back as
-- migration 20261125000100 wrote it. DROP INDEX CONCURRENTLY blocks no reads
-- or writes; dropping the column and the trigger takes ACCESS EXCLUSIVE for
-- a moment (no rewrite), bounded by lock_timeout.
SET lock_timeout = '5s';
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS sets_user_canonical_set_number_idx;
--bun:split
DROP TRIGGER IF EXISTS sets_canonical_set_number ON sets;
--bun:split
DROP FUNCTION IF EXISTS sets_canonical_set_number();
--bun:split
ALTER TABLE sets DROP COLUMN IF EXISTS canonical_set_number;
--bun:split
RESET lock_timeout;
--bun:split
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
--bun:split
DROP FUNCTION IF EXISTS canonical_set_number(text);
