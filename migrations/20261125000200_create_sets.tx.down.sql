-- squawk-ignore-file ban-drop-table, require-lock-timeout, require-statement-timeout
-- A down migration exists to drop what its up created; it runs only when an
-- operator rolls back on purpose, so the lock it takes is the point.
DROP TABLE sets;
