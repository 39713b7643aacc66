/*
 * pg_error.c - turning PostgreSQL failures into cx_db_error.
 *
 * The class comes from the SQLSTATE, which is stable across server
 * versions and locales, never from message text. Messages are the
 * server's primary message only: DETAIL lines quote key and row values
 * ("Key (chain, tx_hash)=(eth, 0x..) already exists"), which may be
 * personal data or secrets, so they are never copied.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pg.h"

cx_err
pg_errcode(cx_db_errclass cls)
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
pg_seterr(cx_db_error *err, cx_db_errclass cls, const char *sqlstate,
    const char *fmt, ...)
{
	if (err != NULL) {
		memset(err, 0, sizeof(*err));
		err->cls = cls;
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s",
		    sqlstate != NULL ? sqlstate : "");
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return (pg_errcode(cls));
}

static cx_db_errclass
classify(const char *s)
{
	static const struct {
		const char *state;
		cx_db_errclass cls;
	} exact[] = {
		{"23505", CX_DB_EUNIQUE},
		{"23503", CX_DB_EFOREIGN},
		{"23514", CX_DB_ECHECK},
		{"23502", CX_DB_ECHECK},
		{"40001", CX_DB_EBUSY},  /* serialization_failure */
		{"40P01", CX_DB_EBUSY},  /* deadlock_detected */
		{"55P03", CX_DB_EBUSY},  /* lock_not_available */
		{"57014", CX_DB_EBUSY},  /* query_canceled (statement_timeout) */
		{"57P01", CX_DB_EUNAVAIL}, /* admin_shutdown: server stopping */
		{"57P02", CX_DB_EUNAVAIL}, /* crash_shutdown */
		{"57P03", CX_DB_EUNAVAIL}, /* cannot_connect_now: starting up */
		{"53300", CX_DB_EUNAVAIL}, /* too_many_connections */
		{"53100", CX_DB_EFULL},
		{"42501", CX_DB_EPERM},
		{"XX001", CX_DB_ECORRUPT},
		{"XX002", CX_DB_ECORRUPT},
	};
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
		if (strcmp(s, exact[i].state) == 0) {
			return (exact[i].cls);
		}
	}
	/* 08P01 is the server refusing our protocol message (e.g. a
	 * parameter count that does not match the statement): a bug in the
	 * query, not a lost connection. */
	if (strcmp(s, "08P01") == 0) {
		return (CX_DB_ESQL);
	}
	if (strncmp(s, "08", 2) == 0) {
		return (CX_DB_EUNAVAIL);
	}
	if (strncmp(s, "42", 2) == 0) {
		return (CX_DB_ESQL);
	}
	return (CX_DB_EOTHER);
}

/* libpq messages end in a newline and may span lines; log lines and
 * cx_db_error.message want one line. */
static void
one_line(char *dst, size_t len, const char *src)
{
	size_t o = 0;
	for (const char *p = src; *p != '\0' && o + 1 < len; p++) {
		if (*p == '\n' || *p == '\r') {
			if (p[1] != '\0' && o > 0 && dst[o - 1] != ' ') {
				dst[o++] = ';';
				if (o + 1 < len) {
					dst[o++] = ' ';
				}
			}
			/* libpq indents continuation lines ("\n\tIs the
			 * server running..."). */
			while (p[1] == ' ' || p[1] == '\t') {
				p++;
			}
			continue;
		}
		dst[o++] = *p == '\t' ? ' ' : *p;
	}
	while (o > 0 && (dst[o - 1] == ' ' || dst[o - 1] == ';')) {
		o--;
	}
	dst[o] = '\0';
}

cx_err
pg_result_error(cx_db_conn *c, const PGresult *res, cx_db_error *err)
{
	const char *state = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	cx_db_errclass cls = state != NULL ? classify(state) : CX_DB_EOTHER;
	/* A dropped connection has no SQLSTATE (libpq makes the error up)
	 * or 57P01 (the server said goodbye first); either way the
	 * connection is useless now. */
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		cls = CX_DB_EUNAVAIL;
	}
	if (cls == CX_DB_EUNAVAIL) {
		c->broken = true;
	}
	char msg[256];
	const char *primary = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	one_line(msg, sizeof(msg),
	    primary != NULL ? primary : PQerrorMessage(c->pg));
	/* Data exceptions quote the offending input after a colon
	 * ("invalid input syntax for type bigint: \"...\""): that input is
	 * a parameter value, so keep only the text before it. */
	if (state != NULL && strncmp(state, "22", 2) == 0) {
		char *colon = strchr(msg, ':');
		if (colon != NULL) {
			*colon = '\0';
		}
	}
	cx_err rv = pg_seterr(err, cls, state, "%s", msg[0] ? msg :
	    "PostgreSQL error without a message");
	const char *cons = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
	if (err != NULL && cons != NULL) {
		snprintf(err->constraint, sizeof(err->constraint), "%s", cons);
	}
	return (rv);
}

cx_err
pg_connect_error(const pg_state *st, PGconn *pg, cx_db_error *err)
{
	char msg[200];
	one_line(msg, sizeof(msg), pg != NULL ? PQerrorMessage(pg) :
	                                        "out of memory");
	return (pg_seterr(err, CX_DB_EUNAVAIL, "",
	    "cannot connect to PostgreSQL at %s: %s", st->where, msg));
}
