-- squawk-ignore-file require-statement-timeout
-- Uploaded photos (SPEC §8): the store's keys of the display image and the
-- thumbnail, and the display image's size and type. All nullable, no
-- default: each ADD COLUMN only writes the catalog, under ACCESS EXCLUSIVE
-- on set_images for a moment (bounded by lock_timeout, so a long reader
-- makes the migration fail and retry rather than queue every writer).
-- Images by URL keep them null; uploaded = media_key IS NOT NULL.
SET LOCAL lock_timeout = '5s';
ALTER TABLE set_images
    ADD COLUMN media_key     text,
    ADD COLUMN thumbnail_key text,
    ADD COLUMN width         integer,
    ADD COLUMN height        integer,
    ADD COLUMN content_type  text,
    ADD COLUMN byte_size     integer;
