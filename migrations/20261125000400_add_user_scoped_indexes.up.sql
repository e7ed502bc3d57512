-- Every API query is scoped to one user, so the hot paths want composite
-- indexes that lead with user_id and end with the sort key and id (the
-- keyset tiebreaker). README "Performance" has the plans behind each one.
--
-- Not transactional: CREATE INDEX CONCURRENTLY cannot run in a transaction.
-- A build that fails halfway leaves an INVALID index behind, so each index is
-- dropped first: a re-run after a failure then starts clean instead of
-- tripping over (or, with IF NOT EXISTS, silently keeping) the broken one.

-- The gallery's default order (CREATED_AT DESC, id DESC) for one user.
DROP INDEX CONCURRENTLY IF EXISTS sets_user_created_at_idx;
--bun:split
CREATE INDEX CONCURRENTLY sets_user_created_at_idx
    ON sets (user_id, created_at DESC, id DESC);
--bun:split

-- The gallery filtered by theme, newest first: a page is read straight off
-- the index, and totalCount is an index-only count of the same range.
DROP INDEX CONCURRENTLY IF EXISTS sets_user_theme_created_at_idx;
--bun:split
CREATE INDEX CONCURRENTLY sets_user_theme_created_at_idx
    ON sets (user_id, theme, created_at DESC, id DESC);
--bun:split

-- A set's images in display order without a sort. set_images_set_id_idx
-- stays: SPEC §1 names it, and it serves the ON DELETE CASCADE lookups.
DROP INDEX CONCURRENTLY IF EXISTS set_images_set_id_position_idx;
--bun:split
CREATE INDEX CONCURRENTLY set_images_set_id_position_idx
    ON set_images (set_id, position, id);
