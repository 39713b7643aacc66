#!/bin/bash
# tests/storage/postgres_test.sh - runs the PostgreSQL driver tests
# against a throwaway server.
#   postgres_test.sh <test_postgres binary> <postgres.so>
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/pg_harness.sh"
trap pg_stop EXIT
pg_start || exit 1
"$1" "$2"
rc=$?
if [ $rc != 0 ]; then
	echo "--- PostgreSQL server log (last 40 lines)" >&2
	tail -n 40 "$PG_DIR/server.log" >&2
fi
exit $rc
