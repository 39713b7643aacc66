/*
 * rs_pool.c - a fixed pool of Redis connections.
 *
 * Slots connect lazily, so an idle daemon holds the one connection init
 * opened. A connection that fails mid-command (I/O error, EOF, timeout)
 * is dropped, since a hiredis context is unusable after any error, and
 * the command fails with CX_ECLOSED (CX_ETIMEDOUT for a timeout). One
 * that the server closed while it sat idle (a restart) is noticed with a
 * zero-timeout poll at acquire and redialled before use, so the first
 * request after a restart does not pay for the dead socket. Dialling is
 * gated by an exponential backoff shared by the pool: while Redis is
 * down, requests fail at once with CX_ECLOSED instead of each waiting
 * for a connect timeout.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rs.h"

int64_t
rs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

cx_err
rs_pool_init(rs_state *st)
{
	st->slots = calloc((size_t) st->pool_size, sizeof(*st->slots));
	if (st->slots == NULL) {
		return (CX_ENOMEM);
	}
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca) != 0) {
		return (CX_ENOMEM);
	}
	/* Acquire deadlines must not move with the wall clock. */
	int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0) {
		rc = pthread_cond_init(&st->cv, &ca);
	}
	pthread_condattr_destroy(&ca);
	if (rc != 0) {
		return (CX_ENOMEM);
	}
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		pthread_cond_destroy(&st->cv);
		return (CX_ENOMEM);
	}
	st->sync_init = true;
	return (CX_OK);
}

void
rs_pool_fini(rs_state *st)
{
	if (st->slots != NULL) {
		for (int i = 0; i < st->pool_size; i++) {
			if (st->slots[i].c != NULL) {
				redisFree(st->slots[i].c);
			}
		}
		free(st->slots);
		st->slots = NULL;
	}
	if (st->sync_init) {
		pthread_cond_destroy(&st->cv);
		pthread_mutex_destroy(&st->mu);
		st->sync_init = false;
	}
}

/* Records a dial outcome for the backoff and logs only the transitions
 * (up -> down, down -> up): an outage is two log lines, not one per
 * request. */
static void
note_dial(rs_state *st, bool ok, const char *why)
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
		st->backoff_ms = st->backoff_ms == 0 ? RS_BACKOFF_MIN_MS :
		    st->backoff_ms * 2;
		if (st->backoff_ms > RS_BACKOFF_MAX_MS) {
			st->backoff_ms = RS_BACKOFF_MAX_MS;
		}
		st->retry_at = rs_now_ms() + st->backoff_ms;
		snprintf(st->last_error, sizeof(st->last_error), "%s", why);
	}
	pthread_mutex_unlock(&st->mu);
	const cx_host *h = st->host;
	h->metric_add(h, ok ? "redis_connects_total" :
	                      "redis_connect_failures_total", 1);
	if (!st->ready) {
		/* init reports its own outcome, once. */
		return;
	}
	if (went_down) {
		h->log(h, CX_LOG_WARN, "%s; retrying with backoff up to %d ms",
		    why, RS_BACKOFF_MAX_MS);
	}
	if (came_back) {
		h->log(h, CX_LOG_INFO, "reconnected to Redis at %s", st->where);
	}
}

/* Runs one setup command (AUTH, SELECT) on a fresh context. The reply
 * text is Redis' own ("WRONGPASS invalid username-password pair"); it
 * never echoes the password. */
static bool
setup_cmd(redisContext *c, int argc, const char **argv, char *why,
    size_t whylen)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	if (r == NULL) {
		snprintf(why, whylen, "%s failed: %s", argv[0], c->errstr);
		return (false);
	}
	bool ok = r->type != REDIS_REPLY_ERROR;
	if (!ok) {
		snprintf(why, whylen, "%s refused: %s", argv[0], r->str);
	}
	freeReplyObject(r);
	return (ok);
}

static redisContext *
dial(rs_state *st, char *why, size_t whylen)
{
	struct timeval tv = {.tv_sec = st->timeout_ms / 1000,
	    .tv_usec = (st->timeout_ms % 1000) * 1000};
	redisContext *c = st->url.path[0] != '\0' ?
	    redisConnectUnixWithTimeout(st->url.path, tv) :
	    redisConnectWithTimeout(st->url.host, st->url.port, tv);
	if (c == NULL) {
		snprintf(why, whylen, "cannot connect to Redis at %s: out of "
		    "memory", st->where);
		return (NULL);
	}
	if (c->err != 0) {
		snprintf(why, whylen, "cannot connect to Redis at %s: %s",
		    st->where, c->errstr);
		redisFree(c);
		return (NULL);
	}
	/* Every command gets the same deadline as the connect. */
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(why, whylen, "cannot set the timeout on %s: %s",
		    st->where, c->errstr);
		redisFree(c);
		return (NULL);
	}
	char detail[160] = "";
	bool ok = true;
	if (st->url.password[0] != '\0') {
		const char *a[] = {"AUTH", st->url.user, st->url.password};
		ok = st->url.user[0] != '\0' ?
		    setup_cmd(c, 3, a, detail, sizeof(detail)) :
		    setup_cmd(c, 2, (const char *[]){"AUTH", st->url.password},
		        detail, sizeof(detail));
	}
	if (ok && st->url.db != 0) {
		char db[16];
		snprintf(db, sizeof(db), "%d", st->url.db);
		ok = setup_cmd(c, 2, (const char *[]){"SELECT", db}, detail,
		    sizeof(detail));
	}
	if (!ok) {
		snprintf(why, whylen, "Redis at %s: %s", st->where, detail);
		redisFree(c);
		return (NULL);
	}
	return (c);
}

