#!/bin/bash
# tests/leads/leads_pg_test.sh - the leads database tests (test_leads_db:
# the CSV import sink, duplicates, the portable tag filter, cursors) on a
# throwaway PostgreSQL server, unchanged from their SQLite run.
#   leads_pg_test.sh <test_leads_db> <postgres.so>
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../storage/pg_harness.sh"
trap pg_stop EXIT
pg_start || exit 1
"$1" "$2" "dsn: $CALLIXO_PG_DSN"
rc=$?
if [ $rc != 0 ]; then
	echo "--- PostgreSQL server log (last 40 lines)" >&2
	tail -n 40 "$PG_DIR/server.log" >&2
fi
exit $rc
