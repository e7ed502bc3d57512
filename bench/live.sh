#!/usr/bin/env bash
# Live updates under load (SPEC §11), on this machine's PostgreSQL:
#   1. 5,000 idle subscriptions on one instance: the server's resident
#      memory (VmRSS, and its peak VmHWM) before and with them;
#   2. 2,000 subscribers (1,000 users, two devices each) while one random
#      user's set changes 50 times a second: latency of every delivery,
#      from the change's `at` (its transaction's start: an upper bound of
#      commit to receipt) to the moment the subscriber reads it;
#   3. the cost the change log adds to a write: single-set updates
#      (Q2-style) with the log's triggers on and off, interleaved, REPS
#      times each.
# Usage: bench/live.sh            (about 3 minutes)
#        IDLE=5000 SUBS=2000 RATE=50 DURATION=30 REPS=3 PORT=8095 bench/live.sh
set -euo pipefail
cd "$(dirname "$0")/.."
IDLE=${IDLE:-5000}
SUBS=${SUBS:-2000}
USERS=${USERS:-1000}
RATE=${RATE:-50}
DURATION=${DURATION:-30}
REPS=${REPS:-3}
PORT=${PORT:-8095}
PGURL=${BENCH_PGURL:-postgres://postgres@127.0.0.1:5432}
DB=bench_live
export AUTH_JWT_SECRET=live-bench-secret-0123456789abcdef0123456789
# Each subscription is a socket on both ends.
ulimit -n "$(ulimit -Hn)"

tmp=$(mktemp -d)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== building"
go build -o "$tmp/sets" .
go build -o "$tmp/livebench" ./bench/livebench
psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB" -qc "CREATE DATABASE $DB"

echo "== server on 127.0.0.1:$PORT (database $DB)"
ADDR=127.0.0.1:$PORT DATABASE_URL="$PGURL/$DB?sslmode=disable" LOG_LEVEL=warn MEDIA_STORE="file:$tmp/media" \
	"$tmp/sets" serve >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
	curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break
	sleep 0.2
done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$tmp/server.log"; exit 1; }
rss() { awk -v k="$1:" '$1 == k { print $2 / 1024 }' "/proc/$server_pid/status"; }
bench() { "$tmp/livebench" -url "http://127.0.0.1:$PORT" "$@"; }

echo "== 1. $IDLE idle subscriptions ($USERS users)"
printf 'server RSS before: %.1f MB\n' "$(rss VmRSS)"
# The binary itself, not the bench function: a function in the background
# is a subshell, and killing it would leave the client holding its sockets.
"$tmp/livebench" -url "http://127.0.0.1:$PORT" -mode idle -subs "$IDLE" -users "$USERS" >"$tmp/idle.out" 2>&1 &
idle_pid=$!
for _ in $(seq 1 600); do
	grep -q IDLE_READY "$tmp/idle.out" && break
	kill -0 "$idle_pid" 2>/dev/null || { cat "$tmp/idle.out"; exit 1; }
	sleep 0.5
done
cat "$tmp/idle.out"
sleep 10 # let the GC settle with them all held
printf 'server RSS with %d idle subscriptions: %.1f MB (peak %.1f MB)\n' "$IDLE" "$(rss VmRSS)" "$(rss VmHWM)"
kill "$idle_pid"
wait "$idle_pid" || true
sleep 3

echo "== 2. $SUBS subscribers, $RATE changes/s for ${DURATION}s"
bench -mode latency -subs "$SUBS" -users "$USERS" -rate "$RATE" -duration "${DURATION}s"
sleep 3

echo "== 3. the change log's cost on a write: updateSet, triggers on and off, interleaved"
triggers() {
	psql "$PGURL/$DB" -qAtc "ALTER TABLE sets $1 TRIGGER sets_log_inserts, $1 TRIGGER sets_log_updates, $1 TRIGGER sets_log_deletes"
}
for rep in $(seq 1 "$REPS"); do
	for mode in ENABLE DISABLE; do
		triggers "$mode"
		printf 'rep %d, change log %s: ' "$rep" "$([ $mode = ENABLE ] && echo on || echo off)"
		bench -mode writes -users 50 -requests 3000 -clients 4 | tr '\n' ' '
		echo
	done
done
triggers ENABLE
