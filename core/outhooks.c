/*
 * outhooks.c - the customer webhook sender (outhooks.h): a scheduler
 * thread that claims due deliveries, and a pool of workers that send
 * them and record every attempt.
 *
 * Claiming is a compare-and-set on next_attempt_at: the scheduler reads
 * a due delivery with its next_attempt_at, then moves it to a lease
 * (now + timeout + a margin) only if nobody moved it first. Another
 * daemon on the same PostgreSQL sees the lease and skips the row; the
 * worker writes the attempt's outcome only while the lease is still
 * its own. A daemon that dies mid-attempt leaves the lease to expire,
 * and the attempt is made again: delivery is at least once, and the
 * event id (Callixo-Event-Id, the payload's "id") lets a receiver drop
 * duplicates.
 *
 * At most one attempt per endpoint is in flight, so a slow or dead
 * endpoint holds one worker, never all of them.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "outhooks_int.h"
#include "repo.h"

/* How often the scheduler looks without a kick. */
#define POLL_MS 1000
/* A claim outlives the attempt by this much before another may take it. */
#define LEASE_MARGIN_MS 30000
#define SCAN_MAX 64
/* How often finished deliveries past the retention are deleted. */
#define PURGE_EVERY_MS (3600 * 1000)
#define ID_MAX CXI_OUTHOOKS_ID_MAX

/* ---- claiming ---- */

static bool
is_busy(char (*busy)[ID_MAX], size_t n, const char *ep)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(busy[i], ep) == 0) {
			return (true);
		}
	}
	return (false);
}

/* Claims up to `room` due deliveries of endpoints not in busy[0..nb)
 * into *out (a list), appending their endpoints to busy. */
static void
claim(cxi_outhooks *h, cxi_dbc *c, size_t room, char (*busy)[ID_MAX],
    size_t nb, cxi_outhooks_job **out)
{
	cx_db_rows *rows = NULL;
	int64_t now = cxi_repo_now_ms();
	cx_db_value p[] = {CX_DB_V_INT(now), CX_DB_V_INT(SCAN_MAX)};
	if (cxi_db_exec(c, "SELECT d.id, d.endpoint_id, d.next_attempt_at "
	                   "FROM webhook_deliveries d JOIN webhook_endpoints e "
	                   "ON e.id = d.endpoint_id WHERE d.state = 'pending' "
	                   "AND d.next_attempt_at <= $1 AND e.active = 1 "
	                   "ORDER BY d.next_attempt_at, d.id LIMIT $2",
	        p, 2, &rows, NULL) != CX_OK) {
		cxi_warn("webhooks", "cannot read due deliveries: %s",
		    c->err.message);
		return;
	}
	size_t n = cxi_db_rows_count(c, rows);
	int64_t lease = now + h->cf.timeout_ms + LEASE_MARGIN_MS;
	for (size_t i = 0; i < n && room > 0; i++) {
		const char *id = cxi_db_text(c, rows, i, 0);
		const char *ep = cxi_db_text(c, rows, i, 1);
		int64_t was = cxi_db_int(c, rows, i, 2, -1);
		if (id == NULL || ep == NULL || strlen(id) >= ID_MAX ||
		    strlen(ep) >= ID_MAX || is_busy(busy, nb, ep)) {
			continue;
		}
		cx_db_value q[] = {CX_DB_V_INT(lease), CX_DB_V_INT(now),
		    CX_DB_V_TEXT(id), CX_DB_V_INT(was)};
		int64_t ch = 0;
		if (cxi_db_exec(c, "UPDATE webhook_deliveries SET "
		                   "next_attempt_at = $1, updated_at = $2 "
		                   "WHERE id = $3 AND state = 'pending' AND "
		                   "next_attempt_at = $4", q, 4, NULL, &ch) !=
		        CX_OK || ch != 1) {
			continue; /* another sender was first */
		}
		cxi_outhooks_job *j = calloc(1, sizeof(*j));
		if (j == NULL) {
			break; /* the lease runs out and it is retried */
		}
		snprintf(j->id, sizeof(j->id), "%s", id);
		snprintf(j->endpoint, sizeof(j->endpoint), "%s", ep);
		j->lease = lease;
		j->next = *out;
		*out = j;
		snprintf(busy[nb++], ID_MAX, "%s", ep);
		room--;
	}
	cxi_db_rows_free(c, rows);
}

