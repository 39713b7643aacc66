#!/bin/bash
# CSV import benchmark (docs/performance.md, "CSV import"):
#   bench/leads/run.sh <build-dir> [rows]
# Generates <rows> leads (default 1,000,000) in one CSV and imports it
# through POST /v1/leads/import on callixod with SQLite and with
# PostgreSQL (a throwaway server on 127.0.0.1, tests/storage/pg_harness.sh),
# timing from the upload until the job is done. In the same run the same
# file goes through `sqlite3 .import` and `psql \copy` into a plain table,
# the floor of what each database can take. Prints a markdown table.
# Use an optimized, non-sanitized build dir (meson setup build).
set -euo pipefail
build=$(cd "${1:?usage: run.sh <build-dir> [rows]}" && pwd)
rows=${2:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ninja -C "$build" core/callixod plugins/sqlite.so plugins/postgres.so \
	>/dev/null
. "$root/tests/storage/pg_harness.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/cxbench-leads.XXXXXX")
DPID=
cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	pg_stop 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
py() { /usr/bin/python3 "$@"; }
calc() { /usr/bin/python3 -c "print($1)"; }

csv=$work/leads.csv
py "$here/gen_csv.py" "$csv" "$rows"
bytes=$(stat -c %s "$csv")

free_port() {
	py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# daemon_import NAME PLUGIN-YAML -> seconds from upload to job done
daemon_import() {
	local name=$1 plugin=$2 port dir
	port=$(free_port)
	dir=$work/$name
	mkdir -p "$dir"
	cat >"$dir/callixo.yaml" <<YAML
server:
  listen: http://127.0.0.1:$port
  shutdown_grace: 2s
  request_timeout: 120s
data_dir: $dir/data
plugin_dir: $build/plugins
log:
  level: warn
auth:
  argon2: {opslimit: 1, memlimit_mib: 46}
leads:
  phone_zones: $root/conf/phone-zones.tsv
  import_max_bytes: $((bytes + 1048576))
plugins:
$plugin
YAML
	"$build/core/callixod" -c "$dir/callixo.yaml" 2>"$dir/daemon.log" &
	DPID=$!
	local base=http://127.0.0.1:$port i
	for i in $(seq 1 100); do
		curl -sf "$base/readyz" >/dev/null && break
		sleep 0.1
	done
	local pw='correct horse battery staple'
	curl -sf -o /dev/null -H 'Content-Type: application/json' \
		-H "Origin: $base" --data-binary \
		"{\"name\":\"Bench\",\"email\":\"bench@example.org\",\"password\":\"$pw\",\"date_of_birth\":\"1990-04-01\",\"is_adult\":true}" \
		"$base/v1/signup"
	curl -sf -o /dev/null -c "$dir/jar" -H 'Content-Type: application/json' \
		-H "Origin: $base" --data-binary \
		"{\"email\":\"bench@example.org\",\"password\":\"$pw\"}" \
		"$base/v1/login"
	local t0 t1 job state body
	t0=$(now)
	body=$(curl -sf -b "$dir/jar" -H "Origin: $base" \
		-H 'Content-Type: text/csv' --data-binary "@$csv" \
		"$base/v1/leads/import")
	job=$(py -c 'import json,sys; print(json.loads(sys.argv[1])["job_id"])' "$body")
	while :; do
		body=$(curl -sf -b "$dir/jar" "$base/v1/leads/imports/$job")
		state=$(py -c 'import json,sys; print(json.loads(sys.argv[1])["state"])' "$body")
		[ "$state" = done ] || [ "$state" = failed ] && break
		sleep 0.2
	done
	t1=$(now)
	# Peak resident memory of the daemon: the upload is held once, the
	# rows are not.
	awk '/VmHWM/ {print $2 " " $3}' "/proc/$DPID/status" >"$dir/peak"
	kill "$DPID"
	wait "$DPID" 2>/dev/null || true
	DPID=
	py -c 'import json,sys; j=json.loads(sys.argv[1]); print("%s imported=%d skipped=%d invalid=%d rows=%d" % (j["state"], j["imported"], j["skipped"], j["invalid"], j["rows_total"]))' "$body" >"$dir/result"
	calc "round($t1 - $t0, 3)"
}

pg_start 2>/dev/null
sqlite_s=$(daemon_import sqlite "  - name: sqlite
    kind: storage
    required: true")
pg_s=$(daemon_import postgres "  - name: postgres
    kind: storage
    required: true
    settings:
      dsn: $CALLIXO_PG_DSN
      pool_size: 4")

# The raw floors: the same file into a plain table.
t0=$(now)
sqlite3 "$work/raw.db" "CREATE TABLE leads_raw (phone TEXT, name TEXT, tags TEXT, plan TEXT, city TEXT, source TEXT);" \
	".mode csv" ".import --skip 1 $csv leads_raw"
raw_sqlite_s=$(calc "round($(now) - $t0, 3)")
raw_sqlite_rows=$(sqlite3 "$work/raw.db" "SELECT COUNT(*) FROM leads_raw")
psql -q "$CALLIXO_PG_DSN" -c "CREATE TABLE leads_raw (phone TEXT, name TEXT, tags TEXT, plan TEXT, city TEXT, source TEXT)"
t0=$(now)
psql -q "$CALLIXO_PG_DSN" -c "\\copy leads_raw FROM '$csv' WITH (FORMAT csv, HEADER true)"
raw_pg_s=$(calc "round($(now) - $t0, 3)")
raw_pg_rows=$(psql -qtA "$CALLIXO_PG_DSN" -c "SELECT COUNT(*) FROM leads_raw")

rate() { calc "int($rows / $1)"; }
ratio() { calc "round($2 / $1, 1)"; }
echo "Command: bench/leads/run.sh $1 $rows"
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Machine: $(nproc) cores, $(uname -sr), SQLite $(sqlite3 --version | awk '{print $1}'), PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}') on 127.0.0.1 (fsync off)"
echo "File: $rows rows, $bytes bytes"
echo "SQLite job: $(cat "$work/sqlite/result"), daemon peak RSS $(cat "$work/sqlite/peak")"
echo "PostgreSQL job: $(cat "$work/postgres/result"), daemon peak RSS $(cat "$work/postgres/peak")"
echo
echo "| path | seconds | rows/s | raw load is ... x faster |"
echo "|---|---:|---:|---:|"
printf '| POST /v1/leads/import, SQLite | %.2f | %s | %s |\n' "$sqlite_s" "$(rate "$sqlite_s")" "$(ratio "$raw_sqlite_s" "$sqlite_s")"
printf '| sqlite3 .import (%s rows) | %.2f | %s | 1.0 |\n' "$raw_sqlite_rows" "$raw_sqlite_s" "$(rate "$raw_sqlite_s")"
printf '| POST /v1/leads/import, PostgreSQL | %.2f | %s | %s |\n' "$pg_s" "$(rate "$pg_s")" "$(ratio "$raw_pg_s" "$pg_s")"
printf '| psql \\copy (%s rows) | %.2f | %s | 1.0 |\n' "$raw_pg_rows" "$raw_pg_s" "$(rate "$raw_pg_s")"
