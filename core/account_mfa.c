/*
 * account_mfa.c - reading and compare-and-setting the TOTP columns of an
 * account (see account_mfa.h for why they live outside cxi_ent_account).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account_mfa.h"
#include "repo.h"

cx_err
cxi_mfa_get(const cxi_db *db, const char *id, cxi_mfa *m)
{
	cxi_dbc c;
	cx_db_rows *rows = NULL;
	cx_db_value p[] = {CX_DB_V_TEXT(id)};
	memset(m, 0, sizeof(*m));
	m->step = CXI_TOTP_NO_STEP;
	if (id == NULL) {
		return (CX_EINVAL);
	}
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv != CX_OK) {
		return (rv);
	}
	rv = cxi_db_exec(&c, "SELECT totp_secret_enc, totp_enabled, "
	    "totp_step, recovery_codes FROM accounts WHERE id = $1", p, 1,
	    &rows, NULL);
	if (rv == CX_OK && cxi_db_rows_count(&c, rows) == 0) {
		rv = CX_ENOENT;
	}
	if (rv == CX_OK) {
		const char *s = cxi_db_text(&c, rows, 0, 0);
		const char *r = cxi_db_text(&c, rows, 0, 3);
		/* Anything that does not fit is damaged: treated as none,
		 * which refuses every code rather than crashing. */
		if (s != NULL && strlen(s) < sizeof(m->secret)) {
			memcpy(m->secret, s, strlen(s) + 1);
		}
		if (r != NULL && strlen(r) < sizeof(m->recovery)) {
			memcpy(m->recovery, r, strlen(r) + 1);
		}
		m->enabled = cxi_db_int(&c, rows, 0, 1, 0) != 0;
		m->step = cxi_db_int(&c, rows, 0, 2, CXI_TOTP_NO_STEP);
	}
	cxi_db_rows_free(&c, rows);
	cxi_db_release(&c);
	return (rv);
}

/* One UPDATE; CX_EDENIED when it changed no row (the compare failed). */
static cx_err
cas(const cxi_db *db, const char *sql, const cx_db_value *p, size_t n)
{
	int64_t changes = 0;
	cx_err rv = cxi_repo_exec(db, &cxi_ent_account, sql, p, n, &changes,
	    NULL, 0);
	if (rv != CX_OK) {
		return (rv);
	}
	return (changes == 1 ? CX_OK : CX_EDENIED);
}

cx_err
cxi_mfa_set_pending(const cxi_db *db, const char *id, const char *secret_b32)
{
	cx_db_value p[] = {CX_DB_V_TEXT(secret_b32), CX_DB_V_TEXT(id)};
	cx_err rv = cas(db, "UPDATE accounts SET totp_secret_enc = $1, "
	    "totp_step = -1, recovery_codes = NULL WHERE id = $2 AND "
	    "totp_enabled = 0", p, 2);
	return (rv == CX_EDENIED ? CX_EEXIST : rv);
}

/* The step a code matches for secret `b32` after `last`. */
static cx_err
verify(const char *b32, int64_t last, const char *code, int64_t *step)
{
	uint8_t key[CXI_TOTP_SECRET_LEN];
	char digits[CXI_TOTP_DIGITS + 1];
	size_t klen = 0;
	if (b32[0] == '\0' || cxi_totp_b32_decode(b32, strlen(b32), key,
	                          sizeof(key), &klen) != CX_OK) {
		return (CX_EDENIED);
	}
	cx_err rv = cxi_totp_parse_code(code, strlen(code), digits);
	if (rv == CX_OK) {
		rv = cxi_totp_verify(key, klen, digits, (int64_t) time(NULL),
		    last, step);
	}
	sodium_memzero(key, sizeof(key));
	return (rv);
}

cx_err
cxi_mfa_use_code(const cxi_db *db, const char *id, const cxi_mfa *m,
    const char *code)
{
	int64_t step;
	if (!m->enabled) {
		return (CX_EDENIED);
	}
	cx_err rv = verify(m->secret, m->step, code, &step);
	if (rv != CX_OK) {
		return (rv);
	}
	/* RFC 6238 5.2: the step is the replay guard. Only the request whose
	 * UPDATE moves it forward wins; a concurrent twin changes no row. */
	cx_db_value p[] = {CX_DB_V_INT(step), CX_DB_V_TEXT(id),
	    CX_DB_V_INT(step)};
	return (cas(db, "UPDATE accounts SET totp_step = $1 WHERE id = $2 "
	    "AND totp_enabled = 1 AND totp_step < $3", p, 3));
}

