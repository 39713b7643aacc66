#!/bin/bash
# webhooks_pg_test.sh - two callixod daemons on one PostgreSQL send the
# same queue of customer webhooks: every attempt goes out exactly once
# (the claim on next_attempt_at), retries included, and the receiver's
# count matches the attempt log. Also runs the webhook SQL on the
# PostgreSQL dialect.
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/storage/pg_harness.sh"
trap 'pg_stop; [ -n "${DPID2:-}" ] && kill -KILL "$DPID2" 2>/dev/null; cleanup' EXIT
pg_start || exit 1

PORT=$(free_port)
PORT2=$(free_port)
RPORT=$(free_port)
BASE=http://127.0.0.1:$PORT
RD=$TMP/receiver
mkdir -p "$RD"
# Both daemons must open each other's sealed secrets: one vault key set.
export CALLIXO_VAULT_KEYS=$($PY -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')

config() { # config PORT DATA -> a config on stdout
	cat <<YAML
server:
  listen: http://127.0.0.1:$1
  shutdown_grace: 2s
data_dir: $2
plugin_dir: $BUILD/plugins
admin:
  socket: $2/admin.sock
auth:
  argon2: {opslimit: 1, memlimit_mib: 46}
  allowed_origins: ["$BASE"]
webhooks:
  allow_private: true
  allow_http: true
  timeout: 2s
  backoff: 1s
  backoff_max: 1s
  workers: 3
plugins:
  - name: postgres
    kind: storage
    required: true
    settings:
      dsn: \${CALLIXO_PG_DSN}
YAML
}
mkdir -p "$TMP/d1" "$TMP/d2"
config "$PORT" "$TMP/d1" >"$TMP/c1.yaml"
config "$PORT2" "$TMP/d2" >"$TMP/c2.yaml"

field() { $PY -c 'import json, sys
v = json.loads(sys.argv[1].split(" ", 1)[1])
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$1" "$2"; }
PW='correct horse battery staple'
psql_q() { "$PG_BIN/psql" -qtA -h 127.0.0.1 -p "$CALLIXO_PG_PORT" -U postgres callixo_test -c "$1"; }

$PY "$SRC/tests/webhooks/receiver.py" "$RPORT" "$RD" >"$TMP/receiver.out" 2>&1 &
NPID=$!
check "receiver starts" wait_for "$TMP/receiver.out" listening 10

start_daemon "$TMP/c1.yaml" "$TMP/1.log"
check "daemon 1 starts on PostgreSQL" wait_for "$TMP/1.log" "msg=ready" 30
"$CALLIXOD" -c "$TMP/c2.yaml" 2>"$TMP/2.log" &
DPID2=$!
check "daemon 2 starts on the same database" wait_for "$TMP/2.log" "msg=ready" 30

req POST /v1/signup "{\"name\":\"Ada\",\"email\":\"ada@example.com\",\"password\":\"$PW\",\"date_of_birth\":\"1990-04-01\",\"is_adult\":true}" >/dev/null
req POST /v1/login "{\"email\":\"ada@example.com\",\"password\":\"$PW\"}" >/dev/null
A=$(cookie_of)
check "login" test -n "$A"

# Five endpoints, the first two failing their first three requests.
echo '{}' >"$RD/secrets.json"
echo '{"/p0": 3, "/p1": 3}' >"$RD/fail.json"
EPS=()
for i in 0 1 2 3 4; do
	r=$(req POST /v1/webhooks "{\"url\":\"http://127.0.0.1:$RPORT/p$i\"}" -H "$(ck "$A")")
	EPS+=("$(field "$r" id)")
	$PY - "$RD/secrets.json" "/p$i" "$(field "$r" secret)" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d[sys.argv[2]] = sys.argv[3]
json.dump(d, open(sys.argv[1], "w"))
PY
done
check "five endpoints" test "${#EPS[@]}" = 5
# Queue the events with the daemons' senders paused on nothing: both see
# the same rows from the first poll on.
n=0
for round in 1 2 3 4 5 6; do
	for e in "${EPS[@]}"; do
		r=$(req POST "/v1/webhooks/$e/test" '' -H "$(ck "$A")")
		contains "$r" "202 " && n=$((n + 1))
	done
done
check "30 test events queued" test "$n" = 30

done_all=0
for _ in $(seq 1 150); do
	left=$(psql_q "SELECT COUNT(*) FROM webhook_deliveries WHERE state <> 'delivered'")
	[ "$left" = 0 ] && { done_all=1; break; }
	sleep 0.2
done
check "every delivery delivered" test "$done_all" = 1
sleep 1.5  # any duplicate request would have arrived by now
ATT=$(psql_q "SELECT COUNT(*) FROM webhook_attempts")
SUM=$(psql_q "SELECT SUM(attempts) FROM webhook_deliveries")
REQS=$(wc -l <"$RD/requests.jsonl")
echo "# attempts logged $ATT, counted $SUM, requests received $REQS"
check "attempt log matches the attempt counters" test "$ATT" = "$SUM"
check "retries happened (30 + 6 failures)" test "$ATT" = 36
check "the receiver got exactly one request per attempt" test "$REQS" = "$ATT"
check "no (delivery, attempt) was sent twice" $PY -c 'import json, sys
seen = set()
for l in open(sys.argv[1]):
    h = {k.lower(): v for k, v in json.loads(l)["headers"].items()}
    key = (h["callixo-delivery-id"], h["callixo-attempt"])
    assert key not in seen, key
    seen.add(key)
    assert json.loads(l)["sig_ok"]' "$RD/requests.jsonl"
s1=$(grep -c 'component=webhooks msg="delivery whd_' "$TMP/1.log")
s2=$(grep -c 'component=webhooks msg="delivery whd_' "$TMP/2.log")
echo "# attempts made by daemon 1: $s1, by daemon 2: $s2"
check "both daemons' attempts add up to the log" test $((s1 + s2)) = "$ATT"

kill -TERM "$DPID2"
wait "$DPID2"
rc2=$?
DPID2=
check "daemon 2 stops cleanly" test "$rc2" = 0
stop_daemon
check "daemon 1 stops cleanly" test "$RC" = 0
finish
