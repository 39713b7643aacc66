#!/bin/sh
# run.sh - /healthz throughput: bare nng handler vs the Callixo core.
#
# Usage: bench/http/run.sh [builddir]   (default: build)
# Three servers run in the same session and are measured in turn, three
# rounds each, with `wrk -t2 -c64 -d10s`: a bare nng handler (the
# ceiling), the core's HTTP layer alone, and the whole callixod on its
# default plugins. The median req/s of each and the ratios to the bare
# handler are printed. Needs wrk.
set -eu
BUILD=${1:-build}
P1=${BENCH_PORT_BASE:-18081}
P2=$((P1 + 1))
P3=$((P1 + 2))
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
TMPD=$(mktemp -d)
sed -e "s#listen: http://127.0.0.1:8080#listen: http://127.0.0.1:$P3#" \
    -e "s#\${CALLIXO_DATA_DIR:-../var}#$TMPD/data#" conf/callixo.yaml >"$TMPD/c.yaml"
CALLIXO_PLUGIN_DIR=$BUILD/plugins "$BUILD/core/callixod" -c "$TMPD/c.yaml" 2>"$TMPD/log" &
D_PID=$!
trap 'kill $BASE_PID $CORE_PID $D_PID 2>/dev/null; wait $BASE_PID $CORE_PID $D_PID 2>/dev/null; rm -rf "$TMPD"; true' EXIT INT TERM
sleep 1

rps() {
	wrk -t2 -c64 -d"$DUR" "$1" | awk '/^Requests\/sec:/ { print $2 }'
}
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

B=""; C=""; D=""
for i in $(seq 1 $ROUNDS); do
	b=$(rps "http://127.0.0.1:$P1/healthz"); B="$B $b"
	c=$(rps "http://127.0.0.1:$P2/healthz"); C="$C $c"
	d=$(rps "http://127.0.0.1:$P3/healthz"); D="$D $d"
	echo "round $i: baseline $b, core http $c, callixod $d req/s" >&2
done
MB=$(median $B)
MC=$(median $C)
MD=$(median $D)
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(nproc) cores  cmd: wrk -t2 -c64 -d$DUR, median of $ROUNDS"
printf '| server | /healthz req/s (median) | runs |\n|---|---|---|\n'
printf '| bare nng handler | %s |%s |\n' "$MB" "$B"
printf '| callixo HTTP layer (cxi_http) | %s |%s |\n' "$MC" "$C"
printf '| callixod, default config | %s |%s |\n' "$MD" "$D"
awk -v b="$MB" -v c="$MC" -v d="$MD" 'BEGIN { printf "ratios to bare nng: HTTP layer %.2f, callixod %.2f\n", c / b, d / b }'