cx_err
cxi_mfa_use_recovery(const cxi_db *db, const char *id, const cxi_mfa *m,
    const char *code, int *left)
{
	cxi_recovery_set set;
	char enc[CXI_RECOVERY_ENC_LEN];
	int idx;
	*left = 0;
	if (!m->enabled || m->recovery[0] == '\0' ||
	    cxi_recovery_decode(m->recovery, strlen(m->recovery), &set) !=
	        CX_OK) {
		return (CX_EDENIED);
	}
	cx_err rv = cxi_recovery_use(&set, code, &idx);
	if (rv == CX_OK) {
		rv = cxi_recovery_encode(&set, enc, sizeof(enc));
	}
	if (rv == CX_OK) {
		*left = cxi_recovery_remaining(&set);
		/* The set read is the set replaced: a concurrent use of
		 * another (or the same) code makes this one fail. */
		cx_db_value p[] = {CX_DB_V_TEXT(enc), CX_DB_V_TEXT(id),
		    CX_DB_V_TEXT(m->recovery)};
		rv = cas(db, "UPDATE accounts SET recovery_codes = $1 WHERE "
		    "id = $2 AND totp_enabled = 1 AND recovery_codes = $3", p,
		    3);
	}
	sodium_memzero(&set, sizeof(set));
	return (rv);
}

cx_err
cxi_mfa_enable(const cxi_db *db, const char *id, const char *code,
    cxi_recovery_codes *codes)
{
	cxi_mfa m;
	cxi_recovery_set set;
	char enc[CXI_RECOVERY_ENC_LEN];
	int64_t step;
	cx_err rv = cxi_mfa_get(db, id, &m);
	if (rv != CX_OK) {
		return (rv);
	}
	if (m.enabled) {
		return (CX_EEXIST);
	}
	if (m.secret[0] == '\0') {
		return (CX_ENOENT);
	}
	if ((rv = verify(m.secret, m.step, code, &step)) != CX_OK ||
	    (rv = cxi_recovery_generate(&set, codes)) != CX_OK) {
		goto done;
	}
	rv = cxi_recovery_encode(&set, enc, sizeof(enc));
	if (rv == CX_OK) {
		/* Same secret as verified, still pending, step moving
		 * forward: otherwise another request got there first. */
		cx_db_value p[] = {CX_DB_V_INT(step), CX_DB_V_TEXT(enc),
		    CX_DB_V_TEXT(id), CX_DB_V_TEXT(m.secret),
		    CX_DB_V_INT(step)};
		rv = cas(db, "UPDATE accounts SET totp_enabled = 1, "
		    "totp_step = $1, recovery_codes = $2 WHERE id = $3 AND "
		    "totp_enabled = 0 AND totp_secret_enc = $4 AND "
		    "totp_step < $5", p, 5);
	}
	if (rv != CX_OK) {
		sodium_memzero(codes, sizeof(*codes));
	}
done:
	sodium_memzero(&set, sizeof(set));
	sodium_memzero(&m, sizeof(m));
	return (rv);
}

cx_err
cxi_mfa_clear(const cxi_db *db, const char *id)
{
	cx_db_value p[] = {CX_DB_V_TEXT(id)};
	cx_err rv = cas(db, "UPDATE accounts SET totp_secret_enc = NULL, "
	    "totp_enabled = 0, totp_step = -1, recovery_codes = NULL WHERE "
	    "id = $1", p, 1);
	return (rv == CX_EDENIED ? CX_ENOENT : rv);
}

cx_err
cxi_mfa_new_secret(const char *account, char b32[CXI_TOTP_B32_LEN + 1],
    char **uri)
{
	uint8_t key[CXI_TOTP_SECRET_LEN];
	cx_err rv = cxi_totp_secret_new(key);
	if (rv == CX_OK) {
		rv = cxi_totp_b32_encode(key, sizeof(key), b32,
		    CXI_TOTP_B32_LEN + 1);
	}
	if (rv == CX_OK) {
		rv = cxi_totp_uri(NULL, account, key, sizeof(key), uri);
	}
	sodium_memzero(key, sizeof(key));
	return (rv);
}