cx_err
rs_connect(rs_state *st, rs_slot *s, char *why, size_t whylen)
{
	redisContext *c = dial(st, why, whylen);
	note_dial(st, c != NULL, why);
	if (c == NULL) {
		return (CX_EIO);
	}
	s->c = c;
	return (CX_OK);
}

/* An idle connection has nothing to read: a readable socket means the
 * server closed it (shutdown, restart, client timeout). */
static bool
healthy(const redisContext *c)
{
	if (c->err != 0 || c->fd < 0) {
		return (false);
	}
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	int n;
	do {
		n = poll(&pfd, 1, 0);
	} while (n < 0 && errno == EINTR);
	return (n == 0);
}

/* Called with st->mu held. Prefers a slot that is already connected. */
static rs_slot *
free_slot(rs_state *st)
{
	rs_slot *empty = NULL;
	for (int i = 0; i < st->pool_size; i++) {
		rs_slot *s = &st->slots[i];
		if (s->in_use) {
			continue;
		}
		if (s->c != NULL) {
			return (s);
		}
		if (empty == NULL) {
			empty = s;
		}
	}
	return (empty);
}

void
rs_release(rs_state *st, rs_slot *s, bool broken)
{
	if (broken && s->c != NULL) {
		redisFree(s->c);
		s->c = NULL;
	}
	pthread_mutex_lock(&st->mu);
	s->in_use = false;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

cx_err
rs_acquire(rs_state *st, rs_slot **out)
{
	int64_t deadline = rs_now_ms() + st->timeout_ms;
	rs_slot *s;
	*out = NULL;
	pthread_mutex_lock(&st->mu);
	while ((s = free_slot(st)) == NULL) {
		if (rs_now_ms() >= deadline) {
			pthread_mutex_unlock(&st->mu);
			st->host->log(st->host, CX_LOG_WARN, "all %d Redis "
			    "connections busy for %lld ms", st->pool_size,
			    (long long) st->timeout_ms);
			return (CX_EBUSY);
		}
		struct timespec ts = {.tv_sec = deadline / 1000,
		    .tv_nsec = (deadline % 1000) * 1000000};
		pthread_cond_timedwait(&st->cv, &st->mu, &ts);
	}
	s->in_use = true;
	int64_t wait = st->retry_at - rs_now_ms();
	pthread_mutex_unlock(&st->mu);

	if (s->c != NULL && !healthy(s->c)) {
		redisFree(s->c);
		s->c = NULL;
	}
	if (s->c == NULL) {
		if (wait > 0) {
			/* Down and inside the backoff: fail now. */
			rs_release(st, s, false);
			return (CX_ECLOSED);
		}
		char why[256];
		if (rs_connect(st, s, why, sizeof(why)) != CX_OK) {
			rs_release(st, s, false);
			return (CX_ECLOSED);
		}
	}
	*out = s;
	return (CX_OK);
}

cx_err
rs_command(rs_state *st, int argc, const char **argv, const size_t *lens,
    redisReply **reply)
{
	rs_slot *s;
	*reply = NULL;
	cx_err rv = rs_acquire(st, &s);
	if (rv != CX_OK) {
		return (rv);
	}
	redisReply *r = redisCommandArgv(s->c, argc, argv, lens);
	if (r == NULL) {
		/* The context is dead whatever the cause; say which. */
		bool timed_out = s->c->err == REDIS_ERR_IO &&
		    (errno == EAGAIN || errno == EWOULDBLOCK);
		st->host->log(st->host, CX_LOG_WARN, "Redis at %s: %s%s",
		    st->where, timed_out ? "timed out: " : "connection lost: ",
		    s->c->errstr);
		rs_release(st, s, true);
		return (timed_out ? CX_ETIMEDOUT : CX_ECLOSED);
	}
	if (r->type == REDIS_REPLY_ERROR) {
		/* A server-side refusal (OOM, script error, LOADING): the
		 * connection itself is fine. */
		st->host->log(st->host, CX_LOG_ERROR, "Redis at %s: %s %s",
		    st->where, argv[0], r->str);
		bool loading = strncmp(r->str, "LOADING", 7) == 0;
		freeReplyObject(r);
		rs_release(st, s, false);
		return (loading ? CX_ECLOSED : CX_EIO);
	}
	rs_release(st, s, false);
	*reply = r;
	return (CX_OK);
}
