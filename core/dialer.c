/*
 * dialer.c - the dialer's thread and lifecycle, its dispatch workers,
 * and the small helpers its other files share (dialer.h, dialer_int.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "dialer_int.h"
#include "log.h"

int64_t
dl_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

bool
dl_conn(cxi_dialer *d, cxi_db *db, cxi_dbc *c)
{
	if (!cxi_manager_db_hold(d->mgr, db)) {
		return (false);
	}
	if (cxi_db_acquire(db, 10000, c) != CX_OK) {
		cxi_manager_unhold(d->mgr);
		return (false);
	}
	return (true);
}

void
dl_release(cxi_dialer *d, cxi_dbc *c)
{
	cxi_db_release(c);
	cxi_manager_unhold(d->mgr);
}

cx_err
dl_query(cxi_dialer *d, const char *sql, const cx_db_value *p, size_t n,
    json_t **rows)
{
	cxi_db db;
	cxi_dbc c;
	cx_db_rows *r = NULL;
	if (rows != NULL) {
		*rows = NULL;
	}
	if (!dl_conn(d, &db, &c)) {
		return (CX_ECLOSED);
	}
	cx_err rv = cxi_db_exec(&c, sql, p, n, rows != NULL ? &r : NULL,
	    NULL);
	if (rv == CX_OK && rows != NULL) {
		*rows = cxi_db_rows_json(&c, r);
		rv = *rows != NULL ? CX_OK : CX_ENOMEM;
	}
	if (rv != CX_OK) {
		cxi_warn("dialer", "query failed: %s (%s)", cx_strerror(rv),
		    c.err.message);
	}
	cxi_db_rows_free(&c, r);
	dl_release(d, &c);
	return (rv);
}

cx_err
dl_exec(cxi_dialer *d, const char *sql, const cx_db_value *p, size_t n,
    int64_t *changes)
{
	cxi_db db;
	cxi_dbc c;
	if (!dl_conn(d, &db, &c)) {
		return (CX_ECLOSED);
	}
	cx_err rv = cxi_db_exec(&c, sql, p, n, NULL, changes);
	if (rv != CX_OK) {
		cxi_warn("dialer", "statement failed: %s (%s)",
		    cx_strerror(rv), c.err.message);
	}
	dl_release(d, &c);
	return (rv);
}

int64_t
dl_track_at(cxi_dialer *d, const char *id, int *tries)
{
	pthread_mutex_lock(&d->mu);
	json_t *t = json_object_get(d->track, id);
	int64_t at = t != NULL ? json_integer_value(json_object_get(t, "at")) :
	                         0;
	if (tries != NULL) {
		*tries = t != NULL ? (int) json_integer_value(json_object_get(t,
		                         "tries")) : 0;
	}
	pthread_mutex_unlock(&d->mu);
	return (at);
}

void
dl_track_set(cxi_dialer *d, const char *id, int64_t at, int tries)
{
	pthread_mutex_lock(&d->mu);
	if (json_object_set_new(d->track, id, json_pack("{s:I, s:i}", "at",
	                            (json_int_t) at, "tries", tries)) != 0) {
		cxi_warn("dialer", "out of memory tracking call %s", id);
	}
	pthread_mutex_unlock(&d->mu);
}

void
dl_track_clear(cxi_dialer *d, const char *id)
{
	pthread_mutex_lock(&d->mu);
	json_object_del(d->track, id);
	pthread_mutex_unlock(&d->mu);
}

bool
dl_inflight(cxi_dialer *d, const char *id)
{
	pthread_mutex_lock(&d->mu);
	bool in = json_object_get(d->inflight, id) != NULL;
	pthread_mutex_unlock(&d->mu);
	return (in);
}

json_t *
dl_credentials(cxi_dialer *d, const char *account, const char *provider,
    const char *name)
{
	cxi_db db;
	json_t *f = NULL;
	if (d->cl->api == NULL || !cxi_manager_db_hold(d->mgr, &db)) {
		return (NULL);
	}
	cx_err rv = cxi_api_vault_credentials(d->cl->api, &db, account,
	    provider, name, &f);
	cxi_manager_unhold(d->mgr);
	if (rv != CX_OK && rv != CX_ENOENT) {
		cxi_warn("dialer", "account %s: the vault entry for %s cannot "
		    "be read (%s); placing with the platform default", account,
		    provider, cx_strerror(rv));
	}
	return (rv == CX_OK ? f : NULL);
}

cx_err
dl_campaign_conf(const json_t *campaign, cxi_campaign_conf *cc, char *why,
    size_t whylen)
{
	json_t *cfg = json_object_get(campaign, "config");
	json_t *parsed = NULL;
	if (json_is_string(cfg)) {
		/* Raw rows carry the column's text. */
		parsed = json_loads(json_string_value(cfg), 0, NULL);
		cfg = parsed;
	}
	cx_err rv = cxi_campaign_conf_parse(cfg, true, cc, why, whylen);
	json_decref(parsed);
	return (rv);
}

