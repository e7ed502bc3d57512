-- squawk-ignore-file require-lock-timeout, require-statement-timeout
-- This migration only creates new objects (its foreign key briefly locks a
-- table created by the migration before it, in the same first-release run,
-- before any server starts): there is no traffic to wait for or to block.
-- Users are owned by the auth service in production; this project creates the
-- table so that it can run on its own. A user first seen through a token may
-- have no email yet, hence the nullable column.
CREATE TABLE users (
    id           uuid      PRIMARY KEY DEFAULT gen_random_uuid(),
    email        text      UNIQUE,
    display_name text,
    created_at   timestamp NOT NULL DEFAULT now(),
    updated_at   timestamp NOT NULL DEFAULT now()
);

-- One trigger function serves every table with an updated_at column, so that
-- the column moves whoever writes the row (the API, psql, a backfill).
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER users_set_updated_at
    BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
