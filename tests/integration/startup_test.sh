#!/bin/bash
# startup_test.sh - what callixod does with bad configs and bad plugins at
# start: --check-config output, refusing to start for a required plugin,
# running degraded without an optional one, a port in use.
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
mk() { # mk FILE REQUIRED PATH
	cat >"$1" <<YAML
server:
  listen: http://127.0.0.1:$PORT
data_dir: $TMP/data
plugins:
  - name: broken
    kind: generic
    path: $3
    required: $2
YAML
}

out=$("$CALLIXOD" --version); check "--version prints version and ABI" contains "$out" "plugin ABI 1.1"
out=$(CALLIXO_PLUGIN_DIR=$BUILD/plugins "$CALLIXOD" --describe eventlog)
check "--describe prints the schema" contains "$out" "max_bytes"
check "--describe shows flags and defaults" grep -qE 'max_bytes +int +reloadable default=10485760' <<<"$out"
out=$("$CALLIXOD" --describe "$BUILD/tests/plugins/lifecycle.so")
check "--describe marks secrets" grep -qE 'token +string +secret' <<<"$out"

cat >"$TMP/bad.yaml" <<YAML
server:
  listn: http://127.0.0.1:1
data_dir: $TMP/data
plugins:
  - name: x
    kind: telephone
    enabled: maybe
YAML
"$CALLIXOD" --check-config -c "$TMP/bad.yaml" 2>"$TMP/check.err"; rc=$?
check "--check-config exits 1 on errors" test "$rc" = 1
check "unknown key with suggestion" grep -qF "$TMP/bad.yaml:2:3: unknown key 'listn'" "$TMP/check.err"
check "suggests listen" grep -qF "did you mean 'listen'" "$TMP/check.err"
check "bad kind reported" grep -qF "$TMP/bad.yaml:6:" "$TMP/check.err"
check "bad boolean reported" grep -qF "$TMP/bad.yaml:7:" "$TMP/check.err"

CALLIXO_PLUGIN_DIR=$BUILD/plugins CALLIXO_DATA_DIR=$TMP/d \
	"$CALLIXOD" --check-config -c "$SRC/conf/callixo.yaml" >"$TMP/ok.out" 2>&1
check "shipped config validates" test $? = 0
check "check-config says valid" file_contains "$TMP/ok.out" "configuration is valid"

for case in "missing:/nonexistent/x.so:file not found" \
            "wrongabi:$BUILD/tests/plugins/wrong_abi.so:ABI mismatch" \
            "nosym:$BUILD/tests/plugins/missing_symbol.so:cx_plugin_entry missing"; do
	IFS=: read -r tag path reason <<<"$case"
	mk "$TMP/$tag.yaml" true "$path"
	timeout 20 "$CALLIXOD" -c "$TMP/$tag.yaml" 2>"$TMP/$tag.log"; rc=$?
	check "required $tag plugin: exit 1" test "$rc" = 1
	check "required $tag plugin: one line names plugin, path, reason" \
		grep -qE "plugin=broken .*path=$path .*reason=\"?[^\"]*$reason" "$TMP/$tag.log"
done

# The same missing plugin, optional: the daemon runs, degraded.
mk "$TMP/opt.yaml" false /nonexistent/x.so
start_daemon "$TMP/opt.yaml" "$TMP/opt.log"
check "optional missing plugin: daemon starts" wait_for "$TMP/opt.log" "msg=ready" 15
check "reports itself degraded" file_contains "$TMP/opt.log" "degraded"
r=$(http GET "http://127.0.0.1:$PORT/readyz"); check "readyz is 200 (nothing required is down)" contains "$r" "200 "
# A second daemon on the same port fails clearly.
sed "s#$TMP/data#$TMP/data2#" "$TMP/opt.yaml" >"$TMP/dup.yaml"
timeout 20 "$CALLIXOD" -c "$TMP/dup.yaml" 2>"$TMP/dup.log"; rc=$?
check "port in use: exit 1" test "$rc" = 1
check "port in use: clear message" grep -qiE "address (already )?in use" "$TMP/dup.log"
stop_daemon
check "SIGTERM exits 0" test "$RC" = 0

finish
