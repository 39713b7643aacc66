#!/bin/bash
# webhooks_test.sh - customer webhooks end to end on callixod with SQLite
# and a local receiver (tests/webhooks/receiver.py) that checks every
# Callixo-Signature over the raw body with Python's hmac.
#   1. Default SSRF rules: loopback, private, link-local, plain-http and
#      dot-less URLs are refused at registration; a loopback URL written
#      straight into the database is refused again at send time.
#   2. With allow_private/allow_http (a second daemon on the same data):
#      that queued delivery goes out after the restart; a receiver failing
#      the first two requests gets three attempts with backoff, all in the
#      attempt log; resend; a never-answering endpoint ends 'failed'
#      after max_age; a slow endpoint times out without holding up
#      another; a call finished through the testtel plugin reaches its
#      endpoints as call.started/analyzed/completed; a redirect is not
#      followed; secret rotation; vault rotate; IDOR; API key scopes; and
#      no secret in the daemon log or in clear in the database.
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
RPORT=$(free_port)
BASE=http://127.0.0.1:$PORT
RURL=http://127.0.0.1:$RPORT
CONF=$TMP/callixo.yaml
LOG=$TMP/daemon.log
DB=$TMP/data/plugins/sqlite/callixo.db
RD=$TMP/receiver
export CALLIXO_ADMIN_SOCKET=$TMP/data/admin.sock
export SEED_DB=$DB SEED_BASE=$BASE
unset CALLIXO_VAULT_KEYS
mkdir -p "$RD"

config() { # config ALLOW -> the daemon config, webhooks.allow_* = ALLOW
	cat >"$CONF" <<YAML
server:
  listen: $BASE
  shutdown_grace: 2s
data_dir: $TMP/data
plugin_dir: $BUILD/plugins
auth:
  argon2: {opslimit: 1, memlimit_mib: 46}
webhooks:
  allow_private: $1
  allow_http: $1
  timeout: 2s
  max_age: 8s
  backoff: 1s
  backoff_max: 2s
plugins:
  - name: sqlite
    kind: storage
    required: true
  - name: fs
    kind: blob
    required: true
  - name: testtel
    kind: telephony
    path: $BUILD/tests/callevents/testtel.so
YAML
}

