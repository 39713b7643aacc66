/*
 * callfinish.c - what a change to a call means for the customer: the
 * webhook events call.started, call.analyzed and call.completed,
 * queued in the same transaction as the change (outhooks.h), and the
 * matching bus events, published once the change is committed.
 *
 * Exactly once: each event fires on a transition of the stored row
 * (not started -> started, no summary/analysis -> some, completed_sent_at
 * NULL -> set), and its id is derived from the call and the type, so a
 * re-processed event can never queue a second delivery.
 *
 * call.completed waits for the artifacts the call should have, until
 * artifacts_due_at:
 *  - a recording, when the call was answered (by a person or by a
 *    voicemail box) and its campaign records
 *    (config.record);
 *  - a transcript, when answered and it already has one, or a recording
 *    is expected and a transcription plugin runs to make one;
 *  - a summary, when answered, the campaign wants one (config.analysis
 *    .summary, default true) and someone can make it: the provider that
 *    gave the transcript, or a transcription still to run.
 * A transcription that gave up (calls.error "transcription: ...") is
 * expected no more.
 */
#include <stdio.h>
#include <string.h>

#include "callevents_int.h"
#include "campaign_conf.h"
#include "log.h"
#include "outhooks.h"

void
ce_after_init(ce_after *a)
{
	a->publish = json_array();
	a->transcribe = false;
}

void
ce_after_flush(cxi_callevents *ev, ce_after *a)
{
	size_t i;
	json_t *pair;
	json_array_foreach (a->publish, i, pair) {
		cxi_manager_publish(ev->mgr, json_string_value(
		    json_array_get(pair, 0)), json_incref(json_array_get(pair,
		    1)));
	}
	if (json_array_size(a->publish) > 0 && ev->cl != NULL) {
		/* Each event was queued for customer webhooks with the
		 * change, now committed: have the sender look at once. */
		cxi_outhooks_kick(ev->cl->hooks);
	}
	json_decref(a->publish);
	a->publish = NULL;
	if (a->transcribe) {
		cxi_callevents_kick(ev);
	}
}

static bool
empty(const json_t *row, const char *col)
{
	const json_t *v = json_object_get(row, col);
	return (v == NULL || json_is_null(v) ||
	    (json_is_string(v) && json_string_length(v) == 0));
}

static bool
started(const json_t *row)
{
	const char *st = json_string_value(json_object_get(row, "status"));
	const char *oc = json_string_value(json_object_get(row, "outcome"));
	return (ce_status_rank(st) == 2 || !empty(row, "answered_at") ||
	    (oc != NULL && strcmp(oc, CX_OUTCOME_ANSWERED) == 0));
}

static bool
analyzed(const json_t *row)
{
	const json_t *a = json_object_get(row, "analysis");
	return (!empty(row, "summary") ||
	    (json_is_object(a) && json_object_size(a) > 0));
}

/* Queues webhook `type` for the call and remembers the bus event. */
static cx_err
fire(cxi_dbc *c, const json_t *row, const char *type, ce_after *after,
    char *why, size_t whylen)
{
	const char *id = json_string_value(json_object_get(row, "id"));
	const char *acct = json_string_value(json_object_get(row,
	    "account_id"));
	char evid[96];
	snprintf(evid, sizeof(evid), "evt_%s_%s", id, strchr(type, '.') + 1);
	json_t *view = cxi_call_view(row);
	if (view == NULL) {
		return (CX_ENOMEM);
	}
	cx_err rv = cxi_outhooks_enqueue_c(c, acct, type, evid, view, NULL,
	    why, whylen);
	if (rv == CX_OK && json_array_append_new(after->publish,
	                       json_pack("[s, O]", type, view)) != 0) {
		rv = CX_ENOMEM;
	}
	json_decref(view);
	return (rv);
}

cx_err
ce_update_c(cxi_callevents *ev, cxi_dbc *c, const json_t *old, json_t *sys,
    ce_after *after, char *why, size_t whylen)
{
	const char *id = json_string_value(json_object_get(old, "id"));
	json_t *row = NULL;
	cx_err rv = CX_OK;
	if (json_object_size(sys) == 0) {
		row = json_deep_copy(old);
		rv = row != NULL ? CX_OK : CX_ENOMEM;
	} else {
		rv = cxi_repo_update_c(c, &cxi_ent_call, NULL, id, NULL, sys,
		    &row, why, whylen);
	}
	json_decref(sys);
	if (rv == CX_OK && !started(old) && started(row)) {
		rv = fire(c, row, CX_TOPIC_CALL_STARTED, after, why, whylen);
	}
	if (rv == CX_OK && !analyzed(old) && analyzed(row)) {
		rv = fire(c, row, CX_TOPIC_CALL_ANALYZED, after, why, whylen);
	}
	if (rv == CX_OK) {
		rv = ce_finish_c(ev, c, row, after, why, whylen);
	}
	json_decref(row);
	return (rv);
}

typedef struct wants {
	bool record, summary;
	int64_t wait_ms;
} wants;

/* What the campaign asks of its calls, read with the dialer's own
 * parser so both sides agree on defaults (record: true). A config that
 * no longer parses falls back to those defaults. */
