#!/bin/bash
# tests/telephony/retell/example_test.sh - conf/examples/retell.yaml is a
# real setup: it validates with the built plugins and nothing but
# environment variables, names what is missing without them, and runs:
# the daemon serves /webhooks/retell (here with the plugin in its own
# process, which forwards the bare /webhooks/<name> path), refuses an
# unsigned webhook with 401 and a wrongly signed one too, and stays up.
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
export RETELL_API_KEY=key_example CALLIXO_PUBLIC_URL=https://calls.example.com
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
check "still up" test "$(curl -s -o /dev/null -w '%{http_code}' \
	"$BASE/healthz")" = 200
stop_daemon
check "clean stop" test "$RC" = 0
check "the API key never reaches the log" \
	bash -c "! grep -q key_example '$TMP/daemon.log'"
finish
