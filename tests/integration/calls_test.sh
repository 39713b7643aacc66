#!/bin/bash
# calls_test.sh - the calls API end to end on callixod: a call finished
# through a telephony plugin (testtel, talking to the core through its
# cx_host) with a recording the core encrypted into the fs blob store;
# GET /v1/calls with filters, GET /v1/calls/{id} with every artifact,
# GET /v1/calls/{id}/recording whole and by Range (206, 416), another
# account's call answering 404 everywhere, an API key reading it, and
# customer refused on the staff route (staff_test.sh reads it as staff).
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
CONF=$TMP/callixo.yaml
LOG=$TMP/daemon.log
DB=$TMP/data/plugins/sqlite/callixo.db
export CALLIXO_ADMIN_SOCKET=$TMP/data/admin.sock
export SEED_DB=$DB SEED_BASE=$BASE SEED_WAV=$TMP/rec.wav

cat >"$CONF" <<YAML
server:
  listen: $BASE
  shutdown_grace: 2s
data_dir: $TMP/data
plugin_dir: $BUILD/plugins
auth:
  argon2: {opslimit: 1, memlimit_mib: 46}
  common_passwords: $SRC/conf/common-passwords.txt
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

PW='correct horse battery staple'
signup() {
	curl -s -X POST -H 'Content-Type: application/json' -H "Origin: $BASE" \
		--data-binary "{\"name\":\"$1\",\"email\":\"$2\",\"password\":\"$PW\",\"date_of_birth\":\"1990-01-01\",\"is_adult\":true}" \
		"$BASE/v1/signup" | $PY -c 'import json, sys; print(json.load(sys.stdin).get("id", ""))'
}
login() {
	curl -s -o /dev/null -D "$TMP/hdr" -X POST -H 'Content-Type: application/json' \
		-H "Origin: $BASE" --data-binary "{\"email\":\"$1\",\"password\":\"$PW\"}" \
		"$BASE/v1/login"
	sed -n 's/^[Ss]et-[Cc]ookie: \(cx_session=[^;]*\);.*/\1/p' "$TMP/hdr" | tr -d '\r'
}
# get COOKIE PATH [curl args...] -> status; body in $TMP/out, headers in $TMP/h
get() {
	local c=$1 p=$2
	shift 2
	curl -s -o "$TMP/out" -D "$TMP/h" -w '%{http_code}' -H "Cookie: $c" "$@" "$BASE$p"
}
h() { grep -i "^$1:" "$TMP/h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
jq_() { $PY -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if not isinstance(v, str) else v)' "$TMP/out" "$1"; }

start_daemon "$CONF" "$LOG"
check "daemon starts" wait_for "$LOG" "msg=ready" 20

A_ID=$(signup 'Alice Able' alice@example.com)
B_ID=$(signup 'Bob Baker' bob@example.com)
CA=$(login alice@example.com)
CB=$(login bob@example.com)
check "two accounts logged in" test -n "$CA" -a -n "$CB"

CALL=$($SRC/tests/integration/seed_call.py call "$A_ID" 2>"$TMP/seed.err")
check "a call finished with a recording through testtel" test -n "$CALL"
SIZE=$(stat -c %s "$TMP/rec.wav")

# ---- encrypted at rest ----
check "the blob store holds the recording" test -n "$(find "$TMP/data/plugins/fs" -type f -path "*$CALL*")"
check "no plaintext WAV in the blob store" \
	bash -c "! grep -rqa 'WAVEfmt' '$TMP/data/plugins/fs'"

# ---- list and filters ----
check "list: 200" test "$(get "$CA" /v1/calls)" = 200
check "list has the call" test "$(jq_ items.0.id)" = "$CALL"
check "list shows no storage key" bash -c "! grep -q recording_key '$TMP/out'"
get "$CA" "/v1/calls?status=completed&outcome=answered" >/dev/null
check "filter status+outcome keeps it" test "$(jq_ items.0.id)" = "$CALL"
get "$CA" "/v1/calls?status=ringing" >/dev/null
check "filter status=ringing: empty" test "$(jq_ items)" = "[]"
get "$CA" "/v1/calls?outcome=busy" >/dev/null
check "filter outcome=busy: empty" test "$(jq_ items)" = "[]"
check "bad limit: 400" test "$(get "$CA" '/v1/calls?limit=0')" = 400
check "no cookie: 401" test "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/calls")" = 401

