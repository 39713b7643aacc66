/*
 * exec.c - running statements: $n binding, stepping, transactions.
 *
 * The core writes $1..$n placeholders for both backends. SQLite reads
 * "$1" as a named parameter, so each is bound by name, and the statement
 * must use exactly $1..$n_params: a missing or extra placeholder is the
 * caller's bug and is refused before anything runs. The names are checked
 * once per prepared statement (stmt.c), not on every call.
 */
#include <limits.h>

#include "sqlite_int.h"

static cx_err
bind_one(cx_db_conn *c, sqlite3_stmt *st, int idx, const cx_db_value *v,
    size_t n, cx_db_error *err)
{
	int rc;
	switch (v->type) {
	case CX_DB_NULL:
		rc = sqlite3_bind_null(st, idx);
		break;
	case CX_DB_INT:
		rc = sqlite3_bind_int64(st, idx, v->i);
		break;
	case CX_DB_REAL:
		rc = sqlite3_bind_double(st, idx, v->d);
		break;
	case CX_DB_TEXT:
		/* SQLITE_STATIC: the caller's buffer outlives the statement's
		 * use, and bindings are cleared before exec returns. */
		rc = v->s == NULL ? sqlite3_bind_null(st, idx) :
		    sqlite3_bind_text64(st, idx, v->s, v->len, SQLITE_STATIC,
		        SQLITE_UTF8);
		break;
	case CX_DB_BLOB:
		/* A NULL pointer would bind SQL NULL; an empty blob is not. */
		rc = v->len == 0 || v->b == NULL ?
		    sqlite3_bind_zeroblob(st, idx, 0) :
		    sqlite3_bind_blob64(st, idx, v->b, v->len, SQLITE_STATIC);
		break;
	default:
		return (sq_error_set(err, CX_DB_ESQL,
		    "parameter $%zu has unknown type %d", n, (int) v->type));
	}
	return (rc == SQLITE_OK ? CX_OK : sq_error(c->db, rc, false, err));
}

static cx_err
bind_all(cx_db_conn *c, const sq_stmt *e, const cx_db_value *params,
    size_t n_params, cx_db_error *err)
{
	if (e->n_params < 0) {
		return (sq_error_set(err, CX_DB_ESQL, "placeholders must be "
		                                      "$1..$n"));
	}
	if (n_params > INT_MAX || e->n_params != (int) n_params) {
		return (sq_error_set(err, CX_DB_ESQL, "statement has %d "
		    "parameters, %zu given", e->n_params, n_params));
	}
	for (size_t n = 0; n < n_params; n++) {
		cx_err rv = bind_one(c, e->stmt, e->pidx[n], &params[n], n + 1,
		    err);
		if (rv != CX_OK) {
			return (rv);
		}
	}
	return (CX_OK);
}

cx_err
sq_exec(cx_db_conn *c, const char *sql, const cx_db_value *params,
    size_t n_params, cx_db_rows **rows, int64_t *changes, cx_db_error *err)
{
	if (rows != NULL) {
		*rows = NULL;
	}
	if (changes != NULL) {
		*changes = 0;
	}
	if (sql == NULL || (params == NULL && n_params > 0)) {
		return (sq_error_set(err, CX_DB_ESQL, "no statement"));
	}
	sq_stmt *e = NULL;
	cx_err rv = sq_stmt_get(c, sql, &e, err);
	sqlite3_stmt *st = e != NULL ? e->stmt : NULL;
	if (rv == CX_OK) {
		rv = bind_all(c, e, params, n_params, err);
	}
	if (rv == CX_OK && rows != NULL) {
		rv = sq_rows_collect(c->db, st, rows, err);
	} else if (rv == CX_OK) {
		/* Without `rows` the result is discarded, but every row is
		 * still stepped: an INSERT ... RETURNING or a statement with
		 * side effects per row must run to completion. */
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		}
		rv = rc == SQLITE_DONE ? CX_OK : sq_error(c->db, rc, false, err);
	}
	if (rv == CX_OK) {
		sq_error_clear(err);
		/* sqlite3_changes keeps the count of the last write, which
		 * would be stale after a SELECT. */
		if (changes != NULL && !sqlite3_stmt_readonly(st)) {
			*changes = sqlite3_changes64(c->db);
		}
	}
	sq_stmt_done(c, e);
	return (rv);
}

cx_err
sq_exec_script(cx_db_conn *c, const char *sql, cx_db_error *err)
{
	if (sql == NULL) {
		return (sq_error_set(err, CX_DB_ESQL, "no script"));
	}
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		/* Nearly every script failure is in a statement's text; a
		 * constraint or I/O failure still maps by its own code. */
		return (sq_error(c->db, rc, true, err));
	}
	sq_error_clear(err);
	return (CX_OK);
}

/* Transaction control goes through the cache too: three statements that
 * every write path uses should not be parsed on each call. */
static cx_err
simple(cx_db_conn *c, const char *sql, cx_db_error *err)
{
	return (sq_exec(c, sql, NULL, 0, NULL, NULL, err));
}

cx_err
sq_begin(cx_db_conn *c, cx_db_error *err)
{
	/* IMMEDIATE takes the write lock now. A deferred transaction that
	 * reads and then writes fails with SQLITE_BUSY at the upgrade when
	 * another writer got in between, and the busy handler cannot help
	 * there: the read snapshot is already stale. */
	return (simple(c, "BEGIN IMMEDIATE", err));
}

cx_err
sq_commit(cx_db_conn *c, cx_db_error *err)
{
	return (simple(c, "COMMIT", err));
}

cx_err
sq_rollback(cx_db_conn *c, cx_db_error *err)
{
	/* Rolling back with no transaction open is a no-op, not an error:
	 * SQLite may already have rolled back after a failed statement
	 * (e.g. SQLITE_FULL), and callers roll back on every error path. */
	if (sqlite3_get_autocommit(c->db) != 0) {
		sq_error_clear(err);
		return (CX_OK);
	}
	return (simple(c, "ROLLBACK", err));
}
