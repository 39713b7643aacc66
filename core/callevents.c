/*
 * callevents.c - the call events runtime (callevents.h): its lifecycle,
 * the call.event and call.credentials handlers of the core service, and
 * the sweeper that re-applies what could not be applied at once.
 *
 * A provider's callback can race the place_call reply (the call row has
 * no provider_call_id yet) or even the dialer's insert; such an event is
 * stored with processed_at NULL and answered OK, and the sweeper applies
 * it once its call shows up. The same sweeper sends call.completed for
 * calls whose artifact deadline passed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "callevents_int.h"
#include "log.h"

#define SWEEP_MS 1000

json_t *
ce_msg(const char *why)
{
	return (json_pack("{s:s}", "message", why));
}

/* ---- one provider event, stored and (when its call exists) applied ---- */

typedef struct ev_job {
	cxi_callevents *ev;
	const json_t *data;  /* the call.event payload */
	const char *pev_id;  /* sweeper: the stored event to settle */
	bool duplicate;
	ce_after after;
	char why[256];
} ev_job;

/* Applies a stored event to its call when there is one, and marks it
 * processed; leaves it pending otherwise. */
static cx_err
settle(ev_job *j, cxi_dbc *c, const char *pev_id, const json_t *data,
    int64_t received_at)
{
	const char *prov = json_string_value(json_object_get(data,
	    "provider"));
	json_t *call = NULL;
	cx_err rv = ce_find_call_c(c, prov, json_string_value(
	    json_object_get(data, "call_id")), json_string_value(
	    json_object_get(data, "provider_call_id")), &call);
	int64_t now = cxi_repo_now_ms();
	json_t *sys = NULL;
	if (rv == CX_OK) {
		rv = ce_apply_c(j->ev, c, call, data, &j->after, j->why,
		    sizeof(j->why));
		sys = json_pack("{s:I, s:O, s:O}", "processed_at",
		    (json_int_t) now, "call_id", json_object_get(call, "id"),
		    "account_id", json_object_get(call, "account_id"));
	} else if (rv == CX_EDENIED) {
		sys = json_pack("{s:I, s:s}", "processed_at", (json_int_t) now,
		    "error", "the ids name a call of another provider, or "
		             "disagree");
		cxi_warn("calls", "provider event %s of %s: ids do not match "
		    "one call of that provider; not applied", pev_id, prov);
		rv = CX_OK;
	} else if (rv == CX_ENOENT && received_at < now - CE_ORPHAN_MS) {
		sys = json_pack("{s:I, s:s}", "processed_at", (json_int_t) now,
		    "error", "no call matched within 24 hours");
		rv = CX_OK;
	} else if (rv == CX_ENOENT) {
		return (CX_OK); /* not yet: the sweeper comes back */
	}
	json_decref(call);
	if (rv == CX_OK) {
		rv = sys == NULL ? CX_ENOMEM :
		    cxi_repo_update_c(c, &cxi_ent_provider_event, NULL, pev_id,
		        NULL, sys, NULL, j->why, sizeof(j->why));
	}
	json_decref(sys);
	return (rv);
}

static cx_err
event_tx(cxi_dbc *c, void *arg)
{
	ev_job *j = arg;
	json_t *row = NULL;
	json_decref(j->after.publish);
	ce_after_init(&j->after);
	j->duplicate = false;
	json_t *sys = json_pack("{s:O, s:O, s:O, s:O}", "provider",
	    json_object_get(j->data, "provider"), "event_id",
	    json_object_get(j->data, "event_id"), "seq",
	    json_object_get(j->data, "seq"), "payload", j->data);
	if (sys == NULL || j->after.publish == NULL) {
		json_decref(sys);
		return (CX_ENOMEM);
	}
	bool inserted = false;
	cx_err rv = cxi_repo_insert_skip_c(c, &cxi_ent_provider_event, NULL,
	    NULL, sys, "provider, event_id", &inserted, &row, j->why,
	    sizeof(j->why));
	json_decref(sys);
	if (rv == CX_OK && !inserted) {
		j->duplicate = true;
	} else if (rv == CX_OK) {
		rv = settle(j, c, json_string_value(json_object_get(row, "id")),
		    j->data, cxi_repo_now_ms());
	}
	json_decref(row);
	return (rv);
}

