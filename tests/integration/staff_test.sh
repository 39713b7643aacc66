#!/bin/bash
# staff_test.sh - the TOTP second factor, staff accounts and staff access
# with a reason, end to end on callixod with the embedded SQLite store:
# enroll / confirm / login with a code, mfa_required, replay refused,
# recovery codes single use, disable, staff created by callixoctl and
# held to TOTP, staff reads of a customer's calls logged with a reason
# and shown in the customer's access log, and a bcrypt JSONL import.
# TOTP codes are computed here, per RFC 6238, from the enrolled secret.
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
CONF=$TMP/callixo.yaml
LOG=$TMP/daemon.log
DB=$TMP/data/plugins/sqlite/callixo.db
export CALLIXO_ADMIN_SOCKET=$TMP/data/admin.sock

# The smallest argon2id cost ASVS 5 allows, so the logins stay fast.
cat >"$CONF" <<YAML
server:
  listen: http://127.0.0.1:$PORT
  shutdown_grace: 2s
data_dir: $TMP/data
plugin_dir: $BUILD/plugins
auth:
  argon2: {opslimit: 1, memlimit_mib: 46}
  common_passwords: $SRC/conf/common-passwords.txt
plugins:
  - name: sqlite
    kind: storage
    required: true
YAML

jget() { $PY -c 'import json, sys
v = json.loads(sys.argv[1].split(" ", 1)[1])
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$1" "$2"; }
# totp SECRET [STEP_OFFSET] -> the RFC 6238 code (SHA1, 6 digits, 30 s).
totp() { $PY -c 'import base64, hashlib, hmac, struct, sys, time
key = base64.b32decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 8))
step = int(time.time()) // 30 + int(sys.argv[2])
d = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
o = d[-1] & 15
print("%06d" % ((struct.unpack(">I", d[o:o + 4])[0] & 0x7fffffff) % 10**6))' "$1" "${2:-0}"; }
signup() { # NAME EMAIL
	req POST /v1/signup "{\"name\":\"$1\",\"email\":\"$2\",\"password\":\"$PW\",\"date_of_birth\":\"1990-04-01\",\"is_adult\":true}"
}
login_body() { # EMAIL [EXTRA]
	echo "{\"email\":\"$1\",\"password\":\"$PW\"${2:-}}"
}

PW='correct horse battery staple'

start_daemon "$CONF" "$LOG"
check "daemon starts" wait_for "$LOG" "msg=ready" 20
check "schema at 0003" test "$(sql "SELECT count(*) FROM pragma_table_info('accounts') WHERE name LIKE 'totp%' OR name = 'recovery_codes'")" = 4

