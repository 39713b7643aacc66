#!/bin/bash
# tests/storage/postgres_test.sh - runs the PostgreSQL driver tests
# against a throwaway server.
#   postgres_test.sh <test_postgres> <postgres.so> <conformance_main> <test_repo>
# The driver conformance suite (the one the SQLite driver passes) runs
# unchanged on a second, empty database of the same server.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/pg_harness.sh"
trap pg_stop EXIT
pg_start || exit 1
"$1" "$2"
rc=$?
if [ $rc = 0 ]; then
	"$PG_BIN/createdb" -h 127.0.0.1 -p "$CALLIXO_PG_PORT" -U postgres callixo_conf &&
		"$3" "$2" "dsn: ${CALLIXO_PG_DSN%/*}/callixo_conf"
	rc=$?
fi
# The data-model contract suite, unchanged from its SQLite run.
if [ $rc = 0 ]; then
	"$PG_BIN/createdb" -h 127.0.0.1 -p "$CALLIXO_PG_PORT" -U postgres callixo_repo &&
		CALLIXO_TEST_STORAGE_SETTINGS="dsn: ${CALLIXO_PG_DSN%/*}/callixo_repo" \
		"$4" "$2"
	rc=$?
fi
if [ $rc != 0 ]; then
	echo "--- PostgreSQL server log (last 40 lines)" >&2
	tail -n 40 "$PG_DIR/server.log" >&2
fi
exit $rc
