/*
 * dialer_dispatch.c - picking due leads and placing their calls.
 *
 * The tick thread decides what to call and writes the calls row first
 * ('dispatching', with the lead 'calling', in one transaction); the
 * workers send CX_SVC_CALL_PLACE, paced per campaign and per provider,
 * and record what the provider said. A row is never dropped: whatever
 * happens to the request, the row says what to do next.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <callixo/telephony.h>

#include "dialer_int.h"
#include "log.h"
#include "repo.h"

/* Template variables: every string-like metadata column, then the
 * lead's name and phone (which win over a column of the same name). */
json_t *
dl_lead_vars(const json_t *lead)
{
	json_t *vars = json_object();
	json_t *meta = json_object_get(lead, "metadata");
	json_t *parsed = NULL;
	if (json_is_string(meta)) {
		meta = parsed = json_loads(json_string_value(meta), 0, NULL);
	}
	const char *k;
	json_t *v;
	json_object_foreach (meta, k, v) {
		char num[64];
		const char *s = NULL;
		if (json_is_string(v)) {
			s = json_string_value(v);
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			    json_integer_value(v));
			s = num;
		} else if (json_is_real(v)) {
			snprintf(num, sizeof(num), "%g", json_real_value(v));
			s = num;
		} else if (json_is_boolean(v)) {
			s = json_is_true(v) ? "true" : "false";
		}
		if (s != NULL && vars != NULL) {
			json_object_set_new(vars, k, json_string(s));
		}
	}
	json_decref(parsed);
	const char *name = json_string_value(json_object_get(lead, "name"));
	if (vars != NULL) {
		json_object_set_new(vars, "name", json_string(name ? name : ""));
		json_object_set_new(vars, "phone", json_string(
		    json_string_value(json_object_get(lead, "phone_e164"))));
	}
	return (vars);
}

json_t *
dl_place_request(const cxi_campaign_conf *cc, const json_t *call,
    const json_t *creds)
{
	json_t *vars = json_object_get(call, "variables");
	json_t *parsed = NULL;
	if (json_is_string(vars)) {
		vars = parsed = json_loads(json_string_value(vars), 0, NULL);
	}
	if (!json_is_object(vars)) {
		json_decref(parsed);
		vars = parsed = json_object();
	}
	json_t *vm = json_pack("{s:s}", "action", cc->vm_message ? "message" :
	                                                       "hangup");
	if (cc->vm_message && vm != NULL) {
		char *msg = cxi_template_render(cc->vm_template, vars);
		json_object_set_new(vm, "message", json_string(msg ? msg : ""));
		free(msg);
	}
	const char *from = json_string_value(json_object_get(call,
	    "from_number"));
	json_t *req = json_pack("{s:i, s:s, s:s, s:s?, s:s, s:b, s:b, s:o, "
	                        "s:b, s:O, s:O}",
	    "v", CX_TELEPHONY_VERSION,
	    "call_id", json_string_value(json_object_get(call, "id")),
	    "to", json_string_value(json_object_get(call, "to_number")),
	    "from", from,
	    "agent", cc->agent,
	    "record", cc->record,
	    "disclosure", cc->disclosure,
	    "voicemail", vm,
	    /* Voicemail is only told apart from a person by detection. */
	    "machine_detection", 1,
	    "variables", vars,
	    "analysis", cc->analysis);
	json_decref(parsed);
	if (req != NULL && creds != NULL &&
	    json_object_set(req, "credentials", (json_t *) creds) != 0) {
		json_decref(req);
		req = NULL;
	}
	return (req);
}

void
dl_enqueue(cxi_dialer *d, dl_job *job)
{
	pthread_mutex_lock(&d->mu);
	json_object_set_new(d->inflight, job->call_id, json_true());
	if (d->tail != NULL) {
		d->tail->next = job;
	} else {
		d->head = job;
	}
	d->tail = job;
	d->queued++;
	/* Broadcast: a worker pacing on wcv must not swallow the wake-up
	 * meant for an idle one. */
	pthread_cond_broadcast(&d->wcv);
	pthread_mutex_unlock(&d->mu);
}

