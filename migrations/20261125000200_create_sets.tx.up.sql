-- squawk-ignore-file require-lock-timeout, require-statement-timeout
-- This migration only creates new objects (its foreign key briefly locks a
-- table created by the migration before it, in the same first-release run,
-- before any server starts): there is no traffic to wait for or to block.
-- Money columns hold what was paid for this entry as a whole (not per unit),
-- exact to the cent. The CHECK constraints back up the API's validation.
CREATE TABLE sets (
    id               uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid          NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title            text          NOT NULL,
    set_number       text,
    store            text,
    source_url       text,
    piece_count      integer       CONSTRAINT sets_piece_count_check CHECK (piece_count >= 0),
    release_date     timestamp,
    theme            text,
    tags             text[]        NOT NULL DEFAULT '{}',
    notes            text,
    is_built         boolean       NOT NULL DEFAULT false,
    quantity         integer       NOT NULL DEFAULT 1 CONSTRAINT sets_quantity_check CHECK (quantity >= 1),
    purchase_price   numeric(10,2) CONSTRAINT sets_purchase_price_check CHECK (purchase_price >= 0),
    tax              numeric(10,2) CONSTRAINT sets_tax_check CHECK (tax >= 0),
    shipping         numeric(10,2) CONSTRAINT sets_shipping_check CHECK (shipping >= 0),
    purchase_date    timestamp,
    -- No foreign key yet: the wishlist does not exist. It arrives as a later
    -- migration that adds the constraint.
    wishlist_item_id uuid,
    created_at       timestamp     NOT NULL DEFAULT now(),
    updated_at       timestamp     NOT NULL DEFAULT now()
);

CREATE INDEX sets_user_id_idx ON sets (user_id);
CREATE INDEX sets_set_number_idx ON sets (set_number);
CREATE INDEX sets_theme_idx ON sets (theme);

CREATE TRIGGER sets_set_updated_at
    BEFORE UPDATE ON sets
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
