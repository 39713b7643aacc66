#!/bin/bash
# e2e_test.sh - the Twilio plugin on callixod with the real core, run by
# twilio_harness.sh (fake Twilio, its accounts in the environment): a
# call's signed status callbacks (out of order, one twice) and its
# recording callback arrive over HTTP; the core stores the events once,
# the call ends completed/answered with its duration, the recording is
# fetched from Twilio, encrypted into the fs blob store, served by
# GET /v1/calls/{id}/recording, and deleted at Twilio; a forged callback
# gets 403 and changes nothing; the auth token never reaches the log.
# Twilio gives no transcript, so the core sends the recording to the
# deepgram plugin (against its loopback fake) and stores the transcript,
# utterances and summary it answers.
. "$CALLIXO_SOURCE_ROOT/tests/integration/lib.sh"
HERE=$SRC/tests/telephony/twilio

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
CONF=$TMP/callixo.yaml
LOG=$TMP/daemon.log
export E2E_BASE=$BASE E2E_DB=$TMP/data/plugins/sqlite/callixo.db
DB=$E2E_DB
export CALLIXO_ADMIN_SOCKET=$TMP/data/admin.sock

# The fake Deepgram runs until its stdin closes.
DG_KEY=dg-e2e-key-0123456789
mkfifo "$TMP/dg.in"
$PY "$SRC/tests/transcription/deepgram/fake_deepgram.py" "$DG_KEY" \
	<"$TMP/dg.in" >"$TMP/dg.out" 2>"$TMP/dg.log" &
exec 7>"$TMP/dg.in"
for _ in $(seq 1 50); do grep -q '^PORT' "$TMP/dg.out" && break; sleep 0.1; done
DG_BASE=http://127.0.0.1:$(sed -n 's/^PORT //p' "$TMP/dg.out")

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
  - name: twilio
    kind: telephony
    required: true
    settings:
      account_sid: $TWILIO_SID1
      auth_token: \${E2E_TWILIO_TOKEN}
      api_base: $TWILIO_FAKE
      public_url: $BASE
      delete_recordings: true
      retry_backoff: 100ms
  - name: deepgram
    kind: transcription
    required: true
    settings:
      api_key: $DG_KEY
      api_base: $DG_BASE
YAML
export E2E_TWILIO_TOKEN=$TWILIO_TOKEN1

PW='correct horse battery staple'
start_daemon "$CONF" "$LOG"
check "daemon starts with the twilio plugin" wait_for "$LOG" "msg=ready" 20
ACC=$(curl -s -X POST -H 'Content-Type: application/json' -H "Origin: $BASE" \
	--data-binary "{\"name\":\"Ann Able\",\"email\":\"ann@example.com\",\"password\":\"$PW\",\"date_of_birth\":\"1990-01-01\",\"is_adult\":true}" \
	"$BASE/v1/signup" | $PY -c 'import json, sys; print(json.load(sys.stdin).get("id", ""))')
curl -s -o /dev/null -D "$TMP/hdr" -X POST -H 'Content-Type: application/json' \
	-H "Origin: $BASE" --data-binary "{\"email\":\"ann@example.com\",\"password\":\"$PW\"}" \
	"$BASE/v1/login"
COOKIE=$(sed -n 's/^[Ss]et-[Cc]ookie: \(cx_session=[^;]*\);.*/\1/p' "$TMP/hdr" | tr -d '\r')
check "an account logged in" test -n "$ACC" -a -n "$COOKIE"

read -r CALL SID < <($PY "$HERE/e2e_drive.py" call "$ACC")
check "the call is placed at Twilio" test -n "$CALL" -a -n "$SID"
STATUSES=$($PY "$HERE/e2e_drive.py" relay "$SID")
check "every signed callback is acknowledged ($STATUSES)" \
	test "$STATUSES" = "200 200 200 200 200 200"

# A forged final status for the same call.
FORGED=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
	-H 'Content-Type: application/x-www-form-urlencoded' \
	-H 'X-Twilio-Signature: AAAAAAAAAAAAAAAAAAAAAAAAAAA=' \
	--data "AccountSid=$TWILIO_SID1&CallSid=$SID&CallStatus=busy&SequenceNumber=9" \
	"$BASE/webhooks/twilio/status?cx_call=$CALL")
check "a forged callback: 403" test "$FORGED" = 403

ev_count() { sql "SELECT count(*) FROM provider_events WHERE provider = 'twilio' AND event_id LIKE '$SID%'"; }
check "each event stored once (4 statuses + recording)" test "$(ev_count)" = 5