static dl_job *
new_job(const json_t *call, const cxi_campaign_conf *cc, json_t *req)
{
	dl_job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		json_decref(req);
		return (NULL);
	}
	snprintf(j->call_id, sizeof(j->call_id), "%s",
	    json_string_value(json_object_get(call, "id")));
	snprintf(j->account, sizeof(j->account), "%s",
	    json_string_value(json_object_get(call, "account_id")));
	snprintf(j->campaign, sizeof(j->campaign), "%s",
	    json_string_value(json_object_get(call, "campaign_id")));
	snprintf(j->provider, sizeof(j->provider), "%s", cc->telephony);
	j->cps = cc->cps;
	j->req = req;
	return (j);
}

void
dl_requeue(cxi_dialer *d, const json_t *call, const json_t *campaign)
{
	cxi_campaign_conf cc;
	char why[256];
	if (dl_campaign_conf(campaign, &cc, why, sizeof(why)) != CX_OK) {
		cxi_warn("dialer", "call %s: campaign config: %s",
		    json_string_value(json_object_get(call, "id")), why);
		return;
	}
	json_t *creds = dl_credentials(d, json_string_value(json_object_get(
	    call, "account_id")), cc.telephony, cc.credential);
	json_t *req = dl_place_request(&cc, call, creds);
	json_decref(creds);
	dl_job *j = req != NULL ? new_job(call, &cc, req) : NULL;
	if (j != NULL) {
		dl_enqueue(d, j);
	}
	cxi_campaign_conf_free(&cc);
}

/* ---- workers ---- */

static double
pace_get(cxi_dialer *d, const char *key)
{
	return (json_number_value(json_object_get(d->pace, key)));
}

/* Waits (under mu) until both the job's campaign and its provider may
 * send, then takes the slot from the actual time: a worker that was
 * late never lets the next call follow it closer than the rate allows.
 * False when stopping meanwhile. */
static bool
pace_wait(cxi_dialer *d, const dl_job *j)
{
	char ck[80], pk[80];
	snprintf(ck, sizeof(ck), "c:%s", j->campaign);
	snprintf(pk, sizeof(pk), "p:%s", j->provider);
	double pcps = json_number_value(json_object_get(d->conf.provider_cps,
	    j->provider));
	while (!d->wstop) {
		double now = (double) dl_now();
		double slot = pace_get(d, ck);
		if (pcps > 0 && pace_get(d, pk) > slot) {
			slot = pace_get(d, pk);
		}
		if (slot <= now) {
			if (j->cps > 0) {
				json_object_set_new(d->pace, ck, json_real(now +
				                                     1000.0 / j->cps));
			}
			if (pcps > 0) {
				json_object_set_new(d->pace, pk, json_real(now +
				                                     1000.0 / pcps));
			}
			return (true);
		}
		int64_t until = (int64_t) slot + 1;
		struct timespec ts = {.tv_sec = (time_t) (until / 1000),
		    .tv_nsec = (long) (until % 1000) * 1000000};
		(void) pthread_cond_timedwait(&d->wcv, &d->mu, &ts);
	}
	return (false);
}

int64_t
dl_backoff_ms(const cxi_dialer *d, int tries)
{
	int64_t b = d->conf.dispatch_backoff_ms > 0 ?
	    d->conf.dispatch_backoff_ms : DL_BACKOFF_MIN_MS;
	for (int i = 1; i < tries && b < DL_BACKOFF_MAX_MS; i++) {
		b *= 2;
	}
	return (b < DL_BACKOFF_MAX_MS ? b : DL_BACKOFF_MAX_MS);
}

static bool
live_status(const char *s)
{
	return (s != NULL && (strcmp(s, CX_CALL_QUEUED) == 0 ||
	                         strcmp(s, CX_CALL_RINGING) == 0 ||
	                         strcmp(s, CX_CALL_IN_PROGRESS) == 0));
}

