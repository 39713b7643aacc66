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
command -v node >/dev/null && command -v npm >/dev/null ||
	fail "node and npm are required for the S3 tests" \
		"(apt-get install -y nodejs npm, or run .ci/deps)"
cache=${CALLIXO_S3RVER_CACHE:-$HOME/.cache/callixo-s3rver}
bin=$cache/node_modules/.bin/s3rver
if [ ! -x "$bin" ]; then
	echo "s3_harness: installing s3rver@3 into $cache" >&2
	mkdir -p "$cache" || fail "cannot create $cache"
	npmlog=$(mktemp /tmp/cxnpm.XXXXXX)
	if ! npm install --prefix "$cache" --no-audit --no-fund \
		s3rver@3 >"$npmlog" 2>&1; then
		tail -n 20 "$npmlog" >&2
		rm -f "$npmlog"
		fail "npm install s3rver@3 failed (see npm's output above)"
	fi
	rm -f "$npmlog"
fi
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
