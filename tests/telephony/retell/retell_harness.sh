#!/bin/bash
# tests/telephony/retell/retell_harness.sh <command...> - runs a command
# with a loopback fake Retell (fake_retell.py) and the official
# retell-sdk as signature oracle: installs retell-sdk with npm into a
# cache outside the repository if needed, starts the fake on 127.0.0.1
# on a free port, exports RETELL_FAKE_URL, RETELL_FAKE_KEY(S),
# RETELL_SDK_DIR and RETELL_ORACLE, runs the command, stops the fake.
# Without node and npm the test fails: the oracle is the point.
set -u
fail() {
	echo "retell_harness: FAIL: $*" >&2
	exit 1
}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../npm_cache.sh"
sdk_version=5.66.1
cache=${CALLIXO_RETELL_SDK_CACHE:-$HOME/.cache/callixo-retell-sdk}
npm_cached retell_harness retell-sdk "$sdk_version" "$cache"
dir=$(mktemp -d /tmp/cxretell.XXXXXX) || fail "mktemp"
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
export RETELL_FAKE_KEY=key_platform_$RANDOM$RANDOM
export RETELL_FAKE_ACCOUNT_KEY=key_account_$RANDOM$RANDOM
/usr/bin/python3 "$here/fake_retell.py" "$dir/port" \
	"$RETELL_FAKE_KEY,$RETELL_FAKE_ACCOUNT_KEY" 2>"$dir/err" &
pid=$!
for _ in $(seq 1 100); do
	[ -s "$dir/port" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
[ -s "$dir/port" ] || { cat "$dir/err" >&2; fail "fake_retell did not start"; }
export RETELL_FAKE_URL=http://127.0.0.1:$(cat "$dir/port")
export RETELL_SDK_DIR=$cache RETELL_ORACLE=$here/oracle.cjs
"$@"
rc=$?
[ -s "$dir/err" ] && cat "$dir/err" >&2
exit $rc
