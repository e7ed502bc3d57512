-- squawk-ignore-file ban-drop-table, require-lock-timeout, require-statement-timeout
-- A down migration exists to drop what its up created; it runs only when an
-- operator rolls back on purpose, so the lock it takes is the point. Once the
-- table is gone, `themes` of an older release aggregates sets again.
DROP TRIGGER sets_user_theme_totals_truncate ON sets;
DROP TRIGGER sets_user_theme_totals_delete ON sets;
DROP TRIGGER sets_user_theme_totals_update ON sets;
DROP TRIGGER sets_user_theme_totals_insert ON sets;
DROP FUNCTION user_theme_totals_apply();
DROP TABLE user_theme_totals;
