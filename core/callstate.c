/*
 * callstate.c - applying a provider's call.event to a calls row.
 *
 * Providers deliver callbacks late, twice and out of order (Twilio
 * documents it; SequenceNumber is there for that). The rules:
 *  - status only moves forward: queued < ringing < in_progress < any
 *    terminal status. Within the same rank, and between terminal
 *    statuses, only an event with a higher seq than the call has seen
 *    may change it;
 *  - a field an event carries is taken when the event is not older than
 *    what the call has seen (seq >=), and otherwise only to fill a field
 *    that is still empty; so a late "ringing" may still bring a
 *    started_at, but never moves a completed call back;
 *  - the first terminal status fills ended_at, the outcome (derived
 *    from the status when the provider gave none) and the duration when
 *    the provider did not.
 */
#include <stdio.h>
#include <string.h>

#include "callevents_int.h"
#include "log.h"

cx_err
ce_find_call_c(cxi_dbc *c, const char *provider, const char *call_id,
    const char *pcid, json_t **row)
{
	json_t *r = NULL;
	cx_err rv = CX_ENOENT;
	*row = NULL;
	if (call_id != NULL) {
		rv = cxi_repo_get_c(c, &cxi_ent_call, NULL, call_id, &r);
	}
	if (rv == CX_ENOENT && pcid != NULL) {
		cx_db_rows *rows = NULL;
		cx_db_value p[] = {CX_DB_V_TEXT(provider), CX_DB_V_TEXT(pcid)};
		rv = cxi_db_exec(c, "SELECT id FROM calls WHERE provider = $1 "
		                    "AND provider_call_id = $2",
		    p, 2, &rows, NULL);
		if (rv == CX_OK) {
			const char *id = cxi_db_rows_count(c, rows) > 0 ?
			    cxi_db_text(c, rows, 0, 0) : NULL;
			rv = id != NULL ? cxi_repo_get_c(c, &cxi_ent_call,
			                      NULL, id, &r) :
			                  CX_ENOENT;
			cxi_db_rows_free(c, rows);
		}
	}
	if (rv != CX_OK) {
		return (rv);
	}
	/* A call is only ever changed by the provider that placed it, and
	 * both ids must agree when both are known. */
	const char *rp = json_string_value(json_object_get(r, "provider"));
	const char *rpc = json_string_value(json_object_get(r,
	    "provider_call_id"));
	if (rp == NULL || strcmp(rp, provider) != 0 ||
	    (pcid != NULL && rpc != NULL && strcmp(rpc, pcid) != 0)) {
		json_decref(r);
		return (CX_EDENIED);
	}
	*row = r;
	return (CX_OK);
}

static bool
empty(const json_t *row, const char *col)
{
	const json_t *v = json_object_get(row, col);
	return (v == NULL || json_is_null(v));
}

/* Takes event field `ek` into column `col` under the newer/fill rule. */
static int
take(json_t *sys, const json_t *call, const json_t *ev, const char *ek,
    const char *col, bool newer)
{
	const json_t *v = json_object_get(ev, ek);
	if (v == NULL || (!newer && !empty(call, col))) {
		return (0);
	}
	const json_t *cur = json_object_get(call, col);
	if (cur != NULL && json_equal((json_t *) cur, (json_t *) v)) {
		return (0);
	}
	return (json_object_set(sys, col, (json_t *) v));
}

static const char *
outcome_of(const char *status)
{
	static const char *const map[][2] = {
	    {CX_CALL_COMPLETED, CX_OUTCOME_ANSWERED},
	    {CX_CALL_BUSY, CX_OUTCOME_BUSY},
	    {CX_CALL_NO_ANSWER, CX_OUTCOME_NO_ANSWER},
	    {CX_CALL_FAILED, CX_OUTCOME_FAILED},
	    {CX_CALL_CANCELED, CX_OUTCOME_CANCELED}};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(status, map[i][0]) == 0) {
			return (map[i][1]);
		}
	}
	return (CX_OUTCOME_FAILED);
}

static int64_t
ival(const json_t *o, const char *k, int64_t def)
{
	const json_t *v = json_object_get(o, k);
	return (json_is_integer(v) ? (int64_t) json_integer_value(v) : def);
}

