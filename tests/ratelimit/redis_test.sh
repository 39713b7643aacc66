#!/bin/bash
# tests/ratelimit/redis_test.sh - runs the shared-bucket tests against a
# throwaway redis-server (tests/session/redis_harness.sh).
#   redis_test.sh <test_ratelimit> <ratelimit.so>
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../session/redis_harness.sh"
trap redis_stop EXIT
redis_start || exit 1
"$1" "$2" redis
rc=$?
if [ $rc != 0 ]; then
	echo "--- redis-server log (last 20 lines)" >&2
	tail -n 20 "$REDIS_DIR/server.log" >&2
fi
exit $rc
