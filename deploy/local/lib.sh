# shellcheck shell=bash disable=SC2034
# (SC2034: the variables set here are read by the scripts that source it.)
# The parts deploy/local/up, down, check and fault share: where the
# deployment keeps its state, its fixed ports, and how each piece is
# started, found and stopped. Sourced, never run.
#
# Everything the deployment starts keeps its files under DEPLOY_DIR, and
# every process it starts is found again through a pid file there (the
# PostgreSQL servers through their postmaster.pid, via pg_ctl), so that
# down stops exactly what up started and nothing else.

set -euo pipefail

# DEPLOY_DIR defaults to the XDG state directory. Root's home is mode 700,
# so the postgres user (PostgreSQL and PgBouncer refuse to run as root)
# could not reach its own data under /root: root's default is in /var/lib.
if [ -z "${DEPLOY_DIR:-}" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		DEPLOY_DIR=/var/lib/sets-deploy
	else
		DEPLOY_DIR=${XDG_STATE_HOME:-$HOME/.local/state}/sets-deploy
	fi
fi
export DEPLOY_DIR

# The repository this script belongs to: the API is built from it.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Fixed ports, all on 127.0.0.1, away from the default `go run . serve`
# (8080) and a local PostgreSQL (5432). up fails, naming the holder, when
# one is taken by anything but this deployment.
HAPROXY_PORT=18080
HAPROXY_STATS_PORT=18088
API_PORTS=(18081 18082 18083)
PG_PRIMARY_PORT=55432
PG_STANDBY_PORT=55433
BOUNCER_PRIMARY_PORT=56432
BOUNCER_STANDBY_PORT=56433

DB_NAME=sets
PRIMARY_DIRECT_URL="postgres://postgres@127.0.0.1:$PG_PRIMARY_PORT/$DB_NAME?sslmode=disable"
PRIMARY_BOUNCER_URL="postgres://postgres@127.0.0.1:$BOUNCER_PRIMARY_PORT/$DB_NAME?sslmode=disable"
STANDBY_BOUNCER_URL="postgres://postgres@127.0.0.1:$BOUNCER_STANDBY_PORT/$DB_NAME?sslmode=disable"
API_URL="http://127.0.0.1:$HAPROXY_PORT/graphql"

# The marker that tells down a directory is one of ours to remove.
MARKER=.sets-deploy

log() { printf '%s: %s\n' "${SCRIPT_NAME:-deploy/local}" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# PG_BIN: Debian's PostgreSQL 15 server binaries unless told otherwise.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# as_service runs a command as the user PostgreSQL and PgBouncer run as:
# the postgres user when we are root (both refuse root), ourselves
# otherwise.
as_service() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# service_dir creates a directory that the service user owns.
service_dir() {
	mkdir -p "$1"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$1"
	fi
	chmod 700 "$1"
}

pg_data() { echo "$DEPLOY_DIR/pg/$1/data"; }
pg_ctl_() {
	local node=$1
	shift
	as_service "$PG_BIN/pg_ctl" -D "$(pg_data "$node")" "$@"
}
pg_running() { [ -d "$(pg_data "$1")" ] && pg_ctl_ "$1" status >/dev/null 2>&1; }

# pid_alive says whether the pid in file $1 is a live process whose
# command line names DEPLOY_DIR: a pid reused by some other process since
# does not count.
pid_alive() {
	local pid
	[ -s "$1" ] || return 1
	pid=$(cat "$1")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$DEPLOY_DIR/"
}

# stop_pidfile sends TERM to the process in pid file $1, waits up to $2
# seconds for it to go, then KILLs it.
stop_pidfile() {
	local file=$1 wait=${2:-10} pid
	pid_alive "$file" || {
		rm -f "$file"
		return 0
	}
	pid=$(cat "$file")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 $((wait * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid did not stop within ${wait}s: killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$file"
}

# port_holder prints what listens on 127.0.0.1:$1 (empty when nothing).
port_holder() {
	ss -Hltnp "sport = :$1" 2>/dev/null | awk '{print $4, $6}' | head -n 1
}

# require_free_port fails, naming the holder, when port $1 (for $2) is taken.
require_free_port() {
	local holder
	holder=$(port_holder "$1")
	if [ -n "$holder" ]; then
		die "port $1 (for $2) is already in use: $holder. Stop that process (or run deploy/local/down if it is an older deployment under another DEPLOY_DIR) and try again."
	fi
}

# wait_until runs "$@" every 0.2 s until it succeeds, for at most $1 s.
wait_until() {
	local secs=$1
	shift
	for _ in $(seq 1 $((secs * 5))); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

bouncer_dir() { echo "$DEPLOY_DIR/pgbouncer/$1"; }
api_dir() { echo "$DEPLOY_DIR/api/$1"; }

# jwt_secret prints the secret the API instances verify tokens with.
jwt_secret() { cat "$DEPLOY_DIR/jwt-secret"; }

# start_api starts API instance $1 (1-3) from $DEPLOY_DIR/bin/sets with the
# environment in its env file (written by up), detached from this shell.
start_api() {
	local n=$1 dir port
	dir=$(api_dir "$n")
	port=${API_PORTS[$((n - 1))]}
	require_free_port "$port" "API instance $n"
	# setsid: the instance outlives the script and its terminal. env -i
	# and the env file: it sees exactly the configuration up wrote, whoever
	# starts it again later (check's fault driver does).
	(
		cd "$dir"
		# shellcheck disable=SC2016 # $0 is for the inner bash to expand
		exec env -i PATH="$PATH" HOME="$HOME" bash -c 'set -a; . ./env; set +a; exec setsid "$0" serve' \
			"$DEPLOY_DIR/bin/sets" >>"$dir/log" 2>&1 </dev/null
	) &
	echo $! >"$dir/pid"
}

# api_ready says whether instance $1 answers /readyz.
api_ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${API_PORTS[$(($1 - 1))]}/readyz"; }
