/*
 * repo_account.c - accounts, sessions, API keys, credentials and the
 * wrapped per-account keys behind blob encryption.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo.h"

/* ---- accounts ---- */

cx_err
cxi_account_get_by_email(const cxi_db *db, const char *email, json_t **row)
{
	char norm[321];
	if (email == NULL ||
	    cxi_email_normalize(email, norm, sizeof(norm)) != 0) {
		return (CX_ENOENT);
	}
	cxi_dbc c;
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv == CX_OK) {
		rv = cxi_repo_find_c(&c, &cxi_ent_account, "email_norm", norm,
		    row);
		cxi_db_release(&c);
	}
	return (rv);
}

cx_err
cxi_account_close(const cxi_db *db, const char *id)
{
	return (cxi_repo_set(db, &cxi_ent_account, NULL, id,
	    json_pack("{s:I}", "closed_at", (json_int_t) cxi_repo_now_ms())));
}

cx_err
cxi_account_restrict(const cxi_db *db, const char *id, bool on)
{
	return (cxi_repo_set(db, &cxi_ent_account, NULL, id,
	    on ? json_pack("{s:I}", "restricted_at",
	             (json_int_t) cxi_repo_now_ms()) :
	         json_pack("{s:n}", "restricted_at")));
}

/* ---- revocable rows (sessions, API keys) ---- */

/* Sets revoked_at once: revoking again keeps the first time, and is not
 * an error; a row outside the account's scope is CX_ENOENT. */
static cx_err
revoke(const cxi_db *db, const cxi_entity *ent, const char *account,
    const char *id)
{
	cx_err rv = cxi_repo_get(db, ent, account, id, NULL);
	if (rv != CX_OK) {
		return (rv);
	}
	char sql[160];
	snprintf(sql, sizeof(sql), "UPDATE %s SET revoked_at = $1 WHERE "
	    "id = $2 AND revoked_at IS NULL", ent->table);
	cx_db_value p[] = {CX_DB_V_INT(cxi_repo_now_ms()), CX_DB_V_TEXT(id)};
	return (cxi_repo_exec(db, ent, sql, p, 2, NULL, NULL, 0));
}

/* A row found by a unique hash that is usable: not revoked and, when it
 * has expires_at, not expired. */
static cx_err
find_live(const cxi_db *db, const cxi_entity *ent, const char *col,
    const char *hash, json_t **row)
{
	cxi_dbc c;
	json_t *r = NULL;
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv != CX_OK) {
		return (rv);
	}
	rv = cxi_repo_find_c(&c, ent, col, hash, &r);
	cxi_db_release(&c);
	if (rv != CX_OK) {
		return (rv);
	}
	json_t *exp = json_object_get(r, "expires_at");
	if (!json_is_null(json_object_get(r, "revoked_at")) ||
	    (exp != NULL && json_integer_value(exp) <= cxi_repo_now_ms())) {
		json_decref(r);
		return (CX_ENOENT);
	}
	if (row != NULL) {
		*row = r;
	} else {
		json_decref(r);
	}
	return (CX_OK);
}

/* ---- sessions ---- */

cx_err
cxi_session_get_by_token_hash(const cxi_db *db, const char *token_hash,
    json_t **row)
{
	return (find_live(db, &cxi_ent_session, "token_hash", token_hash,
	    row));
}

cx_err
cxi_session_revoke(const cxi_db *db, const char *account, const char *id)
{
	return (revoke(db, &cxi_ent_session, account, id));
}

cx_err
cxi_session_revoke_all(const cxi_db *db, const char *account,
    int64_t *n_revoked)
{
	if (account == NULL) {
		return (CX_EINVAL);
	}
	cx_db_value p[] = {CX_DB_V_INT(cxi_repo_now_ms()),
	    CX_DB_V_TEXT(account)};
	int64_t n = 0;
	cx_err rv = cxi_repo_exec(db, &cxi_ent_session,
	    "UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 AND "
	    "revoked_at IS NULL",
	    p, 2, &n, NULL, 0);
	if (n_revoked != NULL) {
		*n_revoked = rv == CX_OK ? n : 0;
	}
	return (rv);
}

cx_err
cxi_session_touch(const cxi_db *db, const char *id)
{
	if (id == NULL) {
		return (CX_EINVAL);
	}
	cx_db_value p[] = {CX_DB_V_INT(cxi_repo_now_ms()), CX_DB_V_TEXT(id)};
	int64_t n = 0;
	cx_err rv = cxi_repo_exec(db, &cxi_ent_session,
	    "UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND "
	    "revoked_at IS NULL",
	    p, 2, &n, NULL, 0);
	return (rv == CX_OK && n == 0 ? CX_ENOENT : rv);
}

