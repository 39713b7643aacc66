#!/bin/bash
# calling_test.sh - calling end to end on callixod with SQLite, the fs
# blob store and the sandbox provider: signup, a CSV import (BOM, CRLF,
# ';', an invalid row, a duplicate), a campaign with a customer webhook,
# every call reaching a terminal state with its artifacts (recording
# with Range, transcript, summary), the campaign's concurrency and calls
# per second held, signed call.completed deliveries that never come out
# empty; then a second campaign cut by kill -9 mid-run and finished
# after a restart without any attempt placed twice.
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
RPORT=$(free_port)
BASE=http://127.0.0.1:$PORT
CONF=$TMP/callixo.yaml
LOG=$TMP/daemon.log
DB=$TMP/data/plugins/sqlite/callixo.db
JOURNAL=$TMP/data/plugins/sandbox/journal.jsonl
RDIR=$TMP/receiver
export CALLIXO_ADMIN_SOCKET=$TMP/data/admin.sock
unset CALLIXO_VAULT_KEYS
PW='calling-test-passphrase-42'
mkdir -p "$RDIR"

cat >"$CONF" <<YAML
server:
  listen: http://127.0.0.1:$PORT
  shutdown_grace: 2s
data_dir: $TMP/data
plugin_dir: $BUILD/plugins
auth:
  argon2: {opslimit: 1, memlimit_mib: 46}
leads:
  default_country: GB
  phone_zones: $SRC/conf/phone-zones.tsv
dialer:
  tick: 100ms
  account_max_concurrency: 10
webhooks:
  allow_private: true
  allow_http: true
  backoff: 1s
plugins:
  - name: sqlite
    kind: storage
    required: true
  - name: fs
    kind: blob
    required: true
  - name: sandbox
    kind: telephony
    required: true
    settings:
      seed: 7
      outcomes: {answered: 60, voicemail: 15, busy: 10, no_answer: 15, failed: 0}
      ring_min: 1s
      ring_max: 4s
      talk_min: 5s
      talk_max: 20s
      speed: 20
      recording_seconds: 3
YAML

field() { $PY -c 'import json, sys
v = json.loads(sys.argv[1].split(" ", 1)[1])
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$1" "$2"; }

$PY "$SRC/tests/webhooks/receiver.py" "$RPORT" "$RDIR" 2>"$TMP/receiver.log" &
NPID=$!

start_daemon "$CONF" "$LOG"
check "daemon ready" wait_for "$LOG" 'msg=ready' 20

req POST /v1/signup "{\"name\":\"Ada\",\"email\":\"ada@example.com\",\"password\":\"$PW\",\"date_of_birth\":\"1990-04-01\",\"is_adult\":true}" >/dev/null
req POST /v1/login "{\"email\":\"ada@example.com\",\"password\":\"$PW\"}" >/dev/null
C=$(cookie_of)
check "logged in" test -n "$C"

# ---- a customer webhook ----
out=$(req POST /v1/webhooks "{\"url\":\"http://127.0.0.1:$RPORT/e1\",\"events\":[\"call.completed\"]}" -H "$(ck "$C")")
check "webhook endpoint registered" contains "$out" "201 "
SECRET=$(field "$out" secret)
echo "{\"/e1\": \"$SECRET\"}" >"$RDIR/secrets.json"

# ---- the campaign first, so the import can attach its leads ----
CFG='{"telephony":"sandbox","agent":"agent_demo","from_numbers":["+442079460999"],
 "record":true,"recording_disclosure":true,
 "voicemail":{"action":"message","message":"Hello {{name}}, please call us back."},
 "max_concurrency":3,"calls_per_second":4,
 "retry":{"no_answer":{"after_minutes":0,"max_attempts":2},"busy":{"after_minutes":0,"max_attempts":2}},
 "analysis":{"summary":true,"fields":[{"name":"interested","type":"boolean","description":"wants a demo"}]},
 "windows":[{"start_minute":0,"end_minute":1440}],
 "weekdays":["mon","tue","wed","thu","fri","sat","sun"],
 "breaker":{"min_calls":50,"failure_ratio":0.9,"window_seconds":120}}'
out=$(req POST /v1/campaigns "{\"name\":\"Spring\",\"config\":$(tr -d '\n' <<<"$CFG")}" -H "$(ck "$C")")
check "campaign created" contains "$out" "201 "
CMP=$(field "$out" id)

