# tests/session/redis_harness.sh - throwaway redis-server instances for
# tests. Source it (bash), then:
#
#   redis_start        start a server on 127.0.0.1:<free port>
#   redis_start_auth   start a second one that requires a password
#   redis_stop         stop both (nosave) and delete their dirs; safe to
#                      call twice
#
# redis_start exports:
#   CALLIXO_REDIS_URL    redis://127.0.0.1:<port>/0
#   CALLIXO_REDIS_PORT   the port
#   CALLIXO_REDIS_START  a command line that starts it again, same port
#   CALLIXO_REDIS_STOP   a command line that stops it (shutdown nosave)
#   REDIS_DIR            its temp dir (server.log is in it)
# redis_start_auth exports CALLIXO_REDIS_AUTH_URL
# (redis://:<password>@127.0.0.1:<port>/0) and CALLIXO_REDIS_AUTH_PASSWORD.
#
# Nothing is persisted (--save "" --appendonly no): a restart comes back
# empty, like a cache server. A missing redis-server is an error, never a
# skip: CI installs it (.ci/deps), so its absence is a broken environment
# that must show.

redis_harness_fail() {
	echo "redis_harness: $*" >&2
	return 1
}

# _redis_cmd <dir> <port> [password]: the command line that starts a
# daemonized server in <dir>.
_redis_cmd() {
	local cmd="redis-server --daemonize yes --bind 127.0.0.1 --port $2"
	cmd+=" --dir $1 --save '' --appendonly no --pidfile $1/redis.pid"
	cmd+=" --logfile $1/server.log"
	[ -z "${3:-}" ] || cmd+=" --requirepass $3"
	echo "$cmd"
}

_redis_free_port() {
	python3 -c 'import socket; s = socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# _redis_wait <port> [password]: until it answers PING.
_redis_wait() {
	local i auth=()
	[ -z "${2:-}" ] || auth=(--no-auth-warning -a "$2")
	for i in $(seq 1 100); do
		[ "$(redis-cli -h 127.0.0.1 -p "$1" "${auth[@]}" ping 2>/dev/null)" = PONG ] &&
			return 0
		sleep 0.05
	done
	redis_harness_fail "server not ready on port $1"
}

_redis_launch() {
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
		redis_harness_fail "redis-server not found; install it with" \
			"'apt-get install redis-server' or 'bash .ci/deps'" || return 1
	_R_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cxredis.XXXXXX") ||
		redis_harness_fail "mktemp failed" || return 1
	_R_PORT=$(_redis_free_port) ||
		redis_harness_fail "cannot find a free port" || return 1
	_R_CMD=$(_redis_cmd "$_R_DIR" "$_R_PORT" "${1:-}")
	eval "$_R_CMD" || {
		cat "$_R_DIR/server.log" >&2 2>/dev/null
		redis_harness_fail "redis-server did not start"
		return 1
	}
	_redis_wait "$_R_PORT" "${1:-}" || {
		cat "$_R_DIR/server.log" >&2
		return 1
	}
}

redis_start() {
	_redis_launch || return 1
	REDIS_DIR=$_R_DIR
	export CALLIXO_REDIS_PORT=$_R_PORT
	export CALLIXO_REDIS_URL="redis://127.0.0.1:$_R_PORT/0"
	export CALLIXO_REDIS_START="$_R_CMD"
	export CALLIXO_REDIS_STOP="redis-cli -h 127.0.0.1 -p $_R_PORT shutdown nosave"
	echo "redis_harness: $(redis-server --version | awk '{print $3}')" \
		"on 127.0.0.1:$_R_PORT, dir $REDIS_DIR" >&2
}

redis_start_auth() {
	# A password that could not appear in a log by accident.
	local pw
	pw="cxpw$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
	_redis_launch "$pw" || return 1
	REDIS_AUTH_DIR=$_R_DIR
	REDIS_AUTH_PORT=$_R_PORT
	export CALLIXO_REDIS_AUTH_PASSWORD=$pw
	export CALLIXO_REDIS_AUTH_URL="redis://:$pw@127.0.0.1:$_R_PORT/0"
}

# _redis_kill <dir> <port> [password]
_redis_kill() {
	[ -n "${1:-}" ] && [ -d "$1" ] || return 0
	local auth=()
	[ -z "${3:-}" ] || auth=(--no-auth-warning -a "$3")
	if [ -f "$1/redis.pid" ]; then
		redis-cli -h 127.0.0.1 -p "$2" "${auth[@]}" shutdown nosave \
			>/dev/null 2>&1
		local pid i
		pid=$(cat "$1/redis.pid" 2>/dev/null)
		for i in $(seq 1 50); do
			[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		[ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null || kill -9 "$pid"
	fi
	rm -rf "$1"
}

redis_stop() {
	_redis_kill "${REDIS_DIR:-}" "${CALLIXO_REDIS_PORT:-}"
	REDIS_DIR=
	_redis_kill "${REDIS_AUTH_DIR:-}" "${REDIS_AUTH_PORT:-}" \
		"${CALLIXO_REDIS_AUTH_PASSWORD:-}"
	REDIS_AUTH_DIR=
}