/* ---- API keys ---- */

cx_err
cxi_api_key_get_by_hash(const cxi_db *db, const char *key_hash,
    json_t **row)
{
	return (find_live(db, &cxi_ent_api_key, "key_hash", key_hash, row));
}

cx_err
cxi_api_key_revoke(const cxi_db *db, const char *account, const char *id)
{
	return (revoke(db, &cxi_ent_api_key, account, id));
}

/* ---- credentials ---- */

cx_err
cxi_credential_secret(const cxi_db *db, const char *account, const char *id,
    char **secret_enc)
{
	if (account == NULL || id == NULL) {
		return (CX_EINVAL);
	}
	cxi_dbc c;
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv != CX_OK) {
		return (rv);
	}
	cx_db_value p[] = {CX_DB_V_TEXT(id), CX_DB_V_TEXT(account)};
	cx_db_rows *rows = NULL;
	rv = cxi_db_exec(&c, "SELECT secret_enc FROM credentials WHERE "
	                     "id = $1 AND account_id = $2",
	    p, 2, &rows, NULL);
	if (rv != CX_OK) {
		rv = cxi_repo_dberr(&c, &cxi_ent_credential, rv, NULL, 0);
	} else if (cxi_db_rows_count(&c, rows) == 0) {
		rv = CX_ENOENT;
	} else {
		const char *s = cxi_db_text(&c, rows, 0, 0);
		*secret_enc = strdup(s != NULL ? s : "");
		rv = *secret_enc != NULL ? CX_OK : CX_ENOMEM;
	}
	cxi_db_rows_free(&c, rows);
	cxi_db_release(&c);
	return (rv);
}

/* ---- account keys (cxi_keystore members) ---- */

cx_err
cxi_account_key_get(void *arg, const char *account, uint8_t **wrapped,
    size_t *len, char *key_id, size_t kidlen)
{
	const cxi_db *db = arg;
	if (account == NULL) {
		return (CX_EINVAL);
	}
	cxi_dbc c;
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv != CX_OK) {
		return (rv);
	}
	cx_db_value p[] = {CX_DB_V_TEXT(account)};
	cx_db_rows *rows = NULL;
	rv = cxi_db_exec(&c, "SELECT wrapped_key, master_key_id FROM "
	                     "account_keys WHERE account_id = $1",
	    p, 1, &rows, NULL);
	cx_db_value v;
	const char *kid;
	if (rv != CX_OK) {
		rv = cxi_repo_dberr(&c, NULL, rv, NULL, 0);
	} else if (cxi_db_rows_count(&c, rows) == 0) {
		rv = CX_ENOENT;
	} else if (db->ops->rows_get(rows, 0, 0, &v) != CX_OK ||
	    v.type != CX_DB_BLOB ||
	    (kid = cxi_db_text(&c, rows, 0, 1)) == NULL ||
	    strlen(kid) >= kidlen) {
		/* Not what put wrote: refuse rather than guess. */
		rv = CX_EIO;
	} else if ((*wrapped = malloc(v.len ? v.len : 1)) == NULL) {
		rv = CX_ENOMEM;
	} else {
		memcpy(*wrapped, v.b, v.len);
		*len = v.len;
		snprintf(key_id, kidlen, "%s", kid);
	}
	cxi_db_rows_free(&c, rows);
	cxi_db_release(&c);
	return (rv);
}

cx_err
cxi_account_key_put(void *arg, const char *account, const uint8_t *wrapped,
    size_t len, const char *key_id)
{
	if (account == NULL || wrapped == NULL || len == 0 || key_id == NULL ||
	    key_id[0] == '\0' || strlen(key_id) > 64) {
		return (CX_EINVAL);
	}
	cx_db_value p[] = {CX_DB_V_TEXT(account), CX_DB_V_BLOB(wrapped, len),
	    CX_DB_V_TEXT(key_id), CX_DB_V_INT(cxi_repo_now_ms())};
	return (cxi_repo_exec(arg, NULL,
	    "INSERT INTO account_keys (account_id, wrapped_key, "
	    "master_key_id, created_at) VALUES ($1, $2, $3, $4)",
	    p, 4, NULL, NULL, 0));
}

cx_err
cxi_account_key_del(void *arg, const char *account)
{
	if (account == NULL) {
		return (CX_EINVAL);
	}
	cx_db_value p[] = {CX_DB_V_TEXT(account)};
	return (cxi_repo_exec(arg, NULL,
	    "DELETE FROM account_keys WHERE account_id = $1", p, 1, NULL, NULL,
	    0));
}
