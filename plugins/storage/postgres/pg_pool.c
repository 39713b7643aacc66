/*
 * pg_pool.c - a fixed pool of PostgreSQL connections.
 *
 * Slots connect lazily, on the first acquire that needs them, so an
 * idle daemon holds one connection (the one init opens to prove the
 * server is there). A connection that is found dead - lost in flight
 * (marked broken by pg_exec), or closed by the server while it sat idle
 * (seen with a zero-timeout poll at acquire) - is discarded and the slot
 * dials again. Dialling is gated by an exponential backoff shared by the
 * whole pool: while the server is down every acquire that would dial
 * fails at once with CX_DB_EUNAVAIL instead of hammering it, and the
 * first success resets the backoff.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg.h"

int64_t
pg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

cx_err
pg_pool_init(pg_state *st)
{
	st->slots = calloc((size_t) st->pool_size, sizeof(*st->slots));
	if (st->slots == NULL) {
		return (CX_ENOMEM);
	}
	for (int i = 0; i < st->pool_size; i++) {
		st->slots[i].st = st;
	}
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca) != 0) {
		free(st->slots);
		st->slots = NULL;
		return (CX_ENOMEM);
	}
	/* Acquire deadlines must not move with the wall clock. */
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(&st->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0) {
		free(st->slots);
		st->slots = NULL;
		return (CX_ENOMEM);
	}
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		pthread_cond_destroy(&st->cv);
		free(st->slots);
		st->slots = NULL;
		return (CX_ENOMEM);
	}
	return (CX_OK);
}

void
pg_pool_fini(pg_state *st)
{
	if (st->slots == NULL) {
		return;
	}
	for (int i = 0; i < st->pool_size; i++) {
		PQfinish(st->slots[i].pg);
	}
	free(st->slots);
	st->slots = NULL;
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
}

/* Records the outcome of a dial for the backoff, and logs only the
 * transitions (up -> down, down -> up) so an outage is two log lines,
 * not one per request. */
static void
note_dial(pg_state *st, bool ok, const char *why)
{
	bool went_down = false, came_back = false;
	pthread_mutex_lock(&st->mu);
	if (ok) {
		came_back = st->down;
		st->down = false;
		st->backoff_ms = 0;
		st->retry_at = 0;
	} else {
		went_down = !st->down;
		st->down = true;
		st->backoff_ms = st->backoff_ms == 0 ? PG_BACKOFF_MIN_MS :
		    st->backoff_ms * 2;
		if (st->backoff_ms > PG_BACKOFF_MAX_MS) {
			st->backoff_ms = PG_BACKOFF_MAX_MS;
		}
		st->retry_at = pg_now_ms() + st->backoff_ms;
		strncpy(st->last_error, why, sizeof(st->last_error) - 1);
	}
	pthread_mutex_unlock(&st->mu);
	const cx_host *h = st->host;
	h->metric_add(h, ok ? "postgres_connects_total" :
	                      "postgres_connect_failures_total", 1);
	if (!st->ready) {
		/* init reports its own outcome, once. */
		return;
	}
	if (went_down) {
		h->log(h, CX_LOG_WARN, "%s; retrying with backoff up to %d ms",
		    why, PG_BACKOFF_MAX_MS);
	}
	if (came_back) {
		h->log(h, CX_LOG_INFO, "reconnected to PostgreSQL at %s",
		    st->where);
	}
}

cx_err
pg_connect(pg_state *st, cx_db_conn *c, cx_db_error *err)
{
	/* dbname first with expansion on: the DSN is unpacked there, and
	 * the keywords after it override what it says (sslmode is the
	 * operator's setting, not the DSN's). */
	static const char *const kw[] = {"fallback_application_name",
	    "dbname", "sslmode", "connect_timeout", NULL};
	const char *val[] = {"callixod", st->dsn, st->sslmode,
	    st->connect_timeout, NULL};
	PGconn *pg = PQconnectdbParams(kw, val, 1);
	if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
		cx_db_error e;
		cx_err rv = pg_connect_error(st, pg, &e);
		PQfinish(pg);
		note_dial(st, false, e.message);
		if (err != NULL) {
			*err = e;
		}
		return (rv);
	}
	/* Per session, so a runaway query cannot hold a pool slot (and
	 * its locks) forever. */
	PGresult *r = PQexec(pg, st->set_timeout);
	c->pg = pg;
	c->broken = false;
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		cx_err rv = pg_result_error(c, r, err);
		PQclear(r);
		PQfinish(pg);
		c->pg = NULL;
		return (rv);
	}
	PQclear(r);
	note_dial(st, true, NULL);
	return (CX_OK);
}

