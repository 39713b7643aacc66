#!/bin/bash
# storage_test.sh - callixod with the embedded SQLite store: migrations
# applied at start, manual mode staying not-ready until `callixoctl
# migrate up`, and refusing a database whose schema is newer than the
# build knows.
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
CONF=$TMP/callixo.yaml
export CALLIXO_ADMIN_SOCKET=$TMP/data/admin.sock
DB=$TMP/data/plugins/sqlite/callixo.db

write_conf() { # write_conf MIGRATE_MODE
	cat >"$CONF" <<YAML
server:
  listen: http://127.0.0.1:$PORT
data_dir: $TMP/data
plugin_dir: $BUILD/plugins
storage:
  migrate: $1
plugins:
  - name: sqlite
    kind: storage
    required: true
YAML
}

# manual: not ready until migrated
write_conf manual
start_daemon "$CONF" "$TMP/1.log"
check "manual mode: daemon starts" wait_for "$TMP/1.log" "msg=ready" 15
check "manual mode: pending migrations reported" file_contains "$TMP/1.log" "callixoctl migrate up"
r=$(http GET "$BASE/readyz"); check "manual mode: /readyz is 503 before migrating" contains "$r" "503 "
out=$("$CTL" migrate status); check "migrate status shows pending" grep -qE '0001_initial +pending' <<<"$out"
out=$("$CTL" migrate up); check "migrate up applies 0001 to 0005" contains "$out" "applied 5 migrations"
r=$(http GET "$BASE/readyz"); check "/readyz is 200 after migrating" contains "$r" "200 "
out=$("$CTL" migrate up); check "second migrate up applies nothing" contains "$out" "applied 0 migrations"
check "master key generated with mode 0600" test "$(stat -c %a "$TMP/data/master.key")" = 600
stop_daemon
check "SIGTERM exits 0" test "$RC" = 0

# auto: applied at start (already applied: nothing to do, ready at once)
write_conf auto
start_daemon "$CONF" "$TMP/2.log"
check "auto mode: ready" wait_for "$TMP/2.log" "msg=ready" 15
out=$("$CTL" migrate status); check "status: version 5 of 5" contains "$out" "schema version 5 of 5, 0 pending"
stop_daemon

# A schema from a newer build: refuse to start.
$PY - "$DB" <<'PYEOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("INSERT INTO cx_schema_migrations VALUES (999, '0999_future', 'x', 0)")
c.commit()
PYEOF
timeout 20 "$CALLIXOD" -c "$CONF" 2>"$TMP/3.log"; rc=$?
check "newer schema: exit 1" test "$rc" = 1
check "newer schema: says why" file_contains "$TMP/3.log" "newer than this build knows"

# An edited migration is refused too.
$PY - "$DB" <<'PYEOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("DELETE FROM cx_schema_migrations WHERE version = 999")
c.execute("UPDATE cx_schema_migrations SET checksum = 'edited' WHERE version = 1")
c.commit()
PYEOF
timeout 20 "$CALLIXOD" -c "$CONF" 2>"$TMP/4.log"; rc=$?
check "changed migration: exit 1" test "$rc" = 1
check "changed migration: says which" file_contains "$TMP/4.log" "0001_initial was changed after it was applied"

finish
