#!/bin/bash
# redis_sessions_test.sh - conf/examples/redis-sessions.yaml with two
# callixod behind one (imaginary) load balancer: a real redis-server
# (tests/session/redis_harness.sh) holds the sessions and the rate-limit
# buckets, and both daemons use one SQLite file (WAL; an absolute `file`)
# so they see the same accounts. A cookie from daemon 1 works on daemon 2,
# a logout on daemon 2 ends it on daemon 1, and failed logins spread over
# both daemons draw on one budget.
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/session/redis_harness.sh"
D2PID=
cleanup2() {
	[ -n "$D2PID" ] && kill -KILL "$D2PID" 2>/dev/null
	redis_stop
	cleanup
}
trap cleanup2 EXIT
redis_start || exit 1

export CALLIXO_PLUGIN_DIR=$BUILD/plugins
EXAMPLE=$SRC/conf/examples/redis-sessions.yaml
P1=$(free_port)
P2=$(free_port)
while [ "$P2" = "$P1" ]; do P2=$(free_port); done
B1=http://127.0.0.1:$P1
B2=http://127.0.0.1:$P2
DB=$TMP/shared/callixo.db
mkdir -p "$TMP/shared"

# The example as shipped, but on a free port, with one database file for
# both and the common-password list at an absolute path (the copy is not
# next to conf/). The cheapest argon2id ASVS allows keeps logins quick.
mkconf() { # mkconf PORT OUT
	sed -e "s#listen: http://127.0.0.1:8080#listen: http://127.0.0.1:$1#" \
		-e "s#file: callixo.db#file: $DB#" \
		-e "s#common_passwords: ../common-passwords.txt#common_passwords: $SRC/conf/common-passwords.txt#" \
		-e "s#opslimit: 2#opslimit: 1#" -e "s#memlimit_mib: 64#memlimit_mib: 46#" \
		"$EXAMPLE" >"$2"
}
mkconf "$P1" "$TMP/d1.yaml"
mkconf "$P2" "$TMP/d2.yaml"
check "the copy points at the shared database" grep -qF "file: $DB" "$TMP/d1.yaml"
check "the copy keeps the example's Redis session store" grep -qF 'url: ${CALLIXO_REDIS_URL}' "$TMP/d1.yaml"
check "the copy keeps Redis rate limits" grep -qF 'redis_url: ${CALLIXO_REDIS_URL}' "$TMP/d1.yaml"

# Daemon 1 first: it migrates the shared file; daemon 2 then finds it
# current (two migrators racing on one file is not what this tests).
CALLIXO_DATA_DIR=$TMP/data1 start_daemon "$TMP/d1.yaml" "$TMP/d1.log"
check "daemon 1 ready" wait_for "$TMP/d1.log" "msg=ready" 30
CALLIXO_DATA_DIR=$TMP/data2 "$CALLIXOD" -c "$TMP/d2.yaml" 2>"$TMP/d2.log" &
D2PID=$!
check "daemon 2 ready" wait_for "$TMP/d2.log" "msg=ready" 30
for n in 1 2; do
	out=$("$CTL" -s "$TMP/data$n/admin.sock" plugins)
	check "daemon $n: redis session plugin running" grep -qE '^redis +session .*running' <<<"$out"
	check "daemon $n: ratelimit running" grep -qE '^ratelimit +policy .*running' <<<"$out"
done
check "Redis URL never logged" test "$(cat "$TMP"/d*.log | grep -c "$CALLIXO_REDIS_URL")" = 0

