#!/bin/bash
# tests/session/redis_test.sh - runs the Redis session store tests
# against throwaway servers (redis_harness.sh).
#   redis_test.sh <test_redis_session> <redis.so>
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/redis_harness.sh"
trap redis_stop EXIT
redis_start || exit 1
redis_start_auth || exit 1
"$1" "$2"
rc=$?
if [ $rc != 0 ]; then
	echo "--- redis-server log (last 20 lines)" >&2
	tail -n 20 "$REDIS_DIR/server.log" >&2
fi
exit $rc