/* ---- the tick thread ---- */

static void
tick(cxi_dialer *d)
{
	int64_t now = dl_now();
	if (!d->reconciled) {
		/* Before anything is placed: what the last run left. */
		dl_reconcile_startup(d);
		d->reconciled = true;
		dl_reconcile(d, now, true);
	} else {
		dl_reconcile(d, now, false);
	}
	dl_settle(d, now);
	dl_cancel_sweep(d, now);
	dl_redispatch(d, now);
	dl_complete_sweep(d, now);
	dl_dispatch_new(d, dl_now());
}

static void *
run(void *arg)
{
	cxi_dialer *d = arg;
	pthread_mutex_lock(&d->mu);
	while (!d->stop) {
		pthread_mutex_unlock(&d->mu);
		tick(d);
		pthread_mutex_lock(&d->mu);
		if (d->stop) {
			break;
		}
		if (!d->kicked) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			int64_t ns = ts.tv_nsec +
			    (int64_t) d->conf.tick_ms * 1000000;
			ts.tv_sec += (time_t) (ns / 1000000000);
			ts.tv_nsec = (long) (ns % 1000000000);
			while (!d->stop && !d->kicked &&
			    pthread_cond_timedwait(&d->cv, &d->mu, &ts) !=
			        ETIMEDOUT) {
			}
		}
		d->kicked = false;
	}
	pthread_mutex_unlock(&d->mu);
	return (NULL);
}

void
cxi_dialer_kick(cxi_dialer *d)
{
	if (d == NULL) {
		return;
	}
	pthread_mutex_lock(&d->mu);
	d->kicked = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

static void
dialer_free(cxi_dialer *d)
{
	while (d->head != NULL) {
		dl_job *j = d->head;
		d->head = j->next;
		json_decref(j->req);
		free(j);
	}
	json_decref(d->track);
	json_decref(d->inflight);
	json_decref(d->pace);
	json_decref(d->hungup);
	json_decref(d->rr);
	json_decref(d->conf.provider_cps);
	free(d->workers);
	pthread_cond_destroy(&d->wcv);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

cx_err
cxi_dialer_start(cxi_dialer **out, cxi_calling *cl, char *why,
    size_t whylen)
{
	cxi_dialer *d = calloc(1, sizeof(*d));
	if (d == NULL) {
		snprintf(why, whylen, "dialer: out of memory");
		return (CX_ENOMEM);
	}
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	pthread_cond_init(&d->wcv, NULL);
	d->cl = cl;
	d->mgr = cl->mgr;
	d->conf = cl->dialer_conf;
	d->conf.provider_cps = json_deep_copy(cl->dialer_conf.provider_cps);
	d->track = json_object();
	d->inflight = json_object();
	d->pace = json_object();
	d->hungup = json_object();
	d->rr = json_object();
	d->n_workers = d->conf.dispatch_workers > 0 ?
	    d->conf.dispatch_workers : 1;
	d->workers = calloc((size_t) d->n_workers, sizeof(pthread_t));
	if (d->conf.provider_cps == NULL || d->track == NULL ||
	    d->inflight == NULL || d->pace == NULL || d->hungup == NULL ||
	    d->rr == NULL || d->workers == NULL) {
		dialer_free(d);
		snprintf(why, whylen, "dialer: out of memory");
		return (CX_ENOMEM);
	}
	int started = 0;
	for (; started < d->n_workers; started++) {
		if (pthread_create(&d->workers[started], NULL, dl_worker, d) !=
		    0) {
			break;
		}
	}
	if (started < d->n_workers ||
	    pthread_create(&d->thread, NULL, run, d) != 0) {
		pthread_mutex_lock(&d->mu);
		d->wstop = true;
		pthread_cond_broadcast(&d->wcv);
		pthread_mutex_unlock(&d->mu);
		for (int i = 0; i < started; i++) {
			pthread_join(d->workers[i], NULL);
		}
		dialer_free(d);
		snprintf(why, whylen, "dialer: cannot start its threads");
		return (CX_ENOMEM);
	}
	d->thread_started = true;
	cxi_info("dialer", "dialer up (tick %d ms, %d dispatch workers, "
	    "account concurrency %d)", d->conf.tick_ms, d->n_workers,
	    d->conf.account_max_concurrency);
	*out = d;
	return (CX_OK);
}

void
cxi_dialer_stop(cxi_dialer *d)
{
	if (d == NULL) {
		return;
	}
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	if (d->thread_started) {
		pthread_join(d->thread, NULL);
	}
	pthread_mutex_lock(&d->mu);
	d->wstop = true;
	pthread_cond_broadcast(&d->wcv);
	pthread_mutex_unlock(&d->mu);
	for (int i = 0; i < d->n_workers; i++) {
		pthread_join(d->workers[i], NULL);
	}
	int left = d->queued;
	dialer_free(d);
	cxi_info("dialer", "dialer stopped (%d queued place requests left to "
	    "the next start's reconcile)", left);
}
