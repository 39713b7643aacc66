/*
 * pool.c - a fixed set of SQLite connections shared by the core's threads.
 *
 * All connections are opened at init, so a bad path or a damaged file
 * fails the plugin at start rather than the first request. Each one is
 * opened with SQLITE_OPEN_NOMUTEX: a connection belongs to one thread at
 * a time, so SQLite's per-call locking would be pure overhead. WAL lets
 * readers run beside the single writer; busy_timeout makes a writer wait
 * for the lock instead of failing at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqlite_int.h"

/* Runs one pragma; `expect` (may be NULL) is the value the pragma must
 * report back, since journal_mode silently stays put when it cannot
 * change (e.g. on a file system without shared memory). */
static int
pragma(sqlite3 *db, const char *sql, const char *expect, char *why,
    size_t whylen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && expect != NULL) {
			const char *got = (const char *) sqlite3_column_text(st, 0);
			if (got == NULL || strcmp(got, expect) != 0) {
				snprintf(why, whylen, "%s returned %s, not %s",
				    sql, got ? got : "nothing", expect);
				sqlite3_finalize(st);
				return (-1);
			}
		}
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	if (rc != SQLITE_OK) {
		snprintf(why, whylen, "%s: %s", sql, sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return (rc == SQLITE_OK ? 0 : -1);
}

static int
conn_open(cx_db_conn *c, const sq_settings *cfg, char *why, size_t whylen)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	int rc = sqlite3_open_v2(cfg->path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		/* errno says why the open(2) failed ("Permission denied"),
		 * which SQLite's "unable to open database file" does not. */
		int sys = c->db != NULL ? sqlite3_system_errno(c->db) : 0;
		snprintf(why, whylen, "%s%s%s",
		    c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc),
		    sys != 0 ? ": " : "", sys != 0 ? strerror(sys) : "");
		return (-1);
	}
	if (sqlite3_extended_result_codes(c->db, 1) != SQLITE_OK ||
	    sqlite3_busy_timeout(c->db, cfg->busy_timeout_ms) != SQLITE_OK) {
		snprintf(why, whylen, "%s", sqlite3_errmsg(c->db));
		return (-1);
	}
	char sync[64];
	snprintf(sync, sizeof(sync), "PRAGMA synchronous=%s", cfg->synchronous);
	/* journal_mode reads the header first, so this is also where a file
	 * that is not a database is caught. */
	if (pragma(c->db, "PRAGMA journal_mode=WAL", "wal", why, whylen) != 0 ||
	    pragma(c->db, "PRAGMA foreign_keys=ON", NULL, why, whylen) != 0 ||
	    pragma(c->db, sync, NULL, why, whylen) != 0) {
		return (-1);
	}
	return (0);
}

static void
conn_close(cx_db_conn *c)
{
	sq_stmt_cache_free(c);
	/* close_v2 would defer a close with statements left open; none are
	 * (the cache finalized them), so plain close frees everything. */
	if (c->db != NULL && sqlite3_close(c->db) != SQLITE_OK) {
		sqlite3_close_v2(c->db);
	}
	c->db = NULL;
}

cx_err
sq_pool_open(sq_pool *p, const cx_host *h, const sq_settings *cfg)
{
	memset(p, 0, sizeof(*p));
	p->host = h;
	p->n_conns = (size_t) cfg->pool_size;
	p->cache_cap = (size_t) cfg->statement_cache;
	p->conns = calloc(p->n_conns, sizeof(*p->conns));
	p->free = calloc(p->n_conns, sizeof(*p->free));
	if (p->conns == NULL || p->free == NULL) {
		free(p->conns);
		free(p->free);
		return (CX_ENOMEM);
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	/* Acquire deadlines must not move with the wall clock. */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&p->mu, NULL);
	for (size_t i = 0; i < p->n_conns; i++) {
		cx_db_conn *c = &p->conns[i];
		c->pool = p;
		c->cache = p->cache_cap > 0 ?
		    calloc(p->cache_cap, sizeof(*c->cache)) : NULL;
		char why[512] = "";
		if (p->cache_cap > 0 && c->cache == NULL) {
			snprintf(why, sizeof(why), "out of memory");
		} else if (conn_open(c, cfg, why, sizeof(why)) == 0) {
			p->free[p->n_free++] = c;
			continue;
		}
		h->log(h, CX_LOG_ERROR, "cannot open database %s: %s",
		    cfg->path, why);
		sq_pool_close(p);
		return (CX_EIO);
	}
	return (CX_OK);
}

void
sq_pool_close(sq_pool *p)
{
	if (p->conns == NULL) {
		return;
	}
	for (size_t i = 0; i < p->n_conns; i++) {
		conn_close(&p->conns[i]);
		free(p->conns[i].cache);
	}
	free(p->conns);
	free(p->free);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	memset(p, 0, sizeof(*p));
}

cx_err
sq_acquire(void *state, int timeout_ms, cx_db_conn **conn, cx_db_error *err)
{
	sq_pool *p = &((sq_state *) state)->pool;
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	int64_t ms = timeout_ms > 0 ? timeout_ms : 0;
	dl.tv_sec += (time_t) (ms / 1000);
	dl.tv_nsec += (long) (ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->mu);
	while (p->n_free == 0) {
		int rc = pthread_cond_timedwait(&p->cv, &p->mu, &dl);
		if (rc == ETIMEDOUT && p->n_free == 0) {
			pthread_mutex_unlock(&p->mu);
			*conn = NULL;
			return (sq_error_set(err, CX_DB_EBUSY,
			    "no database connection free within %d ms "
			    "(pool of %zu)", timeout_ms, p->n_conns));
		}
	}
	cx_db_conn *c = p->free[--p->n_free];
	c->busy = true;
	pthread_mutex_unlock(&p->mu);
	sq_error_clear(err);
	*conn = c;
	return (CX_OK);
}

void
sq_release(void *state, cx_db_conn *c)
{
	sq_pool *p = &((sq_state *) state)->pool;
	if (c == NULL) {
		return;
	}
	if (!c->busy) {
		/* A second release would put the connection on the free
		 * stack twice and hand it to two threads at once. */
		p->host->log(p->host, CX_LOG_ERROR, "connection released "
		                                    "twice; ignored");
		return;
	}
	/* A caller that returns early on an error must not leave its
	 * transaction (and SQLite's write lock) to the next borrower. */
	if (sqlite3_get_autocommit(c->db) == 0) {
		cx_db_error e;
		if (sq_rollback(c, &e) != CX_OK) {
			p->host->log(p->host, CX_LOG_WARN, "rollback of an "
			    "abandoned transaction failed: %s", e.message);
		}
	}
	pthread_mutex_lock(&p->mu);
	c->busy = false;
	p->free[p->n_free++] = c;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}
