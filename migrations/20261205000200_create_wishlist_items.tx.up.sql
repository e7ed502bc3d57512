-- squawk-ignore-file prefer-bigint-over-smallint, require-statement-timeout
-- prefer-bigint-over-smallint: SPEC §10 fixes priority as smallint, and its
-- CHECK keeps it between 1 and 5. require-statement-timeout: every
-- statement here creates something new and empty; none runs longer than
-- the locks it waits for, which lock_timeout bounds.
--
-- SPEC §10: the wishlist, one user's sets still to buy. Created empty, in
-- one transaction; the foreign key from sets.wishlist_item_id arrives in the
-- next migration (20261205000300), over the existing sets.
--
-- The foreign key to users takes SHARE ROW EXCLUSIVE on users until this
-- transaction commits (milliseconds: nothing here reads a row): reads go on,
-- writes of users wait. SET LOCAL lock_timeout makes it give up after 5 s,
-- rather than queue every write of users behind a long transaction; the
-- migration then fails as a whole, to be run again.
SET LOCAL lock_timeout = '5s';

CREATE TABLE wishlist_items (
    id                   uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id              uuid          NOT NULL
        CONSTRAINT wishlist_items_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    -- As entered (trimmed by the API), and its canonical key (SPEC §7),
    -- kept by the trigger below exactly as on sets.
    set_number           text,
    canonical_set_number text,
    title                text          NOT NULL,
    theme                text,
    -- 1 is the highest priority, 5 the lowest.
    priority             smallint      NOT NULL DEFAULT 3
        CONSTRAINT wishlist_items_priority_check CHECK (priority BETWEEN 1 AND 5),
    target_price         numeric(10,2)
        CONSTRAINT wishlist_items_target_price_check CHECK (target_price >= 0),
    notes                text,
    -- When the item was bought (acquireWishlistItem); null while wished for.
    acquired_at          timestamp,
    created_at           timestamp     NOT NULL DEFAULT now(),
    updated_at           timestamp     NOT NULL DEFAULT now(),
    -- The target of sets' composite foreign key (wishlist_item_id, user_id):
    -- it lets the database itself refuse a set that points at another
    -- user's item. id alone is unique already; the pair is what an FK needs.
    CONSTRAINT wishlist_items_id_user_id_key UNIQUE (id, user_id)
);

-- The same function as sets' (migration 20261205000100): the key cannot be
-- written apart from the number it derives from, whoever writes the row.
CREATE TRIGGER wishlist_items_canonical_set_number
    BEFORE INSERT OR UPDATE OF set_number, canonical_set_number ON wishlist_items
    FOR EACH ROW EXECUTE FUNCTION sets_canonical_set_number();

-- updated_at moves on every update, as on sets and users.
CREATE TRIGGER wishlist_items_set_updated_at
    BEFORE UPDATE ON wishlist_items
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Every API query of the wishlist is one user's (SPEC §4), so each index
-- leads with user_id. The queries (internal/store):
--   * `wishlist` lists one user's items, by default newest first
--     (CREATED_AT DESC, id DESC as the keyset tiebreaker), else by
--     PRIORITY, TITLE or TARGET_PRICE, each with a keyset cursor; filtered
--     by theme, acquired (acquired_at null or not), priority and search
--     (ILIKE on title, set_number and notes);
--   * ownedCount counts my sets whose canonical_set_number is the item's:
--     served by sets_user_canonical_set_number_idx (migration
--     20261205000100), nothing here;
--   * a set's wishlistItem (the loader) and every write by id: the primary
--     key, or wishlist_items_id_user_id_key with the owner.
-- A wishlist is expected to be short (tens to hundreds of items, where a
-- collection has thousands of sets), so only the default order gets its
-- own index: a page of it is read straight off the index without a sort,
-- and every other order and filter reads the user's range of it (the
-- leading user_id) and sorts what is left.
CREATE INDEX wishlist_items_user_created_at_idx
    ON wishlist_items (user_id, created_at DESC, id DESC);

-- An item looked up by its set-number key within the user: the wishlist
-- items a set with that key fulfils (the reverse of ownedCount, for
-- acquiring and for marking items as owned).
CREATE INDEX wishlist_items_user_canonical_set_number_idx
    ON wishlist_items (user_id, canonical_set_number);
