-- Q1 as our server sends it: one pipeline (pgbench's \startpipeline) of
-- three statements, the page (LIMIT first+1 to learn hasNextPage), the
-- page's images, and totalCount (a theme-only filter reads it from
-- user_theme_totals). Run with -M extended: the server sends the first two
-- unnamed, with their values as literals, so they are planned every time;
-- the count is a prepared statement in the server but is planned every
-- time here, which makes this ceiling a little lower than the true one.
\startpipeline
SELECT s.id, s.user_id, s.title, s.set_number, s.store, s.source_url, s.piece_count, s.release_date, s.theme, s.tags, s.notes, s.is_built, s.quantity, s.purchase_price, s.tax, s.shipping, s.purchase_date, s.wishlist_item_id, s.created_at, s.updated_at FROM sets AS s WHERE (s.user_id = :uid) AND (s.theme = :theme) ORDER BY s.created_at DESC, s.id DESC LIMIT 51;
SELECT i.id, i.set_id, i.image_url, i.thumbnail_url, i.position, i.created_at FROM unnest(ARRAY(SELECT s.id FROM sets AS s WHERE (s.user_id = :uid) AND (s.theme = :theme) ORDER BY s.created_at DESC, s.id DESC LIMIT 50)) AS p(id) CROSS JOIN LATERAL (SELECT i.id, i.set_id, i.image_url, i.thumbnail_url, i.position, i.created_at FROM set_images AS i WHERE i.set_id = p.id ORDER BY i.position, i.id) AS i;
SELECT coalesce((SELECT t.set_count FROM user_theme_totals AS t WHERE t.user_id = :uid AND t.theme = :theme), 0);
\endpipeline
