-- squawk-ignore-file require-statement-timeout
-- The files of deleted photos are removed through this queue (SPEC §8): a
-- trigger on set_images queues both keys of every uploaded image deleted,
-- in the deleting transaction itself, whoever deletes (the API, a set's or
-- a user's cascade, a DELETE in psql), and the server's media janitor
-- removes the files and then the rows, retrying with back-off until the
-- store confirms. Creating the table and the trigger takes
-- SHARE ROW EXCLUSIVE on set_images for a moment (no scan), bounded by
-- lock_timeout.
SET LOCAL lock_timeout = '5s';
CREATE TABLE media_deletions (
    key             text      PRIMARY KEY,
    queued_at       timestamp NOT NULL DEFAULT now(),
    attempts        integer   NOT NULL DEFAULT 0,
    next_attempt_at timestamp NOT NULL DEFAULT now(),
    last_error      text
);

-- The janitor takes the due keys first.
CREATE INDEX media_deletions_next_attempt_at_idx ON media_deletions (next_attempt_at);

CREATE FUNCTION set_images_queue_media_deletion() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO media_deletions (key)
    SELECT k FROM unnest(ARRAY[OLD.media_key, OLD.thumbnail_key]) AS k
    WHERE k IS NOT NULL
    ON CONFLICT (key) DO NOTHING;
    RETURN OLD;
END
$$;

CREATE TRIGGER set_images_queue_media_deletion
    AFTER DELETE ON set_images
    FOR EACH ROW WHEN (OLD.media_key IS NOT NULL)
    EXECUTE FUNCTION set_images_queue_media_deletion();
