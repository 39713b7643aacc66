/*
 * store.c - running the core's queries through the storage driver.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store.h"

static const char *const class_names[] = {"ok", "unique_violation",
    "foreign_key_violation", "check_violation", "unavailable", "busy",
    "storage_full", "permission_denied", "corrupt", "sql_error", "error"};

const char *
cxi_db_errclass_name(cx_db_errclass cls)
{
	return (cls >= CX_DB_EOK && cls <= CX_DB_EOTHER ? class_names[cls] :
	                                                 "error");
}

cx_err
cxi_db_errcode(const cx_db_error *e)
{
	switch (e->cls) {
	case CX_DB_EOK:
		return (CX_OK);
	case CX_DB_EUNIQUE:
		return (CX_EEXIST);
	case CX_DB_EFOREIGN:
	case CX_DB_ECHECK:
		return (CX_EINVAL);
	case CX_DB_EUNAVAIL:
		return (CX_ECLOSED);
	case CX_DB_EBUSY:
		return (CX_EBUSY);
	case CX_DB_EPERM:
		return (CX_EDENIED);
	case CX_DB_ESQL:
		return (CX_EINTERNAL);
	default:
		return (CX_EIO);
	}
}

static void
set_err(cx_db_error *e, cx_db_errclass cls, const char *msg)
{
	memset(e, 0, sizeof(*e));
	e->cls = cls;
	snprintf(e->message, sizeof(e->message), "%s", msg);
}

cx_err
cxi_db_acquire(const cxi_db *db, int timeout_ms, cxi_dbc *c)
{
	memset(c, 0, sizeof(*c));
	c->db = db;
	if (db == NULL || db->ops == NULL) {
		set_err(&c->err, CX_DB_EUNAVAIL, "no storage plugin is running");
		return (CX_ECLOSED);
	}
	cx_err rv = db->ops->acquire(db->state, timeout_ms, &c->conn, &c->err);
	if (rv != CX_OK && c->err.cls == CX_DB_EOK) {
		set_err(&c->err, CX_DB_EUNAVAIL, cx_strerror(rv));
	}
	return (rv);
}

void
cxi_db_release(cxi_dbc *c)
{
	if (c->conn != NULL) {
		c->db->ops->release(c->db->state, c->conn);
		c->conn = NULL;
	}
}

cx_err
cxi_db_exec(cxi_dbc *c, const char *sql, const cx_db_value *params, size_t n,
    cx_db_rows **rows, int64_t *changes)
{
	memset(&c->err, 0, sizeof(c->err));
	cx_err rv = c->db->ops->exec(c->conn, sql, params, n, rows, changes,
	    &c->err);
	if (rv != CX_OK && c->err.cls == CX_DB_EOK) {
		set_err(&c->err, CX_DB_EOTHER, cx_strerror(rv));
	}
	return (rv);
}

void
cxi_db_rows_free(cxi_dbc *c, cx_db_rows *rows)
{
	if (rows != NULL) {
		c->db->ops->rows_free(rows);
	}
}

size_t
cxi_db_rows_count(cxi_dbc *c, const cx_db_rows *rows)
{
	return (rows != NULL ? c->db->ops->rows_count(rows) : 0);
}

int64_t
cxi_db_int(cxi_dbc *c, const cx_db_rows *rows, size_t row, size_t col,
    int64_t def)
{
	cx_db_value v;
	if (c->db->ops->rows_get(rows, row, col, &v) != CX_OK ||
	    v.type != CX_DB_INT) {
		return (def);
	}
	return (v.i);
}

const char *
cxi_db_text(cxi_dbc *c, const cx_db_rows *rows, size_t row, size_t col)
{
	cx_db_value v;
	if (c->db->ops->rows_get(rows, row, col, &v) != CX_OK ||
	    v.type != CX_DB_TEXT) {
		return (NULL);
	}
	return (v.s);
}

json_t *
cxi_db_rows_json(cxi_dbc *c, const cx_db_rows *rows)
{
	const cx_storage_ops *o = c->db->ops;
	json_t *arr = json_array();
	size_t nr = o->rows_count(rows), nc = o->rows_columns(rows);
	for (size_t r = 0; arr != NULL && r < nr; r++) {
		json_t *obj = json_object();
		for (size_t k = 0; obj != NULL && k < nc; k++) {
			cx_db_value v;
			json_t *j = NULL;
			if (o->rows_get(rows, r, k, &v) != CX_OK) {
				continue;
			}
			switch (v.type) {
			case CX_DB_INT:
				j = json_integer(v.i);
				break;
			case CX_DB_REAL:
				j = json_real(v.d);
				break;
			case CX_DB_TEXT:
				j = json_stringn(v.s, v.len);
				break;
			case CX_DB_BLOB:
				/* Blobs are not for JSON views; callers that need
				 * them read the column directly. */
				j = json_null();
				break;
			default:
				j = json_null();
			}
			json_object_set_new(obj, o->rows_name(rows, k), j);
		}
		json_array_append_new(arr, obj);
	}
	return (arr);
}

static void
backoff(int attempt)
{
	/* 5, 10, 20, ... ms, capped at 200 ms: conflicts clear quickly. */
	long ms = 5L << (attempt < 6 ? attempt : 6);
	struct timespec ts = {0, (ms > 200 ? 200 : ms) * 1000000L};
	nanosleep(&ts, NULL);
}

cx_err
cxi_db_tx(const cxi_db *db, int retries, cxi_db_tx_fn fn, void *arg,
    cx_db_error *err)
{
	cx_err rv = CX_EBUSY;
	for (int attempt = 0; attempt <= retries; attempt++) {
		cxi_dbc c;
		if ((rv = cxi_db_acquire(db, 10000, &c)) != CX_OK) {
			*err = c.err;
			return (rv);
		}
		cx_db_error rb;
		if ((rv = db->ops->begin(c.conn, &c.err)) == CX_OK) {
			rv = fn(&c, arg);
			if (rv == CX_OK) {
				rv = db->ops->commit(c.conn, &c.err);
			} else {
				/* Keep fn's error; a failed rollback is
				 * handled by release, which discards the
				 * transaction. */
				db->ops->rollback(c.conn, &rb);
			}
		}
		*err = c.err;
		if (rv != CX_OK && err->cls == CX_DB_EOK) {
			set_err(err, CX_DB_EOTHER, cx_strerror(rv));
		}
		cxi_db_release(&c);
		if (rv == CX_OK || err->cls != CX_DB_EBUSY) {
			return (rv);
		}
		backoff(attempt);
	}
	return (rv);
}
