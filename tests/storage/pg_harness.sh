# tests/storage/pg_harness.sh - a throwaway PostgreSQL server for tests
# and benchmarks. Source it (bash), then:
#
#   pg_start   initdb + start on 127.0.0.1:<free port>, create callixo_test
#   pg_stop    stop (fast) and delete everything; safe to call twice
#
# pg_start exports:
#   CALLIXO_PG_DSN    postgresql://postgres@127.0.0.1:<port>/callixo_test
#   CALLIXO_PG_PORT   the port
#   CALLIXO_PG_STOP   a command line that stops the server (pg_ctl -m fast)
#   CALLIXO_PG_START  a command line that starts it again, same data
#   PG_DIR            the temp dir (server.log is in it)
#
# PG_HARNESS_ROOT (default /usr/lib/postgresql) is where <version>/bin is
# looked for.
#
# initdb refuses to run as root, and CI runs as root: then the server
# runs as the `postgres` user the Debian package creates, in a temp dir
# handed to it. Authentication is trust, for 127.0.0.1 only; the unix
# socket lives in the private temp dir. A missing PostgreSQL is an error,
# never a skip: CI installs it (.ci/deps), so its absence is a broken
# environment that must show.

pg_harness_fail() {
	echo "pg_harness: $*" >&2
	return 1
}

pg_start() {
	PG_BIN=
	local d
	for d in "${PG_HARNESS_ROOT:-/usr/lib/postgresql}"/*/bin; do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && PG_BIN=$d
	done
	[ -n "$PG_BIN" ] || pg_harness_fail "PostgreSQL server not found" \
		"(no /usr/lib/postgresql/*/bin/initdb); install it with" \
		"'apt-get install postgresql' or 'bash .ci/deps'" || return 1
	PG_AS=()
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || pg_harness_fail "running as" \
			"root but there is no 'postgres' user to run the server" ||
			return 1
		PG_AS=(runuser -u postgres --)
	fi
	PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cxpg.XXXXXX") ||
		pg_harness_fail "mktemp failed" || return 1
	[ ${#PG_AS[@]} = 0 ] || chown postgres: "$PG_DIR" || return 1
	chmod 700 "$PG_DIR"
	local port
	port=$(python3 -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
		pg_harness_fail "cannot find a free port" || return 1
	"${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres \
		--auth=trust --encoding=UTF8 --locale=C --no-sync \
		>"$PG_DIR/initdb.log" 2>&1 || {
		cat "$PG_DIR/initdb.log" >&2
		pg_harness_fail "initdb failed"
		return 1
	}
	# Only what the tests need: TCP on loopback with trust, no fsync
	# (a throwaway cluster; clean shutdowns still checkpoint).
	"${PG_AS[@]}" sh -c "cat > '$PG_DIR/data/pg_hba.conf'" <<-HBA || return 1
		host all all 127.0.0.1/32 trust
	HBA
	"${PG_AS[@]}" sh -c "cat >> '$PG_DIR/data/postgresql.conf'" <<-CONF || return 1
		listen_addresses = '127.0.0.1'
		port = $port
		unix_socket_directories = '$PG_DIR'
		fsync = off
		max_connections = 100
	CONF
	local ctl="${PG_AS[*]} $PG_BIN/pg_ctl -D $PG_DIR/data"
	export CALLIXO_PG_START="$ctl -l $PG_DIR/server.log -w -t 30 start"
	export CALLIXO_PG_STOP="$ctl -m fast -w -t 30 stop"
	export CALLIXO_PG_PORT=$port
	export CALLIXO_PG_DSN="postgresql://postgres@127.0.0.1:$port/callixo_test"
	$CALLIXO_PG_START >/dev/null || {
		cat "$PG_DIR/server.log" >&2
		pg_harness_fail "server did not start"
		return 1
	}
	local i
	for i in $(seq 1 100); do
		"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" && break
		sleep 0.1
	done
	"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" ||
		pg_harness_fail "server not ready on port $port" || return 1
	"$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres callixo_test ||
		pg_harness_fail "createdb failed" || return 1
	echo "pg_harness: PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}')" \
		"on 127.0.0.1:$port, data in $PG_DIR" >&2
}

pg_stop() {
	[ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ] || return 0
	if [ -f "$PG_DIR/data/postmaster.pid" ]; then
		$CALLIXO_PG_STOP >/dev/null 2>&1 ||
			"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate \
				-w stop >/dev/null 2>&1
	fi
	rm -rf "$PG_DIR"
	PG_DIR=
}
