/*
 * session_db.c - sessions in the storage backend (embedded default).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manager.h"
#include "session_db.h"

#define COLS "account_id, created_at, last_seen_at, expires_at, idle_ms, " \
	     "data, token_hash"

/* One use of the storage driver: held from run() until done(). */
typedef struct use {
	cxi_db db;
	cxi_dbc c;
	bool held;
} use;

static cx_err
run(void *state, use *u, const char *sql, const cx_db_value *p, size_t n,
    cx_db_rows **rows, int64_t *changes)
{
	memset(u, 0, sizeof(*u));
	if (!cxi_manager_db_hold(state, &u->db)) {
		return (CX_ECLOSED);
	}
	u->held = true;
	cx_err rv = cxi_db_acquire(&u->db, 5000, &u->c);
	if (rv == CX_OK &&
	    cxi_db_exec(&u->c, sql, p, n, rows, changes) != CX_OK) {
		rv = cxi_db_errcode(&u->c.err);
	}
	return (rv);
}

static void
done(void *state, use *u, cx_db_rows *rows)
{
	if (u->c.conn != NULL) {
		cxi_db_rows_free(&u->c, rows);
		cxi_db_release(&u->c);
	}
	if (u->held) {
		cxi_manager_unhold(state);
	}
}

/* Fills out from row r of an COLS result. */
static void
fill(cxi_dbc *c, cx_db_rows *rows, size_t r, cx_session *out)
{
	const char *acct = cxi_db_text(c, rows, r, 0);
	const char *data = cxi_db_text(c, rows, r, 5);
	const char *hash = cxi_db_text(c, rows, r, 6);
	memset(out, 0, sizeof(*out));
	snprintf(out->account, sizeof(out->account), "%s", acct ? acct : "");
	snprintf(out->id_hash, sizeof(out->id_hash), "%s", hash ? hash : "");
	out->created_ms = cxi_db_int(c, rows, r, 1, 0);
	out->last_seen_ms = cxi_db_int(c, rows, r, 2, 0);
	out->absolute_ms = cxi_db_int(c, rows, r, 3, 0) - out->created_ms;
	out->idle_ms = cxi_db_int(c, rows, r, 4, 0);
	out->data = data ? strdup(data) : NULL;
}

static bool
live(const cx_session *s, int64_t now)
{
	return (now < s->created_ms + s->absolute_ms &&
	    now < s->last_seen_ms + s->idle_ms);
}

static cx_err
db_create(void *state, const cx_session *s)
{
	char id[4 + 25];
	unsigned char rnd[12];
	randombytes_buf(rnd, sizeof(rnd));
	memcpy(id, "ses_", 4);
	sodium_bin2hex(id + 4, sizeof(id) - 4, rnd, sizeof(rnd));
	cx_db_value p[] = {CX_DB_V_TEXT(id), CX_DB_V_TEXT(s->account),
	    CX_DB_V_TEXT(s->id_hash), CX_DB_V_INT(s->created_ms),
	    CX_DB_V_INT(s->last_seen_ms),
	    CX_DB_V_INT(s->created_ms + s->absolute_ms),
	    CX_DB_V_INT(s->idle_ms), CX_DB_V_TEXT(s->data)};
	use u;
	cx_err rv = run(state, &u, "INSERT INTO sessions (id, account_id, "
	                       "token_hash, created_at, last_seen_at, "
	                       "expires_at, idle_ms, data) VALUES ($1, $2, $3, "
	                       "$4, $5, $6, $7, $8)",
	    p, 8, NULL, NULL);
	done(state, &u, NULL);
	return (rv);
}

static cx_err
db_destroy(void *state, const char *id_hash)
{
	cx_db_value p[] = {CX_DB_V_TEXT(id_hash)};
	use u;
	cx_err rv = run(state, &u, "DELETE FROM sessions WHERE token_hash = $1", p,
	    1, NULL, NULL);
	done(state, &u, NULL);
	return (rv);
}

static cx_err
db_get(void *state, const char *id_hash, int64_t now_ms, cx_session *out)
{
	cx_db_value p[] = {CX_DB_V_TEXT(id_hash)};
	cx_db_rows *rows = NULL;
	use u;
	cx_err rv = run(state, &u, "SELECT " COLS " FROM sessions WHERE "
	                       "token_hash = $1 AND revoked_at IS NULL",
	    p, 1, &rows, NULL);
	bool expired = false;
	if (rv == CX_OK) {
		if (cxi_db_rows_count(&u.c, rows) == 0) {
			rv = CX_ENOENT;
		} else {
			fill(&u.c, rows, 0, out);
			if (!live(out, now_ms)) {
				free(out->data);
				out->data = NULL;
				expired = true;
				rv = CX_ENOENT;
			}
		}
	}
	done(state, &u, rows);
	if (expired) {
		(void) db_destroy(state, id_hash);
	}
	return (rv);
}

static cx_err
db_touch(void *state, const char *id_hash, int64_t now_ms)
{
	/* Only a live session moves, and last_seen never goes back (two
	 * daemons with slightly different clocks). */
	cx_db_value p[] = {CX_DB_V_TEXT(id_hash), CX_DB_V_INT(now_ms)};
	int64_t n = 0;
	use u;
	cx_err rv = run(state, &u, "UPDATE sessions SET last_seen_at = CASE WHEN "
	                       "last_seen_at < $2 THEN $2 ELSE last_seen_at END "
	                       "WHERE token_hash = $1 AND revoked_at IS NULL AND "
	                       "expires_at > $2 AND last_seen_at + idle_ms > $2",
	    p, 2, NULL, &n);
	done(state, &u, NULL);
	return (rv == CX_OK && n == 0 ? CX_ENOENT : rv);
}

static cx_err
db_destroy_account(void *state, const char *account, size_t *count)
{
	cx_db_value p[] = {CX_DB_V_TEXT(account)};
	int64_t n = 0;
	use u;
	cx_err rv = run(state, &u, "DELETE FROM sessions WHERE account_id = $1", p,
	    1, NULL, &n);
	done(state, &u, NULL);
	if (count != NULL) {
		*count = rv == CX_OK ? (size_t) n : 0;
	}
	return (rv);
}

static cx_err
db_list_account(void *state, const char *account, int64_t now_ms,
    cx_session **out, size_t *n)
{
	cx_db_value p[] = {CX_DB_V_TEXT(account), CX_DB_V_INT(now_ms)};
	cx_db_rows *rows = NULL;
	use u;
	*out = NULL;
	*n = 0;
	cx_err rv = run(state, &u, "SELECT " COLS " FROM sessions WHERE "
	                       "account_id = $1 AND revoked_at IS NULL AND "
	                       "expires_at > $2 AND last_seen_at + idle_ms > $2 "
	                       "ORDER BY created_at",
	    p, 2, &rows, NULL);
	if (rv == CX_OK) {
		size_t k = cxi_db_rows_count(&u.c, rows);
		*out = calloc(k ? k : 1, sizeof(**out));
		if (*out == NULL) {
			rv = CX_ENOMEM;
		} else {
			for (size_t r = 0; r < k; r++) {
				fill(&u.c, rows, r, &(*out)[r]);
			}
			*n = k;
		}
	}
	done(state, &u, rows);
	return (rv);
}

const cx_session_ops cxi_session_db_ops = {
    .size = sizeof(cx_session_ops),
    .create = db_create,
    .get = db_get,
    .touch = db_touch,
    .destroy = db_destroy,
    .destroy_account = db_destroy_account,
    .list_account = db_list_account,
};
