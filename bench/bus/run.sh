#!/bin/sh
# Builds and runs the bus benchmark, printing a markdown table.
#   bench/bus/run.sh <build-dir> [events] [calls]
# Use an optimized, non-sanitized build dir (meson setup build).
set -eu
build=${1:?usage: run.sh <build-dir> [events] [calls]}
events=${2:-100000}
calls=${3:-20000}
ninja -C "$build" bench/bus/bench_bus >/dev/null
echo "Command: bench/bus/run.sh $build $events $calls"
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Machine: $(nproc) cores, $(uname -sr), nng $(dpkg-query -W -f '${Version}' libnng1 2>/dev/null || echo '?'), buildtype $(meson introspect "$build" --buildoptions 2>/dev/null | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))' 2>/dev/null || echo '?')"
echo
"$build/bench/bus/bench_bus" "$events" "$calls"