# BOM, CRLF, ';' delimiter, a quoted field with the delimiter in it, one
# invalid phone and one duplicate.
{
	printf '\xef\xbb\xbfphone;name;company\r\n'
	for i in $(seq 10 25); do
		printf '020 7946 00%s;Lead %s;"Acme; Ltd"\r\n' "$i" "$i"
	done
	printf 'not-a-number;Broken;X\r\n'
	printf '+44 20 7946 0010;Again;Y\r\n'
} >"$TMP/leads.csv"
out=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST -H "Origin: $BASE" \
	-H "$(ck "$C")" -H 'Content-Type: text/csv' --data-binary @"$TMP/leads.csv" \
	"$BASE/v1/leads/import?campaign_id=$CMP"; echo " $(cat "$TMP/body")")
check "CSV import answers 200" contains "$out" "200 "
check "16 leads imported" test "$(field "$out" imported)" = 16
check "1 duplicate skipped" test "$(field "$out" skipped)" = 1
check "1 invalid row reported" test "$(field "$out" invalid)" = 1
check "invalid row named by its line" test "$(field "$out" errors.0.line)" = 18
check "leads carry London time" test "$(sql "SELECT count(*) FROM leads WHERE timezone = 'Europe/London'")" = 16

out=$(req POST "/v1/campaigns/$CMP/start" '' -H "$(ck "$C")")
check "campaign started" contains "$out" '"running"'

wait_campaign() { # wait_campaign ID SECONDS
	local i
	for i in $(seq 1 $(($2 * 5))); do
		[ "$(sql "SELECT status FROM campaigns WHERE id = '$1'")" = completed ] && return 0
		sleep 0.2
	done
	return 1
}
check "campaign completes" wait_campaign "$CMP" 90

n_calls=$(sql "SELECT count(*) FROM calls WHERE campaign_id = '$CMP'")
check "every lead was called ($n_calls calls)" test "$n_calls" -ge 16
check "every call ended" test "$(sql "SELECT count(*) FROM calls WHERE campaign_id = '$CMP' AND status NOT IN ('completed','busy','no_answer','failed','canceled')")" = 0
check "no lead left to call" test "$(sql "SELECT count(*) FROM leads WHERE campaign_id = '$CMP' AND status IN ('new','retry','calling')")" = 0
check "no attempt dispatched twice" test "$(sql "SELECT count(*) FROM (SELECT lead_id, attempt FROM calls GROUP BY lead_id, attempt HAVING count(*) > 1)")" = 0
check "retries stop at max_attempts" test "$(sql "SELECT max(attempt) FROM calls WHERE campaign_id = '$CMP'")" -le 2
answered=$(sql "SELECT count(*) FROM calls WHERE campaign_id = '$CMP' AND outcome = 'answered'")
check "some calls answered ($answered)" test "$answered" -ge 3
check "answered calls have transcript, summary and recording" test "$(sql "SELECT count(*) FROM calls WHERE campaign_id = '$CMP' AND outcome = 'answered' AND (transcript IS NULL OR summary IS NULL OR recording_key IS NULL)")" = 0

# Concurrency: at no dispatch were more than 3 calls of the campaign live.
peak=$($PY - "$DB" "$CMP" <<'PY'
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT dispatched_at, coalesce(ended_at, dispatched_at) FROM calls "
    "WHERE campaign_id = ? AND dispatched_at IS NOT NULL", (sys.argv[2],)).fetchall()
print(max(sum(1 for s, e in rows if s <= t < e) + 0 for t, _ in rows))
PY
)
check "at most 3 live calls at any dispatch (peak $peak)" test "$peak" -le 3
# Calls per second: no 1-second window holds more than 4 dispatches.
burst=$($PY - "$DB" "$CMP" <<'PY'
import sqlite3, sys
t = sorted(r[0] for r in sqlite3.connect(sys.argv[1]).execute(
    "SELECT dispatched_at FROM calls WHERE campaign_id = ? AND "
    "dispatched_at IS NOT NULL", (sys.argv[2],)))
print(max(sum(1 for u in t if x <= u < x + 1000) for x in t))
PY
)
check "at most 4 dispatches in any second (peak $burst)" test "$burst" -le 4