/* What the provider said, into the row. */
static void
record(cxi_dialer *d, const dl_job *j, cx_err rv, const json_t *reply)
{
	int64_t now = dl_now();
	const char *msg = json_string_value(json_object_get(reply, "message"));
	char err[512];
	if (rv == CX_OK) {
		const char *pcid = json_string_value(json_object_get(reply,
		    "provider_call_id"));
		const char *st = json_string_value(json_object_get(reply,
		    "status"));
		cx_db_value p[] = {CX_DB_V_TEXT(j->call_id),
		    CX_DB_V_TEXT(pcid), CX_DB_V_INT(now),
		    CX_DB_V_TEXT(live_status(st) ? st : CX_CALL_QUEUED)};
		dl_track_clear(d, j->call_id);
		if (pcid == NULL) {
			cxi_warn("dialer", "call %s: %s accepted it without a "
			    "provider call id", j->call_id, j->provider);
		}
		/* An event may already have moved the call on: only the
		 * core's own states are replaced. */
		dl_exec(d, "UPDATE calls SET provider_call_id = "
		           "COALESCE(provider_call_id, $2), dispatched_at = $3, "
		           "error = NULL, status = CASE WHEN status IN "
		           "('dispatching', 'unknown') THEN $4 ELSE status END "
		           "WHERE id = $1", p, 4, NULL);
		return;
	}
	if (rv == CX_EINVAL) {
		snprintf(err, sizeof(err), "%s", msg != NULL ? msg :
		                                 "the provider refused the call");
		cx_db_value p[] = {CX_DB_V_TEXT(j->call_id), CX_DB_V_TEXT(err),
		    CX_DB_V_INT(now)};
		dl_track_clear(d, j->call_id);
		dl_exec(d, "UPDATE calls SET status = 'failed', outcome = "
		           "'failed', error = $2, ended_at = $3 WHERE id = $1 "
		           "AND status IN ('dispatching', 'unknown')", p, 3,
		    NULL);
		cxi_info("dialer", "call %s refused by %s: %s", j->call_id,
		    j->provider, err);
		return;
	}
	if (rv == CX_ETIMEDOUT) {
		/* The call may exist: look it up before anything else. */
		cx_db_value p[] = {CX_DB_V_TEXT(j->call_id)};
		dl_track_set(d, j->call_id, now + d->conf.reconcile_after_ms, 0);
		dl_exec(d, "UPDATE calls SET status = 'unknown', error = "
		           "'place_call timed out; reconciling' WHERE id = $1 "
		           "AND status = 'dispatching'", p, 1, NULL);
		cxi_warn("dialer", "call %s: place_call to %s timed out; looking "
		    "it up in %d ms", j->call_id, j->provider,
		    d->conf.reconcile_after_ms);
		return;
	}
	/* 429, 5xx, plugin away: the provider did not take the call. Same
	 * row, same attempt, later. */
	int tries = 0;
	(void) dl_track_at(d, j->call_id, &tries);
	tries++;
	int64_t wait = dl_backoff_ms(d, tries);
	dl_track_set(d, j->call_id, now + wait, tries);
	snprintf(err, sizeof(err), "dispatch try %d: %s%s%s", tries,
	    cx_strerror(rv), msg != NULL ? ": " : "", msg != NULL ? msg : "");
	cx_db_value p[] = {CX_DB_V_TEXT(j->call_id), CX_DB_V_TEXT(err)};
	dl_exec(d, "UPDATE calls SET error = $2 WHERE id = $1", p, 2, NULL);
	cxi_info("dialer", "call %s: %s; retrying in %lld ms", j->call_id, err,
	    (long long) wait);
}

/* Whether the job's row still waits for this place, in a running
 * campaign: a campaign paused or cancelled while the job sat in the
 * queue is not dialled (a paused one's row waits for resume, a
 * cancelled one's is cancelled). Storage away: send; the row decides
 * what happens next either way. */
static bool
still_wanted(cxi_dialer *d, const dl_job *j)
{
	json_t *rows = NULL;
	cx_db_value p[] = {CX_DB_V_TEXT(j->call_id)};
	if (dl_query(d, "SELECT c.status, k.status AS campaign_status FROM "
	                "calls c LEFT JOIN campaigns k ON k.id = c.campaign_id "
	                "WHERE c.id = $1", p, 1, &rows) != CX_OK) {
		return (true);
	}
	json_t *r = json_array_get(rows, 0);
	const char *st = json_string_value(json_object_get(r, "status"));
	const char *cs = json_string_value(json_object_get(r,
	    "campaign_status"));
	bool go = st != NULL && strcmp(st, DL_DISPATCHING) == 0 &&
	    (cs == NULL || strcmp(cs, "running") == 0);
	if (st != NULL && strcmp(st, DL_DISPATCHING) == 0 && cs != NULL &&
	    strcmp(cs, "cancelled") == 0) {
		cx_db_value q[] = {CX_DB_V_TEXT(j->call_id),
		    CX_DB_V_INT(dl_now())};
		dl_exec(d, "UPDATE calls SET status = 'canceled', outcome = "
		           "'canceled', ended_at = $2, error = 'campaign "
		           "cancelled before the call was placed' WHERE id = $1 "
		           "AND status = 'dispatching'", q, 2, NULL);
	}
	json_decref(rows);
	return (go);
}