/* Status, outcome and the times a status change implies. */
static int
take_status(json_t *sys, const json_t *call, const json_t *ev, int64_t seq,
    int64_t now)
{
	const char *cur = json_string_value(json_object_get(call, "status"));
	const char *st = json_string_value(json_object_get(ev, "status"));
	int rc = ce_status_rank(cur), rn = ce_status_rank(st);
	int64_t cseq = ival(call, "seq", -1);
	bool move = rn > rc || (rn == rc && seq > cseq && strcmp(st, cur) != 0);
	if (!move) {
		/* The outcome of a terminal call may still be refined by a
		 * newer event of the same status (voicemail detected late). */
		if (rn == 3 && rc == 3 && seq > cseq && strcmp(st, cur) == 0 &&
		    json_object_get(ev, "outcome") != NULL) {
			return (json_object_set(sys, "outcome",
			    json_object_get(ev, "outcome")));
		}
		return (0);
	}
	int bad = json_object_set_new(sys, "status", json_string(st));
	int64_t at = ival(ev, "at_ms", now);
	if (rn >= 1 && rn <= 2 && empty(call, "started_at") &&
	    json_object_get(ev, "started_at") == NULL) {
		bad |= json_object_set_new(sys, "started_at",
		    json_integer(at));
	}
	if (rn == 2 && empty(call, "answered_at") &&
	    json_object_get(ev, "answered_at") == NULL) {
		bad |= json_object_set_new(sys, "answered_at",
		    json_integer(at));
	}
	if (rn == 3) {
		const json_t *oc = json_object_get(ev, "outcome");
		bad |= oc != NULL ? json_object_set(sys, "outcome", (json_t *) oc) :
		                    json_object_set_new(sys, "outcome",
		                        json_string(outcome_of(st)));
		if (empty(call, "ended_at") &&
		    json_object_get(ev, "ended_at") == NULL) {
			bad |= json_object_set_new(sys, "ended_at",
			    json_integer(at));
		}
	}
	return (bad);
}

/* A terminal answered call without a duration gets ended - answered. */
static int
fill_duration(json_t *sys, const json_t *call)
{
	const char *st = json_string_value(json_object_get(sys, "status"));
	if (st == NULL || ce_status_rank(st) != 3 ||
	    json_object_get(sys, "duration_ms") != NULL ||
	    !empty(call, "duration_ms")) {
		return (0);
	}
	int64_t a = ival(sys, "answered_at", ival(call, "answered_at", -1));
	int64_t e = ival(sys, "ended_at", ival(call, "ended_at", -1));
	if (a < 0 || e < a) {
		return (0);
	}
	return (json_object_set_new(sys, "duration_ms", json_integer(e - a)));
}

cx_err
ce_apply_c(cxi_callevents *ev, cxi_dbc *c, const json_t *call,
    const json_t *event, ce_after *after, char *why, size_t whylen)
{
	static const char *const same[] = {"provider_call_id", "started_at",
	    "answered_at", "ended_at", "duration_ms", "cost_micros",
	    "currency", "summary", "sentiment", "success", "voicemail",
	    "disconnection_reason", "analysis", NULL};
	int64_t now = cxi_repo_now_ms();
	int64_t seq = ival(event, "seq", 0);
	bool newer = seq >= ival(call, "seq", -1);
	json_t *sys = json_object();
	if (sys == NULL) {
		return (CX_ENOMEM);
	}
	int bad = take_status(sys, call, event, seq, now);
	for (size_t i = 0; same[i] != NULL; i++) {
		bad |= take(sys, call, event, same[i], same[i], newer);
	}
	const json_t *t = json_object_get(event, "transcript");
	if (t != NULL && (newer || empty(call, "transcript"))) {
		bad |= take(sys, call, t, "text", "transcript", true);
		bad |= take(sys, call, t, "utterances", "utterances", true);
		bad |= json_object_set_new(sys, "transcript_source",
		    json_string("provider"));
	}
	bad |= fill_duration(sys, call);
	if (seq > ival(call, "seq", -1)) {
		bad |= json_object_set_new(sys, "seq", json_integer(seq));
	}
	if (bad != 0) {
		json_decref(sys);
		return (CX_ENOMEM);
	}
	return (ce_update_c(ev, c, call, sys, after, why, whylen));
}
