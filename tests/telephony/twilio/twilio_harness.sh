#!/bin/bash
# tests/telephony/twilio/twilio_harness.sh <command...> - runs a command
# next to a fresh fake Twilio (fake_twilio.py) with the official npm
# `twilio` package as the signature oracle. Installs twilio into a cache
# outside the repository if needed (like tests/blob/s3_harness.sh does
# for s3rver), starts the fake on 127.0.0.1 on a free port with two
# accounts, exports TWILIO_FAKE, TWILIO_ORACLE and the accounts, runs the
# command and stops the fake. Without node and npm the test fails: a
# silent skip would hide that the signatures went unchecked.
set -u
fail() {
	echo "twilio_harness: FAIL: $*" >&2
	exit 1
}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../npm_cache.sh"
cache=${CALLIXO_TWILIO_CACHE:-$HOME/.cache/callixo-twilio}
npm_cached twilio_harness twilio 6.2.0 "$cache"
dir=$(mktemp -d "${TMPDIR:-/tmp}/cxtwfake.XXXXXX") || fail "mktemp"
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
# Two accounts: the platform default (settings) and one from a vault.
export TWILIO_SID1=AC$(printf '%032x' 1) TWILIO_TOKEN1=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export TWILIO_SID2=AC$(printf '%032x' 2) TWILIO_TOKEN2=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
/usr/bin/python3 "$here/fake_twilio.py" \
	--account "$TWILIO_SID1:$TWILIO_TOKEN1" \
	--account "$TWILIO_SID2:$TWILIO_TOKEN2" >"$dir/out" 2>&1 &
pid=$!
port=
for _ in $(seq 1 100); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
		"$dir/out" | head -n 1)
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$port" ] || { cat "$dir/out" >&2; fail "fake Twilio did not start"; }
export TWILIO_FAKE=http://127.0.0.1:$port
export NODE_PATH=$cache/node_modules
export TWILIO_ORACLE="node $here/oracle.js"
# Everything the test and the plugin print is kept: no auth token may
# appear in it (the plugin must never log a secret).
set -o pipefail
"$@" 2>&1 | tee "$dir/log"
rc=$?
[ $rc -eq 0 ] || { echo "--- fake Twilio output" >&2; cat "$dir/out" >&2; }
for tok in "$TWILIO_TOKEN1" "$TWILIO_TOKEN2"; do
	if grep -qF "$tok" "$dir/log"; then
		echo "twilio_harness: FAIL: an auth token appears in the output" >&2
		rc=1
	fi
done
exit $rc