static void
sched_pass(cxi_outhooks *h)
{
	size_t cap = (size_t) h->cf.workers;
	char (*busy)[ID_MAX] = calloc(cap, ID_MAX);
	if (busy == NULL) {
		return;
	}
	pthread_mutex_lock(&h->mu);
	size_t nb = h->inflight;
	memcpy(busy, h->busy, nb * ID_MAX);
	pthread_mutex_unlock(&h->mu);
	cxi_outhooks_job *got = NULL;
	cxi_db db;
	cxi_dbc c;
	if (nb < cap && cxi_manager_db_hold(h->cl->mgr, &db)) {
		if (cxi_db_acquire(&db, 2000, &c) == CX_OK) {
			claim(h, &c, cap - nb, busy, nb, &got);
			cxi_db_release(&c);
		}
		cxi_manager_unhold(h->cl->mgr);
	}
	free(busy);
	pthread_mutex_lock(&h->mu);
	while (got != NULL) {
		cxi_outhooks_job *j = got;
		got = j->next;
		j->next = NULL;
		snprintf(h->busy[h->inflight++], ID_MAX, "%s", j->endpoint);
		if (h->tail != NULL) {
			h->tail->next = j;
		} else {
			h->head = j;
		}
		h->tail = j;
		pthread_cond_signal(&h->work);
	}
	pthread_mutex_unlock(&h->mu);
}

/* Delivered and failed deliveries (with their attempts, by cascade) are
 * kept retention_days after their last change, then deleted, so the
 * log does not grow without bound. Any daemon may do it; it is
 * idempotent. */
static void
purge(cxi_outhooks *h)
{
	cxi_db db;
	cxi_dbc c;
	int64_t gone = 0;
	int64_t before = cxi_repo_now_ms() -
	    (int64_t) h->cf.retention_days * 86400 * 1000;
	if (!cxi_manager_db_hold(h->cl->mgr, &db)) {
		return;
	}
	if (cxi_db_acquire(&db, 2000, &c) == CX_OK) {
		cx_db_value p[] = {CX_DB_V_INT(before)};
		if (cxi_db_exec(&c, "DELETE FROM webhook_deliveries WHERE state "
		                    "IN ('delivered', 'failed') AND updated_at < $1",
		        p, 1, NULL, &gone) != CX_OK) {
			cxi_warn("webhooks", "cannot delete old deliveries: %s",
			    c.err.message);
		}
		cxi_db_release(&c);
	}
	cxi_manager_unhold(h->cl->mgr);
	if (gone > 0) {
		cxi_info("webhooks", "deleted %" PRId64 " deliveries finished "
		    "more than %d days ago", gone, h->cf.retention_days);
	}
}

static void *
sched_main(void *arg)
{
	cxi_outhooks *h = arg;
	int64_t purged = 0;
	pthread_mutex_lock(&h->mu);
	while (!h->stopping) {
		h->kicked = false;
		pthread_mutex_unlock(&h->mu);
		if (cxi_repo_now_ms() - purged >= PURGE_EVERY_MS) {
			purge(h);
			purged = cxi_repo_now_ms();
		}
		sched_pass(h);
		pthread_mutex_lock(&h->mu);
		if (h->stopping || h->kicked) {
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += POLL_MS / 1000;
		ts.tv_nsec += (long) (POLL_MS % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->wake, &h->mu, &ts);
	}
	pthread_mutex_unlock(&h->mu);
	return (NULL);
}

static void *
worker_main(void *arg)
{
	cxi_outhooks *h = arg;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (h->head == NULL && !h->stopping) {
			pthread_cond_wait(&h->work, &h->mu);
		}
		if (h->head == NULL) {
			break; /* stopping, and nothing claimed is left */
		}
		cxi_outhooks_job *j = h->head;
		h->head = j->next;
		if (h->head == NULL) {
			h->tail = NULL;
		}
		pthread_mutex_unlock(&h->mu);
		cxi_outhooks_run_job(h, j);
		pthread_mutex_lock(&h->mu);
		for (size_t i = 0; i < h->inflight; i++) {
			if (strcmp(h->busy[i], j->endpoint) == 0) {
				memmove(h->busy[i], h->busy[h->inflight - 1],
				    ID_MAX);
				break;
			}
		}
		h->inflight--;
		free(j);
		/* Room for more: let the scheduler look now. */
		h->kicked = true;
		pthread_cond_signal(&h->wake);
	}
	pthread_mutex_unlock(&h->mu);
	return (NULL);
}

