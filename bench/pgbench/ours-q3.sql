-- Q3 (themes) as our server sends it: one row a theme from the totals that
-- triggers on sets keep (migration 20261125000500), no aggregation.
SELECT "utt"."theme", "utt"."set_count", "utt"."piece_total" FROM "user_theme_totals" AS "utt" WHERE (user_id = ':uid') ORDER BY set_count DESC, theme;
