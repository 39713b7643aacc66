#!/bin/bash
# run.sh - the /v1 API's hot paths: authenticated GET /v1/me and login.
#
# Usage: bench/api/run.sh [builddir]   (default: build; use a non-sanitized
# build). Environment: BENCH_DURATION (10s), BENCH_LOGINS (40 per run).
#
# In one session, three rounds each of `wrk -t2 -c64`:
#   - the bare nng handler (bench/http/bench_http_baseline): the ceiling;
#   - callixod's /healthz and its GET /v1/me with a session cookie, the
#     same daemon (conf/callixo.yaml: SQLite sessions, argon2id as
#     configured) and the same run, so the ratio is the cost of the
#     session check and the account read;
#   - the FastAPI peer's GET /v1/me (../shared/peers/fastapi beside the project, cookie ->
#     Redis -> SQLite), only when its Python stack is installed: its README
#     installs it with apt-get, which needs the network, so without it the
#     row says "skipped".
# Then logins/s: BENCH_LOGINS successful POST /v1/login, sequential and
# with as many in flight as auth.hash_workers, against the raw argon2id
# rate of the same parameters (bench/password). Prints a markdown table.
# The rate limiter stays in the path with limits raised out of the way:
# at its shipped 5/min per account it would (rightly) refuse the flood.
set -euo pipefail
BUILD=${1:-build}
DUR=${BENCH_DURATION:-10s}
NLOGIN=${BENCH_LOGINS:-40}
ROUNDS=3
PEER_SRC=${BENCH_PEER_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/peers/fastapi}
PY=/usr/bin/python3

