#!/usr/bin/env bash
# Measures migration 20261205000300 (the wishlist foreign key) over
# 1,000,000 existing sets, 10% of them with a wishlist_item_id pointing at
# nothing, while pgbench clients keep writing sets, and prints how long each
# step took and the longest a concurrent write waited.
#   bench/migrations/wishlist-fk.sh [SETS]
# Uses a scratch database (sets_bench_wishlist_fk) on the local server.
set -euo pipefail
cd "$(dirname "$0")/../.."
sets=${1:-1000000}
db=sets_bench_wishlist_fk
url="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
psql_db() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d "$db" "$@"; }
up=migrations/20261205000300_add_sets_wishlist_item_fk.up.sql
down=migrations/20261205000300_add_sets_wishlist_item_fk.down.sql

go build -o /tmp/sets-bench-canonical .
psql -X -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
DATABASE_URL=$url /tmp/sets-bench-canonical db migrate >/dev/null
# Back to the schema before the migration: run its down, forget it.
awk '!/^--bun:split/' "$down" | psql_db
psql_db -c "DELETE FROM bun_migrations WHERE name = '20261205000300'"

echo "loading $sets sets for 1,000 users"
psql_db <<SQL
INSERT INTO users (id) SELECT gen_random_uuid() FROM generate_series(1, 1000);
INSERT INTO sets (user_id, title, set_number, theme, piece_count, wishlist_item_id)
SELECT u.ids[1 + g % 1000], 'Set ' || g,
       (10000 + g % 90000)::text || CASE WHEN g % 3 = 0 THEN '-1' ELSE '' END,
       'Theme ' || (g % 40), g % 5000, CASE WHEN g % 10 = 0 THEN gen_random_uuid() END
FROM generate_series(1, $sets) AS g,
     (SELECT array_agg(id) AS ids FROM users) AS u;
VACUUM ANALYZE sets;
SQL

# A concurrent writer: updates of random sets, as the API would send them,
# for longer than the migration takes (it is waited for, not killed: a
# killed pgbench loses the tail of its log, and a background job of a
# script ignores SIGINT).
cat >/tmp/wishlist-fk-writer.sql <<'SQL'
UPDATE sets SET is_built = NOT is_built
WHERE id = (SELECT id FROM sets TABLESAMPLE SYSTEM (0.01) LIMIT 1);
SQL
rm -f /tmp/wishlist-fk-pgbench-log*
pgbench -n -h 127.0.0.1 -U postgres -c 2 -T "${WRITER_SECONDS:-75}" -l --log-prefix=/tmp/wishlist-fk-pgbench-log \
	-f /tmp/wishlist-fk-writer.sql "$db" >/tmp/wishlist-fk-pgbench.txt 2>&1 &
writer=$!
sleep 3

echo "applying the migration, statement by statement"
start=$(date +%s.%N)
awk 'BEGIN{RS="--bun:split\n"} {print > ("/tmp/wishlist-fk-stmt-" sprintf("%02d", NR) ".sql")}' "$up"
for f in /tmp/wishlist-fk-stmt-*.sql; do
	t0=$(date +%s.%N)
	psql_db -f "$f"
	t1=$(date +%s.%N)
	printf '%6.2f s  %s\n' "$(echo "$t1 - $t0" | bc)" "$(grep -v '^--' "$f" | grep -m1 -v '^$' | cut -c1-70)"
done
end=$(date +%s.%N)
rm -f /tmp/wishlist-fk-stmt-*.sql
printf 'whole migration: %.1f s\n' "$(echo "$end - $start" | bc)"
sleep 3
wait $writer || echo "the concurrent writer failed: $(tail -n 3 /tmp/wishlist-fk-pgbench.txt)"
# pgbench's per-transaction log: client, transaction, latency in µs, ...
echo "concurrent writer: $(cat /tmp/wishlist-fk-pgbench-log* | awk '
	{ n++; sum += $3; if ($3 > max) max = $3 }
	END { printf "%d updates, mean %.1f ms, longest %.1f ms", n, sum / n / 1000, max / 1000 }')"
psql_db -Atc "SELECT (SELECT count(*) FROM sets WHERE wishlist_item_id IS NOT NULL) AS still_dangling,
	(SELECT count(*) FROM sets_dangling_wishlist_item_ids) AS kept,
	(SELECT convalidated FROM pg_constraint WHERE conname = 'sets_wishlist_item_fk') AS validated"
psql -X -q -h 127.0.0.1 -U postgres -c "DROP DATABASE $db"
