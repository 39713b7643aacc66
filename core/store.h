/*
 * store.h - the core's side of the storage contract.
 *
 * The core owns every query; these helpers run them through the active
 * storage driver (callixo/storage.h) in process: take a connection, run
 * statements, wrap work in a transaction that is retried when the
 * backend reports a transient conflict, and turn driver error classes
 * into cx_err codes with a message that names the problem.
 */
#ifndef CXI_STORE_H
#define CXI_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <callixo/storage.h>

/* The active driver: ops and the instance state they act on. */
typedef struct cxi_db {
	const cx_storage_ops *ops;
	void *state;
} cxi_db;

/* A connection taken from the driver's pool, with its last error. */
typedef struct cxi_dbc {
	const cxi_db *db;
	cx_db_conn *conn;
	cx_db_error err;
} cxi_dbc;

cx_err cxi_db_acquire(const cxi_db *db, int timeout_ms, cxi_dbc *c);
void cxi_db_release(cxi_dbc *c);

/* One statement. `rows` may be NULL; free it with cxi_db_rows_free. */
cx_err cxi_db_exec(cxi_dbc *c, const char *sql, const cx_db_value *params,
    size_t n, cx_db_rows **rows, int64_t *changes);
void cxi_db_rows_free(cxi_dbc *c, cx_db_rows *rows);
size_t cxi_db_rows_count(cxi_dbc *c, const cx_db_rows *rows);
/* Typed getters; a NULL or missing value gives `def` / NULL. */
int64_t cxi_db_int(cxi_dbc *c, const cx_db_rows *rows, size_t row,
    size_t col, int64_t def);
const char *cxi_db_text(cxi_dbc *c, const cx_db_rows *rows, size_t row,
    size_t col);
/* The result as a JSON array of objects keyed by column name. */
json_t *cxi_db_rows_json(cxi_dbc *c, const cx_db_rows *rows);

/* Runs fn inside BEGIN/COMMIT on one connection; rolls back when fn
 * fails, and retries the whole transaction (up to `retries` times, with
 * backoff) when the backend says CX_DB_EBUSY. */
typedef cx_err (*cxi_db_tx_fn)(cxi_dbc *c, void *arg);
cx_err cxi_db_tx(const cxi_db *db, int retries, cxi_db_tx_fn fn, void *arg,
    cx_db_error *err);

/* cx_err for a driver error class (EUNIQUE -> CX_EEXIST, EUNAVAIL ->
 * CX_ECLOSED, EBUSY -> CX_EBUSY, EFULL/EPERM/ECORRUPT -> CX_EIO, ...). */
cx_err cxi_db_errcode(const cx_db_error *e);
const char *cxi_db_errclass_name(cx_db_errclass cls);

#endif
