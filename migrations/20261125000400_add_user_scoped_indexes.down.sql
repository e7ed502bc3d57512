DROP INDEX CONCURRENTLY IF EXISTS set_images_set_id_position_idx;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS sets_user_theme_created_at_idx;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS sets_user_created_at_idx;