# ---- enroll, confirm, login with a code ----
r=$(signup 'Ada Lovelace' ada@example.com)
check "signup: 201" contains "$r" "201 "
ADA=$(jget "$r" id)
r=$(req POST /v1/login "$(login_body ada@example.com)")
check "login without TOTP yet: 200" contains "$r" "200 "
T=$(cookie_of)
r=$(req POST /v1/me/totp/enroll '' -H "$(ck "$T")")
check "enroll: 200" contains "$r" "200 "
check "enroll: otpauth URI" contains "$r" '"otpauth_uri":"otpauth://totp/Callixo:ada@example.com?secret='
SECRET=$(jget "$r" secret)
check "enroll: 32-character base32 secret" test ${#SECRET} = 32
check "enroll: stored, not yet enabled" test "$(sql "SELECT totp_enabled FROM accounts WHERE id='$ADA'")" = 0
check "enroll: secret stays out of /v1/me" test "$(req GET /v1/me '' -H "$(ck "$T")" | grep -c "$SECRET")" = 0
r=$(req POST /v1/login "$(login_body ada@example.com)")
check "pending secret: login still needs no code" contains "$r" "200 "
T=$(cookie_of)
r=$(req POST /v1/me/totp/confirm '{"code":"000000"}' -H "$(ck "$T")")
[ "$(totp "$SECRET")" = 000000 ] || check "confirm: wrong code 400" contains "$r" '400 {"error":{"code":"invalid_code"'
C0=$(totp "$SECRET")
r=$(req POST /v1/me/totp/confirm "{\"code\":\"$C0\"}" -H "$(ck "$T")")
check "confirm: 200 enabled" contains "$r" '200 {"status":"enabled"'
REC0=$(jget "$r" recovery_codes.0)
REC1=$(jget "$r" recovery_codes.1)
check "confirm: 10 recovery codes" test "$($PY -c 'import json,sys; print(len(json.loads(sys.argv[1].split(" ",1)[1])["recovery_codes"]))' "$r")" = 10
check "confirm: codes stored hashed only" test "$(sql "SELECT instr(recovery_codes, '$REC0') FROM accounts WHERE id='$ADA'")" = 0
r=$(req POST /v1/me/totp/confirm "{\"code\":\"$C0\"}" -H "$(ck "$T")")
check "confirm twice: 409" contains "$r" '409 {"error":{"code":"totp_already_enabled"'
r=$(req POST /v1/me/totp/enroll '' -H "$(ck "$T")")
check "enroll while enabled: 409" contains "$r" '409 {"error":{"code":"totp_already_enabled"'

r=$(req POST /v1/login "$(login_body ada@example.com)")
check "no code: 401 mfa_required" contains "$r" '401 {"error":{"code":"mfa_required"'
check "no code: no session cookie" test -z "$(cookie_of)"
r=$(req POST /v1/login "$(login_body ada@example.com ",\"totp_code\":\"$C0\"")")
check "the confirm code again: refused (replay)" contains "$r" '401 {"error":{"code":"invalid_mfa_code"'
check "replay: no session cookie" test -z "$(cookie_of)"
C1=$(totp "$SECRET" 1)
r=$(req POST /v1/login "$(login_body ada@example.com ",\"totp_code\":\"$C1\"")")
check "login with a fresh code: 200" contains "$r" "200 "
T=$(cookie_of)
check "login with a code: cookie" test -n "$T"
r=$(req POST /v1/login "$(login_body ada@example.com ",\"totp_code\":\"$C1\"")")
check "same code twice: refused (replay)" contains "$r" '401 {"error":{"code":"invalid_mfa_code"'
r=$(req POST /v1/login "{\"email\":\"ada@example.com\",\"password\":\"wrong password here\",\"totp_code\":\"$(totp "$SECRET")\"}")
check "wrong password with a code: 401 invalid_credentials" contains "$r" '401 {"error":{"code":"invalid_credentials"'
r=$(req POST /v1/login "$(login_body ada@example.com ",\"recovery_code\":\"$REC0\"")")
check "recovery code: 200" contains "$r" "200 "
check "recovery code: 9 left" contains "$r" '"recovery_codes_left":9'
r=$(req POST /v1/login "$(login_body ada@example.com ",\"recovery_code\":\"$REC0\"")")
check "recovery code twice: refused" contains "$r" '401 {"error":{"code":"invalid_mfa_code"'
r=$(req POST /v1/login "$(login_body ada@example.com ",\"recovery_code\":\"$(tr a-z A-Z <<<"$REC1")\"")")
check "another recovery code, upper case: 200" contains "$r" "200 "
T=$(cookie_of)

# ---- disable: password and a code, on a second account ----
r=$(signup 'Bob Builder' bob@example.com)
BOB=$(jget "$r" id)
req POST /v1/login "$(login_body bob@example.com)" >/dev/null
TB=$(cookie_of)
r=$(req POST /v1/me/totp/enroll '' -H "$(ck "$TB")")
BSEC=$(jget "$r" secret)
r=$(req POST /v1/me/totp/confirm "{\"code\":\"$(totp "$BSEC" -1)\"}" -H "$(ck "$TB")")
check "bob: enabled" contains "$r" '200 {"status":"enabled"'
r=$(req POST /v1/me/totp/disable "{\"current_password\":\"not the password\",\"code\":\"$(totp "$BSEC")\"}" -H "$(ck "$TB")")
check "disable with a wrong password: 403" contains "$r" '403 {"error":{"code":"invalid_credentials"'
r=$(req POST /v1/me/totp/disable "{\"current_password\":\"$PW\",\"code\":\"$(totp "$BSEC" -1)\"}" -H "$(ck "$TB")")
check "disable with the used code: 400" contains "$r" '400 {"error":{"code":"invalid_code"'
r=$(req POST /v1/me/totp/disable "{\"current_password\":\"$PW\",\"code\":\"$(totp "$BSEC")\"}" -H "$(ck "$TB")")
check "disable: 200" contains "$r" '200 {"status":"disabled"'
check "disable: secret forgotten" test "$(sql "SELECT coalesce(totp_secret_enc,'none') || totp_enabled FROM accounts WHERE id='$BOB'")" = none0
r=$(req POST /v1/login "$(login_body bob@example.com)")
check "disabled: login without a code again" contains "$r" "200 "
TB=$(cookie_of)

# ---- staff: only from the CLI, and only with TOTP ----
out=$(printf '%s\n' "$PW" | "$CTL" account create --staff --email sam@ops.example --name 'Sam Staff')
check "ctl account create --staff: exit 0" test $? = 0
check "ctl account create: prints the otpauth URI" contains "$out" "otpauth URI: otpauth://totp/Callixo:sam@ops.example?secret="
SSEC=$(sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p' <<<"$out")
SAM=$(sql "SELECT id FROM accounts WHERE email_norm='sam@ops.example'")
check "staff row has role staff" test "$(sql "SELECT role FROM accounts WHERE id='$SAM'")" = staff
check "staff creation audited" test "$(sql "SELECT count(*) FROM audit_log WHERE object_id='$SAM' AND action='create'")" = 1
out=$(printf 'password\n' | "$CTL" account create --email weak@ops.example --name Weak 2>&1)
check "ctl account create: weak password refused" contains "$out" "password refused"
out=$("$CTL" account create --staff --email nopw@ops.example --name NoPw </dev/null 2>&1)
check "ctl account create: no password on stdin, usage error" test $? = 2
r=$(req POST /v1/login "$(login_body sam@ops.example)")
check "staff login without TOTP: 403 mfa_enrollment_required" contains "$r" '403 {"error":{"code":"mfa_enrollment_required"'
check "staff login without TOTP: no session" test -z "$(cookie_of)"
r=$(req POST /v1/login "$(login_body sam@ops.example ',"totp_code":"12345"')")
check "staff login with a malformed code: 400" contains "$r" '400 {"error":{"code":"invalid_code"'
r=$(req POST /v1/login "$(login_body sam@ops.example ",\"totp_code\":\"$(totp "$SSEC")\"")")
check "staff first login with a code: 200, enrolled" contains "$r" '"role":"staff"'
check "staff first login: recovery codes returned" contains "$r" '"recovery_codes":['
TS=$(cookie_of)
check "staff TOTP now enabled" test "$(sql "SELECT totp_enabled FROM accounts WHERE id='$SAM'")" = 1
r=$(req POST /v1/me/totp/disable "{\"current_password\":\"$PW\",\"code\":\"$(totp "$SSEC" 1)\"}" -H "$(ck "$TS")")
check "staff cannot turn TOTP off" contains "$r" '403 {"error":{"code":"mfa_required_for_staff"'

# ---- staff access with a reason (Z-3) ----
now=$(date +%s%3N)
$PY - "$DB" "$ADA" "$BOB" "$now" <<'PY'
import sqlite3, sys
db, ada, bob, now = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = sqlite3.connect(db)
for i, acc in enumerate([ada, ada, bob]):
    c.execute("INSERT INTO calls (id, account_id, provider, to_number, created_at) VALUES (?, ?, 'test', '+15550100', ?)",
              ("call_%024d" % i, acc, now + i))
c.commit()
PY
REASON='support ticket 4411: customer reports dropped calls'
QR=$($PY -c 'import sys, urllib.parse; print(urllib.parse.quote_plus(sys.argv[1]))' "$REASON")
r=$(req GET "/v1/staff/accounts/$ADA/calls" '' -H "$(ck "$TS")")
check "staff read without a reason: 400" contains "$r" '400 {"error":{"code":"reason_required"'
r=$(req GET "/v1/staff/accounts/$ADA/calls?reason=because" '' -H "$(ck "$TS")")
check "staff read with a 7-character reason: 400" contains "$r" '400 {"error":{"code":"reason_required"'
check "refused reads are not logged as reads" test "$(sql "SELECT count(*) FROM audit_log WHERE action='read'")" = 0
# The daemon sits behind a proxy that names the client in X-Real-IP.
r=$(req GET "/v1/staff/accounts/$ADA/calls?reason=$QR" '' -H "$(ck "$TS")" -H 'X-Real-IP: 203.0.113.7')
check "staff read with a reason: 200" contains "$r" "200 "
check "staff read: the customer's calls" test "$($PY -c 'import json,sys; print(sorted(i["id"] for i in json.loads(sys.argv[1].split(" ",1)[1])["items"]))' "$r")" = "['call_000000000000000000000000', 'call_000000000000000000000001']"
check "staff read: audit row with actor, subject, reason, ip" test "$(sql "SELECT actor_id || '|' || action || '|' || object_type || '|' || subject_id || '|' || reason || '|' || ip FROM audit_log WHERE action='read'")" = "$SAM|read|calls|$ADA|$REASON|203.0.113.7"
r=$(req GET "/v1/staff/accounts/acc_nosuchaccount00000000000/calls?reason=$QR" '' -H "$(ck "$TS")")
check "staff read of an unknown account: 404" contains "$r" '404 {"error":{"code":"not_found"'
r=$(req GET "/v1/staff/accounts/$ADA/leads?reason=$QR" '' -H "$(ck "$TS")")
check "other staff paths: 404" contains "$r" '404 '
r=$(req GET /v1/me/access-log '' -H "$(ck "$T")")
check "access log: 200 with the staff read" contains "$r" "\"reason\":\"$REASON\""
check "access log: says staff read calls" contains "$r" '"actor_role":"staff","action":"read","object_type":"calls"'
check "access log: the staff member's ip stays internal" test "$(grep -c '203.0.113.7' <<<"$r")" = 0
r=$(req GET /v1/me/access-log '' -H "$(ck "$TB")")
check "another customer's access log is empty" contains "$r" '200 {"items":[]'
r=$(req GET "/v1/staff/accounts/$ADA/calls?reason=$QR" '' -H "$(ck "$TB")")
check "a customer cannot use staff routes: 403" contains "$r" '403 {"error":{"code":"forbidden"'
r=$(req GET "/v1/staff/accounts/$ADA/calls?reason=$QR")
check "no session: 401" contains "$r" '401 '
check "only the one staff read was logged" test "$(sql "SELECT count(*) FROM audit_log WHERE action='read'")" = 1

# ---- one call and its recording, for staff, each read audited ----
C0=call_000000000000000000000000
r=$(req GET "/v1/staff/accounts/$ADA/calls/$C0" '' -H "$(ck "$TS")")
check "staff call read without a reason: 400" contains "$r" '400 {"error":{"code":"reason_required"'
r=$(req GET "/v1/staff/accounts/$ADA/calls/$C0?reason=$QR" '' -H "$(ck "$TS")")
check "staff reads one call: 200" contains "$r" "200 {\"id\":\"$C0\""
check "staff call read: audit row names the call" test "$(sql "SELECT object_type || '|' || object_id || '|' || subject_id FROM audit_log WHERE action='read' AND object_type='call'")" = "call|$C0|$ADA"
r=$(req GET "/v1/staff/accounts/$ADA/calls/call_000000000000000000000002?reason=$QR" '' -H "$(ck "$TS")")
check "another account's call under this account: 404" contains "$r" '404 {"error":{"code":"not_found"'
r=$(req GET "/v1/staff/accounts/$ADA/calls/$C0/recording?reason=$QR" '' -H "$(ck "$TS")")
check "staff recording read of a call without one: 404" contains "$r" '404 {"error":{"code":"not_found","message":"this call has no recording"'
check "staff recording read: audited as recording" test "$(sql "SELECT count(*) FROM audit_log WHERE action='read' AND object_type='recording' AND object_id='$C0'")" = 1
r=$(req GET "/v1/staff/accounts/$ADA/calls/$C0/x?reason=$QR" '' -H "$(ck "$TS")")
check "other paths below a call: 404" contains "$r" '404 '
r=$(req GET "/v1/staff/accounts/$ADA/calls/$C0?reason=$QR" '' -H "$(ck "$TB")")
check "a customer cannot read a call as staff: 403" contains "$r" '403 {"error":{"code":"forbidden"'

# ---- import from JSONL, with a bcrypt hash from python3-bcrypt ----
BC=$($PY -c 'import bcrypt; print(bcrypt.hashpw(b"legacy passphrase 2019", bcrypt.gensalt(rounds=4)).decode())')
cat >"$TMP/import.jsonl" <<JSONL
{"name":"Old Timer","email":"old@legacy.example","company":"Legacy Co","password_hash":"$BC","created_at":"2019-05-01T12:00:00Z"}
{"name":"Ada Again","email":"ADA@example.com","password_hash":"$BC"}

{"name":"Bad Hash","email":"bad@legacy.example","password_hash":"md5:abc"}
{"name":"Two X","email":"twox@legacy.example","password_hash":"\$2x\$10\$abcdefghijklmnopqrstuu5Fgr5OB7g.2T/bu2Fq/Ry7mb0IXE2ENu"}
not json
{"name":"Extra","email":"extra@legacy.example","password_hash":"$BC","role":"staff"}
JSONL
out=$("$CTL" account import "$TMP/import.jsonl")
check "import: exits 1 when lines are invalid" test $? = 1
check "import: counts" contains "$out" "imported 1, skipped 1, invalid 4"
check "import: skipped line number" contains "$out" "line 2: skipped: email already exists"
check "import: invalid hash line number" contains "$out" "line 4: invalid: password_hash"
check "import: \$2x\$ refused" contains "$out" "line 5: invalid: password_hash"
check "import: not JSON" contains "$out" "line 6: invalid: not a JSON object"
check "import: no role from a file" contains "$out" "line 7: invalid: unknown field"
check "import: created_at kept" test "$(sql "SELECT created_at FROM accounts WHERE email_norm='old@legacy.example'")" = 1556712000000
check "import: existing account untouched" test "$(sql "SELECT substr(password_hash,1,10) FROM accounts WHERE id='$ADA'")" = '$argon2id$'
r=$(req POST /v1/login '{"email":"old@legacy.example","password":"legacy passphrase 2019"}')
check "imported bcrypt account logs in" contains "$r" '200 {"id":'
check "imported hash upgraded to argon2id" test "$(sql "SELECT substr(password_hash,1,10) FROM accounts WHERE email_norm='old@legacy.example'")" = '$argon2id$'

# ---- the operator disables an account: its sessions end at once ----
TD=$(cookie_of) # the imported account's fresh session, from the login above
r=$(req GET /v1/me '' -H "$(ck "$TD")"); check "before disable: session works" contains "$r" "200 "
out=$("$CTL" account disable OLD@legacy.example)
check "disable: reports the sessions it ended" contains "$out" "1 sessions ended"
r=$(req GET /v1/me '' -H "$(ck "$TD")"); check "after disable: the session is gone" contains "$r" "401 "
r=$(req POST /v1/login '{"email":"old@legacy.example","password":"legacy passphrase 2019"}')
check "after disable: login refused like a wrong password" contains "$r" '401 {"error":{"code":"invalid_credentials"'
"$CTL" account disable nobody@nowhere.example >/dev/null 2>&1
check "disable: unknown email fails" test $? = 1

check "no secret in the log" test "$(count_of "$LOG" "$SECRET")" = 0
stop_daemon
finish