/*
 * The manager's routes cannot be removed and it copies a route before
 * calling it, so a handler may start after stop began. Handlers reach
 * the runtime through this slot, which lives as long as the process:
 * stop empties it and waits for the handlers inside. One runtime per
 * process.
 */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	cxi_callevents *ev;
	int inside;
} slot = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0};

static cxi_callevents *
enter(void)
{
	pthread_mutex_lock(&slot.mu);
	cxi_callevents *ev = slot.ev;
	slot.inside += ev != NULL;
	pthread_mutex_unlock(&slot.mu);
	return (ev);
}

static void
leave(void)
{
	pthread_mutex_lock(&slot.mu);
	if (--slot.inside == 0) {
		pthread_cond_broadcast(&slot.cv);
	}
	pthread_mutex_unlock(&slot.mu);
}

static cx_err
gone(json_t **reply)
{
	*reply = ce_msg("the calling runtime is not running");
	return (CX_ECLOSED);
}

static cx_err
event_in(cxi_callevents *ev, const cx_msg *req, json_t **reply)
{
	char why[256];
	cxi_db db;
	if (cxi_callevent_validate(req->data, why, sizeof(why)) != CX_OK) {
		*reply = ce_msg(why);
		return (CX_EINVAL);
	}
	const char *prov = json_string_value(json_object_get(req->data,
	    "provider"));
	if (!cxi_manager_running(ev->mgr, prov, CX_KIND_TELEPHONY, NULL, 0)) {
		cxi_warn("calls", "call.event refused: %s is not a running "
		    "telephony plugin", prov);
		*reply = ce_msg("provider is not a running telephony plugin");
		return (CX_EDENIED);
	}
	if (!cxi_manager_db_hold(ev->mgr, &db)) {
		*reply = ce_msg("storage is not available");
		return (CX_ECLOSED);
	}
	ev_job j = {.ev = ev, .data = req->data};
	cx_db_error err;
	pthread_mutex_lock(&ev->apply);
	cx_err rv = cxi_db_tx(&db, 5, event_tx, &j, &err);
	pthread_mutex_unlock(&ev->apply);
	cxi_manager_unhold(ev->mgr);
	if (rv != CX_OK) {
		cxi_error("calls", "call.event %s of %s not stored: %s",
		    json_string_value(json_object_get(req->data, "event_id")),
		    prov, j.why[0] ? j.why : err.message);
		json_decref(j.after.publish);
		*reply = ce_msg("the event could not be stored");
		return (rv);
	}
	ce_after_flush(ev, &j.after);
	*reply = json_pack("{s:b}", "duplicate", j.duplicate);
	return (*reply != NULL ? CX_OK : CX_ENOMEM);
}

static cx_err
on_event(void *arg, const cx_msg *req, json_t **reply)
{
	(void) arg;
	cxi_callevents *ev = enter();
	if (ev == NULL) {
		return (gone(reply));
	}
	cx_err rv = event_in(ev, req, reply);
	leave();
	return (rv);
}

static cx_err
on_recording(void *arg, const cx_msg *req, json_t **reply)
{
	(void) arg;
	cxi_callevents *ev = enter();
	if (ev == NULL) {
		return (gone(reply));
	}
	cx_err rv = ce_recording(ev, req, reply);
	leave();
	return (rv);
}

/* ---- call.credentials ---- */

