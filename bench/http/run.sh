#!/bin/sh
# run.sh - /healthz throughput: bare nng handler vs the Callixo core.
#
# Usage: bench/http/run.sh [builddir]   (default: build)
# Both servers run in the same session and are measured alternately, three
# rounds each, with `wrk -t2 -c64 -d10s`; the median req/s of each and
# their ratio are printed. Needs wrk.
set -eu
BUILD=${1:-build}
P1=${BENCH_PORT_BASE:-18081}
P2=$((P1 + 1))
ROUNDS=3
DUR=${BENCH_DURATION:-10s}

for b in bench/http/bench_http_baseline bench/http/bench_http_core; do
	[ -x "$BUILD/$b" ] || { echo "missing $BUILD/$b (ninja -C $BUILD $b)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "wrk not installed" >&2; exit 1; }

"$BUILD/bench/http/bench_http_baseline" "$P1" >/dev/null &
BASE_PID=$!
"$BUILD/bench/http/bench_http_core" "$P2" >/dev/null &
CORE_PID=$!
trap 'kill $BASE_PID $CORE_PID 2>/dev/null; wait $BASE_PID $CORE_PID 2>/dev/null || true' EXIT INT TERM
sleep 0.5

rps() {
	wrk -t2 -c64 -d"$DUR" "$1" | awk '/^Requests\/sec:/ { print $2 }'
}
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

B=""; C=""
for i in $(seq 1 $ROUNDS); do
	b=$(rps "http://127.0.0.1:$P1/healthz"); B="$B $b"
	c=$(rps "http://127.0.0.1:$P2/healthz"); C="$C $c"
	echo "round $i: baseline $b req/s, core $c req/s" >&2
done
MB=$(median $B)
MC=$(median $C)
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(nproc) cores  cmd: wrk -t2 -c64 -d$DUR, median of $ROUNDS"
printf '| server | /healthz req/s (median) | runs |\n|---|---|---|\n'
printf '| bare nng handler | %s |%s |\n' "$MB" "$B"
printf '| callixo core | %s |%s |\n' "$MC" "$C"
awk -v b="$MB" -v c="$MC" 'BEGIN { printf "core/baseline ratio: %.3f\n", c / b }'
