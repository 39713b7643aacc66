#!/bin/bash
# tests/blob/s3_harness.sh <command...> - runs a command against a fresh
# s3rver (a local S3 implementation): installs it with npm into a cache
# outside the repository if needed, starts it on 127.0.0.1 on a free
# port with a temporary directory and one pre-created bucket, exports
# S3_ENDPOINT and S3_BUCKET, runs the command and stops the server.
# Without node and npm the test fails: CI installs them (.ci/deps), and
# a silent skip would hide that the S3 plugin went untested.
set -u
fail() {
	echo "s3_harness: FAIL: $*" >&2
	exit 1
}
. "$(dirname "$0")/../npm_cache.sh"
cache=${CALLIXO_S3RVER_CACHE:-$HOME/.cache/callixo-s3rver}
npm_cached s3_harness s3rver 3 "$cache"
bin=$cache/node_modules/.bin/s3rver
dir=$(mktemp -d /tmp/cxs3rver.XXXXXX) || fail "mktemp"
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
bucket=callixo-test
mkdir "$dir/data"
# Port 0: the kernel picks a free port; s3rver prints the one it got.
node "$bin" -d "$dir/data" -a 127.0.0.1 -p 0 --silent \
	--configure-bucket "$bucket" >"$dir/out" 2>&1 &
pid=$!
port=
for _ in $(seq 1 100); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
		"$dir/out" | head -n 1)
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$port" ] || { cat "$dir/out" >&2; fail "s3rver did not start"; }
export S3_ENDPOINT=http://127.0.0.1:$port S3_BUCKET=$bucket
"$@"
