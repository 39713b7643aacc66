/*
 * postgres - the PostgreSQL storage driver (libpq).
 *
 * Settings and lifecycle live here; see pg.h for the other files.
 *
 * init dials once. If the server cannot be reached, init fails with
 * CX_EIO and one error line naming host, port and database and libpq's
 * reason: the daemon's readiness depends on storage, so starting "up"
 * with a database that was never seen would only move the failure to the
 * first API request. Once running, an outage is survived instead: calls
 * fail with CX_DB_EUNAVAIL and the pool reconnects with backoff.
 *
 * The DSN is a secret (it may carry a password): it is never logged.
 * Logs name the server with host, port, database and user only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

static const char *const sslmodes[] = {"disable", "allow", "prefer",
    "require", "verify-ca", "verify-full", NULL};

static const cx_setting pg_settings[] = {
    CX_SETTING_SECRET("dsn", CX_SET_REQUIRED,
        "libpq connection string or URI, e.g. ${CALLIXO_PG_DSN} = "
        "postgresql://callixo@db:5432/callixo; never logged"),
    CX_SETTING_INT("pool_size", 0, "8", 1, 1000,
        "Connections kept open at most (opened on demand)"),
    CX_SETTING_DURATION("connect_timeout", 0, "5s", 1000, 600000,
        "How long one connection attempt may take (whole seconds, at "
        "least 2 s, as libpq counts them)"),
    CX_SETTING_ENUM("sslmode", 0, "prefer", sslmodes,
        "libpq sslmode; overrides any sslmode in the dsn"),
    CX_SETTING_DURATION("statement_timeout", 0, "30s", 0, 86400000,
        "Longest a statement may run, set on every session (0 = none)"),
    CX_SETTINGS_END,
};

/* A plain word is a database name for libpq; anything with '=' or a
 * URI scheme is a connection string it must be able to parse. */
static bool
dsn_is_conninfo(const char *dsn)
{
	return (strchr(dsn, '=') != NULL ||
	    strncmp(dsn, "postgresql://", 13) == 0 ||
	    strncmp(dsn, "postgres://", 11) == 0);
}

static cx_err
pg_validate(const json_t *s, char *err, size_t errlen)
{
	const char *dsn = json_string_value(json_object_get(s, "dsn"));
	if (dsn == NULL || dsn[0] == '\0') {
		snprintf(err, errlen, "'dsn' is empty");
		return (CX_EINVAL);
	}
	if (!dsn_is_conninfo(dsn)) {
		return (CX_OK);
	}
	char *why = NULL;
	PQconninfoOption *opts = PQconninfoParse(dsn, &why);
	PQconninfoFree(opts);
	if (opts == NULL) {
		/* libpq's reason may quote part of the string, which can be
		 * the password: say what is wrong, not where. */
		snprintf(err, errlen, "'dsn' is not a valid libpq connection "
		                      "string or postgresql:// URI");
		PQfreemem(why);
		return (CX_EINVAL);
	}
	return (CX_OK);
}

static const char *
opt(const PQconninfoOption *o, const char *key)
{
	for (; o != NULL && o->keyword != NULL; o++) {
		if (strcmp(o->keyword, key) == 0 && o->val != NULL &&
		    o->val[0] != '\0') {
			return (o->val);
		}
	}
	return (NULL);
}

/* "host=... port=... dbname=... user=...": what logs may say about the
 * server. Unset parts show libpq's defaults in words. */
static void
describe(pg_state *st)
{
	PQconninfoOption *o = NULL;
	if (dsn_is_conninfo(st->dsn)) {
		o = PQconninfoParse(st->dsn, NULL);
	}
	const char *host = opt(o, "host");
	const char *port = opt(o, "port");
	const char *db = o != NULL ? opt(o, "dbname") : st->dsn;
	const char *user = opt(o, "user");
	snprintf(st->where, sizeof(st->where), "host=%s port=%s dbname=%s "
	    "user=%s", host ? host : opt(o, "hostaddr") ? opt(o, "hostaddr") :
	    "(local socket)", port ? port : "5432", db ? db : "(default)",
	    user ? user : "(default)");
	PQconninfoFree(o);
}

static void
pg_fini(void *state)
{
	pg_state *st = state;
	pg_pool_fini(st);
	if (st->dsn != NULL) {
		explicit_bzero(st->dsn, strlen(st->dsn));
		free(st->dsn);
		st->dsn = NULL;
	}
}

static cx_err
pg_init(void *state, const cx_host *h, const json_t *s)
{
	pg_state *st = state;
	st->host = h;
	st->pool_size = (int) json_integer_value(json_object_get(s,
	    "pool_size"));
	int64_t ct = json_integer_value(json_object_get(s, "connect_timeout"));
	/* libpq counts whole seconds and treats 1 as 2. */
	ct = (ct + 999) / 1000;
	snprintf(st->connect_timeout, sizeof(st->connect_timeout), "%lld",
	    (long long) (ct < 2 ? 2 : ct));
	snprintf(st->sslmode, sizeof(st->sslmode), "%s",
	    json_string_value(json_object_get(s, "sslmode")));
	snprintf(st->set_timeout, sizeof(st->set_timeout),
	    "SET statement_timeout = %lld", (long long) json_integer_value(
	    json_object_get(s, "statement_timeout")));
	if ((st->dsn = strdup(json_string_value(json_object_get(s, "dsn")))) ==
	    NULL) {
		return (CX_ENOMEM);
	}
	describe(st);
	cx_err rv = pg_pool_init(st);
	if (rv != CX_OK) {
		pg_fini(st);
		return (rv);
	}
	cx_db_error e;
	if (pg_connect(st, &st->slots[0], &e) != CX_OK) {
		h->log(h, CX_LOG_ERROR, "%s (sslmode=%s)", e.message,
		    st->sslmode);
		pg_fini(st);
		return (CX_EIO);
	}
	PGconn *pg = st->slots[0].pg;
	int v = PQserverVersion(pg);
	h->log(h, CX_LOG_INFO, "connected to PostgreSQL %d.%d at host=%s "
	    "port=%s dbname=%s user=%s (ssl %s); pool_size=%d", v / 10000,
	    v % 10000, PQhost(pg), PQport(pg), PQdb(pg), PQuser(pg),
	    PQsslInUse(pg) ? "on" : "off", st->pool_size);
	st->ready = true;
	return (CX_OK);
}

static const cx_storage_ops pg_ops = {
	.size = sizeof(cx_storage_ops),
	.dialect = "postgres",
	.migrations = cx_pg_migrations,
	.acquire = pg_acquire,
	.release = pg_release,
	.exec = pg_exec,
	.exec_script = pg_exec_script,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.rows_count = pg_rows_count,
	.rows_columns = pg_rows_columns,
	.rows_name = pg_rows_name,
	.rows_get = pg_rows_get,
	.rows_free = pg_rows_free,
};

CX_PLUGIN_DEFINE(.kind = CX_KIND_STORAGE, .name = "postgres",
    .version = "1.0.0",
    .summary = "PostgreSQL storage driver (libpq, pooled, reconnecting)",
    .settings = pg_settings, .state_size = sizeof(pg_state),
    .validate = pg_validate, .init = pg_init, .fini = pg_fini,
    .kind_ops = &pg_ops);
