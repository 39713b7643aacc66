#!/bin/bash
# tests/telephony/retell/example_test.sh - conf/examples/retell.yaml is a
# real setup: it validates with the built plugins and nothing but
# environment variables, names what is missing without them, and runs:
# the daemon serves /webhooks/retell (here with the plugin in its own
# process, which forwards the bare /webhooks/<name> path), refuses an
# unsigned webhook with 401 and a wrongly signed one too, stores one
# signed by the official retell-sdk (through the core's call.event, in
# provider_events, once however often it comes), and stays up.
# Run under retell_harness.sh (the SDK, and the fake as api_base).
. "$CALLIXO_SOURCE_ROOT/tests/integration/lib.sh"
EX=$SRC/conf/examples/retell.yaml
export CALLIXO_PLUGIN_DIR=$BUILD/plugins CALLIXO_DATA_DIR=$TMP/data

RETELL_API_KEY=key_example CALLIXO_PUBLIC_URL=https://calls.example.com \
	"$CALLIXOD" --check-config -c "$EX" >"$TMP/check.out" 2>&1
check "the example validates" test $? = 0
check "check-config says valid" file_contains "$TMP/check.out" \
	"configuration is valid"
check "the API key is not printed" \
	bash -c "! grep -q key_example '$TMP/check.out'"
env -u RETELL_API_KEY CALLIXO_PUBLIC_URL=https://x.example \
	"$CALLIXOD" --check-config -c "$EX" >"$TMP/nokey.out" 2>&1
check "refused without RETELL_API_KEY" test $? = 1
check "names RETELL_API_KEY" file_contains "$TMP/nokey.out" \
	"'RETELL_API_KEY' is not set"

port=$(free_port)
sed -e "s#listen: http://127.0.0.1:8080#listen: http://127.0.0.1:$port#" \
	-e 's#^    kind: telephony$#    kind: telephony\n    isolation: process#' \
	"$EX" >"$TMP/retell.yaml"
cp "$SRC/conf/common-passwords.txt" "$TMP/"
check "the run copy isolates the plugin" \
	file_contains "$TMP/retell.yaml" "isolation: process"
export RETELL_API_KEY=$RETELL_FAKE_KEY RETELL_API_BASE=$RETELL_FAKE_URL
export CALLIXO_PUBLIC_URL=https://calls.example.com
start_daemon "$TMP/retell.yaml" "$TMP/daemon.log"
check "daemon ready" wait_for "$TMP/daemon.log" "msg=ready" 20
check "logs the webhook URL to set in Retell" file_contains \
	"$TMP/daemon.log" "https://calls.example.com/webhooks/retell"
BASE=http://127.0.0.1:$port
out=$(http POST "$BASE/webhooks/retell" '{"event":"call_started"}')
check "unsigned webhook: 401" contains "$out" "401 "
check "unsigned webhook: says why" contains "$out" "missing x-retell-signature"
out=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
	-H "x-retell-signature: v=$(date +%s)000,d=$(printf '0%.0s' $(seq 64))" \
	--data-binary '{"event":"call_started","call":{"call_id":"c1"}}' \
	"$BASE/webhooks/retell")
check "forged webhook: 401" test "$out" = 401
# Signed by the official SDK: stored by the core before the 2xx. No
# call has this id yet, so the core keeps it pending for its sweeper.
body='{"event":"call_ended","call":{"call_id":"retell_x1","call_status":"ended","disconnection_reason":"dial_busy","metadata":{"cx_call_id":"call_notplacedyet"}}}'
sig=$(printf '%s' "$body" | RETELL_ORACLE_KEY=$RETELL_API_KEY \
	node "$RETELL_ORACLE" sign)
for i in 1 2; do
	out=$(curl -s -o "$TMP/wh.out" -w '%{http_code}' -X POST \
		-H "x-retell-signature: $sig" --data-binary "$body" \
		"$BASE/webhooks/retell")
	check "signed webhook, delivery $i: 2xx" test "$out" = 204
done
DB=$TMP/data/plugins/sqlite/callixo.db
check "stored once, as call_ended seq 2" test "$(sql "SELECT count(*) \
	FROM provider_events WHERE provider = 'retell' AND \
	event_id = 'retell_x1:call_ended' AND seq = 2")" = 1
check "stored with its busy status" contains "$(sql "SELECT payload FROM \
	provider_events WHERE event_id = 'retell_x1:call_ended'")" \
	'"status":"busy"'
out=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
	-H "x-retell-signature: $sig" --data-binary "${body/busy/no_answer}" \
	"$BASE/webhooks/retell")
check "tampered body: 401" test "$out" = 401
check "still up" test "$(curl -s -o /dev/null -w '%{http_code}' \
	"$BASE/healthz")" = 200
stop_daemon
check "clean stop" test "$RC" = 0
check "the API key never reaches the log" \
	bash -c "! grep -q '$RETELL_API_KEY' '$TMP/daemon.log'"
finish
