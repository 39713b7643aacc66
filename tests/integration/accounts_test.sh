#!/bin/bash
# accounts_test.sh - the /v1 accounts API end to end on callixod with the
# embedded SQLite store, over plain-HTTP loopback (cookie cx_session,
# without Secure): signup (age gate, policy, duplicates), login cookies
# and session fixation, logout / logout-all / password change ending
# sessions, CSRF, strict bodies, enumeration-safe errors, and a legacy
# bcrypt hash upgraded to argon2id at login.
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
CONF=$TMP/callixo.yaml
LOG=$TMP/daemon.log
DB=$TMP/data/plugins/sqlite/callixo.db
export CALLIXO_ADMIN_SOCKET=$TMP/data/admin.sock

# The smallest argon2id cost ASVS 5 allows (t=1 needs m >= 46 MiB), so the
# many logins below stay fast.
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
  - name: eventlog
    kind: generic
    path: $BUILD/plugins/eventlog.so
    settings:
      topics: ["auth.*"]
  # Stands in for the rate limiter: denies auth for blocked@example.com.
  - name: authdeny
    kind: policy
    path: $BUILD/tests/plugins/authdeny.so
    settings:
      retry_after: 42
YAML
EVENTS=$TMP/data/plugins/eventlog/events.jsonl

accounts() { sql "SELECT count(*) FROM accounts"; }
signup_body() { # NAME EMAIL PASSWORD [DOB] [IS_ADULT] [EXTRA]
	echo "{\"name\":\"$1\",\"email\":\"$2\",\"password\":\"$3\",\"date_of_birth\":\"${4:-1990-04-01}\",\"is_adult\":${5:-true}${6:-}}"
}
login() { # EMAIL PASSWORD [curl args] -> token (empty on failure)
	local e=$1 pw=$2
	shift 2
	req POST /v1/login "{\"email\":\"$e\",\"password\":\"$pw\"}" "$@" >/dev/null
	cookie_of
}

PW='correct horse battery staple'
PW2='a different long passphrase 42'

start_daemon "$CONF" "$LOG"
check "daemon starts with the auth section" wait_for "$LOG" "msg=ready" 20
check "common list loaded" file_contains "$LOG" "common passwords loaded"

# ---- signup ----
r=$(req POST /v1/signup "$(signup_body 'Ada Lovelace' 'Ada@Example.com' "$PW" 1990-04-01 true ',"company":"Analytical Ltd"')")
check "signup: 201" contains "$r" "201 "
check "signup: account returned" contains "$r" '"email":"Ada@Example.com"'
check "signup: no password hash in the answer" test "$(grep -c password_hash <<<"$r")" = 0
check "signup: Cache-Control: no-store" test "$(hdr Cache-Control)" = "no-store"
check "signup: stored hash is argon2id" test "$(sql "SELECT substr(password_hash,1,10) FROM accounts WHERE email_norm='ada@example.com'")" = '$argon2id$'
n0=$(accounts)

