#!/bin/bash
# daemon_test.sh - callixod end to end: start on a free port, health and
# metrics, plugin webhooks (in process and isolated), SIGHUP reloads that
# enable and disable a plugin, a rejected reload, callixoctl, systemd
# notification, and a clean SIGTERM stop.
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
CONF=$TMP/callixo.yaml
LOG=$TMP/daemon.log
SOCK=$TMP/data/admin.sock
export CALLIXO_ADMIN_SOCKET=$SOCK

write_conf() { # write_conf HELLO_ENABLED [EXTRA_TOP_LEVEL_LINE] [GREETING]
	cat >"$CONF" <<YAML
server:
  listen: http://127.0.0.1:$PORT
  shutdown_grace: 2s
data_dir: $TMP/data
log:
  level: info
plugin_dir: $BUILD/tests/plugins
${2:-}
plugins:
  - name: eventlog
    kind: generic
    path: $BUILD/plugins/eventlog.so
    settings:
      topics: ["*"]
  - name: hello
    kind: generic
    enabled: $1
    settings:
      greeting: ${3:-Hi}
  - name: lc
    kind: generic
    path: $BUILD/tests/plugins/lifecycle.so
    isolation: process
    settings:
      token: \${LC_TOKEN}
YAML
}

export LC_TOKEN=tok-9f8e7d6c5b4a-never-logged
write_conf false

# systemd notification socket
$PY - "$TMP/notify.sock" "$TMP/notify.log" <<'PYEOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode() + "\n")
PYEOF
NPID=$!
for _ in $(seq 1 50); do [ -S "$TMP/notify.sock" ] && break; sleep 0.1; done

NOTIFY_SOCKET=$TMP/notify.sock start_daemon "$CONF" "$LOG"
check "daemon logs 'ready'" wait_for "$LOG" "msg=ready" 20
check "daemon logs 'listening on'" file_contains "$LOG" "msg=\"listening on http://127.0.0.1:$PORT\""
check "systemd got READY=1" wait_for "$TMP/notify.log" "READY=1" 5
check "log lines are logfmt with time, level, component" \
	grep -qE '^time=[0-9T:.-]+Z level=info component=core msg=' "$LOG"

r=$(http GET "$BASE/healthz"); check "GET /healthz is 200" contains "$r" "200 "
r=$(http GET "$BASE/readyz"); check "GET /readyz is 200 when ready" contains "$r" "200 "
r=$(http GET "$BASE/metrics")
check "metrics: uptime" contains "$r" "callixo_uptime_seconds"
check "metrics: eventlog up" contains "$r" 'callixo_plugin_up{plugin="eventlog",kind="generic",state="running"} 1'
check "metrics: requests by route" contains "$r" 'route="/healthz"'
check "metrics: bus messages" contains "$r" 'callixo_bus_messages_total{pattern="event_in"}'
sleep 0.3
r=$(http GET "$BASE/metrics")
check "metrics: isolated plugin's timer counter reaches /metrics" contains "$r" 'callixo_plugin_lifecycle_ticks_total{plugin="lc"}'
r=$(http GET "$BASE/nope"); check "unknown path is a JSON 404" contains "$r" '404 {"error":{"code":"not_found"'

# The isolated plugin answers from its own process.
r=$(http POST "$BASE/webhooks/lc/hit" "abc")
check "isolated plugin route answers" contains "$r" '200 {"plugin":"lc"'
LCPID=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$TMP/body")
check "isolated plugin runs in another process" test "$LCPID" != "$DPID"

# callixoctl
out=$("$CTL" status); check "callixoctl status says ready" contains "$out" "ready"
out=$("$CTL" plugins)
check "callixoctl plugins lists eventlog running" grep -qE 'eventlog +generic +1.0.0 +running +inproc' <<<"$out"
check "callixoctl plugins lists lc isolated" grep -qE 'lc +generic .*running +process' <<<"$out"

# SIGHUP: enable hello.
r=$(http POST "$BASE/webhooks/hello/ping" "x"); check "hello not served while disabled" contains "$r" "404 "
write_conf true
kill -HUP "$DPID"
check "reload enabling hello is logged" wait_for "$LOG" 'started="[\"hello\"]"' 10
r=$(http POST "$BASE/webhooks/hello/ping" "xy")
check "hello served after SIGHUP" contains "$r" '200 {"plugin":"hello","bytes":2'

# A reloadable setting changes: reconfigure in place, no restart.
sleep 2.1 # past the reload coalescing window
write_conf true "" Howdy
kill -HUP "$DPID"
check "changed reloadable setting is reconfigured" wait_for "$LOG" 'reconfigured="[\"hello\"]"' 10
check "hello was not restarted" test "$(count_of "$LOG" 'plugin=hello msg="plugin started"')" = 1

# HUPs in a burst are coalesced into one reload.
sleep 2.1
before=$(count_of "$LOG" 'msg="reloading configuration')
kill -HUP "$DPID"; kill -HUP "$DPID"; kill -HUP "$DPID"
sleep 2.8
after=$(count_of "$LOG" 'msg="reloading configuration')
check "a burst of SIGHUPs gives at most two reloads" test $((after - before)) -ge 1 -a $((after - before)) -le 2

# An invalid config is rejected whole; the running one stays.
sleep 2.1 # past the reload coalescing window
write_conf false "bogus_key: 1" Howdy
kill -HUP "$DPID"
check "invalid reload rejected" wait_for "$LOG" "config reload rejected" 10
check "rejection names file:line:col and key" grep -qF "$CONF:8:1: unknown key 'bogus_key'" "$LOG"
r=$(http POST "$BASE/webhooks/hello/ping" "xy")
check "hello still served after rejected reload" contains "$r" "200 "

# SIGHUP: disable hello.
sleep 2.1
write_conf false
kill -HUP "$DPID"
check "reload disabling hello is logged" wait_for "$LOG" 'stopped="[\"hello\"]"' 10
r=$(http POST "$BASE/webhooks/hello/ping" "x"); check "hello gone after disabling" contains "$r" "404 "
r=$(http GET "$BASE/healthz"); check "listener kept through reloads" contains "$r" "200 "

# Runtime enable/disable through callixoctl.
out=$("$CTL" plugin disable eventlog); check "ctl disable says runtime only" contains "$out" "runtime only"
out=$("$CTL" plugins); check "eventlog shows disabled" grep -qE 'eventlog .*disabled' <<<"$out"
out=$("$CTL" plugin enable eventlog); check "ctl enable works" contains "$out" "running"
out=$("$CTL" reload); check "ctl reload reports" contains "$out" "reloaded"
"$CTL" plugin enable nosuch >/dev/null 2>&1; check "ctl enable unknown fails with 1" test $? = 1

check "the secret never reaches the log" bash -c "! grep -qF '$LC_TOKEN' '$LOG'"

stop_daemon
check "SIGTERM exits 0" test "$RC" = 0
check "stop is logged" file_contains "$LOG" "msg=stopped"
check "systemd got STOPPING=1" wait_for "$TMP/notify.log" "STOPPING=1" 5
check "isolated child is gone" bash -c "! kill -0 $LCPID 2>/dev/null"
"$CTL" status >/dev/null 2>"$TMP/ctl.err"; rc=$?
check "ctl with no daemon exits 3" test "$rc" = 3
check "ctl says the daemon is not running" file_contains "$TMP/ctl.err" "not running"

finish
