#!/bin/bash
# keys_vault_test.sh - API keys and the credential vault end to end on
# callixod with SQLite: a key shown once and stored as a hash, Bearer
# auth with read/write scopes, revocation, IDOR; provider credentials
# stored as Fernet tokens that Python `cryptography` decrypts (byte
# compatibility), only last4 shown, `callixoctl vault rotate` under a new
# first key keeping timestamps, and no secret in the daemon log.
. "$(dirname "$0")/lib.sh"

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
CONF=$TMP/callixo.yaml
LOG=$TMP/daemon.log
DB=$TMP/data/plugins/sqlite/callixo.db
KEYS=$TMP/data/vault.keys
export CALLIXO_ADMIN_SOCKET=$TMP/data/admin.sock
unset CALLIXO_VAULT_KEYS

cat >"$CONF" <<YAML
server:
  listen: http://127.0.0.1:$PORT
  shutdown_grace: 2s
data_dir: $TMP/data
plugin_dir: $BUILD/plugins
auth:
  argon2: {opslimit: 1, memlimit_mib: 46}
plugins:
  - name: sqlite
    kind: storage
    required: true
YAML

bearer() { echo "Authorization: Bearer $1"; }
field() { $PY -c 'import json, sys
v = json.loads(sys.argv[1].split(" ", 1)[1])
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$1" "$2"; }
signup() { req POST /v1/signup "{\"name\":\"$1\",\"email\":\"$2\",\"password\":\"$PW\",\"date_of_birth\":\"1990-04-01\",\"is_adult\":true}" >/dev/null; }
login() { req POST /v1/login "{\"email\":\"$1\",\"password\":\"$PW\"}" >/dev/null; cookie_of; }
# fernet KEYFILE-OR-KEYS TOKEN [ts] -> plaintext (or the timestamp), "FAIL"
# when no key opens it. Keys: comma or newline separated, newest first.
fernet() { $PY -c 'import sys
from cryptography.fernet import Fernet, MultiFernet, InvalidToken
keys = [k for k in sys.argv[1].replace(",", "\n").split() if k]
f = MultiFernet([Fernet(k) for k in keys])
try:
    print(f.extract_timestamp(sys.argv[2].encode()) if len(sys.argv) > 3
          else f.decrypt(sys.argv[2].encode()).decode())
except InvalidToken:
    print("FAIL")' "$@"; }

PW='correct horse battery staple'
TW_SID='AC0123456789abcdef0123456789abcd'
TW_TOK='twilioSecretToken9876wxyz'
DG_KEY='deepgramSecretKeyQRSTuv42'

start_daemon "$CONF" "$LOG"
check "daemon starts" wait_for "$LOG" "msg=ready" 20
check "vault key file generated" test -s "$KEYS"
check "vault key file is 0600" test "$(stat -c %a "$KEYS")" = 600
check "the generation is logged" file_contains "$LOG" "generated a new vault key"
OLDKEY=$(tr -d '\n' <"$KEYS")

signup 'Ada Lovelace' ada@example.com
signup 'Bob Builder' bob@example.com
A=$(login ada@example.com)
B=$(login bob@example.com)
check "both accounts log in" test -n "$A" -a -n "$B"

# ---- API keys ----
r=$(req POST /v1/api-keys '{"name":"ci","scope":"write"}' -H "$(ck "$A")")
check "create key: 201" contains "$r" "201 "
KW=$(field "$r" key)
KW_ID=$(field "$r" id)
check "key is cx_ + 43 base64url chars" grep -qE '^cx_[A-Za-z0-9_-]{43}$' <<<"$KW"
check "prefix is the 8 chars after cx_" test "$(field "$r" prefix)" = "${KW:3:8}"
check "no hash in the answer" test "$(grep -c key_hash <<<"$r")" = 0
r=$(req GET /v1/api-keys '' -H "$(ck "$A")")
check "list: 200 with the key's prefix" contains "$r" "\"prefix\":\"${KW:3:8}\""
check "list: the key is never shown again" test "$(grep -cF -- "$KW" <<<"$r")" = 0
check "list: no hash" test "$(grep -c key_hash <<<"$r")" = 0
check "list: last_used_at null before use" contains "$r" '"last_used_at":null'
HASH=$(printf %s "$KW" | sha256sum | cut -d' ' -f1)
check "DB: key_hash is the SHA-256 hex of the key" test "$(sql "SELECT key_hash FROM api_keys WHERE id='$KW_ID'")" = "$HASH"
check "DB: the key text is stored nowhere" $PY -c 'import sys, glob
data = b"".join(open(f, "rb").read() for f in glob.glob(sys.argv[1] + "*"))
sys.exit(sys.argv[2].encode() in data)' "$DB" "$KW"

r=$(ORG= req GET /v1/me '' -H "$(bearer "$KW")")
check "bearer (write): GET /v1/me works" contains "$r" '200 {"id":"acc_'
check "bearer: last_used_at recorded" test -n "$(sql "SELECT last_used_at FROM api_keys WHERE id='$KW_ID'")"
r=$(ORG= req PATCH /v1/me '{"name":"Ada L"}' -H "$(bearer "$KW")")
check "bearer (write): PATCH without Origin works" contains "$r" '200 {"id":"acc_'
r=$(ORG= req POST /v1/api-keys '{"name":"x","scope":"write"}' -H "$(bearer "$KW")")
check "a key cannot create keys: 403 session_required" contains "$r" '403 {"error":{"code":"session_required"'
r=$(ORG= req POST /v1/logout-all '' -H "$(bearer "$KW")")
check "a key cannot end every session: 403 session_required" contains "$r" '403 {"error":{"code":"session_required"'
r=$(ORG= req POST /v1/me/password "{\"current_password\":\"$PW\",\"new_password\":\"another long passphrase 42\"}" -H "$(bearer "$KW")")
check "a key cannot change the password: 403 session_required" contains "$r" '403 {"error":{"code":"session_required"'
r=$(req GET /v1/me '' -H "$(ck "$A")")
check "the session survived both attempts" contains "$r" '200 {"id":"acc_'
r=$(req POST /v1/login "{\"email\":\"ada@example.com\",\"password\":\"$PW\"}")
check "the password is unchanged" contains "$r" '200 {"id":"acc_'
r=$(ORG= req POST /v1/api-keys '{"name":"x","scope":"write"}' -H "$(ck "$A")")
check "cookie auth still needs Origin: 403" contains "$r" '403 {"error":{"code":"forbidden_origin"'
r=$(req POST /v1/api-keys '{"name":"x","scope":"admin"}' -H "$(ck "$A")")
check "bad scope: 400" contains "$r" '400 {"error":{"code":"invalid_field"'

r=$(req POST /v1/api-keys '{"name":"dash","scope":"read"}' -H "$(ck "$A")")
KR=$(field "$r" key)
KR_ID=$(field "$r" id)
r=$(ORG= req GET /v1/me '' -H "$(bearer "$KR")")
check "bearer (read): GET works" contains "$r" "200 "
r=$(ORG= req PATCH /v1/me '{"name":"Mallory"}' -H "$(bearer "$KR")")
check "bearer (read): PATCH is 403 insufficient_scope" contains "$r" '403 {"error":{"code":"insufficient_scope"'
r=$(ORG= req PUT /v1/credentials/deepgram "{\"api_key\":\"$DG_KEY\"}" -H "$(bearer "$KR")")
check "bearer (read): PUT credential is 403" contains "$r" '403 {"error":{"code":"insufficient_scope"'
r=$(ORG= req GET /v1/me '' -H "$(bearer "cx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")")
check "unknown key: 401" contains "$r" '401 {"error":{"code":"unauthenticated"'
r=$(ORG= req GET /v1/me '' -H "$(bearer "not-a-key")")
check "malformed key: 401" contains "$r" "401 "

r=$(req DELETE /v1/api-keys/"$KR_ID" '' -H "$(ck "$B")")
check "IDOR: Bob revoking Ada's key is 404" contains "$r" '404 {"error":{"code":"not_found"'
r=$(ORG= req GET /v1/me '' -H "$(bearer "$KR")")
check "IDOR: the key still works" contains "$r" "200 "
r=$(ORG= req DELETE /v1/api-keys/"$KR_ID" '' -H "$(bearer "$KW")")
check "a key cannot revoke keys: 403" contains "$r" '403 {"error":{"code":"session_required"'
r=$(req DELETE /v1/api-keys/"$KR_ID" '' -H "$(ck "$A")")
check "revoke: 200" contains "$r" '200 {"id":"'"$KR_ID"'","status":"revoked"}'
r=$(ORG= req GET /v1/me '' -H "$(bearer "$KR")")
check "revoked key: 401" contains "$r" '401 {"error":{"code":"unauthenticated"'
r=$(req GET /v1/api-keys '' -H "$(ck "$A")")
check "revoked key leaves the list" test "$(grep -cF -- "$KR_ID" <<<"$r")" = 0
r=$(req DELETE /v1/api-keys/key_nope '' -H "$(ck "$A")")
check "unknown key id: 404" contains "$r" "404 "
r=$(req GET /v1/api-keys '' -H "$(ck "$B")")
check "Bob sees none of Ada's keys" contains "$r" '200 {"items":[]}'

# ---- credential vault ----
r=$(req PUT /v1/credentials/twilio "{\"account_sid\":\"$TW_SID\",\"auth_token\":\"$TW_TOK\"}" -H "$(ck "$A")")
check "PUT twilio: 201" contains "$r" "201 "
check "PUT twilio: last4 of the auth token" contains "$r" '"last4":"wxyz"'
check "PUT twilio: default name" contains "$r" '"name":"default"'
check "PUT twilio: no secret in the answer" test "$(grep -cE "$TW_TOK|$TW_SID|secret_enc" <<<"$r")" = 0
C1=$(field "$r" id)
r=$(ORG= req PUT /v1/credentials/deepgram "{\"api_key\":\"$DG_KEY\",\"name\":\"main\"}" -H "$(bearer "$KW")")
check "PUT deepgram with a write key, no Origin: 201" contains "$r" "201 "
C2=$(field "$r" id)
r=$(req PUT /v1/credentials/acme '{"api_key":"abcdefgh1234"}' -H "$(ck "$A")")
check "unknown provider: 404" contains "$r" '404 {"error":{"code":"unknown_provider"'
r=$(req PUT /v1/credentials/twilio "{\"account_sid\":\"$TW_SID\"}" -H "$(ck "$A")")
check "twilio without auth_token: 400" contains "$r" '400 {"error":{"code":"missing_field"'
r=$(req PUT /v1/credentials/retell "{\"api_key\":\"$DG_KEY\",\"auth_token\":\"x\"}" -H "$(ck "$A")")
check "retell with a twilio field: 400" contains "$r" '400 {"error":{"code":"unknown_field"'
r=$(req PUT /v1/credentials/retell '{"api_key":"short"}' -H "$(ck "$A")")
check "a main secret under 8 chars: 400" contains "$r" '400 {"error":{"code":"invalid_field"'
r=$(ORG= req PUT /v1/credentials/retell '{"api_key":"abcdefgh1234"}' -H "$(ck "$A")")
check "cookie PUT without Origin: 403" contains "$r" '403 {"error":{"code":"forbidden_origin"'

r=$(req GET /v1/credentials '' -H "$(ck "$A")")
check "list: both credentials" test "$(grep -o '"id":"cred_' <<<"$r" | wc -l)" = 2
check "list: last4 only" contains "$r" '"last4":"uv42"'
check "list: no secret" test "$(grep -cE "$TW_TOK|$DG_KEY|$TW_SID|secret_enc" <<<"$r")" = 0
r=$(req GET /v1/credentials '' -H "$(ck "$B")")
check "Bob's list is empty" contains "$r" '200 {"items":[]}'
r=$(req DELETE /v1/credentials/"$C1" '' -H "$(ck "$B")")
check "IDOR: Bob deleting Ada's credential is 404" contains "$r" '404 {"error":{"code":"not_found"'
r=$(req PUT /v1/credentials/twilio "{\"account_sid\":\"$TW_SID\",\"auth_token\":\"$TW_TOK\"}" -H "$(ck "$B")")
C3=$(field "$r" id)
check "Bob's own twilio credential is a separate row" test -n "$C3" -a "$C3" != "$C1"

TOK1=$(sql "SELECT secret_enc FROM credentials WHERE id='$C1'")
check "DB: the secret is not stored in clear" test "$(grep -cE "$TW_TOK|$TW_SID" <<<"$TOK1")" = 0
check "DB: a Fernet token (gAAAAA...)" grep -q '^gAAAAA' <<<"$TOK1"
check "DB: Python Fernet decrypts it to the JSON of the secret fields" \
	test "$(fernet "$OLDKEY" "$TOK1")" = "{\"account_sid\":\"$TW_SID\",\"auth_token\":\"$TW_TOK\"}"
check "DB: the deepgram token too" test "$(fernet "$OLDKEY" "$(sql "SELECT secret_enc FROM credentials WHERE id='$C2'")")" = "{\"api_key\":\"$DG_KEY\"}"

# Replacing a secret keeps the row.
TW_TOK2='twilioRotatedToken1234abcd'
r=$(req PUT /v1/credentials/twilio "{\"account_sid\":\"$TW_SID\",\"auth_token\":\"$TW_TOK2\"}" -H "$(ck "$A")")
check "PUT again: 200, same id, new last4" contains "$r" "200 {\"id\":\"$C1\""
check "PUT again: last4 updated" contains "$r" '"last4":"abcd"'
check "PUT again: one twilio row for Ada" test "$(sql "SELECT count(*) FROM credentials WHERE provider='twilio'")" = 2

# ---- rotation: a new first key ----
before() { sql "SELECT secret_enc FROM credentials WHERE id='$1'"; }
T1=$(before "$C1"); T2=$(before "$C2"); T3=$(before "$C3")
TS1=$(fernet "$OLDKEY" "$T1" ts); TS2=$(fernet "$OLDKEY" "$T2" ts)
UPD1=$(sql "SELECT updated_at FROM credentials WHERE id='$C1'")
stop_daemon
check "stops cleanly" test "$RC" = 0
NEWKEY=$($PY -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
export CALLIXO_VAULT_KEYS="$NEWKEY,$OLDKEY"
start_daemon "$CONF" "$TMP/daemon2.log"
check "restarts with two keys from the environment" wait_for "$TMP/daemon2.log" "msg=ready" 20
check "it says where the keys came from" file_contains "$TMP/daemon2.log" "2 vault keys from CALLIXO_VAULT_KEYS"
out=$("$CTL" vault rotate 2>&1)
check "vault rotate: 3 rotated" test "$out" = "rotated 3 credentials"
N1=$(before "$C1"); N2=$(before "$C2"); N3=$(before "$C3")
check "rotated tokens changed" test "$N1" != "$T1" -a "$N2" != "$T2" -a "$N3" != "$T3"
check "the new key alone decrypts them" test "$(fernet "$NEWKEY" "$N1")" = "{\"account_sid\":\"$TW_SID\",\"auth_token\":\"$TW_TOK2\"}"
check "the new key alone decrypts deepgram" test "$(fernet "$NEWKEY" "$N2")" = "{\"api_key\":\"$DG_KEY\"}"
check "the old key alone no longer does" test "$(fernet "$OLDKEY" "$N1")" = FAIL
check "timestamps kept (twilio)" test "$(fernet "$NEWKEY" "$N1" ts)" = "$TS1"
check "timestamps kept (deepgram)" test "$(fernet "$NEWKEY" "$N2" ts)" = "$TS2"
check "updated_at unchanged" test "$(sql "SELECT updated_at FROM credentials WHERE id='$C1'")" = "$UPD1"
out=$("$CTL" --json vault rotate 2>&1)
check "vault rotate --json" contains "$out" '"rotated": 3'
N1J=$(before "$C1")
check "a second rotate keeps the timestamp too" test "$(fernet "$NEWKEY" "$N1J" ts)" = "$TS1"
A=$(login ada@example.com)
r=$(req GET /v1/credentials '' -H "$(ck "$A")")
check "after rotation the API still lists last4" contains "$r" '"last4":"abcd"'

# An unreadable token is reported, not lost.
stop_daemon
check "second stop exits 0" test "$RC" = 0
export CALLIXO_VAULT_KEYS="$($PY -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
start_daemon "$CONF" "$TMP/daemon3.log"
check "restarts with an unrelated key" wait_for "$TMP/daemon3.log" "msg=ready" 20
out=$("$CTL" vault rotate 2>&1)
check "rotate with no matching key: failure reported" contains "$out" "3 could not be decrypted"
check "the tokens are left as they were" test "$(before "$C1")" = "$N1J"
A=$(login ada@example.com)
r=$(req DELETE /v1/credentials/"$C2" '' -H "$(ck "$A")")
check "delete: 200" contains "$r" "200 {\"id\":\"$C2\",\"status\":\"deleted\"}"
r=$(req DELETE /v1/credentials/"$C2" '' -H "$(ck "$A")")
check "delete again: 404" contains "$r" "404 "
stop_daemon
check "third stop exits 0" test "$RC" = 0
unset CALLIXO_VAULT_KEYS

# Nothing secret in any log line.
for f in "$TMP"/daemon*.log; do
	n=$(grep -cF -e "$KW" -e "$KR" -e "$TW_TOK" -e "$TW_TOK2" -e "$DG_KEY" \
		-e "$TW_SID" -e "$OLDKEY" -e "$NEWKEY" -e "$HASH" "$f")
	check "$(basename "$f"): no key, secret or vault key" test "$n" = 0
done
finish