field() { $PY -c 'import json, sys
v = json.loads(sys.argv[1].split(" ", 1)[1])
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1" "$2"; }
PW='correct horse battery staple'
signup() { req POST /v1/signup "{\"name\":\"$1\",\"email\":\"$2\",\"password\":\"$PW\",\"date_of_birth\":\"1990-04-01\",\"is_adult\":true}" >/dev/null; }
login() { req POST /v1/login "{\"email\":\"$1\",\"password\":\"$PW\"}" >/dev/null; cookie_of; }
secret_for() { # secret_for PATH SECRET: the receiver's key for PATH
	$PY - "$RD/secrets.json" "$1" "$2" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    d = {}
d[sys.argv[2]] = sys.argv[3]
json.dump(d, open(sys.argv[1], "w"))
PY
}
fail_next() { # fail_next PATH N
	$PY - "$RD/fail.json" "$1" "$2" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    d = {}
d[sys.argv[2]] = int(sys.argv[3])
json.dump(d, open(sys.argv[1], "w"))
PY
}
# pycheck DESC CMD...: check, showing what the command said on failure
pycheck() {
	local d=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$d"; else not_ok "$d"; sed 's/^/# /' <<<"$out"; fi
}
# wait_state ID STATE [SECONDS] [MIN_ATTEMPTS]: poll the delivery (as A)
wait_state() {
	local n=$(( ${3:-15} * 5 )) r
	for _ in $(seq 1 "$n"); do
		r=$(req GET "/v1/webhook-deliveries/$1" '' -H "$(ck "$A")")
		if [ "$(field "$r" state)" = "$2" ] &&
			[ "$(field "$r" attempts)" -ge "${4:-0}" ]; then
			return 0
		fi
		sleep 0.2
	done
	echo "# delivery $1: $r"
	return 1
}
# received PATH -> how many requests reached the receiver on PATH
received() { $PY -c 'import json, sys
n = 0
try:
    for l in open(sys.argv[1]):
        n += json.loads(l)["path"] == sys.argv[2]
except OSError:
    pass
print(n)' "$RD/requests.jsonl" "$1"; }

# ---------- 1. strict defaults ----------
config false
start_daemon "$CONF" "$LOG"
check "daemon starts (strict webhooks)" wait_for "$LOG" "msg=ready" 20
signup 'Ada Lovelace' ada@example.com
signup 'Bob Builder' bob@example.com
A=$(login ada@example.com)
B=$(login bob@example.com)
check "both accounts log in" test -n "$A" -a -n "$B"

for u in "http://hooks.example.com/x" "https://127.0.0.1/x" \
	"https://127.0.0.1:$RPORT/x" "https://localhost/x" \
	"https://app.localhost/x" "https://10.1.2.3/x" "https://192.168.0.10/x" \
	"https://172.16.5.4/x" "https://169.254.169.254/latest/meta-data" \
	"https://[::1]/x" "https://[fe80::1]/x" "https://[fd00::1]/x" \
	"https://[::ffff:127.0.0.1]/x" "https://0.0.0.0/x" "https://intranet/x" \
	"https://user:pw@hooks.example.com/x" "ftp://hooks.example.com/x" \
	"hooks.example.com/x"; do
	r=$(req POST /v1/webhooks "{\"url\":\"$u\"}" -H "$(ck "$A")")
	check "refused at registration: $u" contains "$r" '400 {"error":{"code":"invalid_url"'
done
r=$(req POST /v1/webhooks '{"url":"https://hooks.example.com/x","events":["call.exploded"]}' -H "$(ck "$A")")
check "unknown event name: 400" contains "$r" '400 {"error":{"code":"invalid_field"'
r=$(req POST /v1/webhooks '{"url":"https://hooks.example.com/x","events":[]}' -H "$(ck "$A")")
check "empty events: 400" contains "$r" '400 {"error":{"code":"invalid_field"'
r=$(req POST /v1/webhooks '{"url":"https://hooks.example.com/x","events":["call.started","call.started"]}' -H "$(ck "$A")")
check "repeated event: 400" contains "$r" '400 {"error":{"code":"invalid_field"'
r=$(req POST /v1/webhooks '{"url":"https://hooks.example.com/x","color":"red"}' -H "$(ck "$A")")
check "unknown field: 400" contains "$r" '400 {"error":{"code":"unknown_field"'
r=$(req POST /v1/webhooks '{"url":"https://hooks.example.com/x"}')
check "no auth: 401" contains "$r" "401 "

r=$(req POST /v1/webhooks '{"url":"https://hooks.example.com/callixo","description":"prod"}' -H "$(ck "$A")")
check "public https URL: 201" contains "$r" "201 "
E0=$(field "$r" id)
S0=$(field "$r" secret)
check "secret is whsec_ + 43 base64url chars" grep -qE '^whsec_[A-Za-z0-9_-]{43}$' <<<"$S0"
check "events default to all three" test "$(field "$r" events)" = '["call.started", "call.completed", "call.analyzed"]'
r=$(req GET "/v1/webhooks/$E0" '' -H "$(ck "$A")")
check "GET endpoint: 200 without the secret" test "$(grep -c -e whsec_ -e secret <<<"$r")" = 0
check "GET endpoint: description kept" contains "$r" '"description":"prod"'

# Past the registration check, straight in the database: the sender
# refuses it again.
$PY -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
c.execute("UPDATE webhook_endpoints SET url = ? WHERE id = ?", (sys.argv[2], sys.argv[3]))
c.commit()' "$DB" "$RURL/e0" "$E0"
r=$(req POST "/v1/webhooks/$E0/test" '' -H "$(ck "$A")")
check "test event: 202" contains "$r" "202 "
D0=$(field "$r" id)
check "test event: a pending ping delivery" test "$(field "$r" event_type)/$(field "$r" state)" = "ping/pending"
ok_refused=0
for _ in $(seq 1 50); do
	r=$(req GET "/v1/webhook-deliveries/$D0" '' -H "$(ck "$A")")
	contains "$r" '"error":"refused: url must use https"' && { ok_refused=1; break; }
	sleep 0.2
done
check "loopback http URL in the database: the attempt is refused" test "$ok_refused" = 1
check "the receiver got nothing" test "$(received /e0)" = 0
check "the refusal is retried, not final" test "$(field "$r" state)" = pending
stop_daemon
check "strict daemon stops cleanly" test "$RC" = 0

# ---------- 2. loopback allowed (tests and local setups) ----------
$PY "$SRC/tests/webhooks/receiver.py" "$RPORT" "$RD" >"$TMP/receiver.out" 2>&1 &
NPID=$!
check "receiver starts" wait_for "$TMP/receiver.out" listening 10
secret_for /e0 "$S0"
config true
LOG2=$TMP/daemon2.log
start_daemon "$CONF" "$LOG2"
check "daemon restarts (webhooks.allow_* on)" wait_for "$LOG2" "msg=ready" 20
check "the allow switches are warned about" file_contains "$LOG2" "webhooks.allow_private=true"
check "delivery queued before the restart is delivered after it" wait_state "$D0" delivered 15
check "... with a signature the receiver verified" $PY -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(not (r and all(x["sig_ok"] for x in r if x["path"] == "/e0")))' "$RD/requests.jsonl"

r=$(req POST /v1/webhooks "{\"url\":\"$RURL/e1\",\"events\":[\"call.completed\"]}" -H "$(ck "$A")")
check "loopback http endpoint: 201" contains "$r" "201 "
E1=$(field "$r" id)
S1=$(field "$r" secret)
secret_for /e1 "$S1"
fail_next /e1 2
r=$(req POST "/v1/webhooks/$E1/test" '' -H "$(ck "$A")")
D1=$(field "$r" id)
check "delivered after two failures" wait_state "$D1" delivered 20
r=$(req GET "/v1/webhook-deliveries/$D1" '' -H "$(ck "$A")")
check "three attempts counted" test "$(field "$r" attempts)" = 3
check "last_status 200" test "$(field "$r" last_status)" = 200
check "delivered_at set" test "$(field "$r" delivered_at)" -gt 0
check "payload shown parsed" test "$(field "$r" payload.type)" = ping
check "attempt log: 500, 500, 200 with durations" $PY -c 'import json, sys
d = json.loads(sys.argv[1].split(" ", 1)[1])
a = d["attempt_log"]
assert [x["status_code"] for x in a] == [500, 500, 200], a
assert all(isinstance(x["duration_ms"], int) and x["duration_ms"] >= 0 for x in a)
assert a[0]["error"] == "non-2xx status" and a[2]["error"] is None
# backoff: 1 s then 2 s, each +-20%, so gaps of at least 0.8 s and 1.6 s
assert a[1]["at"] - a[0]["at"] >= 750 and a[2]["at"] - a[1]["at"] >= 1500, a' "$r"
check "receiver: 3 requests on /e1" test "$(received /e1)" = 3
check "receiver: every signature verified over the raw body" $PY -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["path"] == "/e1"]
sys.exit(not all(x["sig_ok"] for x in r))' "$RD/requests.jsonl"
PAYLOAD=$(sql "SELECT payload FROM webhook_deliveries WHERE id='$D1'")
check "receiver: headers and the stored payload byte for byte" $PY -c 'import base64, json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["path"] == "/e1"]
p = json.loads(sys.argv[2])
for x in r:
    h = {k.lower(): v for k, v in x["headers"].items()}
    assert base64.b64decode(x["body"]) == sys.argv[2].encode(), x
    assert h["content-type"] == "application/json", h
    assert h["user-agent"] == "Callixo-Webhooks/1", h
    assert h["callixo-event-id"] == p["id"] and p["id"].startswith("evt_"), h
    assert h["callixo-event-type"] == "ping" and p["type"] == "ping", h
    assert h["callixo-delivery-id"] == sys.argv[3], h
    assert h["callixo-signature"].startswith("t="), h
assert [x["headers"].get("Callixo-Attempt") for x in r] == ["1", "2", "3"]
assert set(p) == {"id", "type", "created", "data"} and p["data"]["webhook_id"] == sys.argv[4]' \
	"$RD/requests.jsonl" "$PAYLOAD" "$D1" "$E1"

# ---- resend ----
r=$(req POST "/v1/webhook-deliveries/$D1/resend" '' -H "$(ck "$A")")
check "resend a delivered delivery: 202 pending" test "$(field "$r" state)" = pending
check "resent: delivered again (4th attempt)" wait_state "$D1" delivered 10 4
check "resent: the same bytes and event id again" $PY -c 'import base64, json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["path"] == "/e1"]
assert len(r) == 4 and base64.b64decode(r[3]["body"]) == sys.argv[2].encode() and r[3]["sig_ok"]' \
	"$RD/requests.jsonl" "$PAYLOAD"

# ---- lists ----
r=$(req GET "/v1/webhooks/$E1/deliveries" '' -H "$(ck "$A")")
check "deliveries of the endpoint list it" contains "$r" "\"id\":\"$D1\""
check "the list has no payloads" test "$(grep -c '"payload"' <<<"$r")" = 0
r=$(req GET "/v1/webhooks/$E1/deliveries?state=failed" '' -H "$(ck "$A")")
check "state=failed: none" contains "$r" '200 {"items":[]'
r=$(req GET "/v1/webhooks/$E1/deliveries?state=delivered&limit=1" '' -H "$(ck "$A")")
check "state=delivered: it" contains "$r" "\"id\":\"$D1\""
r=$(req GET "/v1/webhooks/$E1/deliveries?state=lost" '' -H "$(ck "$A")")
check "unknown state: 400" contains "$r" '400 {"error":{"code":"invalid_query"'
r=$(req GET "/v1/webhooks/$E0/deliveries" '' -H "$(ck "$A")")
check "deliveries are per endpoint" test "$(grep -c "$D1" <<<"$r")" = 0

# ---- retries end: failed after max_age ----
r=$(req POST /v1/webhooks "{\"url\":\"$RURL/e2\"}" -H "$(ck "$A")")
E2=$(field "$r" id)
secret_for /e2 "$(field "$r" secret)"
fail_next /e2 1000
r=$(req POST "/v1/webhooks/$E2/test" '' -H "$(ck "$A")")
D2=$(field "$r" id)
r=$(req POST "/v1/webhook-deliveries/$D2/resend" '' -H "$(ck "$A")")
check "resend while pending: 409" contains "$r" '409 {"error":{"code":"delivery_pending"'
check "always 500: failed after max_age (8s)" wait_state "$D2" failed 20
r=$(req GET "/v1/webhook-deliveries/$D2" '' -H "$(ck "$A")")
check "failed: several attempts, all logged" $PY -c 'import json, sys
d = json.loads(sys.argv[1].split(" ", 1)[1])
assert d["attempts"] >= 3 and len(d["attempt_log"]) == d["attempts"], d
assert d["last_status"] == 500 and d["next_attempt_at"] is None, d' "$r"
n=$(received /e2)
sleep 2.5
check "failed: no more attempts" test "$(received /e2)" = "$n"
fail_next /e2 0
r=$(req POST "/v1/webhook-deliveries/$D2/resend" '' -H "$(ck "$A")")
check "resend a failed delivery: 202" contains "$r" "202 "
check "resent failed delivery is delivered" wait_state "$D2" delivered 10

# ---- a slow endpoint times out and holds up no other ----
r=$(req POST /v1/webhooks "{\"url\":\"$RURL/slow\"}" -H "$(ck "$A")")
ES=$(field "$r" id)
r=$(req POST "/v1/webhooks/$ES/test" '' -H "$(ck "$A")")
DS=$(field "$r" id)
sleep 0.5
t0=$(date +%s%N)
r=$(req POST "/v1/webhooks/$E1/test" '' -H "$(ck "$A")")
DF=$(field "$r" id)
check "another endpoint is served while the slow one hangs" wait_state "$DF" delivered 3
t1=$(date +%s%N)
check "... within 1.5 s" test $(( (t1 - t0) / 1000000 )) -lt 1500
ok_to=0
for _ in $(seq 1 40); do
	r=$(req GET "/v1/webhook-deliveries/$DS" '' -H "$(ck "$A")")
	contains "$r" '"error":"timeout: ' && { ok_to=1; break; }
	sleep 0.2
done
check "slow endpoint: the attempt is logged as a timeout" test "$ok_to" = 1
req PATCH "/v1/webhooks/$ES" '{"active":false}' -H "$(ck "$A")" >/dev/null

# ---- a real call: call.started, call.analyzed, call.completed ----
A_ID=$(sql "SELECT id FROM accounts WHERE email = 'ada@example.com'")
r=$(req POST /v1/webhooks "{\"url\":\"$RURL/calls\"}" -H "$(ck "$A")")
EC=$(field "$r" id)
secret_for /calls "$(field "$r" secret)"
r=$(req POST /v1/webhooks "{\"url\":\"$RURL/done\",\"events\":[\"call.completed\"]}" -H "$(ck "$A")")
ED=$(field "$r" id)
secret_for /done "$(field "$r" secret)"
CALL=$($PY "$SRC/tests/integration/seed_call.py" call "$A_ID" 2>"$TMP/seed.err")
check "a call finished through the testtel plugin" test -n "$CALL"
got3=0
for _ in $(seq 1 50); do
	[ "$(received /calls)" -ge 3 ] && [ "$(received /done)" -ge 1 ] && { got3=1; break; }
	sleep 0.2
done
check "the call's three events reached the all-events endpoint" test "$got3" = 1
pycheck "call events: signed, typed, with the call id" $PY -c 'import base64, json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["path"] == "/calls"]
types = sorted(x["headers"]["Callixo-Event-Type"] for x in r)
assert types == ["call.analyzed", "call.completed", "call.started"], types
for x in r:
    p = json.loads(base64.b64decode(x["body"]))
    assert x["sig_ok"] and p["type"] == x["headers"]["Callixo-Event-Type"], x
    assert p["data"]["id"] == sys.argv[2] and p["id"] == x["headers"]["Callixo-Event-Id"], p
c = [json.loads(base64.b64decode(x["body"]))["data"] for x in r
     if x["headers"]["Callixo-Event-Type"] == "call.completed"][0]
# the artifacts it has (this seeded call has no campaign asking for a
# recording, so call.completed does not wait for one: callfinish.c)
assert c["status"] == "completed" and c["outcome"] == "answered", c
assert c["transcript"]["text"] == "agent: hello" and c["summary"] == "greeted the lead", c' \
	"$RD/requests.jsonl" "$CALL"
check "the call.completed-only endpoint got just that one" $PY -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["path"] == "/done"]
assert [x["headers"]["Callixo-Event-Type"] for x in r] == ["call.completed"], r
assert r[0]["sig_ok"]' "$RD/requests.jsonl"
r=$(req GET "/v1/webhooks/$EC/deliveries?state=delivered" '' -H "$(ck "$A")")
check "the deliveries carry the call id" test "$(grep -o "\"call_id\":\"$CALL\"" <<<"$r" | wc -l)" = 3