# The calls API and a recording with Range.
CALL=$(sql "SELECT id FROM calls WHERE campaign_id = '$CMP' AND outcome = 'answered' LIMIT 1")
out=$(req GET "/v1/calls/$CALL" '' -H "$(ck "$C")")
check "GET /v1/calls/{id} shows the summary" test -n "$(field "$out" summary)"
check "GET /v1/calls/{id} shows utterances" test -n "$(field "$out" transcript.utterances.0.text)"
code=$(curl -s -o "$TMP/rec.wav" -w '%{http_code}' -H "$(ck "$C")" "$BASE/v1/calls/$CALL/recording")
check "recording served" test "$code" = 200
check "recording is a WAV" test "$(head -c 4 "$TMP/rec.wav")" = RIFF
code=$(curl -s -o "$TMP/part" -D "$TMP/hdr" -w '%{http_code}' -H 'Range: bytes=8-11' -H "$(ck "$C")" "$BASE/v1/calls/$CALL/recording")
check "Range answers 206" test "$code" = 206
check "Range gives the right bytes" test "$(cat "$TMP/part")" = WAVE
check "recording encrypted at rest" test "$(grep -rl --include='*' RIFF "$TMP/data/plugins/fs" 2>/dev/null | wc -l)" = 0

# Customer webhooks: one signed call.completed per call, never empty.
wait_deliveries() {
	local i
	for i in $(seq 1 100); do
		[ "$(grep -c call.completed "$RDIR/requests.jsonl" 2>/dev/null)" -ge "$1" ] && return 0
		sleep 0.2
	done
	return 1
}
check "a call.completed delivery per call" wait_deliveries "$n_calls"
verdict=$($PY - "$RDIR/requests.jsonl" <<'PY'
import base64, json, sys
bad, seen = [], set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    body = json.loads(base64.b64decode(r["body"]))
    if body["type"] != "call.completed":
        continue
    if not r["sig_ok"]:
        bad.append("unsigned")
    d = body["data"]
    seen.add(d["id"])
    if d.get("outcome") == "answered" and not (d.get("summary") and
            d.get("transcript") and d.get("recording_url")):
        bad.append("empty report for " + d["id"])
print("ok %d" % len(seen) if not bad else " ".join(bad[:3]))
PY
)
check "deliveries signed and complete ($verdict)" contains "$verdict" "ok $n_calls"

# ---- a restart mid-campaign ----
CFG2=$(tr -d '\n' <<<"$CFG" | sed 's/"max_concurrency":3/"max_concurrency":5/; s/"calls_per_second":4/"calls_per_second":10/')
out=$(req POST /v1/campaigns "{\"name\":\"Restart\",\"config\":$CFG2}" -H "$(ck "$C")")
CMP2=$(field "$out" id)
{
	echo 'phone,name'
	for i in $(seq 100 139); do echo "+4420794601$((i - 100 + 10)),R$i"; done
} >"$TMP/leads2.csv"
out=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST -H "Origin: $BASE" \
	-H "$(ck "$C")" -H 'Content-Type: text/csv' --data-binary @"$TMP/leads2.csv" \
	"$BASE/v1/leads/import?campaign_id=$CMP2"; echo " $(cat "$TMP/body")")
check "second import: 40 leads" test "$(field "$out" imported)" = 40
req POST "/v1/campaigns/$CMP2/start" '' -H "$(ck "$C")" >/dev/null
live() { [ "$(sql "SELECT count(*) FROM calls WHERE campaign_id = '$CMP2'")" -ge 8 ]; }
for _ in $(seq 1 100); do live && break; sleep 0.1; done
check "calls in flight before the crash" live
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null
DPID=
before=$(sql "SELECT count(*) FROM calls WHERE campaign_id = '$CMP2'")
start_daemon "$CONF" "$TMP/daemon2.log"
check "daemon back after kill -9" wait_for "$TMP/daemon2.log" 'msg=ready' 20
check "campaign completes after the restart" wait_campaign "$CMP2" 120
check "no attempt dispatched twice after the restart" test "$(sql "SELECT count(*) FROM (SELECT lead_id, attempt FROM calls GROUP BY lead_id, attempt HAVING count(*) > 1)")" = 0
check "every lead of the cut campaign settled" test "$(sql "SELECT count(*) FROM leads WHERE campaign_id = '$CMP2' AND status IN ('new','retry','calling')")" = 0
check "every call of the cut campaign ended" test "$(sql "SELECT count(*) FROM calls WHERE campaign_id = '$CMP2' AND status NOT IN ('completed','busy','no_answer','failed','canceled')")" = 0
# The provider's own record: one provider call per call row, ever.
twice=$($PY - "$JOURNAL" <<'PY'
import json, sys
by = {}
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("call_id") and r.get("pcid"):
        by.setdefault(r["call_id"], set()).add(r["pcid"])
print(sum(1 for v in by.values() if len(v) > 1))
PY
)
check "the provider was never asked twice for one call ($before rows before the crash)" test "$twice" = 0
check "no secret in the daemon log" test "$(grep -c "$SECRET" "$LOG" "$TMP/daemon2.log" | awk -F: '{s+=$2} END {print s}')" = 0

stop_daemon
finish
