#!/bin/bash
# tests/dialer/postgres_test.sh - the dialer suite (test_dialer) on
# PostgreSQL: a throwaway server (tests/storage/pg_harness.sh); each case
# starts on an empty schema.
#   postgres_test.sh <test_dialer> <postgres.so> <faketel.so>
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../storage/pg_harness.sh"
trap pg_stop EXIT
pg_start || exit 1
CALLIXO_TEST_STORAGE_SETTINGS="dsn: $CALLIXO_PG_DSN" "$1" "$2" "$3"
rc=$?
if [ $rc != 0 ]; then
	echo "--- PostgreSQL server log (last 40 lines)" >&2
	tail -n 40 "$PG_DIR/server.log" >&2
fi
exit $rc
