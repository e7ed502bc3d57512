#!/usr/bin/env bash
# EXPLAIN (ANALYZE, BUFFERS) of every statement our server sends for Q1-Q3
# (bench/pgbench/ours-q*.sql), with the ids of the benchmark data, run twice
# so the second plan shows a warm cache.  bench/explain.sh > plans.txt
# env: IDS (bench/run/anchor/ids.env), DB (bench_anchor)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "${IDS:-$ROOT/bench/run/anchor/ids.env}"
DB=${DB:-bench_anchor}
export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
PAGE_IDS=$(psql -X -qAt -d "$DB" -c "select '{' || string_agg('\"' || id || '\"', ',') || '}' from
  (select id from sets where user_id = '$HEAVY_USER_ID' and theme = '$THEME'
   order by created_at desc, id desc limit 50) s")
for q in 1 2 3; do
  grep -v -e '^--' -e '^\\' "$ROOT/bench/pgbench/ours-q$q.sql" | tr '\n' ' ' | tr ';' '\n' | while read -r stmt; do
    [ -n "${stmt// }" ] || continue
    stmt=${stmt//:uid/\'$HEAVY_USER_ID\'}; stmt=${stmt//:theme/\'$THEME\'}
    stmt=${stmt//:ids/\'$PAGE_IDS\'}; stmt=${stmt//:sid/\'$SET_ID\'}
    echo "### Q$q: ${stmt:0:160}..."
    psql -X -qAt -d "$DB" -c "EXPLAIN (ANALYZE, BUFFERS) $stmt" >/dev/null
    psql -X -qAt -d "$DB" -c "EXPLAIN (ANALYZE, BUFFERS) $stmt"
    echo
  done
done