# ---- redirects are not followed ----
r=$(req POST /v1/webhooks "{\"url\":\"$RURL/redir\"}" -H "$(ck "$A")")
ER=$(field "$r" id)
secret_for /redir "$(field "$r" secret)"
n=$(received /e1)
r=$(req POST "/v1/webhooks/$ER/test" '' -H "$(ck "$A")")
DR=$(field "$r" id)
check "a 302 is a failed attempt, retried" wait_state "$DR" pending 5 1
r=$(req GET "/v1/webhook-deliveries/$DR" '' -H "$(ck "$A")")
check "... logged with status 302" test "$(field "$r" last_status)" = 302
check "... and the redirect target was never called" test "$(received /e1)" = "$n"
req PATCH "/v1/webhooks/$ER" '{"active":false}' -H "$(ck "$A")" >/dev/null

# ---- PATCH ----
r=$(req PATCH "/v1/webhooks/$E1" '{"events":["call.started","call.analyzed"],"description":"staging"}' -H "$(ck "$A")")
check "PATCH events and description: 200" contains "$r" '"events":["call.started","call.analyzed"]'
r=$(req PATCH "/v1/webhooks/$E1" '{"url":"https://[::1]/x"}' -H "$(ck "$A")")
check "PATCH to a loopback https URL is still fine with allow_private" contains "$r" "200 "
req PATCH "/v1/webhooks/$E1" "{\"url\":\"$RURL/e1\"}" -H "$(ck "$A")" >/dev/null
r=$(req PATCH "/v1/webhooks/$E1" '{"url":"ftp://x.example.com/"}' -H "$(ck "$A")")
check "PATCH to a non-http URL: 400" contains "$r" '400 {"error":{"code":"invalid_url"'
r=$(req PATCH "/v1/webhooks/$E1" '{"active":false}' -H "$(ck "$A")")
check "disable: 200" contains "$r" '"active":false'
r=$(req POST "/v1/webhooks/$E1/test" '' -H "$(ck "$A")")
check "test on a disabled endpoint: 409" contains "$r" '409 {"error":{"code":"endpoint_disabled"'
req PATCH "/v1/webhooks/$E1" '{"active":true}' -H "$(ck "$A")" >/dev/null

