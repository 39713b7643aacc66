#!/bin/bash
# run.sh - signed provider-webhook ingest req/s, next to /healthz of the
# same daemon in the same run.
#
# Usage:
#   bench/webhooks/run.sh [builddir]      (default: build; a non-sanitized
#                                          build, see docs/performance.md)
#   bench/webhooks/run.sh --selftest      checks webhook.lua's signatures
#                                          against verify_server.py
#                                          (Python hmac), no daemon needed
# Environment:
#   BENCH_PROVIDER   retell (default) or twilio: which plugin receives
#   BENCH_DURATION   per wrk run (10s); three rounds, median reported
#   BENCH_WEBHOOK_PATH  route of the plugin (retell: /webhooks/retell,
#                    twilio: /webhooks/twilio/status)
#   BENCH_PLUGIN_SETTINGS  JSON object merged into the plugin's settings
#                    (whatever else the plugin needs, e.g. api_base)
#   BENCH_TWILIO_RECORDINGS  twilio only: N > 0 makes one request in N a
#                    signed recording callback (see webhook.lua), each
#                    queueing a download; 0 (default) sends status
#                    callbacks only
#   BENCH_TWILIO_RECORDING_BASE  the host of those RecordingUrls and the
#                    plugin's api_base (default http://192.0.2.1,
#                    unroutable, so downloads fail and the queue grows as
#                    in a media outage); BENCH_PLUGIN_SETTINGS still wins
#
# What is measured: each request is a new event, signed as the provider
# signs it (webhook.lua computes the HMAC per request, in LuaJIT):
#   Retell: x-retell-signature: v=<ms>,d=<hex HMAC-SHA256(api key,
#           body + ms)>, rotating call_started, call_ended, call_analyzed;
#   Twilio: X-Twilio-Signature over public_url + path + sorted params,
#           rotating initiated, ringing, in-progress, completed.
# The plugin must verify it, store the event durably and answer 2xx: the
# req/s of a run with non-2xx answers is not an ingest figure, and the
# script says so. The events name calls the daemon never placed; a
# plugin that refuses unknown calls must be measured with calls seeded
# first (not done here).
#
# Needs the retell or twilio plugin (plugins/telephony/<name>) built into
# <builddir>/plugins, wrk, and /usr/bin/python3 with PyYAML. Not a test:
# nothing in meson runs it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
DUR=${BENCH_DURATION:-10s}
PROVIDER=${BENCH_PROVIDER:-retell}
ROUNDS=3
KEY=key_bench_$(date +%s)_webhook_signing
case $PROVIDER in
retell) WPATH=${BENCH_WEBHOOK_PATH:-/webhooks/retell} ;;
twilio) WPATH=${BENCH_WEBHOOK_PATH:-/webhooks/twilio/status} ;;
*) echo "BENCH_PROVIDER must be retell or twilio" >&2; exit 2 ;;
esac
command -v wrk >/dev/null || { echo "wrk not installed (.ci/deps)" >&2; exit 1; }

TMPD=$(mktemp -d)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts a server that prints "PORT <n>" and sets PORT to it.
start_port_server() {
	local out=$1
	shift
	"$@" >"$out" &
	PIDS+=($!)
	for _ in $(seq 1 100); do
		PORT=$(awk '/^PORT / { print $2 }' "$out" 2>/dev/null)
		[ -n "$PORT" ] && return 0
		sleep 0.05
	done
	echo "server did not start: $*" >&2
	return 1
}

wrk_run() { # url [lua script [script args...]] -> "req/s non2xx"
	local url=$1 script=()
	shift
	if [ $# -gt 0 ]; then
		script=(-s "$1")
		shift
	fi
	# wrk hands the script what follows the URL and "--".
	wrk -t2 -c64 -d"$DUR" "${script[@]}" "$url" ${1:+--} "$@" |
		awk '/^Requests\/sec:/ { r = $2 } /Non-2xx or 3xx/ { n = $NF }
		     END { printf "%s %d\n", r, n }'
}
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

if [ "${1:-}" = "--selftest" ]; then
	DUR=${BENCH_DURATION:-2s}
	fails=0
	for prov in retell twilio; do
		start_port_server "$TMPD/v_$prov" "$PY" "$HERE/verify_server.py" \
			"$prov" "$KEY" "$TMPD/url_$prov"
		url="http://127.0.0.1:$PORT"
		echo "$url" >"$TMPD/url_$prov"
		p=/webhooks/$prov
		[ $prov = twilio ] && p=/webhooks/twilio/status
		res=$(wrk_run "$url$p" "$HERE/webhook.lua" "$prov" "$KEY" "$url" "$p")
		stats=$(curl -sf "$url/stats")
		echo "$prov: wrk $res (req/s non-2xx); receiver $stats"
		echo "$stats" | "$PY" -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["ok"] > 0 and s["bad"] == 0 and s["dup"] == 0 else 1)' ||
			{ echo "$prov: signatures or event ids are wrong" >&2; fails=1; }
	done
	exit $fails