getcall() { curl -s -H "Cookie: $COOKIE" "$BASE/v1/calls/$CALL" >"$TMP/call.json"; }
field() { $PY -c 'import json, sys; v = json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$TMP/call.json" "$1"; }
getcall
check "status completed" test "$(field status)" = completed
check "outcome answered" test "$(field outcome)" = answered
check "duration from CallDuration" test "$(field duration_ms)" = 42000

for _ in $(seq 1 100); do
	CODE=$(curl -s -o "$TMP/rec" -w '%{http_code}' -H "Cookie: $COOKIE" \
		"$BASE/v1/calls/$CALL/recording")
	[ "$CODE" = 200 ] && break
	sleep 0.1
done
check "the recording is served: $CODE" test "$CODE" = 200
curl -s "$TWILIO_FAKE/_test/state" >"$TMP/state.json"
$PY -c 'import base64, json, sys
s = json.load(open(sys.argv[1]))
open(sys.argv[2], "wb").write(base64.b64decode(s["audio_b64"]["wav"]))' \
	"$TMP/state.json" "$TMP/twilio.wav"
check "it is Twilio's WAV, decrypted" cmp -s "$TMP/rec" "$TMP/twilio.wav"
check "no plaintext WAV in the blob store" \
	bash -c "! grep -rqa 'WAVEfmt' '$TMP/data/plugins/fs'"
deleted() { curl -s "$TWILIO_FAKE/_test/state" | $PY -c 'import json, sys
r = json.load(sys.stdin)["recordings"]
print(all(v["deleted"] for v in r.values() if v["call"] == sys.argv[1]))' "$SID"; }
for _ in $(seq 1 50); do [ "$(deleted)" = True ] && break; sleep 0.1; done
check "the recording is deleted at Twilio" test "$(deleted)" = True
check "no temporary file left" \
	bash -c "! ls '$TMP/data/plugins/twilio/' | grep -q '^rec-'"
# ---- Deepgram fills in what Twilio does not give ----
for _ in $(seq 1 100); do
	getcall
	[ -n "$(field summary)" ] && break
	sleep 0.1
done
tr() { $PY -c 'import json, sys; t = json.load(open(sys.argv[1]))["transcript"] or {}; print(t.get(sys.argv[2]) or "")' "$TMP/call.json" "$1"; }
check "transcript from deepgram" test "$(tr source)" = "transcription:deepgram"
check "the transcript text is Deepgram's" test -n "$(tr text)"
check "utterances with speakers" $PY -c 'import json, sys
u = json.load(open(sys.argv[1]))["transcript"]["utterances"]
sys.exit(0 if u and all("speaker" in x and x["end_ms"] >= x["start_ms"] for x in u) else 1)' "$TMP/call.json"
check "the summary is results.summary.short" test -n "$(field summary)"
check "Deepgram received the recording's bytes" $PY -c 'import json, sys, urllib.request
last = json.load(urllib.request.urlopen(sys.argv[1] + "/__fake/last"))
sys.exit(0 if last.get("body_len", 0) > 44 else 1)' "$DG_BASE"
check "no plaintext copy left in run/" bash -c "! ls '$TMP/data/run' | grep -qv -e sock -e json"

# ---- an account with its own Twilio credentials in the vault ----
VAULT=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Cookie: $COOKIE" \
	-H 'Content-Type: application/json' -H "Origin: $BASE" \
	--data-binary "{\"account_sid\":\"$TWILIO_SID2\",\"auth_token\":\"$TWILIO_TOKEN2\"}" \
	"$BASE/v1/credentials/twilio")
check "vault entry stored: $VAULT" test "$VAULT" = 201
DG_ACCOUNT_KEY=dg-account-key-0123456789
VAULT=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Cookie: $COOKIE" \
	-H 'Content-Type: application/json' -H "Origin: $BASE" \
	--data-binary "{\"api_key\":\"$DG_ACCOUNT_KEY\"}" \
	"$BASE/v1/credentials/deepgram")
check "deepgram vault entry stored: $VAULT" test "$VAULT" = 201
# Stored credentials must still open seconds later (a Fernet ttl of 0
# once refused every token sealed before the current second).
sleep 1.2
read -r CALL2 SID2 < <($PY "$HERE/e2e_drive.py" call "$ACC" 2)
STATUSES=$($PY "$HERE/e2e_drive.py" relay "$SID2")
check "callbacks signed by the vault account's token are accepted ($STATUSES)" \
	test "$STATUSES" = "200 200 200 200 200 200"
curl -s -H "Cookie: $COOKIE" "$BASE/v1/calls/$CALL2" >"$TMP/call.json"
check "that call completed too" test "$(field status)" = completed
for _ in $(seq 1 100); do
	CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" \
		"$BASE/v1/calls/$CALL2/recording")
	[ "$CODE" = 200 ] && break
	sleep 0.1
done
check "its recording, fetched with the vault credentials: $CODE" test "$CODE" = 200
dg_auth() { $PY -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(sys.argv[1] + "/__fake/last")).get("authorization") or "")' "$DG_BASE"; }
for _ in $(seq 1 100); do
	[ "$(dg_auth)" = "Token $DG_ACCOUNT_KEY" ] && break
	sleep 0.1
done
check "its transcription uses the account's own Deepgram key" \
	test "$(dg_auth)" = "Token $DG_ACCOUNT_KEY"
# Signed with the platform token, for the vault account's call: refused.
$PY - "$SID2" "$CALL2" >"$TMP/forged" <<'PYEOF'
import base64, hashlib, hmac, os, sys, urllib.parse
sid, call = sys.argv[1], sys.argv[2]
url = os.environ["E2E_BASE"] + "/webhooks/twilio/status?cx_call=" + call
p = {"AccountSid": os.environ["TWILIO_SID2"], "CallSid": sid,
     "CallStatus": "busy", "SequenceNumber": "9"}
data = url + "".join(k + p[k] for k in sorted(p))
sig = base64.b64encode(hmac.new(os.environ["TWILIO_TOKEN1"].encode(),
                                data.encode(), hashlib.sha1).digest())
print(sig.decode(), urllib.parse.urlencode(p))
PYEOF
read -r FSIG FBODY <"$TMP/forged"
FORGED=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
	-H 'Content-Type: application/x-www-form-urlencoded' \
	-H "X-Twilio-Signature: $FSIG" --data "$FBODY" \
	"$BASE/webhooks/twilio/status?cx_call=$CALL2")
check "the platform token cannot speak for the vault account: $FORGED" \
	test "$FORGED" = 403
check "the auth token is never logged" bash -c "! grep -qF '$TWILIO_TOKEN1' '$LOG'"
check "the vault token is never logged" bash -c "! grep -qF '$TWILIO_TOKEN2' '$LOG'"
check "the Deepgram keys are never logged" bash -c "! grep -qF -e '$DG_KEY' -e '$DG_ACCOUNT_KEY' '$LOG'"
finish
