-- Q3 (themes) as our server sends it: one prepared statement over the
-- trigger-kept user_theme_totals. Run with -M prepared.
SELECT t.theme, t.set_count, t.piece_total FROM user_theme_totals AS t WHERE t.user_id = :uid ORDER BY t.set_count DESC, t.theme;
