# lib.sh - helpers for the integration scripts: assertions, free ports,
# starting and stopping callixod. Sourced, never run.
set -u
BUILD=${CALLIXO_BUILD_ROOT:?CALLIXO_BUILD_ROOT not set}
SRC=${CALLIXO_SOURCE_ROOT:?CALLIXO_SOURCE_ROOT not set}
CALLIXOD=$BUILD/core/callixod
CTL=$BUILD/core/callixoctl
PY=/usr/bin/python3
fails=0
checks=0
TMP=$(mktemp -d /tmp/cxit.XXXXXX)
DPID=
cleanup() {
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
	[ -n "${NPID:-}" ] && kill "$NPID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { checks=$((checks + 1)); echo "ok - $1"; }
not_ok() { checks=$((checks + 1)); fails=$((fails + 1)); echo "not ok - $1"; }
check() { # check "description" command...
	local d=$1; shift
	if "$@" >/dev/null 2>&1; then ok "$d"; else not_ok "$d"; fi
}
contains() { grep -qF -- "$2" <<<"$1"; }
file_contains() { grep -qF -- "$2" "$1"; }
finish() {
	echo "# $checks checks, $fails failed"
	if [ "$fails" != 0 ]; then
		# What the daemon said is the first thing anyone will want.
		for f in "$TMP"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $(basename "$f") (last 30 lines)"
			tail -n 30 "$f"
		done
	fi
	[ "$fails" = 0 ]
}

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for FILE TEXT [SECONDS]
wait_for() {
	local n=$(( ${3:-15} * 10 ))
	for _ in $(seq 1 "$n"); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# count_of FILE TEXT
count_of() { grep -cF -- "$2" "$1" 2>/dev/null || true; }

http() { # http METHOD URL [BODY] -> prints "STATUS BODY"
	local m=$1 u=$2 b=${3:-}
	curl -s -o "$TMP/body" -w '%{http_code}' -X "$m" ${b:+--data-binary "$b"} "$u"
	echo " $(cat "$TMP/body")"
}

start_daemon() { # start_daemon CONFIG LOG
	"$CALLIXOD" -c "$1" 2>"$2" &
	DPID=$!
}

stop_daemon() { # stop_daemon -> sets RC
	kill -TERM "$DPID"
	local i
	for i in $(seq 1 150); do
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$DPID"
	RC=$?
	DPID=
}

# ---- /v1 helpers (the script sets BASE, and DB for sql) ----
# req METHOD PATH [BODY] [curl args...] -> "STATUS BODY"; headers land in
# $TMP/hdr. Sends Origin: $BASE unless ORG says otherwise ("" = none).
req() {
	local m=$1 p=$2 b=${3:-}
	shift 2
	[ $# -gt 0 ] && shift
	local org=()
	[ -n "${ORG-$BASE}" ] && org=(-H "Origin: ${ORG-$BASE}")
	curl -s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' -X "$m" \
		-H 'Content-Type: application/json' "${org[@]}" \
		${b:+--data-binary "$b"} "$@" "$BASE$p"
	echo " $(cat "$TMP/body")"
}
hdr() { grep -i "^$1:" "$TMP/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
cookie_of() { hdr Set-Cookie | sed -n 's/^cx_session=\([^;]*\);.*/\1/p'; }
ck() { echo "Cookie: cx_session=$1"; }
# sql QUERY -> the first column of the first row, from the SQLite file $DB
sql() { $PY -c 'import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()
print(r[0] if r else "")' "$DB" "$1"; }
