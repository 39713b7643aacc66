#!/bin/bash
# Builds and runs the PostgreSQL driver benchmark against a throwaway
# server (tests/storage/pg_harness.sh), printing a markdown table.
#   bench/storage/run_pg.sh <build-dir> [inserts] [reads]
# Use an optimized, non-sanitized build dir (meson setup build).
set -euo pipefail
build=${1:?usage: run.sh <build-dir> [inserts] [reads]}
inserts=${2:-20000}
reads=${3:-20000}
here=$(cd "$(dirname "$0")" && pwd)
ninja -C "$build" bench/storage/pg_bench plugins/postgres.so >/dev/null
. "$here/../../tests/storage/pg_harness.sh"
trap pg_stop EXIT
pg_start 2>/dev/null
echo "Command: bench/storage/run_pg.sh $build $inserts $reads"
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Machine: $(nproc) cores, $(uname -sr), PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}') on 127.0.0.1 (TCP, fsync off), libpq $(pkg-config --modversion libpq 2>/dev/null || echo '?')"
echo
"$build/bench/storage/pg_bench" "$build/plugins/postgres.so" "$inserts" "$reads" 2>/dev/null
