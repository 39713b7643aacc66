#!/bin/bash
# tests/telephony/retell/example_test.sh <callixod> - conf/examples/
# retell.yaml is a real setup: it validates with the built plugins and
# nothing but environment variables, and names what is missing without
# them.
set -u
callixod=$1
src=${CALLIXO_SOURCE_ROOT:?}
build=${CALLIXO_BUILD_ROOT:?}
tmp=$(mktemp -d /tmp/cxretellex.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	cat "$tmp/out" >&2
	exit 1
}
CALLIXO_PLUGIN_DIR=$build/plugins CALLIXO_DATA_DIR=$tmp/data \
	RETELL_API_KEY=key_example CALLIXO_PUBLIC_URL=https://calls.example.com \
	"$callixod" --check-config -c "$src/conf/examples/retell.yaml" \
	>"$tmp/out" 2>&1 || fail "the example does not validate"
grep -q "configuration is valid" "$tmp/out" || fail "no 'valid' line"
grep -q "key_example" "$tmp/out" && fail "the API key was printed"
env -u RETELL_API_KEY CALLIXO_PLUGIN_DIR=$build/plugins \
	CALLIXO_DATA_DIR=$tmp/data CALLIXO_PUBLIC_URL=https://x.example \
	"$callixod" --check-config -c "$src/conf/examples/retell.yaml" \
	>"$tmp/out" 2>&1 && fail "validated without RETELL_API_KEY"
grep -q "'RETELL_API_KEY' is not set" "$tmp/out" ||
	fail "the missing RETELL_API_KEY is not named"
echo "conf/examples/retell.yaml checks passed"