static cx_err
credentials_in(cxi_callevents *ev, const cx_msg *req, json_t **reply)
{
	const char *prov = json_string_value(json_object_get(req->data,
	    "provider"));
	const char *id = json_string_value(json_object_get(req->data,
	    "call_id"));
	cxi_db db;
	if (prov == NULL || id == NULL || strlen(id) > 64) {
		*reply = ce_msg("call.credentials needs provider and call_id");
		return (CX_EINVAL);
	}
	if (!cxi_manager_running(ev->mgr, prov, CX_KIND_TELEPHONY, NULL, 0)) {
		*reply = ce_msg("provider is not a running telephony plugin");
		return (CX_EDENIED);
	}
	if (!cxi_manager_db_hold(ev->mgr, &db)) {
		*reply = ce_msg("storage is not available");
		return (CX_ECLOSED);
	}
	json_t *call = NULL, *cmp = NULL, *fields = NULL;
	cx_err rv = cxi_repo_get(&db, &cxi_ent_call, NULL, id, &call);
	const char *cp = json_string_value(json_object_get(call, "provider"));
	if (rv == CX_OK && (cp == NULL || strcmp(cp, prov) != 0)) {
		rv = CX_ENOENT; /* another provider's call: not yours to ask */
	}
	const char *acct = json_string_value(json_object_get(call,
	    "account_id"));
	const char *cid = json_string_value(json_object_get(call,
	    "campaign_id"));
	if (rv == CX_OK && cid != NULL) {
		cx_err r2 = cxi_repo_get(&db, &cxi_ent_campaign, NULL, cid, &cmp);
		rv = r2 == CX_ENOENT ? CX_OK : r2;
	}
	const char *name = json_string_value(json_object_get(
	    json_object_get(cmp, "config"), "credential"));
	if (rv == CX_OK && ev->cl->api != NULL) {
		cx_err r2 = cxi_api_vault_credentials(ev->cl->api, &db, acct,
		    prov, name, &fields);
		rv = r2 == CX_ENOENT ? CX_OK : r2;
	}
	cxi_manager_unhold(ev->mgr);
	json_decref(call);
	json_decref(cmp);
	if (rv != CX_OK) {
		json_decref(fields);
		*reply = ce_msg(rv == CX_ENOENT ? "no such call" :
		                                  "credentials unavailable");
		return (rv);
	}
	*reply = fields != NULL ? json_pack("{s:o}", "credentials", fields) :
	                          json_object();
	return (*reply != NULL ? CX_OK : CX_ENOMEM);
}

static cx_err
on_credentials(void *arg, const cx_msg *req, json_t **reply)
{
	(void) arg;
	cxi_callevents *ev = enter();
	if (ev == NULL) {
		return (gone(reply));
	}
	cx_err rv = credentials_in(ev, req, reply);
	leave();
	return (rv);
}

/* ---- the sweeper ---- */

static cx_err
sweep_event_tx(cxi_dbc *c, void *arg)
{
	ev_job *j = arg;
	json_t *row = NULL;
	json_decref(j->after.publish);
	ce_after_init(&j->after);
	cx_err rv = cxi_repo_get_c(c, &cxi_ent_provider_event, NULL,
	    j->pev_id, &row);
	if (rv == CX_ENOENT) {
		return (CX_OK);
	}
	const json_t *data = json_object_get(row, "payload");
	if (rv == CX_OK && json_is_null(json_object_get(row, "processed_at")) &&
	    json_is_object(data)) {
		rv = settle(j, c, j->pev_id, data, (int64_t) json_integer_value(
		    json_object_get(row, "received_at")));
	}
	json_decref(row);
	return (rv);
}

/* Ids of a query's first column, as a JSON array of strings. */
static json_t *
ids_of(const cxi_db *db, const char *sql, const cx_db_value *p, size_t n)
{
	cxi_dbc c;
	cx_db_rows *rows = NULL;
	if (cxi_db_acquire(db, 5000, &c) != CX_OK) {
		return (NULL);
	}
	json_t *ids = NULL;
	if (cxi_db_exec(&c, sql, p, n, &rows, NULL) == CX_OK) {
		ids = json_array();
		for (size_t i = 0; ids != NULL && i < cxi_db_rows_count(&c,
		                                          rows); i++) {
			const char *id = cxi_db_text(&c, rows, i, 0);
			if (id != NULL) {
				json_array_append_new(ids, json_string(id));
			}
		}
		cxi_db_rows_free(&c, rows);
	}
	cxi_db_release(&c);
	return (ids);
}

