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

# req METHOD PATH [BODY] [curl args...] -> "STATUS BODY"; headers in $TMP/hdr.
req() {
	local m=$1 p=$2 b=${3:-}
	shift 2
	[ $# -gt 0 ] && shift
	curl -s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' -X "$m" \
		-H 'Content-Type: application/json' -H "Origin: $BASE" \
		${b:+--data-binary "$b"} "$@" "$BASE$p"
	echo " $(cat "$TMP/body")"
}
hdr() { grep -i "^$1:" "$TMP/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
cookie_of() { hdr Set-Cookie | sed -n 's/^cx_session=\([^;]*\);.*/\1/p'; }
ck() { echo "Cookie: cx_session=$1"; }
sql() { $PY -c 'import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()
print(r[0] if r else "")' "$DB" "$1"; }
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

stop_daemon
finish