for b in bench/http/bench_http_baseline bench/password/bench_password \
	core/callixod; do
	[ -x "$BUILD/$b" ] || { echo "missing $BUILD/$b (ninja -C $BUILD)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "wrk not installed (.ci/deps)" >&2; exit 1; }

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
TMPD=$(mktemp -d /tmp/cxbench.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PB=$(free_port)
PD=$(free_port)
"$BUILD/bench/http/bench_http_baseline" "$PB" >/dev/null &
PIDS+=($!)

# The shipped default on a free port and a scratch data dir; only the
# rate limits change (see above).
sed -e "s#listen: http://127.0.0.1:8080#listen: http://127.0.0.1:$PD#" \
	-e "s#\${CALLIXO_DATA_DIR:-../var}#$TMPD/data#" \
	-e "s#\# common_passwords: .*#common_passwords: $PWD/conf/common-passwords.txt#" \
	-e "s#login: {per_ip: 20/min, per_account: 5/min}#login: {per_ip: 1000000/min, per_account: 1000000/min}#" \
	conf/callixo.yaml >"$TMPD/c.yaml"
grep -q 'per_account: 1000000/min' "$TMPD/c.yaml" ||
	{ echo "cannot raise the login limits in the config copy" >&2; exit 1; }
OPS=$(sed -n 's/^ *opslimit: *\([0-9]*\).*/\1/p' "$TMPD/c.yaml" | head -1)
MEM=$(sed -n 's/^ *memlimit_mib: *\([0-9]*\).*/\1/p' "$TMPD/c.yaml" | head -1)
HW=$(sed -n 's/^ *hash_workers: *\([0-9]*\).*/\1/p' "$TMPD/c.yaml" | head -1)
CALLIXO_PLUGIN_DIR=$BUILD/plugins "$BUILD/core/callixod" -c "$TMPD/c.yaml" 2>"$TMPD/d.log" &
PIDS+=($!)
BASE=http://127.0.0.1:$PD
for _ in $(seq 1 100); do
	grep -q 'msg=ready' "$TMPD/d.log" && break
	sleep 0.1
done
grep -q 'msg=ready' "$TMPD/d.log" || { cat "$TMPD/d.log" >&2; exit 1; }

PW='correct horse battery staple'
st=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	-H "Origin: $BASE" --data-binary \
	"{\"name\":\"Bench Mark\",\"email\":\"bench@example.com\",\"password\":\"$PW\",\"date_of_birth\":\"1990-01-01\",\"is_adult\":true}" \
	"$BASE/v1/signup")
[ "$st" = 201 ] || { echo "signup answered $st" >&2; exit 1; }
LOGIN_BODY="{\"email\":\"bench@example.com\",\"password\":\"$PW\"}"
login_once() { # -> the status code; the cookie in $TMPD/hdr.$1
	curl -s -o /dev/null -D "$TMPD/hdr.$1" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' -H "Origin: $BASE" \
		--data-binary "$LOGIN_BODY" "$BASE/v1/login"
}
[ "$(login_once main)" = 200 ] || { echo "login failed" >&2; exit 1; }
TOKEN=$(sed -n 's/^[Ss]et-[Cc]ookie: cx_session=\([^;]*\);.*/\1/p' "$TMPD/hdr.main" | tr -d '\r')
[ -n "$TOKEN" ] || { echo "no session cookie" >&2; exit 1; }
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: cx_session=$TOKEN" "$BASE/v1/me")
[ "$st" = 200 ] || { echo "GET /v1/me with the cookie answered $st" >&2; exit 1; }

# wrk_rps URL [wrk args] -> req/s; refuses a run with any non-2xx answer
# (a 401 storm would look fast).
wrk_rps() {
	local url=$1 out
	shift
	out=$(wrk -t2 -c64 -d"$DUR" "$@" "$url")
	if grep -q 'Non-2xx' <<<"$out"; then
		echo "non-2xx answers from $url:" >&2
		echo "$out" >&2
		exit 1
	fi
	awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# The peer, when it can run here (see the header).
PEER=skipped
PEER_WHY="python3-fastapi/uvicorn/uvloop/httptools/redis not installed; its README installs them with apt-get (network)"
if $PY -c 'import fastapi, uvicorn, uvloop, httptools, redis' 2>/dev/null &&
	[ -d "$PEER_SRC" ]; then
	PP=$(free_port)
	cp -r "$PEER_SRC" "$TMPD/peer"
	(cd "$TMPD/peer" && PORT=$PP WORKERS=2 FRESH=1 exec ./run.sh) \
		>"$TMPD/peer.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 300); do
		[ -f "$TMPD/peer/.run/ready" ] && break
		sleep 0.1
	done
	if [ -f "$TMPD/peer/.run/ready" ]; then
		PEER=run
	else
		PEER_WHY="its run.sh did not become ready: $(tail -1 "$TMPD/peer.log")"
	fi
fi

B=""; H=""; M=""; F=""
for i in $(seq 1 $ROUNDS); do
	b=$(wrk_rps "http://127.0.0.1:$PB/healthz"); B="$B $b"
	h=$(wrk_rps "$BASE/healthz"); H="$H $h"
	m=$(wrk_rps "$BASE/v1/me" -H "Cookie: cx_session=$TOKEN"); M="$M $m"
	f=-
	if [ "$PEER" = run ]; then
		f=$(wrk_rps "http://127.0.0.1:$PP/v1/me" -H \
			"Cookie: cx_session=$(cat "$TMPD/peer/.run/session")")
		F="$F $f"
	fi
	echo "round $i: nng $b, callixod /healthz $h, callixod /v1/me $m, peer /v1/me $f req/s" >&2
done
MB=$(median $B); MH=$(median $H); MM=$(median $M)

# logins_per_s CONCURRENCY -> logins/s over $NLOGIN logins (each must be
# 200: a 429 or 503 is not a login).
logins_per_s() {
	local c=$1 t0 t1 ok
	t0=$(date +%s.%N)
	ok=$(seq 1 "$NLOGIN" | xargs -P "$c" -I{} curl -s -o /dev/null \
		-w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
		-H "Origin: $BASE" --data-binary "$LOGIN_BODY" "$BASE/v1/login" |
		grep -c '^200$' || true)
	t1=$(date +%s.%N)
	[ "$ok" = "$NLOGIN" ] || { echo "only $ok of $NLOGIN logins at -P $c got 200" >&2; exit 1; }
	awk -v n="$NLOGIN" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }'
}
L1=$(logins_per_s 1)
LW=$(logins_per_s "$HW")
# The raw hash rate of the same parameters with the same workers: the
# ceiling of logins/s (one verify per login).
RAW=$("$BUILD/bench/password/bench_password" "$HW" "$NLOGIN" "$OPS" "$MEM" |
	awk -F'|' '{ gsub(/ /, "", $7); print $7 }')

echo
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(nproc) cores (wrk on the same cores)  wrk -t2 -c64 -d$DUR, median of $ROUNDS"
echo "callixod: conf/callixo.yaml (SQLite sessions), argon2id t=$OPS m=${MEM} MiB, hash_workers=$HW"
echo
printf '| what | req/s or logins/s (median) | runs | ratio |\n|---|---:|---|---|\n'
printf '| bare nng handler, GET /healthz | %s |%s | 1.00 of nng |\n' "$MB" "$B"
awk -v v="$MH" -v b="$MB" -v r="$H" 'BEGIN { printf "| callixod GET /healthz | %s |%s | %.2f of nng |\n", v, r, v / b }'
awk -v v="$MM" -v b="$MB" -v h="$MH" -v r="$M" 'BEGIN { printf "| callixod GET /v1/me (cookie) | %s |%s | %.2f of nng, %.2f of its /healthz |\n", v, r, v / b, v / h }'
if [ "$PEER" = run ]; then
	MF=$(median $F)
	awk -v v="$MF" -v b="$MB" -v m="$MM" -v r="$F" 'BEGIN { printf "| FastAPI peer GET /v1/me (2 workers, Redis) | %s |%s | %.2f of nng; callixod /v1/me = %.2fx |\n", v, r, v / b, m / v }'
else
	printf '| FastAPI peer GET /v1/me | skipped | %s | - |\n' "$PEER_WHY"
fi
printf '| raw argon2id hash rate (= one verify), %s workers | %s | bench_password, %s hashes | 1.00 |\n' "$HW" "$RAW" "$NLOGIN"
awk -v v="$L1" -v r="$RAW" -v n="$NLOGIN" 'BEGIN { printf "| POST /v1/login, 1 at a time | %s | %s logins | %.2f of raw |\n", v, n, v / r }'
awk -v v="$LW" -v r="$RAW" -v n="$NLOGIN" -v c="$HW" 'BEGIN { printf "| POST /v1/login, %s in flight | %s | %s logins | %.2f of raw |\n", c, v, n, v / r }'