# ---- one call ----
check "get: 200" test "$(get "$CA" "/v1/calls/$CALL")" = 200
check "status completed" test "$(jq_ status)" = completed
check "outcome answered" test "$(jq_ outcome)" = answered
check "duration from the times" test "$(jq_ duration_ms)" = 42000
check "cost" test "$(jq_ cost_micros)" = 21000
check "transcript text" test "$(jq_ transcript.text)" = "agent: hello"
check "utterances" test "$(jq_ transcript.utterances.0.speaker)" = agent
check "summary" test "$(jq_ summary)" = "greeted the lead"
check "sentiment" test "$(jq_ sentiment)" = positive
check "analysis" test "$(jq_ analysis.interested)" = true
check "disconnection reason" test "$(jq_ disconnection_reason)" = user_hangup
check "recording_url" test "$(jq_ recording_url)" = "/v1/calls/$CALL/recording"

# ---- the recording ----
check "recording: 200" test "$(get "$CA" "/v1/calls/$CALL/recording")" = 200
check "Content-Type audio/wav" test "$(h Content-Type)" = audio/wav
check "Content-Length is the size" test "$(h Content-Length)" = "$SIZE"
check "Accept-Ranges bytes" test "$(h Accept-Ranges)" = bytes
check "the body is the WAV, decrypted" cmp -s "$TMP/out" "$TMP/rec.wav"
check "range 0-99: 206" test "$(get "$CA" "/v1/calls/$CALL/recording" -H 'Range: bytes=0-99')" = 206
check "range 0-99: Content-Range" test "$(h Content-Range)" = "bytes 0-99/$SIZE"
check "range 0-99: 100 bytes" test "$(stat -c %s "$TMP/out")" = 100
check "range 0-99: the right bytes" cmp -s "$TMP/out" <(head -c 100 "$TMP/rec.wav")
# Across the 64 KiB chunk boundary of the encryption.
get "$CA" "/v1/calls/$CALL/recording" -H 'Range: bytes=65500-70000' >/dev/null
check "range across a chunk: the right bytes" cmp -s "$TMP/out" \
	<(tail -c +65501 "$TMP/rec.wav" | head -c 4501)
get "$CA" "/v1/calls/$CALL/recording" -H 'Range: bytes=-10' >/dev/null
check "suffix range: the last 10 bytes" cmp -s "$TMP/out" <(tail -c 10 "$TMP/rec.wav")
check "range past the end: 416" test "$(get "$CA" "/v1/calls/$CALL/recording" -H "Range: bytes=$SIZE-")" = 416
check "416 says the size" test "$(h Content-Range)" = "bytes */$SIZE"
check "two ranges: the whole file" test "$(get "$CA" "/v1/calls/$CALL/recording" -H 'Range: bytes=0-1,5-6')" = 200

# ---- another account: 404, like a missing call ----
check "B gets 404 for A's call" test "$(get "$CB" "/v1/calls/$CALL")" = 404
cp "$TMP/out" "$TMP/b404"
get "$CB" /v1/calls/call_000000000000000000000000 >/dev/null
check "same body as a missing call" cmp -s "$TMP/out" "$TMP/b404"
check "B gets 404 for A's recording" test "$(get "$CB" "/v1/calls/$CALL/recording")" = 404
check "B gets 404 for A's recording with a Range" test "$(get "$CB" "/v1/calls/$CALL/recording" -H 'Range: bytes=0-1')" = 404
get "$CB" /v1/calls >/dev/null
check "B's list is empty" test "$(jq_ items)" = "[]"
get "$CB" "/v1/calls?campaign_id=x&lead_id=y" >/dev/null
check "B's filtered list is empty" test "$(jq_ items)" = "[]"

# ---- an API key of A reads it too ----
curl -s -o "$TMP/out" -X POST -H 'Content-Type: application/json' -H "Origin: $BASE" \
	-H "Cookie: $CA" --data-binary '{"name":"ci","scope":"read"}' "$BASE/v1/api-keys"
KEY=$(jq_ key 2>/dev/null)
if [ -n "$KEY" ]; then
	r=$(curl -s -o "$TMP/out" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$BASE/v1/calls/$CALL/recording" -H 'Range: bytes=10-19')
	check "API key: recording range 206" test "$r" = 206
else
	not_ok "API key created ($(cat "$TMP/out"))"
fi

# ---- staff: only with a reason, and the customer sees it ----
check "customer on the staff route: 403" test "$(get "$CB" "/v1/staff/accounts/$A_ID/calls/$CALL?reason=support%20ticket%20123")" = 403

stop_daemon
check "daemon stops cleanly" test "$RC" = 0
finish
