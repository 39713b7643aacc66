/*
 * sbx_control.c - the core's requests against the simulation: place a
 * call (and plan its whole life), hang one up, look one up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sbx_call.h"

static void
new_pcid(char *buf, size_t len)
{
	uint8_t b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b)) {
		/* Unique enough for a simulator when getrandom fails. */
		sbx_rng r = {(uint64_t) sbx_now_ms() ^ (uint64_t) (uintptr_t) buf};
		uint64_t x = sbx_rng_next(&r), y = sbx_rng_next(&r);
		memcpy(b, &x, 8);
		memcpy(b + 8, &y, 8);
	}
	size_t n = (size_t) snprintf(buf, len, "SBX");
	for (size_t i = 0; i < sizeof(b) && n + 2 < len; i++) {
		n += (size_t) snprintf(buf + n, len - n, "%02x", b[i]);
	}
}

static sbx_call *
call_new(const sbx_config *cfg, const char *account, const json_t *req)
{
	sbx_call *c = calloc(1, sizeof(*c));
	const char *id = json_string_value(json_object_get(req, "call_id"));
	if (c == NULL || (account != NULL &&
	                     (c->account = strdup(account)) == NULL)) {
		free(c);
		return (NULL);
	}
	snprintf(c->call_id, sizeof(c->call_id), "%s", id);
	new_pcid(c->pcid, sizeof(c->pcid));
	sbx_outcome oc = sbx_pick_outcome(cfg->weights, cfg->seed, id);
	int64_t vm_ms = 0;
	if (oc == SBX_VOICEMAIL) {
		/* A voicemail lasts as long as greeting, beep and message. */
		c->script = sbx_script_make(req, oc, cfg->seed, id, 0);
		vm_ms = sbx_script_length(c->script);
	}
	sbx_plan_make(cfg, id, req, vm_ms, &c->plan);
	if (oc == SBX_ANSWERED) {
		c->script = sbx_script_make(req, oc, cfg->seed, id,
		    c->plan.talk_ms);
	}
	if ((oc == SBX_VOICEMAIL || oc == SBX_ANSWERED) && c->script == NULL) {
		sbx_call_free(c);
		return (NULL);
	}
	memcpy(c->steps, c->plan.steps, sizeof(c->steps));
	c->nsteps = c->plan.nsteps;
	c->outcome = c->plan.outcome;
	c->reason = c->plan.reason;
	c->talk_ms = c->plan.talk_ms;
	c->placed_wall = sbx_now_ms();
	c->speed = cfg->speed;
	c->cap_ms = (int64_t) cfg->recording_seconds * 1000;
	c->seed = cfg->seed;
	c->price_per_minute = cfg->price_per_minute;
	memcpy(c->currency, cfg->currency, sizeof(c->currency));
	return (c);
}

cx_err
sbx_sim_place(sbx_sim *s, const char *account, const json_t *req,
    char *pcid, size_t pcidlen)
{
	pthread_mutex_lock(&s->mu);
	sbx_config cfg = s->cfg;
	uint64_t roll = sbx_rng_next(&s->place_rng) % 100;
	pthread_mutex_unlock(&s->mu);
	if (roll < (uint64_t) cfg.fail_place) {
		s->h->metric_add(s->h, "sandbox_place_refused_total", 1);
		return (roll % 2 == 0 ? CX_EBUSY : CX_EIO);
	}
	sbx_call *c = call_new(&cfg, account, req);
	if (c == NULL) {
		return (CX_ENOMEM);
	}
	sbx_record r = {.created_ms = c->placed_wall,
	    .updated_ms = c->placed_wall, .status = SBX_ST_QUEUED,
	    .outcome = -1};
	snprintf(r.call_id, sizeof(r.call_id), "%s", c->call_id);
	snprintf(r.pcid, sizeof(r.pcid), "%s", c->pcid);
	snprintf(r.to, sizeof(r.to), "%s",
	    json_string_value(json_object_get(req, "to")));
	snprintf(r.from, sizeof(r.from), "%s",
	    json_string_value(json_object_get(req, "from")));
	pthread_mutex_lock(&s->mu);
	cx_err rv = sbx_journal_put(s->j, &r, &c->rec);
	if (rv != CX_OK) {
		pthread_mutex_unlock(&s->mu);
		sbx_call_free(c);
		/* Like a provider whose database is down: a 5xx. */
		return (CX_EIO);
	}
	sbx_live_add(s, c);
	sbx_schedule(s, c, sbx_call_wall(c, 0));
	pthread_mutex_unlock(&s->mu);
	snprintf(pcid, pcidlen, "%s", c->pcid);
	s->h->metric_add(s->h, "sandbox_calls_placed_total", 1);
	if (roll < (uint64_t) (cfg.fail_place + cfg.timeout_place)) {
		/* The call exists, but its answer never reaches the dialer. */
		return (CX_ETIMEDOUT);
	}
	return (CX_OK);
}