/* An idle connection must have nothing to read: if the socket is
 * readable the server sent a goodbye (a fast shutdown or a restart
 * terminates idle sessions) or closed it. */
static bool
healthy(PGconn *pg)
{
	if (PQstatus(pg) != CONNECTION_OK ||
	    PQtransactionStatus(pg) != PQTRANS_IDLE) {
		return (false);
	}
	struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
	int n;
	do {
		n = poll(&pfd, 1, 0);
	} while (n < 0 && errno == EINTR);
	return (pfd.fd >= 0 && n == 0);
}

/* Called with st->mu held. Prefers a slot that is already connected. */
static cx_db_conn *
free_slot(pg_state *st)
{
	cx_db_conn *empty = NULL;
	for (int i = 0; i < st->pool_size; i++) {
		cx_db_conn *c = &st->slots[i];
		if (c->in_use) {
			continue;
		}
		if (c->pg != NULL) {
			return (c);
		}
		if (empty == NULL) {
			empty = c;
		}
	}
	return (empty);
}

static void
give_back(pg_state *st, cx_db_conn *c)
{
	pthread_mutex_lock(&st->mu);
	c->in_use = false;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

cx_err
pg_acquire(void *state, int timeout_ms, cx_db_conn **conn, cx_db_error *err)
{
	pg_state *st = state;
	int64_t deadline = pg_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	cx_db_conn *c;
	*conn = NULL;
	pthread_mutex_lock(&st->mu);
	while ((c = free_slot(st)) == NULL) {
		if (timeout_ms >= 0 && pg_now_ms() >= deadline) {
			pthread_mutex_unlock(&st->mu);
			return (pg_seterr(err, CX_DB_EBUSY, "",
			    "all %d connections in use for %d ms", st->pool_size,
			    timeout_ms));
		}
		if (timeout_ms < 0) {
			pthread_cond_wait(&st->cv, &st->mu);
			continue;
		}
		struct timespec ts = {.tv_sec = deadline / 1000,
		    .tv_nsec = (deadline % 1000) * 1000000};
		pthread_cond_timedwait(&st->cv, &st->mu, &ts);
	}
	c->in_use = true;
	pthread_mutex_unlock(&st->mu);

	if (c->pg != NULL && !healthy(c->pg)) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	if (c->pg == NULL) {
		pthread_mutex_lock(&st->mu);
		int64_t wait = st->retry_at - pg_now_ms();
		char why[sizeof(st->last_error)];
		memcpy(why, st->last_error, sizeof(why));
		pthread_mutex_unlock(&st->mu);
		if (wait > 0) {
			give_back(st, c);
			return (pg_seterr(err, CX_DB_EUNAVAIL, "",
			    "%s (next attempt in %lld ms)", why,
			    (long long) wait));
		}
		cx_err rv = pg_connect(st, c, err);
		if (rv != CX_OK) {
			give_back(st, c);
			return (rv);
		}
	}
	*conn = c;
	return (CX_OK);
}

void
pg_release(void *state, cx_db_conn *c)
{
	pg_state *st = state;
	if (c == NULL) {
		return;
	}
	if (c->pg != NULL && !c->broken) {
		PGTransactionStatusType ts = PQtransactionStatus(c->pg);
		if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
			PGresult *r = PQexec(c->pg, "ROLLBACK");
			c->broken = PQresultStatus(r) != PGRES_COMMAND_OK;
			PQclear(r);
		} else if (ts != PQTRANS_IDLE) {
			/* ACTIVE or UNKNOWN: the protocol state is not
			 * something the next user can recover from. */
			c->broken = true;
		}
	}
	if (c->broken) {
		PQfinish(c->pg);
		c->pg = NULL;
		c->broken = false;
	}
	give_back(st, c);
}