fi

BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
[ -x "$BUILD/core/callixod" ] || { echo "missing $BUILD/core/callixod (ninja -C $BUILD)" >&2; exit 1; }
[ -f "$BUILD/plugins/$PROVIDER.so" ] || {
	echo "missing $BUILD/plugins/$PROVIDER.so: this benchmark needs the $PROVIDER plugin" >&2
	exit 1
}
PD=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PD"

# The shipped default config on a free port and a scratch data dir, plus
# the provider plugin with the bench key. Rewritten with PyYAML rather
# than appended to, so it holds whatever order conf/callixo.yaml has.
PROVIDER=$PROVIDER KEY=$KEY BASE=$BASE DATA=$TMPD/data \
	EXTRA=${BENCH_PLUGIN_SETTINGS:-'{}'} "$PY" - "$ROOT/conf/callixo.yaml" \
	>"$TMPD/c.yaml" <<'EOF'
import json, os, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
c["server"]["listen"] = os.environ["BASE"]
c["data_dir"] = os.environ["DATA"]
prov, key, base = os.environ["PROVIDER"], os.environ["KEY"], os.environ["BASE"]
if prov == "retell":
    s = {"api_key": key, "public_url": base}
else:
    s = {"account_sid": "AC00000000000000000000000000bench",
         "auth_token": key, "public_url": base}
    if int(os.environ.get("BENCH_TWILIO_RECORDINGS") or "0") > 0:
        # Downloads go to api_base only: point it at the recordings' host.
        s["api_base"] = (os.environ.get("BENCH_TWILIO_RECORDING_BASE") or
                         "http://192.0.2.1")
s.update(json.loads(os.environ["EXTRA"]))
c["plugins"] = [p for p in c["plugins"] if p.get("name") != prov]
c["plugins"].append({"name": prov, "kind": "telephony", "required": True,
                     "settings": s})
yaml.safe_dump(c, sys.stdout, sort_keys=False)
EOF
CALLIXO_PLUGIN_DIR=$BUILD/plugins "$BUILD/core/callixod" -c "$TMPD/c.yaml" \
	2>"$TMPD/daemon.log" &
PIDS+=($!)
for _ in $(seq 1 100); do
	curl -sf "$BASE/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -sf "$BASE/readyz" >/dev/null || {
	echo "callixod did not become ready; log:" >&2
	tail -n 20 "$TMPD/daemon.log" >&2
	exit 1
}

H=""; W=""; BAD=0
for i in $(seq 1 $ROUNDS); do
	read -r h _ < <(wrk_run "$BASE/healthz")
	read -r w n < <(wrk_run "$BASE$WPATH" "$HERE/webhook.lua" \
		"$PROVIDER" "$KEY" "$BASE" "$WPATH")
	H="$H $h"; W="$W $w"; BAD=$((BAD + n))
	echo "round $i: /healthz $h req/s, signed $PROVIDER webhooks $w req/s ($n non-2xx)" >&2
done
MH=$(median $H)
MW=$(median $W)
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(nproc) cores  cmd: wrk -t2 -c64 -d$DUR, median of $ROUNDS"
if [ "$PROVIDER" = twilio ] && [ "${BENCH_TWILIO_RECORDINGS:-0}" -gt 0 ]; then
	echo "mix: 1 in $BENCH_TWILIO_RECORDINGS requests is a recording callback (downloads cannot succeed)"
fi
printf '| endpoint (same callixod, same run) | req/s (median) | runs |\n|---|---:|---|\n'
printf '| GET /healthz | %s |%s |\n' "$MH" "$H"
printf '| POST %s, signed %s events | %s |%s |\n' "$WPATH" "$PROVIDER" "$MW" "$W"
awk -v h="$MH" -v w="$MW" 'BEGIN { printf "webhook ingest / healthz: %.3f\n", w / h }'
DB=$TMPD/data/plugins/sqlite/callixo.db
if command -v sqlite3 >/dev/null && [ -f "$DB" ]; then
	echo "provider_events stored: $(sqlite3 "$DB" 'select count(*) from provider_events' 2>/dev/null || echo '?')"
fi
if [ "$BAD" -gt 0 ]; then
	echo "WARNING: $BAD webhook requests got a non-2xx answer: the figure above is not ingest (see the daemon log)" >&2
	tail -n 5 "$TMPD/daemon.log" >&2
fi