# req BASE METHOD PATH [BODY] [curl args] -> "STATUS BODY"; headers in $TMP/hdr
req() {
	local base=$1 m=$2 p=$3 b=${4:-}
	shift 3
	[ $# -gt 0 ] && shift
	curl -s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' -X "$m" \
		-H 'Content-Type: application/json' -H "Origin: $base" \
		${b:+--data-binary "$b"} "$@" "$base$p"
	echo " $(cat "$TMP/body")"
}
cookie_of() { sed -n 's/^[Ss]et-[Cc]ookie: cx_session=\([^;]*\);.*/\1/p' "$TMP/hdr" | tr -d '\r' | head -1; }
ck() { echo "Cookie: cx_session=$1"; }
PW='correct horse battery staple'

r=$(req "$B1" POST /v1/signup "{\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\",\"password\":\"$PW\",\"date_of_birth\":\"1990-04-01\",\"is_adult\":true}" -H 'X-Real-IP: 198.51.100.1')
check "signup on daemon 1: 201" contains "$r" "201 "
r=$(req "$B1" POST /v1/login "{\"email\":\"ada@example.com\",\"password\":\"$PW\"}" -H 'X-Real-IP: 198.51.100.1')
check "login on daemon 1: 200" contains "$r" '200 {"id":"acc_'
T=$(cookie_of)
check "login on daemon 1: a cookie" test -n "$T"
check "the session is in Redis" test "$(redis-cli -p "$CALLIXO_REDIS_PORT" --scan --pattern 'cx:sess*' | wc -l)" -ge 1
check "the token itself is not a Redis key" test "$(redis-cli -p "$CALLIXO_REDIS_PORT" --scan --pattern "*$T*" | wc -l)" = 0

r=$(req "$B2" GET /v1/me '' -H "$(ck "$T")")
check "daemon 1's cookie works on daemon 2" contains "$r" '200 {"id":"acc_'
check "daemon 2 sees the account" contains "$r" '"email":"ada@example.com"'
r=$(req "$B1" GET /v1/me '' -H "$(ck "$T")")
check "and still on daemon 1" contains "$r" "200 "

r=$(req "$B2" POST /v1/logout '' -H "$(ck "$T")")
check "logout on daemon 2: 200" contains "$r" "200 "
r=$(req "$B1" GET /v1/me '' -H "$(ck "$T")")
check "after logout on daemon 2 the cookie fails on daemon 1: 401" contains "$r" '401 {"error":{"code":"unauthenticated"'
r=$(req "$B2" GET /v1/me '' -H "$(ck "$T")")
check "and on daemon 2" contains "$r" "401 "

# One budget: login allows 5 attempts per account a minute (successes
# count too, so a fresh account that has not logged in yet). Five wrong
# passwords, alternating daemons and from five addresses (so no per-IP
# bucket is what stops it), then the sixth is refused on either daemon.
r=$(req "$B2" POST /v1/signup "{\"name\":\"Grace Hopper\",\"email\":\"grace@example.com\",\"password\":\"$PW\",\"date_of_birth\":\"1990-04-01\",\"is_adult\":true}" -H 'X-Real-IP: 198.51.100.2')
check "signup on daemon 2: 201" contains "$r" "201 "
bad="{\"email\":\"grace@example.com\",\"password\":\"not the password at all\"}"
for i in 1 2 3 4 5; do
	b=$B1
	[ $((i % 2)) = 0 ] && b=$B2
	r=$(req "$b" POST /v1/login "$bad" -H "X-Real-IP: 203.0.113.$i")
	check "failed login $i on daemon $((2 - i % 2)): 401" contains "$r" '401 {"error":{"code":"invalid_credentials"'
done
r=$(req "$B1" POST /v1/login "$bad" -H 'X-Real-IP: 203.0.113.6')
check "6th failed login on daemon 1: 429" contains "$r" '429 {"error":{"code":"rate_limited"'
check "429 carries Retry-After" grep -qi '^Retry-After: [0-9]' "$TMP/hdr"
r=$(req "$B2" POST /v1/login "{\"email\":\"grace@example.com\",\"password\":\"$PW\"}" -H 'X-Real-IP: 203.0.113.7')
check "and on daemon 2, even with the right password: 429" contains "$r" '429 {"error":{"code":"rate_limited"'
check "the buckets are in Redis" test "$(redis-cli -p "$CALLIXO_REDIS_PORT" --scan --pattern 'cx:rl:*' | wc -l)" -ge 1
# Another account is not affected by grace's budget.
r=$(req "$B2" POST /v1/login "{\"email\":\"ada@example.com\",\"password\":\"$PW\"}" -H 'X-Real-IP: 203.0.113.8')
check "ada still logs in on daemon 2: 200" contains "$r" "200 "

kill -TERM "$D2PID"
wait "$D2PID"
check "daemon 2 stops cleanly" test $? = 0
D2PID=
stop_daemon
check "daemon 1 stops cleanly" test "$RC" = 0
finish
