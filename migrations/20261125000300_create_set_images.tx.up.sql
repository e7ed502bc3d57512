-- squawk-ignore-file require-lock-timeout, require-statement-timeout
-- This migration only creates new objects (its foreign key briefly locks a
-- table created by the migration before it, in the same first-release run,
-- before any server starts): there is no traffic to wait for or to block.
CREATE TABLE set_images (
    id            uuid      PRIMARY KEY DEFAULT gen_random_uuid(),
    set_id        uuid      NOT NULL REFERENCES sets (id) ON DELETE CASCADE,
    image_url     text      NOT NULL,
    thumbnail_url text,
    position      integer   NOT NULL DEFAULT 0 CONSTRAINT set_images_position_check CHECK (position >= 0),
    created_at    timestamp NOT NULL DEFAULT now()
);

CREATE INDEX set_images_set_id_idx ON set_images (set_id);