void *
dl_worker(void *arg)
{
	cxi_dialer *d = arg;
	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (!d->wstop && d->head == NULL) {
			pthread_cond_wait(&d->wcv, &d->mu);
		}
		if (d->wstop) {
			break;
		}
		dl_job *j = d->head;
		d->head = j->next;
		if (d->head == NULL) {
			d->tail = NULL;
		}
		d->queued--;
		d->busy++;
		bool go = pace_wait(d, j);
		pthread_mutex_unlock(&d->mu);
		/* Checked after the wait for a send slot, right before
		 * sending: the campaign may have changed meanwhile. */
		if (go && still_wanted(d, j)) {
			json_t *reply = NULL;
			json_t *req = j->req;
			j->req = NULL;
			cx_err rv = cxi_manager_call(d->mgr, j->provider,
			    CX_SVC_CALL_PLACE, j->account, req,
			    d->conf.dispatch_timeout_ms, &reply);
			record(d, j, rv, reply);
			json_decref(reply);
		}
		pthread_mutex_lock(&d->mu);
		d->busy--;
		json_object_del(d->inflight, j->call_id);
		json_decref(j->req);
		free(j);
		/* A slot is free: the tick thread may pick the next lead. */
		d->kicked = true;
		pthread_cond_signal(&d->cv);
	}
	pthread_mutex_unlock(&d->mu);
	return (NULL);
}

/* ---- the tick thread: 'dispatching' rows waiting for another try ---- */

/* Read again after the in-flight check: the list above may predate a
 * worker's answer that landed (and left the in-flight set) since. A
 * worker writes the row before it leaves the set, so this read sees it. */
static bool
still_dispatching(cxi_dialer *d, const char *id)
{
	json_t *rows = NULL;
	cx_db_value p[] = {CX_DB_V_TEXT(id)};
	if (dl_query(d, "SELECT status FROM calls WHERE id = $1", p, 1,
	        &rows) != CX_OK) {
		return (false);
	}
	const char *st = json_string_value(json_object_get(json_array_get(rows,
	    0), "status"));
	bool yes = st != NULL && strcmp(st, DL_DISPATCHING) == 0;
	json_decref(rows);
	return (yes);
}

void
dl_redispatch(cxi_dialer *d, int64_t now)
{
	json_t *rows = NULL;
	if (dl_query(d, "SELECT c.id, c.account_id, c.campaign_id, "
	                "c.to_number, c.from_number, c.variables, k.status AS "
	                "campaign_status, k.config FROM calls c JOIN campaigns "
	                "k ON k.id = c.campaign_id WHERE c.status = "
	                "'dispatching'", NULL, 0, &rows) != CX_OK) {
		return;
	}
	size_t i;
	json_t *r;
	json_array_foreach (rows, i, r) {
		const char *id = json_string_value(json_object_get(r, "id"));
		const char *cs = json_string_value(json_object_get(r,
		    "campaign_status"));
		if (id == NULL || cs == NULL || dl_inflight(d, id) ||
		    dl_track_at(d, id, NULL) > now || !still_dispatching(d, id)) {
			continue;
		}
		if (strcmp(cs, "running") == 0) {
			dl_requeue(d, r, r);
		} else if (strcmp(cs, "cancelled") == 0) {
			cx_db_value p[] = {CX_DB_V_TEXT(id), CX_DB_V_INT(now)};
			dl_track_clear(d, id);
			dl_exec(d, "UPDATE calls SET status = 'canceled', outcome "
			           "= 'canceled', ended_at = $2, error = "
			           "'campaign cancelled before the call was "
			           "placed' WHERE id = $1 AND status = "
			           "'dispatching'", p, 2, NULL);
		}
		/* paused: the row waits for resume. */
	}
	json_decref(rows);
}
