#!/bin/bash
# daemon_test.sh - the sandbox in callixod: its schema from --describe,
# bad settings refused by --check-config with file:line:col, and the
# plugin running in process and isolated (its own callixo-plugin-host
# process, which must create and use its data directory).
. "$(dirname "$BASH_SOURCE")/../../integration/lib.sh"

export CALLIXO_PLUGIN_DIR=$BUILD/plugins
out=$("$CALLIXOD" --describe sandbox)
check "--describe lists the outcome weights" contains "$out" "outcomes"
check "--describe shows speed as reloadable" grep -qE 'speed +int +reloadable default=1' <<<"$out"
check "--describe: every setting has a description" \
	test "$(grep -cE '^  [a-z_]+ ' <<<"$out")" = "$(grep -cE '^      [A-Z]' <<<"$out")"

cat >"$TMP/bad.yaml" <<YAML
data_dir: $TMP/data
plugins:
  - name: sandbox
    kind: telephony
    settings:
      outcomes: {answered: 5, hung: 1}
YAML
"$CALLIXOD" --check-config -c "$TMP/bad.yaml" 2>"$TMP/bad.err"; rc=$?
check "bad outcome: --check-config exits 1" test "$rc" = 1
# Cross-field checks run on the whole block: its position is reported.
check "bad outcome: file, line and plugin named" \
	grep -qF "$TMP/bad.yaml:5:5: plugin 'sandbox': outcomes:" "$TMP/bad.err"
check "bad outcome: says which outcome" grep -qF "unknown outcome 'hung'" "$TMP/bad.err"
sed -i 's/outcomes: .*/talk_min: 2m\n      talk_max: 1m/' "$TMP/bad.yaml"
"$CALLIXOD" --check-config -c "$TMP/bad.yaml" 2>"$TMP/bad2.err"; rc=$?
check "talk_min > talk_max refused" test "$rc" = 1
check "talk_min > talk_max explained" grep -qF "talk_min (120000 ms) must not exceed talk_max" "$TMP/bad2.err"

for iso in inproc process; do
	PORT=$(free_port)
	cat >"$TMP/$iso.yaml" <<YAML
server:
  listen: http://127.0.0.1:$PORT
data_dir: $TMP/$iso
plugins:
  - name: sandbox
    kind: telephony
    isolation: $iso
    required: true
    settings:
      speed: 100
YAML
	start_daemon "$TMP/$iso.yaml" "$TMP/$iso.log"
	check "$iso: daemon ready" wait_for "$TMP/$iso.log" "msg=ready" 20
	out=$("$CTL" -s "$TMP/$iso/admin.sock" plugins)
	check "$iso: sandbox running" grep -qE "^sandbox +telephony +1.0.0 +running +$iso" <<<"$out"
	check "$iso: journal in its data directory" test -f "$TMP/$iso/plugins/sandbox/journal.jsonl"
	check "$iso: recordings directory" test -d "$TMP/$iso/plugins/sandbox/recordings"
	stop_daemon
	check "$iso: clean stop" test "$RC" = 0
done

finish
