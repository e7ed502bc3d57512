-- squawk-ignore-file prefer-robust-stmts, require-lock-timeout, require-statement-timeout
-- prefer-robust-stmts wants CREATE INDEX CONCURRENTLY IF NOT EXISTS, which
-- would keep an INVALID index left by an interrupted build; dropping first
-- (below) is the robust form, tested by
-- TestIndexMigrationRecoversFromInterruptedBuild. A statement_timeout would
-- abort a long build halfway, and a lock_timeout would make the build fail
-- rather than wait for older transactions; SHARE UPDATE EXCLUSIVE blocks no
-- reads or writes, only other schema changes.
--
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
-- the index, and totalCount is an index-only count of the same range. The
-- INCLUDEd columns let `themes` (pieces and count per theme) run as an
-- index-only scan already grouped by theme, instead of visiting every one
-- of a heavy collector's rows scattered across the heap.
DROP INDEX CONCURRENTLY IF EXISTS sets_user_theme_created_at_idx;
--bun:split
CREATE INDEX CONCURRENTLY sets_user_theme_created_at_idx
    ON sets (user_id, theme, created_at DESC, id DESC) INCLUDE (piece_count, quantity);
--bun:split

-- A set's images in display order without a sort. set_images_set_id_idx
-- stays: SPEC §1 names it, and it serves the ON DELETE CASCADE lookups.
DROP INDEX CONCURRENTLY IF EXISTS set_images_set_id_position_idx;
--bun:split
CREATE INDEX CONCURRENTLY set_images_set_id_position_idx
    ON set_images (set_id, position, id);
