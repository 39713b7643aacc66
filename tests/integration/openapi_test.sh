#!/bin/bash
# openapi_test.sh - docs/openapi.yaml matches what callixod serves, both
# ways: the daemon runs the default config (conf/callixo.yaml, every
# default plugin), `callixoctl routes` lists its route table, and
# openapi_routes.py compares it with the spec. A route added without its
# spec entry, or a spec path nobody serves, fails here.
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
CONF=$TMP/callixo.yaml
LOG=$TMP/daemon.log
export CALLIXO_ADMIN_SOCKET=$TMP/data/admin.sock
export CALLIXO_DATA_DIR=$TMP/data
export CALLIXO_PLUGIN_DIR=$BUILD/plugins

# The shipped default, on a free port, with its common-password list (the
# default path is next to the config file, which is now in $TMP).
sed -e "s|listen: http://127.0.0.1:8080|listen: http://127.0.0.1:$PORT|" \
	-e "s|# common_passwords: .*|common_passwords: $SRC/conf/common-passwords.txt|" \
	"$SRC/conf/callixo.yaml" >"$CONF"
check "config on a free port" grep -q "127.0.0.1:$PORT" "$CONF"

start_daemon "$CONF" "$LOG"
check "daemon starts with the default config" wait_for "$LOG" "msg=ready" 30

"$CTL" routes >"$TMP/routes.tsv" 2>"$TMP/ctl.err"
check "callixoctl routes: exit 0" test $? = 0
check "routes lists GET /v1/me" grep -qP '^GET\t/v1/me\t@v1$' "$TMP/routes.tsv"
check "routes lists the probes" grep -qP '^GET\t/healthz\tcore$' "$TMP/routes.tsv"
"$CTL" --json routes >"$TMP/routes.json"
check "routes --json is a JSON array" $PY -c 'import json, sys
assert isinstance(json.load(open(sys.argv[1])), list)' "$TMP/routes.json"
check "callixoctl routes with an argument: usage error" \
	test "$("$CTL" routes extra >/dev/null 2>&1; echo $?)" = 2

# The comparison itself, one line per operation and route.
out=$($PY "$SRC/tests/integration/openapi_routes.py" compare \
	"$SRC/docs/openapi.yaml" "$TMP/routes.tsv")
rc=$?
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) not_ok "${line#not ok - }" ;;
	*) echo "# $line" ;;
	esac
done <<<"$out"
check "openapi_routes.py compare: exit 0" test "$rc" = 0

# The comparison must be able to fail: a spec with an extra path and
# without /v1/me is caught both ways.
$PY - "$SRC/docs/openapi.yaml" "$TMP/bad.yaml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d["paths"]["/v1/nowhere/{id}"] = {"get": {"responses": {"200": {"description": "x"}}}}
del d["paths"]["/v1/me"]
yaml.safe_dump(d, open(sys.argv[2], "w"))
PY
bad=$($PY "$SRC/tests/integration/openapi_routes.py" compare "$TMP/bad.yaml" "$TMP/routes.tsv")
check "a spec path nobody serves is reported" contains "$bad" "not ok - spec GET /v1/nowhere/{id} is served"
check "a served route missing from the spec is reported" contains "$bad" "not ok - served GET /v1/me is in docs/openapi.yaml"

stop_daemon
check "daemon stops cleanly" test "$RC" = 0
finish
