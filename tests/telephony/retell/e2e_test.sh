#!/bin/bash
# e2e_test.sh - the Retell plugin on callixod with the real core, run by
# retell_harness.sh (fake Retell, the official SDK): a call's signed
# webhooks (out of order, one twice) arrive over HTTP; the core stores
# each event once; the call ends completed/answered with its duration,
# summary and transcript; the recording is fetched from Retell, encrypted
# into the fs blob store and served by GET /v1/calls/{id}/recording. An
# account with its own Retell key in the vault: its webhooks verify with
# that key, and the platform key cannot speak for it. Keys never logged.
. "$CALLIXO_SOURCE_ROOT/tests/integration/lib.sh"
HERE=$SRC/tests/telephony/retell

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
CONF=$TMP/callixo.yaml
LOG=$TMP/daemon.log
export E2E_BASE=$BASE E2E_DB=$TMP/data/plugins/sqlite/callixo.db
DB=$E2E_DB
export CALLIXO_ADMIN_SOCKET=$TMP/data/admin.sock

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
  - name: retell
    kind: telephony
    required: true
    settings:
      api_key: \${E2E_RETELL_KEY}
      api_base: $RETELL_FAKE_URL
      public_url: $BASE
      recording_backoff: 100ms
YAML
export E2E_RETELL_KEY=$RETELL_FAKE_KEY

PW='correct horse battery staple'
start_daemon "$CONF" "$LOG"
check "daemon starts with the retell plugin" wait_for "$LOG" "msg=ready" 20
ACC=$(curl -s -X POST -H 'Content-Type: application/json' -H "Origin: $BASE" \
	--data-binary "{\"name\":\"Ann Able\",\"email\":\"ann@example.com\",\"password\":\"$PW\",\"date_of_birth\":\"1990-01-01\",\"is_adult\":true}" \
	"$BASE/v1/signup" | $PY -c 'import json, sys; print(json.load(sys.stdin).get("id", ""))')
curl -s -o /dev/null -D "$TMP/hdr" -X POST -H 'Content-Type: application/json' \
	-H "Origin: $BASE" --data-binary "{\"email\":\"ann@example.com\",\"password\":\"$PW\"}" \
	"$BASE/v1/login"
COOKIE=$(sed -n 's/^[Ss]et-[Cc]ookie: \(cx_session=[^;]*\);.*/\1/p' "$TMP/hdr" | tr -d '\r')
check "an account logged in" test -n "$ACC" -a -n "$COOKIE"

read -r CALL RID < <($PY "$HERE/e2e_drive.py" call "$ACC" "$RETELL_FAKE_KEY")
check "the call is placed at Retell" test -n "$CALL" -a -n "$RID"
CODES=$($PY "$HERE/e2e_drive.py" relay "$RID")
check "every signed webhook is acknowledged ($CODES)" \
	test "$CODES" = "204 204 204 204"
ev_count() { sql "SELECT count(*) FROM provider_events WHERE provider = 'retell' AND event_id LIKE '$1:%'"; }
check "each event stored once (3)" test "$(ev_count "$RID")" = 3

getcall() { curl -s -H "Cookie: $COOKIE" "$BASE/v1/calls/$1" >"$TMP/call.json"; }
field() { $PY -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$TMP/call.json" "$1"; }
getcall "$CALL"
check "status completed" test "$(field status)" = completed
check "outcome answered" test "$(field outcome)" = answered
check "duration from duration_ms" test "$(field duration_ms)" = 61500
check "summary from call_analysis" contains "$(field summary)" "demo on Monday"
check "sentiment" test "$(field sentiment)" = positive
check "transcript" contains "$(cat "$TMP/call.json")" "Hi Ada, this is Callixo."

for _ in $(seq 1 100); do
	CODE=$(curl -s -o "$TMP/rec" -w '%{http_code}' -H "Cookie: $COOKIE" \
		"$BASE/v1/calls/$CALL/recording")
	[ "$CODE" = 200 ] && break
	sleep 0.1
done
check "the recording is served: $CODE" test "$CODE" = 200
curl -s -o "$TMP/retell.wav" "$RETELL_FAKE_URL/recordings/$RID.wav"
check "it is Retell's WAV, decrypted" cmp -s "$TMP/rec" "$TMP/retell.wav"
check "no plaintext WAV in the blob store" \
	bash -c "! grep -rqa 'WAVEfmt' '$TMP/data/plugins/fs'"
check "no temporary file left" \
	bash -c "! ls '$TMP/data/plugins/retell/' | grep -q '^rec-'"

# ---- an account with its own Retell workspace key in the vault ----
VAULT=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Cookie: $COOKIE" \
	-H 'Content-Type: application/json' -H "Origin: $BASE" \
	--data-binary "{\"api_key\":\"$RETELL_FAKE_ACCOUNT_KEY\"}" \
	"$BASE/v1/credentials/retell")
check "vault entry stored: $VAULT" test "$VAULT" = 201
read -r CALL2 RID2 < <($PY "$HERE/e2e_drive.py" call "$ACC" \
	"$RETELL_FAKE_ACCOUNT_KEY")
CODES=$($PY "$HERE/e2e_drive.py" relay "$RID2")
check "the platform key cannot speak for the vault account ($CODES)" \
	test "$CODES" = "401 401 401 401"
check "nothing stored from them" test "$(ev_count "$RID2")" = 0
CODES=$($PY "$HERE/e2e_drive.py" relay "$RID2" "$RETELL_FAKE_ACCOUNT_KEY")
check "webhooks signed with the account's key are accepted ($CODES)" \
	test "$CODES" = "204 204 204 204"
getcall "$CALL2"
check "that call completed too" test "$(field status)" = completed
check "the platform key is never logged" \
	bash -c "! grep -qF '$RETELL_FAKE_KEY' '$LOG'"
check "the account key is never logged" \
	bash -c "! grep -qF '$RETELL_FAKE_ACCOUNT_KEY' '$LOG'"
stop_daemon
check "clean stop" test "$RC" = 0
finish
