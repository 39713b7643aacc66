/*
 * callixo/storage.h - the storage contract: a SQL driver.
 *
 * The core owns every query. It writes them in the subset of SQL that
 * SQLite and PostgreSQL share, with $1..$n placeholders, and a storage
 * plugin supplies what differs: connections (pooled), parameter binding,
 * result rows, transactions, typed errors and its dialect's migrations.
 * This is the pattern of Kamailio's srdb1 and FreeRADIUS's rlm_sql
 * drivers. A storage plugin declares kind CX_KIND_STORAGE and points
 * `kind_ops` at a cx_storage_ops.
 *
 * Storage sits on the hot path of every API request, so the core calls
 * these operations directly, in process, through the descriptor; never
 * over the bus. Storage plugins therefore always run inproc.
 *
 * Every operation is thread-safe across connections; one connection is
 * used by one thread at a time (acquire it, use it, release it).
 */
#ifndef CALLIXO_STORAGE_H
#define CALLIXO_STORAGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <callixo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque to the core, defined by each driver. */
typedef struct cx_db_conn cx_db_conn;
typedef struct cx_db_rows cx_db_rows;

typedef enum cx_db_type {
	CX_DB_NULL = 0,
	CX_DB_INT,  /* int64_t */
	CX_DB_REAL, /* double */
	CX_DB_TEXT, /* UTF-8, NUL-terminated */
	CX_DB_BLOB, /* bytes */
} cx_db_type;

/* A parameter or a column value. Pointers are borrowed: parameters for
 * the duration of exec, column values until rows_free. */
typedef struct cx_db_value {
	cx_db_type type;
	int64_t i;
	double d;
	const char *s;
	const void *b;
	size_t len; /* TEXT and BLOB: bytes (TEXT without the NUL) */
} cx_db_value;

#define CX_DB_V_NULL() ((cx_db_value){.type = CX_DB_NULL})
#define CX_DB_V_INT(x) ((cx_db_value){.type = CX_DB_INT, .i = (x)})
#define CX_DB_V_REAL(x) ((cx_db_value){.type = CX_DB_REAL, .d = (x)})
#define CX_DB_V_TEXT(x)                                                   \
	((x) == NULL ? CX_DB_V_NULL() :                                   \
	               (cx_db_value){.type = CX_DB_TEXT, .s = (x),        \
	                   .len = strlen(x)})
#define CX_DB_V_BLOB(p, n) ((cx_db_value){.type = CX_DB_BLOB, .b = (p), .len = (n)})

/* Error classes: what the caller can do about it, whatever the backend. */
typedef enum cx_db_errclass {
	CX_DB_EOK = 0,
	CX_DB_EUNIQUE,   /* unique or primary-key violation */
	CX_DB_EFOREIGN,  /* foreign-key violation */
	CX_DB_ECHECK,    /* CHECK or NOT NULL violation */
	CX_DB_EUNAVAIL,  /* server unreachable or connection lost: retry later */
	CX_DB_EBUSY,     /* lock timeout, serialization failure: retry */
	CX_DB_EFULL,     /* disk or quota full */
	CX_DB_EPERM,     /* permission denied (file or role) */
	CX_DB_ECORRUPT,  /* the database is damaged */
	CX_DB_ESQL,      /* the statement itself is wrong (a bug) */
	CX_DB_EOTHER,
} cx_db_errclass;

typedef struct cx_db_error {
	cx_db_errclass cls;
	char sqlstate[6];     /* PostgreSQL SQLSTATE, or "" */
	char constraint[64];  /* violated constraint or index, when known */
	char message[256];    /* the driver's message; never holds parameters */
} cx_db_error;

/* One schema migration, in this driver's dialect. Versions start at 1,
 * ascend without gaps, and are never edited once released: the core
 * records a checksum of `sql` and refuses a changed one. */
typedef struct cx_db_migration {
	uint32_t version;
	const char *name; /* e.g. "0001_initial" */
	const char *sql;  /* one or more statements */
} cx_db_migration;

/* The driver. Since ABI 1.0. */
typedef struct cx_storage_ops {
	uint32_t size;        /* sizeof(cx_storage_ops) at build time */
	const char *dialect;  /* "sqlite" or "postgres" */
	/* Ascending; terminated by an entry with version 0. */
	const cx_db_migration *migrations;

	/* Takes a connection from the pool, waiting up to timeout_ms. */
	cx_err (*acquire)(void *state, int timeout_ms, cx_db_conn **conn,
	    cx_db_error *err);
	/* Returns it. A connection that saw CX_DB_EUNAVAIL is discarded and
	 * replaced later; one left inside a transaction is rolled back. */
	void (*release)(void *state, cx_db_conn *conn);

	/* Runs one statement with $1..$n parameters. When `rows` is not
	 * NULL the whole result is returned (callers page large reads).
	 * `changes` (may be NULL) gets the number of rows written. */
	cx_err (*exec)(cx_db_conn *conn, const char *sql,
	    const cx_db_value *params, size_t n_params, cx_db_rows **rows,
	    int64_t *changes, cx_db_error *err);
	/* Runs a script of several statements without parameters (used for
	 * migrations, inside a transaction the core opened). */
	cx_err (*exec_script)(cx_db_conn *conn, const char *sql,
	    cx_db_error *err);

	/* Transactions are serializable: a read-modify-write inside one
	 * never loses an update. A conflict is CX_DB_EBUSY, at any
	 * statement or at commit; the caller retries the whole transaction
	 * (the core's cxi_db_tx does). */
	cx_err (*begin)(cx_db_conn *conn, cx_db_error *err);
	cx_err (*commit)(cx_db_conn *conn, cx_db_error *err);
	cx_err (*rollback)(cx_db_conn *conn, cx_db_error *err);

	size_t (*rows_count)(const cx_db_rows *rows);
	size_t (*rows_columns)(const cx_db_rows *rows);
	/* Column name, borrowed. */
	const char *(*rows_name)(const cx_db_rows *rows, size_t col);
	/* Value at (row, col), borrowed until rows_free. INTEGER columns
	 * come back as CX_DB_INT, BLOB/BYTEA as CX_DB_BLOB, text as
	 * CX_DB_TEXT, SQL NULL as CX_DB_NULL, whatever the backend. */
	cx_err (*rows_get)(const cx_db_rows *rows, size_t row, size_t col,
	    cx_db_value *out);
	void (*rows_free)(cx_db_rows *rows);
} cx_storage_ops;

#ifdef __cplusplus
}
#endif
#endif