# Under 18 today (UTC), or not confirming adulthood: refused, nothing kept.
dob17=$(date -u -d '17 years ago' +%F)
r=$(req POST /v1/signup "$(signup_body 'Minnie Minorperson' 'minnie.minor@example.org' "$PW" "$dob17")")
check "underage: 403 underage" contains "$r" '403 {"error":{"code":"underage"'
r=$(req POST /v1/signup "$(signup_body 'Minnie Minorperson' 'minnie.minor@example.org' "$PW" 1990-01-01 false)")
check "is_adult false: 403 underage" contains "$r" '403 {"error":{"code":"underage"'
# The 18th birthday is today (UTC); on 29 February, take the 28th, which
# is already past in a year without that day.
dob18=$($PY -c 'import datetime as d
t = d.datetime.now(d.timezone.utc).date()
print(t.replace(year=t.year - 18, day=28 if (t.month, t.day) == (2, 29) else t.day))')
check "underage: no row stored" test "$(accounts)" = "$n0"
check "underage: no name in the log" test "$(count_of "$LOG" Minorperson)" = 0
check "underage: no email in the log" test "$(count_of "$LOG" minnie.minor)" = 0
check "underage: the refusal is logged" file_contains "$LOG" "outcome=refused_underage"
r=$(req POST /v1/signup "$(signup_body 'Eighteen Today' 'eighteen@example.com' "$PW" "$dob18")")
check "exactly 18 today: 201" contains "$r" "201 "
r=$(req POST /v1/signup "$(signup_body 'Future' 'future@example.com' "$PW" 2999-01-01)")
check "date of birth in the future: 400" contains "$r" '400 {"error":{"code":"invalid_field"'
r=$(req POST /v1/signup "$(signup_body 'Bad Day' 'badday@example.com' "$PW" 1990-02-30)")
check "impossible date: 400" contains "$r" '400 {"error":{"code":"invalid_field"'
n0=$(accounts)

r=$(req POST /v1/signup "$(signup_body 'Ada Again' '  ADA@example.COM ' "$PW")")
check "duplicate email (other case): 409 email_taken" contains "$r" '409 {"error":{"code":"email_taken"'

# Password policy: length, the common list, context words.
r=$(req POST /v1/signup "$(signup_body 'Shorty' 'shorty@example.com' 'elevenchars')")
check "11 characters: 400 weak_password" contains "$r" '400 {"error":{"code":"weak_password"'
check "short: the message says 12" contains "$r" "12"
common=$(grep -v '^#' "$SRC/conf/common-passwords.txt" | grep -v '^$' | head -1)
r=$(req POST /v1/signup "$(signup_body 'Common' 'common@example.com' "$common")")
check "common password: 400 weak_password" contains "$r" '400 {"error":{"code":"weak_password"'
r=$(req POST /v1/signup "$(signup_body 'Ctx' 'ctx@example.com' 'my callixo account pw')")
check "product name in password: 400" contains "$r" '400 {"error":{"code":"weak_password"'
r=$(req POST /v1/signup "$(signup_body 'Ctx' 'zebrafinch@example.com' 'zebrafinch sings at dawn')")
check "email local part in password: 400" contains "$r" '400 {"error":{"code":"weak_password"'
r=$(req POST /v1/signup "$(signup_body 'Ctx' 'co@example.com' 'we love initech so much' 1990-01-01 true ',"company":"Initech"')")
check "company in password: 400" contains "$r" '400 {"error":{"code":"weak_password"'
r=$(req POST /v1/signup '{"name":"Nul","email":"nul@example.com","password":"abcdefghijkl\u0000mnop","date_of_birth":"1990-01-01","is_adult":true}')
check "NUL in the password: 400" contains "$r" '400 {"error":{"code":"invalid_json"'
r=$(req POST /v1/signup "$(signup_body 'Long' 'long@example.com' "$(printf 'x%.0s' $(seq 1 129))")")
check "129 characters: 400" contains "$r" '400 {"error":{"code":"weak_password"'
check "refused passwords stored nothing" test "$(accounts)" = "$n0"

# ---- strict bodies ----
r=$(req POST /v1/signup '{"name":')
check "malformed JSON: 400 invalid_json" contains "$r" '400 {"error":{"code":"invalid_json","message":"the body is not valid JSON'
r=$(req POST /v1/signup "$(signup_body 'Ct' 'ct@example.com' "$PW")" -H 'Content-Type: text/plain')
check "text/plain: 415" contains "$r" '415 {"error":{"code":"unsupported_media_type"'
r=$(req POST /v1/signup "$(signup_body 'Form' 'form@example.com' "$PW")" -H 'Content-Type: application/x-www-form-urlencoded')
check "form encoded: 415" contains "$r" "415 "
r=$(req POST /v1/signup "$(signup_body 'Unk' 'unk@example.com' "$PW" 1990-01-01 true ',"role":"staff"')")
check "unknown field: 400 naming it" contains "$r" "400 {\"error\":{\"code\":\"unknown_field\",\"message\":\"unknown field 'role'\""
r=$(req POST /v1/signup '["not","an","object"]')
check "top-level array: 400" contains "$r" '400 {"error":{"code":"invalid_json","message":"the body must be a JSON object"'
r=$(req POST /v1/signup "$(printf '{"name":"\xff\xfe","email":"u8@example.com","password":"%s","date_of_birth":"1990-01-01","is_adult":true}' "$PW")")
check "invalid UTF-8: 400 invalid_json" contains "$r" '400 {"error":{"code":"invalid_json"'
big=$(head -c 20000 /dev/zero | tr '\0' a)
r=$(req POST /v1/signup "$(signup_body "$big" 'big@example.com' "$PW")")
check "oversized body: 413" contains "$r" '413 {"error":{"code":"body_too_large"'
r=$(req POST /v1/signup '{"name":1,"email":"t@example.com","password":"x","date_of_birth":"1990-01-01","is_adult":true}')
check "wrong type: 400 naming the field" contains "$r" "field 'name' must be a string"
r=$(req POST /v1/signup '{"email":"t@example.com"}')
check "missing field: 400 naming it" contains "$r" "missing field 'name'"
check "bad bodies stored nothing" test "$(accounts)" = "$n0"

# SQL in fields is data.
inj="Robert'); DROP TABLE accounts;--"
r=$(req POST /v1/signup "$(signup_body "$inj" "x' OR '1'='1@example.com" "$PW")")
check "SQL-looking name and email: 201" contains "$r" "201 "
check "stored verbatim" test "$(sql "SELECT name FROM accounts WHERE email_norm='x'' or ''1''=''1@example.com'")" = "$inj"
check "accounts table intact" test "$(accounts)" = "$((n0 + 1))"

# ---- login and cookies ----
r=$(req POST /v1/login "{\"email\":\"ada@example.com\",\"password\":\"$PW\"}" -H 'X-Forwarded-For: 203.0.113.7, 10.0.0.1')
check "login: 200 with the account" contains "$r" '200 {"id":"acc_'
sc=$(hdr Set-Cookie)
T1=$(cookie_of)
check "login: cookie is cx_session=<43 chars>; HttpOnly; SameSite=Lax; Path=/ (no Secure on loopback)" \
	grep -qE '^cx_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Lax; Path=/$' <<<"$sc"
check "login: token not in the body" test "$(grep -c -- "$T1" <<<"$r")" = 0
check "login: logged with the forwarded address" grep -qE 'event=login outcome=succeeded ip=203\.0\.113\.7 account=acc_' "$LOG"

r=$(req GET /v1/me '' -H "$(ck "$T1")")
check "GET /v1/me with the cookie: 200" contains "$r" '200 {"id":"acc_'
check "GET /v1/me: Cache-Control: no-store" test "$(hdr Cache-Control)" = "no-store"
r=$(req GET /v1/me)
check "GET /v1/me without a cookie: 401" contains "$r" '401 {"error":{"code":"unauthenticated"'
r=$(req GET /v1/me '' -H "Cookie: cx_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
check "GET /v1/me with a made-up token: 401" contains "$r" "401 "

# Session fixation (S-5): the cookie sent at login is ended.
T2=$(login ada@example.com "$PW" -H "$(ck "$T1")")
check "login again: a new token" test -n "$T2" -a "$T2" != "$T1"
r=$(req GET /v1/me '' -H "$(ck "$T1")")
check "fixation: the cookie sent at login is dead" contains "$r" "401 "
r=$(req GET /v1/me '' -H "$(ck "$T2")")
check "fixation: the new one works" contains "$r" "200 "

# Failed logins: one answer for an unknown email and a wrong password.
ru=$(req POST /v1/login '{"email":"nobody@example.com","password":"whatever whatever"}')
rw=$(req POST /v1/login '{"email":"ada@example.com","password":"whatever whatever"}')
check "failed login: 401 invalid_credentials" contains "$rw" '401 {"error":{"code":"invalid_credentials"'
check "failed login: unknown email and wrong password answer the same" test "$ru" = "$rw"
check "failed login: no cookie" test -z "$(hdr Set-Cookie)"
check "failed login: logged" grep -qE 'event=login outcome=failed ip=unknown account=nobody@example.com' "$LOG"

# Policy (R-1): asked before verifying; a deny is 429 with Retry-After.
r=$(req POST /v1/login '{"email":"Blocked@Example.com","password":"whatever whatever"}')
check "policy deny on login: 429 rate_limited" contains "$r" '429 {"error":{"code":"rate_limited"'
check "policy deny: Retry-After from the reason" test "$(hdr Retry-After)" = 42
r=$(req POST /v1/signup "$(signup_body 'Blocked' 'blocked@example.com' "$PW")")
check "policy deny on signup: 429" contains "$r" "429 "
check "policy deny: logged" file_contains "$LOG" "outcome=rate_limited"

# Login outcomes reach the bus as auth.login.failed / .succeeded {ip, account}.
check "event auth.login.failed published" wait_for "$EVENTS" '"auth.login.failed"' 5
check "event has ip and normalized account" grep -qE '"auth\.login\.failed".*("account": ?"nobody@example.com".*"ip": ?"unknown"|"ip": ?"unknown".*"account": ?"nobody@example.com")' "$EVENTS"
check "event auth.login.succeeded published" grep -qE '"auth\.login\.succeeded".*"203\.0\.113\.7"' "$EVENTS"

# ---- CSRF (X-1) ----
r=$(ORG=https://evil.example req POST /v1/logout '' -H "$(ck "$T2")")
check "logout from a foreign Origin: 403" contains "$r" '403 {"error":{"code":"forbidden_origin"'
r=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "$(ck "$T2")" "$BASE/v1/logout")
check "logout without Origin or Referer: 403" test "$r" = 403
r=$(ORG= req POST /v1/logout '' -H "$(ck "$T2")" -H "Referer: https://evil.example/page")
check "logout with a foreign Referer: 403" contains "$r" "403 "
r=$(ORG=https://evil.example req POST /v1/login "{\"email\":\"ada@example.com\",\"password\":\"$PW\"}")
check "login from a foreign Origin: 403" contains "$r" "403 "
r=$(req GET /v1/me '' -H "$(ck "$T2")")
check "the refused requests changed nothing" contains "$r" "200 "

# ---- logout (S-7) ----
r=$(ORG= req POST /v1/logout '' -H "$(ck "$T2")" -H "Referer: $BASE/app/settings")
check "logout (same-origin Referer): 200" contains "$r" "200 "
check "logout: Clear-Site-Data" test "$(hdr Clear-Site-Data)" = '"cookies"'
check "logout: cookie cleared" grep -qE '^cx_session=; Max-Age=0; HttpOnly; SameSite=Lax; Path=/$' <<<"$(hdr Set-Cookie)"
r=$(req GET /v1/me '' -H "$(ck "$T2")")
check "logout: replayed cookie is 401" contains "$r" "401 "

# ---- logout-all (S-8) ----
A=$(login ada@example.com "$PW")
B=$(login ada@example.com "$PW")
r=$(req POST /v1/logout-all '' -H "$(ck "$A")")
check "logout-all: 200, 2 sessions ended" contains "$r" '"sessions_ended":2'
r=$(req GET /v1/me '' -H "$(ck "$B")")
check "logout-all: the other session is dead" contains "$r" "401 "

# ---- PATCH /v1/me ----
A=$(login ada@example.com "$PW")
r=$(req PATCH /v1/me '{"name":"Ada King","company":null}' -H "$(ck "$A")")
check "PATCH name: 200" contains "$r" '"name":"Ada King"'
r=$(req PATCH /v1/me '{"email":"ada.king@example.com"}' -H "$(ck "$A")")
check "PATCH email without current_password: 403 reauth_required" contains "$r" '403 {"error":{"code":"reauth_required"'
r=$(req PATCH /v1/me '{"email":"ada.king@example.com","current_password":"wrong wrong wrong"}' -H "$(ck "$A")")
check "PATCH email with a wrong password: 403" contains "$r" '403 {"error":{"code":"invalid_credentials"'
r=$(req PATCH /v1/me "{\"email\":\"eighteen@example.com\",\"current_password\":\"$PW\"}" -H "$(ck "$A")")
check "PATCH to a taken email: 409" contains "$r" '409 {"error":{"code":"email_taken"'
r=$(req PATCH /v1/me "{\"email\":\"ada.king@example.com\",\"current_password\":\"$PW\"}" -H "$(ck "$A")")
check "PATCH email with the password: 200" contains "$r" '"email":"ada.king@example.com"'
r=$(req PATCH /v1/me '{"password_hash":"x"}' -H "$(ck "$A")")
check "PATCH password_hash: unknown field" contains "$r" "unknown field 'password_hash'"

# ---- password change (A-4, S-8) ----
B=$(login ada.king@example.com "$PW")
r=$(req POST /v1/me/password "{\"current_password\":\"nope nope nope\",\"new_password\":\"$PW2\"}" -H "$(ck "$A")")
check "password change with a wrong current password: 403" contains "$r" "403 "
r=$(req POST /v1/me/password "{\"current_password\":\"$PW\",\"new_password\":\"short\"}" -H "$(ck "$A")")
check "password change to a weak one: 400" contains "$r" '400 {"error":{"code":"weak_password"'
r=$(req POST /v1/me/password "{\"current_password\":\"$PW\",\"new_password\":\"$PW2\"}" -H "$(ck "$A")")
check "password change: 200" contains "$r" '"status":"password_changed"'
C=$(cookie_of)
check "password change: a new session cookie" test -n "$C" -a "$C" != "$A"
r=$(req GET /v1/me '' -H "$(ck "$B")"); check "password change: other session dead" contains "$r" "401 "
r=$(req GET /v1/me '' -H "$(ck "$A")"); check "password change: old own session dead" contains "$r" "401 "
r=$(req GET /v1/me '' -H "$(ck "$C")"); check "password change: new session works" contains "$r" "200 "
check "old password no longer logs in" test -z "$(login ada.king@example.com "$PW")"
check "new password logs in" test -n "$(login ada.king@example.com "$PW2")"

# ---- legacy bcrypt (H-5, H-6) ----
stop_daemon
check "SIGTERM exits 0" test "$RC" = 0
$PY - "$DB" <<'PYEOF'
import bcrypt, sqlite3, sys, time
h = bcrypt.hashpw(b"legacy password 1234", bcrypt.gensalt(rounds=10)).decode()
now = int(time.time() * 1000)
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO accounts (id, name, email, email_norm, password_hash,"
           " created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
           ("acc_legacy0000000000000000", "Legacy", "old@example.com",
            "old@example.com", h, now, now))
db.commit()
PYEOF
check "bcrypt row inserted" test "$(sql "SELECT substr(password_hash,1,4) FROM accounts WHERE id='acc_legacy0000000000000000'")" = '$2b$'
start_daemon "$CONF" "$TMP/daemon2.log"
LOG=$TMP/daemon2.log
check "daemon restarts" wait_for "$LOG" "msg=ready" 20
check "bcrypt account: wrong password refused" test -z "$(login old@example.com 'legacy password 12345')"
check "bcrypt account: still bcrypt after a failure" test "$(sql "SELECT substr(password_hash,1,4) FROM accounts WHERE id='acc_legacy0000000000000000'")" = '$2b$'
T=$(login old@example.com 'legacy password 1234')
check "bcrypt account logs in" test -n "$T"
check "its hash is now argon2id" test "$(sql "SELECT substr(password_hash,1,10) FROM accounts WHERE id='acc_legacy0000000000000000'")" = '$argon2id$'
check "the upgrade is logged" file_contains "$LOG" "detail=hash_upgraded"
check "logs in again with the new hash" test -n "$(login old@example.com 'legacy password 1234')"

# Nothing secret in any log line.
for f in "$TMP"/daemon*.log; do
	check "$(basename "$f"): no password" test "$(grep -cE "correct horse|different long passphrase|legacy password" "$f")" = 0
	check "$(basename "$f"): no session token" test "$(grep -cF -- "$T1" "$f")" = 0
done
stop_daemon
check "second stop exits 0" test "$RC" = 0
finish
