-- Q2 as our server sends it: one pipeline of two prepared statements, the
-- set (scoped to its owner) and its images (returned only when the set was
-- found). Run with -M prepared.
\startpipeline
SELECT s.id, s.user_id, s.title, s.set_number, s.store, s.source_url, s.piece_count, s.release_date, s.theme, s.tags, s.notes, s.is_built, s.quantity, s.purchase_price, s.tax, s.shipping, s.purchase_date, s.wishlist_item_id, s.created_at, s.updated_at FROM sets AS s WHERE s.id = :sid AND s.user_id = :uid;
SELECT i.id, i.set_id, i.image_url, i.thumbnail_url, i.position, i.created_at FROM set_images AS i WHERE i.set_id = :sid ORDER BY i.position, i.id;
\endpipeline
