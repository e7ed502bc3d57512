-- squawk-ignore-file require-statement-timeout
-- The change log of live updates (SPEC §11): one row per change of a set
-- (its images included) or a wishlist item, written by triggers in the
-- changing transaction itself, so that every writer (the API, imports,
-- `db repair`, a DELETE typed in psql and its cascades) logs, and what is
-- acknowledged is in the log.
--
-- Positions are per user and handed out under the row lock of the user's
-- change_heads row, held until commit: a user's next change waits for the
-- previous one to commit or roll back, so position order is commit order
-- (a sequence gives numbers in the order transactions ask, and a reader
-- that has seen 6 could later find 5 committed: STACK-NOTES). Positions
-- have no holes, which lets a reader tell a gap from a quiet collection.
--
-- Everything here is new and empty; the triggers take SHARE ROW EXCLUSIVE
-- on sets, set_images and wishlist_items for a moment (no scan), bounded by
-- lock_timeout so that a long reader makes the migration fail and retry
-- rather than queue every writer behind it.
SET LOCAL lock_timeout = '5s';

CREATE TABLE change_heads (
    user_id  uuid   PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The user's last position handed out (0: none yet).
    position bigint NOT NULL CONSTRAINT change_heads_position_check CHECK (position >= 0)
);

CREATE TABLE changes (
    user_id   uuid      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position  bigint    NOT NULL,
    kind      text      NOT NULL CONSTRAINT changes_kind_check CHECK (kind IN
        ('SET_CHANGED', 'SET_DELETED', 'WISHLIST_ITEM_CHANGED', 'WISHLIST_ITEM_DELETED', 'RESYNC')),
    -- The set or wishlist item; the user's own id for RESYNC.
    entity_id uuid      NOT NULL,
    at        timestamp NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, position)
);

-- Retention deletes by age.
CREATE INDEX changes_at_idx ON changes (at);

-- log_changes appends one change of p_kind for each distinct (user,
-- entity) pair, per user in id order (two statements touching the same
-- users lock their heads in the same order). Within one transaction a pair
-- already logged with the same kind is not logged again (createSet writes
-- the set, then its images: one SET_CHANGED). More than 1,000 entities of
-- one user in one statement (an import) become a single RESYNC, after
-- which that transaction logs nothing more for the user: the client's
-- refetch, which follows the commit, sees all of it.
CREATE FUNCTION log_changes(p_kind text, p_users uuid[], p_entities uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r         record;
    -- {user id: the first position this transaction took}; SET LOCAL, so
    -- it ends with the transaction (and with a rolled-back savepoint).
    tx        jsonb := coalesce(nullif(current_setting('sets.changes_tx', true), ''), '{}')::jsonb;
    first_pos bigint;
    fresh     uuid[];
    n         bigint;
    head      bigint;
BEGIN
    FOR r IN
        SELECT u AS user_id, array_agg(DISTINCT e) AS entities
        FROM unnest(p_users, p_entities) AS t (u, e)
        WHERE u IS NOT NULL AND e IS NOT NULL
        GROUP BY u
        ORDER BY u
    LOOP
        first_pos := (tx ->> r.user_id::text)::bigint;
        fresh := r.entities;
        IF first_pos IS NOT NULL THEN
            CONTINUE WHEN EXISTS (SELECT 1 FROM changes c
                WHERE c.user_id = r.user_id AND c.position >= first_pos AND c.kind = 'RESYNC');
            SELECT array_agg(e) INTO fresh FROM unnest(r.entities) AS e
            WHERE NOT EXISTS (SELECT 1 FROM changes c
                WHERE c.user_id = r.user_id AND c.position >= first_pos
                  AND c.kind = p_kind AND c.entity_id = e);
        END IF;
        n := coalesce(cardinality(fresh), 0);
        CONTINUE WHEN n = 0;
        IF n > 1000 THEN
            n := 1;
        END IF;
        head := NULL;
        -- No user row: it is being deleted (this is its cascade), and its
        -- log goes with it.
        INSERT INTO change_heads AS h (user_id, position)
        SELECT r.user_id, n WHERE EXISTS (SELECT 1 FROM users WHERE id = r.user_id)
        ON CONFLICT (user_id) DO UPDATE SET position = h.position + excluded.position
        RETURNING h.position INTO head;
        CONTINUE WHEN head IS NULL;
        IF first_pos IS NULL THEN
            tx := tx || jsonb_build_object(r.user_id::text, head - n + 1);
            PERFORM set_config('sets.changes_tx', tx::text, true);
        END IF;
        IF cardinality(fresh) > 1000 THEN
            INSERT INTO changes (user_id, position, kind, entity_id)
            VALUES (r.user_id, head, 'RESYNC', r.user_id);
        ELSE
            INSERT INTO changes (user_id, position, kind, entity_id)
            SELECT r.user_id, head - n + o, p_kind, e
            FROM unnest(fresh) WITH ORDINALITY AS t (e, o);
        END IF;
        -- Sent at commit, to every server's listener: who, and up to where.
        PERFORM pg_notify('sets_changes', r.user_id::text || ' ' || head);
    END LOOP;
END
$$;

-- Statement triggers with transition tables: one call per statement, so an
-- import of 50,000 rows costs one pass, not 50,000 (a transition table
-- serves only one event, hence one trigger per event).
CREATE FUNCTION sets_log_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM log_changes('SET_DELETED', array_agg(user_id), array_agg(id)) FROM old_rows;
    ELSE
        PERFORM log_changes('SET_CHANGED', array_agg(user_id), array_agg(id)) FROM new_rows;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sets_log_inserts AFTER INSERT ON sets
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sets_log_changes();
CREATE TRIGGER sets_log_updates AFTER UPDATE ON sets
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sets_log_changes();
CREATE TRIGGER sets_log_deletes AFTER DELETE ON sets
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sets_log_changes();

-- A change of a set's images is a change of the set. When the set itself
-- is gone (its delete cascades here), the join finds nothing: the set's
-- own trigger logs SET_DELETED.
CREATE FUNCTION set_images_log_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM log_changes('SET_CHANGED', array_agg(s.user_id), array_agg(s.id))
        FROM sets s WHERE s.id IN (SELECT set_id FROM old_rows);
    ELSE
        PERFORM log_changes('SET_CHANGED', array_agg(s.user_id), array_agg(s.id))
        FROM sets s WHERE s.id IN (SELECT set_id FROM new_rows);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER set_images_log_inserts AFTER INSERT ON set_images
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION set_images_log_changes();
CREATE TRIGGER set_images_log_updates AFTER UPDATE ON set_images
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION set_images_log_changes();
CREATE TRIGGER set_images_log_deletes AFTER DELETE ON set_images
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION set_images_log_changes();

CREATE FUNCTION wishlist_items_log_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM log_changes('WISHLIST_ITEM_DELETED', array_agg(user_id), array_agg(id)) FROM old_rows;
    ELSE
        PERFORM log_changes('WISHLIST_ITEM_CHANGED', array_agg(user_id), array_agg(id)) FROM new_rows;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER wishlist_items_log_inserts AFTER INSERT ON wishlist_items
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wishlist_items_log_changes();
CREATE TRIGGER wishlist_items_log_updates AFTER UPDATE ON wishlist_items
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wishlist_items_log_changes();
CREATE TRIGGER wishlist_items_log_deletes AFTER DELETE ON wishlist_items
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION wishlist_items_log_changes();
