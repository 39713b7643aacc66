#!/bin/sh
# Builds and runs the storage benchmark, printing a markdown table.
#   bench/storage/run.sh <build-dir> [rows] [reads]
# Use an optimized, non-sanitized build dir (meson setup build).
set -eu
build=${1:?usage: run.sh <build-dir> [rows] [reads]}
rows=${2:-20000}
reads=${3:-200000}
ninja -C "$build" bench/storage/bench_storage plugins/sqlite.so >/dev/null
echo "Command: bench/storage/run.sh $build $rows $reads"
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Machine: $(nproc) cores, $(uname -sr), libsqlite3 $(dpkg-query -W -f '${Version}' libsqlite3-0 2>/dev/null || echo '?'), buildtype $(meson introspect "$build" --buildoptions 2>/dev/null | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))' 2>/dev/null || echo '?')"
echo
# The data directory is a temp dir; the plugin logs one line on stderr.
"$build/bench/storage/bench_storage" "$build/plugins/sqlite.so" "$rows" "$reads"