static cx_err
campaign_wants(cxi_dbc *c, const json_t *call, wants *w)
{
	w->record = true;
	w->summary = true;
	w->wait_ms = CXI_ARTIFACTS_WAIT_MS;
	const char *cid = json_string_value(json_object_get(call,
	    "campaign_id"));
	json_t *cmp = NULL;
	cx_err rv = cid != NULL ? cxi_repo_get_c(c, &cxi_ent_campaign, NULL,
	                              cid, &cmp) :
	                          CX_ENOENT;
	if (rv == CX_ENOENT) {
		/* No campaign (a call placed outside one): record only when
		 * the provider sends a recording anyway. */
		w->record = false;
		return (CX_OK);
	}
	if (rv != CX_OK) {
		return (rv);
	}
	cxi_campaign_conf cc;
	char why[256];
	if (cxi_campaign_conf_parse(json_object_get(cmp, "config"), false, &cc,
	        why, sizeof(why)) == CX_OK) {
		w->record = cc.record;
		w->summary = json_is_true(json_object_get(cc.analysis,
		    "summary"));
		w->wait_ms = (int64_t) cc.artifacts_wait_s * 1000;
		cxi_campaign_conf_free(&cc);
	}
	json_decref(cmp);
	return (CX_OK);
}

static bool
prefixed(const json_t *row, const char *col, const char *pre)
{
	const char *s = json_string_value(json_object_get(row, col));
	return (s != NULL && strncmp(s, pre, strlen(pre)) == 0);
}

/* Every artifact the call should carry is there. */
static bool
artifacts_ready(cxi_callevents *ev, const json_t *call, const wants *w)
{
	const char *oc = json_string_value(json_object_get(call, "outcome"));
	bool has_rec = !empty(call, "recording_key");
	/* A machine answered: providers record it like any answered call,
	 * but there is no conversation to transcribe or summarize. */
	if (oc != NULL && strcmp(oc, CX_OUTCOME_VOICEMAIL) == 0) {
		return (!w->record || has_rec);
	}
	if (oc == NULL || strcmp(oc, CX_OUTCOME_ANSWERED) != 0) {
		return (true);
	}
	char name[128];
	bool transcriber = cxi_manager_first_of_kind(ev->mgr,
	    CX_KIND_TRANSCRIPTION, name, sizeof(name));
	bool has_tr = !empty(call, "transcript");
	bool tr_done = prefixed(call, "transcript_source", "transcription") ||
	    prefixed(call, "error", "transcription");
	bool tr_pending = !tr_done && !has_tr && transcriber &&
	    (has_rec || w->record);
	if (w->record && !has_rec) {
		return (false);
	}
	if (tr_pending) {
		return (false);
	}
	bool summary_source = prefixed(call, "transcript_source", "provider");
	if (w->summary && summary_source && empty(call, "summary")) {
		return (false);
	}
	return (true);
}

cx_err
ce_finish_c(cxi_callevents *ev, cxi_dbc *c, const json_t *call,
    ce_after *after, char *why, size_t whylen)
{
	const char *st = json_string_value(json_object_get(call, "status"));
	if (ce_status_rank(st) != 3 || !empty(call, "completed_sent_at")) {
		return (CX_OK);
	}
	const char *id = json_string_value(json_object_get(call, "id"));
	int64_t now = cxi_repo_now_ms();
	wants w;
	cx_err rv = campaign_wants(c, call, &w);
	if (rv != CX_OK) {
		return (rv);
	}
	const json_t *due = json_object_get(call, "artifacts_due_at");
	int64_t due_ms = json_is_integer(due) ?
	    (int64_t) json_integer_value(due) : now + w.wait_ms;
	bool ready = artifacts_ready(ev, call, &w);
	const char *oc = json_string_value(json_object_get(call, "outcome"));
	if (!ready && oc != NULL && strcmp(oc, CX_OUTCOME_ANSWERED) == 0) {
		after->transcribe = true;
	}
	if (!ready && now < due_ms) {
		if (json_is_integer(due)) {
			return (CX_OK);
		}
		json_t *sys = json_pack("{s:I}", "artifacts_due_at",
		    (json_int_t) due_ms);
		rv = sys == NULL ? CX_ENOMEM :
		    cxi_repo_update_c(c, &cxi_ent_call, NULL, id, NULL, sys,
		        NULL, why, whylen);
		json_decref(sys);
		return (rv);
	}
	json_t *sys = json_pack("{s:I}", "completed_sent_at", (json_int_t) now);
	if (!json_is_integer(due) && sys != NULL) {
		json_object_set_new(sys, "artifacts_due_at",
		    json_integer(due_ms));
	}
	json_t *row = NULL;
	rv = sys == NULL ? CX_ENOMEM :
	    cxi_repo_update_c(c, &cxi_ent_call, NULL, id, NULL, sys, &row,
	        why, whylen);
	json_decref(sys);
	if (rv == CX_OK) {
		if (!ready) {
			cxi_info("calls", "call %s completed without every "
			    "artifact (deadline passed)", id);
		}
		rv = fire(c, row, CX_TOPIC_CALL_COMPLETED, after, why, whylen);
	}
	json_decref(row);
	return (rv);
}
