-- Q3 (themes) as our server sends it.
SELECT s.theme, count(*) AS sets, coalesce(sum(s.piece_count::bigint * s.quantity), 0) AS pieces FROM sets AS s WHERE (s.user_id = ':uid' AND s.theme IS NOT NULL) GROUP BY s.theme ORDER BY sets DESC, s.theme;
