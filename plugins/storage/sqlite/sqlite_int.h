/*
 * sqlite_int.h - shared between the files of the sqlite storage driver.
 *
 * One sq_conn wraps one sqlite3 handle opened without SQLite's own
 * mutexes: the storage contract hands a connection to one thread at a
 * time, so the pool's lock is the only one needed.
 */
#ifndef SQ_INT_H
#define SQ_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>

#include <callixo/callixo.h>

/* One cached prepared statement, keyed by its SQL text. The $n names are
 * checked once, at prepare: pidx[n - 1] is SQLite's index for "$n", or
 * n_params is -1 when the statement uses a name that is not $1..$n. */
typedef struct sq_stmt {
	uint64_t hash;
	uint64_t used;     /* LRU tick of the last use */
	char *sql;
	sqlite3_stmt *stmt;
	int n_params;
	int *pidx;
} sq_stmt;

struct cx_db_conn {
	sqlite3 *db;
	struct sq_pool *pool;
	sq_stmt *cache;    /* pool->cache_cap slots */
	sq_stmt scratch;   /* the uncached statement, when cache_cap is 0 */
	size_t n_cache;
	uint64_t tick;
	bool busy;         /* handed out */
};

typedef struct sq_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	cx_db_conn *conns;
	size_t n_conns;
	size_t n_free;
	cx_db_conn **free;  /* stack of idle connections */
	size_t cache_cap;
	const cx_host *host;
} sq_pool;

typedef struct sq_settings {
	char path[4096];
	int pool_size;
	int busy_timeout_ms;
	int statement_cache;
	const char *synchronous; /* "NORMAL" or "FULL" */
} sq_settings;

/* The plugin state (state_size bytes, zeroed by the core). */
typedef struct sq_state {
	const cx_host *host;
	sq_settings cfg;
	sq_pool pool;
	bool pool_ready;
} sq_state;

extern const cx_db_migration sqlite_migrations[];
extern const cx_storage_ops sq_ops;

/* errors.c: fills err (may be NULL) from the connection's last error and
 * returns the matching cx_err. `preparing` tells a plain SQLITE_ERROR
 * from prepare (bad SQL) apart from one raised while running. */
cx_err sq_error(sqlite3 *db, int rc, bool preparing, cx_db_error *err);
/* Fills err with a class and a message of the driver's own. */
cx_err sq_error_set(cx_db_error *err, cx_db_errclass cls, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
void sq_error_clear(cx_db_error *err);

/* pool.c */
cx_err sq_pool_open(sq_pool *p, const cx_host *h, const sq_settings *cfg);
void sq_pool_close(sq_pool *p);
cx_err sq_acquire(void *state, int timeout_ms, cx_db_conn **conn,
    cx_db_error *err);
void sq_release(void *state, cx_db_conn *conn);

/* stmt.c: the per-connection prepared statement cache. The statement
 * comes back reset, with no bindings; hand it back with sq_stmt_done. */
cx_err sq_stmt_get(cx_db_conn *c, const char *sql, sq_stmt **out,
    cx_db_error *err);
void sq_stmt_done(cx_db_conn *c, sq_stmt *e);
void sq_stmt_cache_free(cx_db_conn *c);

/* exec.c */
cx_err sq_exec(cx_db_conn *c, const char *sql, const cx_db_value *params,
    size_t n_params, cx_db_rows **rows, int64_t *changes, cx_db_error *err);
cx_err sq_exec_script(cx_db_conn *c, const char *sql, cx_db_error *err);
cx_err sq_begin(cx_db_conn *c, cx_db_error *err);
cx_err sq_commit(cx_db_conn *c, cx_db_error *err);
cx_err sq_rollback(cx_db_conn *c, cx_db_error *err);

/* rows.c: result sets materialised from a stepping statement. */
cx_err sq_rows_collect(sqlite3 *db, sqlite3_stmt *stmt, cx_db_rows **out,
    cx_db_error *err);
size_t sq_rows_count(const cx_db_rows *r);
size_t sq_rows_columns(const cx_db_rows *r);
const char *sq_rows_name(const cx_db_rows *r, size_t col);
cx_err sq_rows_get(const cx_db_rows *r, size_t row, size_t col,
    cx_db_value *out);
void sq_rows_free(cx_db_rows *r);

#endif