static sbx_call *
find_live(sbx_sim *s, const char *call_id, const char *pcid)
{
	for (sbx_call *c = s->live; c != NULL; c = c->lnext) {
		if (pcid != NULL ? strcmp(c->pcid, pcid) == 0 :
		                   strcmp(c->call_id, call_id) == 0) {
			return (c);
		}
	}
	return (NULL);
}

/* The provider's view now: the last step whose call time has come. */
static sbx_status
status_now(const sbx_call *c, int64_t now, int *idx)
{
	int64_t t = (now - c->placed_wall) * (c->speed > 0 ? c->speed : 1);
	int k = 0;
	for (int i = 0; i < c->nsteps; i++) {
		/* A step handed to delivery has happened, whatever the
		 * rounding between call time and wall time says; its
		 * event_id may be at the core already, so it must keep its
		 * seq and content. */
		bool handed = i < c->next || (i == c->next &&
		    (c->busy || c->queued || c->attempts > 0));
		if (c->steps[i].status != SBX_ST_RECORDING &&
		    (c->steps[i].at <= t || handed)) {
			k = i;
		}
	}
	if (idx != NULL) {
		*idx = k;
	}
	return (c->steps[k].status);
}

cx_err
sbx_sim_hangup(sbx_sim *s, const char *call_id, const char *pcid,
    const char **status)
{
	int64_t now = sbx_now_ms();
	pthread_mutex_lock(&s->mu);
	sbx_call *c = find_live(s, call_id, pcid);
	if (c == NULL) {
		sbx_record *r = pcid != NULL ? sbx_journal_by_pcid(s->j, pcid) :
		                               sbx_journal_by_call(s->j, call_id);
		*status = r != NULL ? sbx_status_names[r->status] : NULL;
		pthread_mutex_unlock(&s->mu);
		return (r != NULL ? CX_OK : CX_ENOENT);
	}
	int k;
	sbx_status st = status_now(c, now, &k);
	if (!sbx_status_live(st)) {
		*status = sbx_status_names[st];
		pthread_mutex_unlock(&s->mu);
		return (CX_OK);
	}
	/* Keep what has happened (and what is being delivered), then end
	 * the call now. */
	int keep = k + 1;
	int64_t t = (now - c->placed_wall) * c->speed;
	/* Not before what it follows, even if asked before the first step
	 * was due. */
	t = t > c->steps[keep - 1].at ? t : c->steps[keep - 1].at;
	bool answered = st == SBX_ST_IN_PROGRESS;
	c->nsteps = keep;
	c->steps[c->nsteps++] = (sbx_step) {answered ? SBX_ST_COMPLETED :
	                                               SBX_ST_CANCELED, t};
	c->reason = "api_hangup";
	c->cut = true;
	if (answered) {
		int64_t talk = t - c->plan.answered_at;
		c->talk_ms = talk < c->talk_ms ? (talk > 0 ? talk : 0) :
		                                 c->talk_ms;
		if (c->plan.steps[c->plan.nsteps - 1].status ==
		    SBX_ST_RECORDING) {
			c->steps[c->nsteps++] = (sbx_step) {SBX_ST_RECORDING, t};
		}
	} else {
		c->outcome = SBX_CANCELED;
	}
	if (!c->busy && !c->queued) {
		sbx_schedule(s, c, now);
	}
	*status = sbx_status_names[c->steps[keep].status];
	pthread_mutex_unlock(&s->mu);
	return (CX_OK);
}

bool
sbx_sim_lookup(sbx_sim *s, const char *call_id, const char *pcid,
    const char *to, const char *from, int64_t since_ms, sbx_record *out)
{
	pthread_mutex_lock(&s->mu);
	sbx_record *r = pcid != NULL ? sbx_journal_by_pcid(s->j, pcid) :
	    call_id != NULL           ? sbx_journal_by_call(s->j, call_id) :
	                                NULL;
	if (r == NULL && pcid == NULL && call_id == NULL && to != NULL) {
		r = sbx_journal_find(s->j, to, from, since_ms);
	}
	if (r != NULL) {
		*out = *r;
		sbx_call *c = find_live(s, NULL, r->pcid);
		if (c != NULL) {
			out->status = (int8_t) status_now(c, sbx_now_ms(), NULL);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return (r != NULL);
}
