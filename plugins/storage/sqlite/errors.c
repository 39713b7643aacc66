/*
 * errors.c - SQLite result codes to the contract's error classes.
 *
 * Callers act on the class (retry on EBUSY, 409 on EUNIQUE), so the
 * mapping uses extended result codes, which say which constraint kind
 * failed. Messages come from sqlite3_errmsg, which names tables and
 * columns but never the bound values, so no parameter (a password hash,
 * an email) can leak into a log through an error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sqlite_int.h"

void
sq_error_clear(cx_db_error *err)
{
	if (err != NULL) {
		memset(err, 0, sizeof(*err));
	}
}

static cx_err
class_to_err(cx_db_errclass cls)
{
	switch (cls) {
	case CX_DB_EOK:
		return (CX_OK);
	case CX_DB_EUNIQUE:
		return (CX_EEXIST);
	case CX_DB_EFOREIGN:
	case CX_DB_ECHECK:
	case CX_DB_ESQL:
		return (CX_EINVAL);
	case CX_DB_EBUSY:
		return (CX_EBUSY);
	case CX_DB_EPERM:
		return (CX_EDENIED);
	case CX_DB_EUNAVAIL:
	case CX_DB_EFULL:
	case CX_DB_ECORRUPT:
	case CX_DB_EOTHER:
		break;
	}
	return (CX_EIO);
}

cx_err
sq_error_set(cx_db_error *err, cx_db_errclass cls, const char *fmt, ...)
{
	if (err != NULL) {
		memset(err, 0, sizeof(*err));
		err->cls = cls;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return (class_to_err(cls));
}

static cx_db_errclass
classify(int xrc, bool preparing)
{
	switch (xrc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_ROWID:
		return (CX_DB_EUNIQUE);
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return (CX_DB_EFOREIGN);
	case SQLITE_CONSTRAINT_CHECK:
	case SQLITE_CONSTRAINT_NOTNULL:
	case SQLITE_CONSTRAINT_DATATYPE:
		return (CX_DB_ECHECK);
	default:
		break;
	}
	switch (xrc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return (CX_DB_EBUSY);
	case SQLITE_FULL:
		return (CX_DB_EFULL);
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_AUTH:
		return (CX_DB_EPERM);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return (CX_DB_ECORRUPT);
	case SQLITE_ERROR:
		return (preparing ? CX_DB_ESQL : CX_DB_EOTHER);
	default:
		return (CX_DB_EOTHER);
	}
}

/* "UNIQUE constraint failed: payments.chain, payments.tx_hash" names the
 * columns; SQLite has no index name to give, so the column list stands in
 * for it (it is what identifies the constraint to a reader). */
static void
fill_constraint(cx_db_error *err, const char *msg)
{
	static const char *const prefixes[] = {"UNIQUE constraint failed: ",
	    "NOT NULL constraint failed: ", "CHECK constraint failed: ",
	    NULL};
	for (size_t i = 0; prefixes[i] != NULL; i++) {
		size_t n = strlen(prefixes[i]);
		if (strncmp(msg, prefixes[i], n) == 0) {
			snprintf(err->constraint, sizeof(err->constraint), "%s",
			    msg + n);
			return;
		}
	}
}

cx_err
sq_error(sqlite3 *db, int rc, bool preparing, cx_db_error *err)
{
	int xrc = db != NULL ? sqlite3_extended_errcode(db) : rc;
	/* The connection's last error may be stale when rc came from a call
	 * that does not set it (e.g. a failed allocation): trust rc's class. */
	if ((xrc & 0xff) != (rc & 0xff)) {
		xrc = rc;
	}
	cx_db_errclass cls = classify(xrc, preparing);
	const char *msg = db != NULL && xrc != SQLITE_NOMEM ?
	    sqlite3_errmsg(db) : sqlite3_errstr(rc);
	cx_err e = sq_error_set(err, cls, "%s", msg);
	if (err != NULL) {
		fill_constraint(err, msg);
	}
	return (e);
}
