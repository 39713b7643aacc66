/*
 * pg.h - internals of the PostgreSQL storage driver.
 *
 * Files, one concern each:
 *   pg_plugin.c  descriptor, settings, init/fini, the ops table
 *   pg_pool.c    the pool of PGconn: lazy connect, health checks,
 *                reconnect with exponential backoff, acquire/release
 *   pg_exec.c    statements, scripts, transactions and result rows
 *   pg_error.c   SQLSTATE -> cx_db_errclass, and class -> cx_err
 *
 * Every cx_db_error class maps to one cx_err (pg_errcode), so a caller
 * that only looks at the return code still gets a sensible answer.
 */
#ifndef CX_PG_H
#define CX_PG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>

#include <callixo/callixo.h>

/* Reconnect backoff: the first retry after a failed connect waits this
 * long, doubling up to the cap, so a down server sees at most one
 * attempt per interval from this instance however busy the daemon is. */
#define PG_BACKOFF_MIN_MS 100
#define PG_BACKOFF_MAX_MS 5000

typedef struct pg_state pg_state;

/* One pool slot. `pg` is NULL until the slot is first used (lazy
 * connect) and again after a broken connection is discarded. */
struct cx_db_conn {
	pg_state *st;
	PGconn *pg;
	bool in_use;
	bool broken; /* saw a lost connection: discard at release */
};

struct pg_state {
	const cx_host *host;
	char *dsn;          /* secret: never logged */
	char where[192];    /* "host=... port=... dbname=..." for logs */
	char sslmode[16];
	char connect_timeout[16]; /* seconds, as libpq wants it */
	char set_timeout[64];     /* "SET statement_timeout = <ms>" */
	int pool_size;

	pthread_mutex_t mu;
	pthread_cond_t cv; /* a slot was released */
	cx_db_conn *slots;
	int64_t backoff_ms; /* 0 while the server answers */
	int64_t retry_at;   /* monotonic ms before which we do not dial */
	bool down;          /* logged as down; log the recovery once */
	bool ready;         /* init is done: dial outcomes are logged */
	char last_error[200];
};

/* The migrations, generated at build time from migrations/NNNN_*.sql. */
extern const cx_db_migration cx_pg_migrations[];

/* pg_pool.c */
int64_t pg_now_ms(void);
cx_err pg_pool_init(pg_state *st);
void pg_pool_fini(pg_state *st);
/* Opens a connection for `c` now, ignoring the backoff (init uses it to
 * fail fast with libpq's reason). */
cx_err pg_connect(pg_state *st, cx_db_conn *c, cx_db_error *err);
cx_err pg_acquire(void *state, int timeout_ms, cx_db_conn **conn,
    cx_db_error *err);
void pg_release(void *state, cx_db_conn *conn);

/* pg_exec.c */
cx_err pg_exec(cx_db_conn *conn, const char *sql, const cx_db_value *params,
    size_t n_params, cx_db_rows **rows, int64_t *changes, cx_db_error *err);
cx_err pg_exec_script(cx_db_conn *conn, const char *sql, cx_db_error *err);
cx_err pg_begin(cx_db_conn *conn, cx_db_error *err);
cx_err pg_commit(cx_db_conn *conn, cx_db_error *err);
cx_err pg_rollback(cx_db_conn *conn, cx_db_error *err);
size_t pg_rows_count(const cx_db_rows *rows);
size_t pg_rows_columns(const cx_db_rows *rows);
const char *pg_rows_name(const cx_db_rows *rows, size_t col);
cx_err pg_rows_get(const cx_db_rows *rows, size_t row, size_t col,
    cx_db_value *out);
void pg_rows_free(cx_db_rows *rows);

/* pg_error.c */
cx_err pg_errcode(cx_db_errclass cls);
/* Fills err (may be NULL) and returns the matching cx_err. */
cx_err pg_seterr(cx_db_error *err, cx_db_errclass cls, const char *sqlstate,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Classifies a failed result (res may be NULL: libpq had no result to
 * give, e.g. out of memory or the connection dropped). Marks the
 * connection broken when the server is gone. */
cx_err pg_result_error(cx_db_conn *c, const PGresult *res, cx_db_error *err);
/* Fills err from a failed PQconnectdb (libpq's own reason). */
cx_err pg_connect_error(const pg_state *st, PGconn *pg, cx_db_error *err);

#endif