/* ---- lifecycle ---- */

void
cxi_outhooks_kick(cxi_outhooks *h)
{
	if (h == NULL) {
		return;
	}
	pthread_mutex_lock(&h->mu);
	h->kicked = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->mu);
}

cx_err
cxi_outhooks_start(cxi_outhooks **out, struct cxi_calling *cl, char *why,
    size_t whylen)
{
	cxi_outhooks *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		snprintf(why, whylen, "webhooks: out of memory");
		return (CX_ENOMEM);
	}
	h->cl = cl;
	h->cf = cl->hooks_conf;
	if (h->cf.workers < 1) {
		h->cf.workers = 1;
	}
	h->busy = calloc((size_t) h->cf.workers, ID_MAX);
	h->workers = calloc((size_t) h->cf.workers, sizeof(pthread_t));
	if (h->busy == NULL || h->workers == NULL ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(h->busy);
		free(h->workers);
		free(h);
		snprintf(why, whylen, "webhooks: cannot set up libcurl");
		return (CX_ENOMEM);
	}
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->wake, NULL);
	pthread_cond_init(&h->work, NULL);
	for (int i = 0; i < h->cf.workers; i++) {
		if (pthread_create(&h->workers[i], NULL, worker_main, h) != 0) {
			break;
		}
		h->n_workers++;
	}
	h->sched_started = h->n_workers == h->cf.workers &&
	    pthread_create(&h->sched, NULL, sched_main, h) == 0;
	if (!h->sched_started) {
		cxi_outhooks_stop(h);
		snprintf(why, whylen, "webhooks: cannot start the delivery "
		    "threads");
		return (CX_ENOMEM);
	}
	if (h->cf.allow_private || h->cf.allow_http) {
		cxi_warn("webhooks", "webhooks.allow_private=%s "
		    "allow_http=%s: endpoint URLs may reach this host's "
		    "network; use it for tests and local setups only",
		    h->cf.allow_private ? "true" : "false",
		    h->cf.allow_http ? "true" : "false");
	}
	cxi_info("webhooks", "delivering with %d workers, timeout %dms, "
	    "retries for %" PRId64 "s", h->cf.workers, h->cf.timeout_ms,
	    h->cf.max_age_ms / 1000);
	*out = h;
	return (CX_OK);
}

void
cxi_outhooks_stop(cxi_outhooks *h)
{
	if (h == NULL) {
		return;
	}
	pthread_mutex_lock(&h->mu);
	h->stopping = true;
	pthread_cond_broadcast(&h->wake);
	pthread_cond_broadcast(&h->work);
	pthread_mutex_unlock(&h->mu);
	if (h->sched_started) {
		pthread_join(h->sched, NULL);
	}
	/* Workers drain what was claimed (each attempt is bounded by the
	 * timeout), so no claim waits out its lease after a clean stop. */
	for (int i = 0; i < h->n_workers; i++) {
		pthread_join(h->workers[i], NULL);
	}
	pthread_cond_destroy(&h->work);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->mu);
	curl_global_cleanup();
	free(h->workers);
	free(h->busy);
	free(h);
}