# ---- secret rotation ----
r=$(req POST "/v1/webhooks/$E1/rotate-secret" '' -H "$(ck "$A")")
S1B=$(field "$r" secret)
check "rotate-secret: a new secret" test -n "$S1B" -a "$S1B" != "$S1"
r=$(req POST "/v1/webhooks/$E1/test" '' -H "$(ck "$A")")
D3=$(field "$r" id)
check "after rotation: the old secret no longer verifies (retried)" wait_state "$D3" pending 5 1
secret_for /e1 "$S1B"
check "after rotation: the new secret verifies" wait_state "$D3" delivered 10

# ---- vault rotate re-seals signing secrets ----
OLDENC=$(sql "SELECT secret_enc FROM webhook_endpoints WHERE id='$E1'")
NEWKEY=$($PY -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')
stop_daemon
# A delivery finished long ago is purged at the next start (retention).
$PY -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
c.execute("UPDATE webhook_deliveries SET updated_at = 1000 WHERE id = ?", (sys.argv[2],))
c.commit()' "$DB" "$D0"
OLDKEY=$(tr -d '\n' <"$TMP/data/vault.keys")
printf '%s\n%s\n' "$NEWKEY" "$OLDKEY" >"$TMP/data/vault.keys"
LOG3=$TMP/daemon3.log
start_daemon "$CONF" "$LOG3"
check "daemon restarts with a new first vault key" wait_for "$LOG3" "msg=ready" 20
check "retention: the old delivery is gone" wait_for "$LOG3" "deleted 1 deliveries finished more than 30 days ago" 5
check "retention: its attempts too" test "$(sql "SELECT COUNT(*) FROM webhook_attempts WHERE delivery_id='$D0'")" = 0
check "retention: recent ones stay" test "$(sql "SELECT COUNT(*) FROM webhook_deliveries WHERE id='$D1'")" = 1
out=$("$CTL" vault rotate 2>&1)
check "vault rotate: the endpoints' secrets are rotated too" test "$(sql "SELECT secret_enc FROM webhook_endpoints WHERE id='$E1'")" != "$OLDENC"
check "vault rotate: nothing unreadable" test "$(grep -c unreadable <<<"$out")" = 0
printf '%s\n' "$NEWKEY" >"$TMP/data/vault.keys"
stop_daemon
start_daemon "$CONF" "$LOG3"
check "daemon restarts with only the new key" wait_for "$LOG3" "msg=ready" 20
r=$(req POST "/v1/webhooks/$E1/test" '' -H "$(ck "$A")")
D4=$(field "$r" id)
check "signed with the re-sealed secret: delivered" wait_state "$D4" delivered 10

# ---- other accounts and API keys ----
for p in "GET /v1/webhooks/$E1" "PATCH /v1/webhooks/$E1" "DELETE /v1/webhooks/$E1" \
	"POST /v1/webhooks/$E1/test" "POST /v1/webhooks/$E1/rotate-secret" \
	"GET /v1/webhooks/$E1/deliveries" "GET /v1/webhook-deliveries/$D1" \
	"POST /v1/webhook-deliveries/$D1/resend"; do
	b=''
	[ "${p%% *}" = PATCH ] && b='{"description":"mine"}'
	r=$(req ${p%% *} "${p#* }" "$b" -H "$(ck "$B")")
	check "B: $p is 404" contains "$r" '404 {"error":{"code":"not_found"'
done
r=$(req GET /v1/webhooks '' -H "$(ck "$B")")
check "B's list is empty" contains "$r" '200 {"items":[]}'
r=$(req GET "/v1/webhooks/$E1" '' -H "$(ck "$A")")
check "A's endpoint survived B" contains "$r" '"description":"staging"'
r=$(req POST /v1/api-keys '{"name":"r","scope":"read"}' -H "$(ck "$A")")
KR=$(field "$r" key)
r=$(req POST /v1/api-keys '{"name":"w","scope":"write"}' -H "$(ck "$A")")
KW=$(field "$r" key)
r=$(ORG= req GET /v1/webhooks '' -H "Authorization: Bearer $KR")
check "read key: list 200" contains "$r" "\"id\":\"$E1\""
r=$(ORG= req POST /v1/webhooks "{\"url\":\"$RURL/k\"}" -H "Authorization: Bearer $KR")
check "read key: register 403" contains "$r" '403 {"error":{"code":"insufficient_scope"'
r=$(ORG= req POST /v1/webhooks "{\"url\":\"$RURL/k\"}" -H "Authorization: Bearer $KW")
check "write key: register 201" contains "$r" "201 "
SK=$(field "$r" secret)
EK=$(field "$r" id)

# ---- delete ----
r=$(req DELETE "/v1/webhooks/$E2" '' -H "$(ck "$A")")
check "delete: 200" contains "$r" '"status":"deleted"'
r=$(req GET "/v1/webhook-deliveries/$D2" '' -H "$(ck "$A")")
check "its deliveries are gone: 404" contains "$r" "404 "
check "its attempts are gone" test "$(sql "SELECT COUNT(*) FROM webhook_attempts WHERE delivery_id='$D2'")" = 0

# ---- secrets: never logged, never stored in clear ----
for s in "$S0" "$S1" "$S1B" "$SK"; do
	check "secret ${s:0:10}... not in any daemon log" test "$(cat "$LOG" "$LOG2" "$LOG3" | grep -cF -- "$s")" = 0
	check "secret ${s:0:10}... not in the database files" $PY -c 'import sys, glob
data = b"".join(open(f, "rb").read() for f in glob.glob(sys.argv[1] + "*"))
sys.exit(sys.argv[2].encode() in data)' "$DB" "$s"
done
stop_daemon
check "daemon stops cleanly" test "$RC" = 0
finish