void
ce_sweep_events(cxi_callevents *ev, const cxi_db *db)
{
	json_t *ids = ids_of(db, "SELECT id FROM provider_events WHERE "
	                         "processed_at IS NULL ORDER BY received_at, "
	                         "seq LIMIT 200", NULL, 0);
	size_t i;
	json_t *id;
	json_array_foreach (ids, i, id) {
		ev_job j = {.ev = ev, .pev_id = json_string_value(id)};
		cx_db_error err;
		pthread_mutex_lock(&ev->apply);
		cx_err rv = cxi_db_tx(db, 3, sweep_event_tx, &j, &err);
		pthread_mutex_unlock(&ev->apply);
		if (rv != CX_OK) {
			cxi_warn("calls", "provider event %s: %s",
			    j.pev_id, j.why[0] ? j.why : err.message);
			json_decref(j.after.publish);
			continue;
		}
		ce_after_flush(ev, &j.after);
	}
	json_decref(ids);
}

typedef struct fin_job {
	cxi_callevents *ev;
	const char *call;
	ce_after after;
	char why[256];
} fin_job;

static cx_err
finish_tx(cxi_dbc *c, void *arg)
{
	fin_job *j = arg;
	json_t *row = NULL;
	json_decref(j->after.publish);
	ce_after_init(&j->after);
	cx_err rv = cxi_repo_get_c(c, &cxi_ent_call, NULL, j->call, &row);
	if (rv == CX_OK) {
		rv = ce_finish_c(j->ev, c, row, &j->after, j->why,
		    sizeof(j->why));
	}
	json_decref(row);
	return (rv == CX_ENOENT ? CX_OK : rv);
}

void
ce_sweep_deadlines(cxi_callevents *ev, const cxi_db *db)
{
	int64_t now = cxi_repo_now_ms();
	cx_db_value p[] = {CX_DB_V_INT(now)};
	json_t *ids = ids_of(db, "SELECT id FROM calls WHERE "
	    "completed_sent_at IS NULL AND status IN ('completed', 'busy', "
	    "'no_answer', 'failed', 'canceled') AND (artifacts_due_at IS "
	    "NULL OR artifacts_due_at <= $1) LIMIT 200", p, 1);
	size_t i;
	json_t *id;
	json_array_foreach (ids, i, id) {
		fin_job j = {.ev = ev, .call = json_string_value(id)};
		cx_db_error err;
		pthread_mutex_lock(&ev->apply);
		cx_err rv = cxi_db_tx(db, 3, finish_tx, &j, &err);
		pthread_mutex_unlock(&ev->apply);
		if (rv != CX_OK) {
			cxi_warn("calls", "finishing call %s: %s", j.call,
			    j.why[0] ? j.why : err.message);
			json_decref(j.after.publish);
			continue;
		}
		ce_after_flush(ev, &j.after);
	}
	json_decref(ids);
}

void
cxi_callevents_sweep(cxi_callevents *ev)
{
	cxi_db db;
	if (ev == NULL || !cxi_manager_db_hold(ev->mgr, &db)) {
		return;
	}
	ce_sweep_events(ev, &db);
	ce_sweep_deadlines(ev, &db);
	cxi_manager_unhold(ev->mgr);
}

static void *
sweeper(void *arg)
{
	cxi_callevents *ev = arg;
	pthread_mutex_lock(&ev->mu);
	while (!ev->stopping) {
		if (!ev->kicked) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += SWEEP_MS / 1000;
			pthread_cond_timedwait(&ev->cv, &ev->mu, &ts);
		}
		if (ev->stopping) {
			break;
		}
		ev->kicked = false;
		pthread_mutex_unlock(&ev->mu);
		cxi_callevents_sweep(ev);
		pthread_mutex_lock(&ev->mu);
	}
	pthread_mutex_unlock(&ev->mu);
	return (NULL);
}

void
cxi_callevents_kick(cxi_callevents *ev)
{
	if (ev == NULL) {
		return;
	}
	pthread_mutex_lock(&ev->mu);
	ev->kicked = true;
	ev->tkicked = true;
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
}

/* ---- lifecycle ---- */

cx_err
cxi_callevents_start(cxi_callevents **out, cxi_calling *cl, char *why,
    size_t whylen)
{
	cxi_callevents *ev = calloc(1, sizeof(*ev));
	if (ev == NULL) {
		snprintf(why, whylen, "calls: out of memory");
		return (CX_ENOMEM);
	}
	ev->cl = cl;
	ev->mgr = cl->mgr;
	pthread_mutex_init(&ev->apply, NULL);
	pthread_mutex_init(&ev->mu, NULL);
	pthread_cond_init(&ev->cv, NULL);
	cx_err rv = CX_OK;
	pthread_mutex_lock(&slot.mu);
	if (slot.ev != NULL) {
		rv = CX_EEXIST;
	} else {
		slot.ev = ev;
	}
	pthread_mutex_unlock(&slot.mu);
	if (rv != CX_OK) {
		snprintf(why, whylen, "calls: a calling runtime already runs "
		    "in this process");
		pthread_mutex_destroy(&ev->apply);
		pthread_mutex_destroy(&ev->mu);
		pthread_cond_destroy(&ev->cv);
		free(ev);
		return (rv);
	}
	ev->owns_slot = true;
	if ((rv = cxi_manager_core_route(ev->mgr, CX_SVC_CALL_EVENT, on_event,
	         NULL)) != CX_OK ||
	    (rv = cxi_manager_core_route(ev->mgr, CX_SVC_CALL_RECORDING,
	         on_recording, NULL)) != CX_OK ||
	    (rv = cxi_manager_core_route(ev->mgr, CX_SVC_CALL_CREDENTIALS,
	         on_credentials, NULL)) != CX_OK) {
		snprintf(why, whylen, "calls: cannot route the core service: "
		    "%s", cx_strerror(rv));
		cxi_callevents_stop(ev);
		return (rv);
	}
	if (pthread_create(&ev->sweeper, NULL, sweeper, ev) != 0 ||
	    !(ev->sweeper_up = true) ||
	    pthread_create(&ev->transcriber, NULL, ce_transcriber, ev) != 0) {
		snprintf(why, whylen, "calls: cannot start threads: %s",
		    strerror(errno));
		cxi_callevents_stop(ev);
		return (CX_ENOMEM);
	}
	ev->transcriber_up = true;
	*out = ev;
	return (CX_OK);
}

void
cxi_callevents_stop(cxi_callevents *ev)
{
	if (ev == NULL) {
		return;
	}
	/* Handlers from now on answer "not running"; wait for those
	 * inside. The routes stay (they cannot be removed) and point at
	 * the slot, never at ev. */
	if (ev->owns_slot) {
		pthread_mutex_lock(&slot.mu);
		slot.ev = NULL;
		while (slot.inside > 0) {
			pthread_cond_wait(&slot.cv, &slot.mu);
		}
		pthread_mutex_unlock(&slot.mu);
	}
	pthread_mutex_lock(&ev->mu);
	ev->stopping = true;
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
	if (ev->sweeper_up) {
		pthread_join(ev->sweeper, NULL);
	}
	if (ev->transcriber_up) {
		pthread_join(ev->transcriber, NULL);
	}
	pthread_mutex_destroy(&ev->apply);
	pthread_mutex_destroy(&ev->mu);
	pthread_cond_destroy(&ev->cv);
	free(ev);
}
