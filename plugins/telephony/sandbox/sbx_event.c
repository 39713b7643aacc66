/*
 * sbx_event.c - the requests the sandbox sends the core for each step of
 * a call: call.event with the fields a real provider's webhook gives
 * (times, seq, outcome, duration, cost, transcript, analysis) and
 * call.recording once the generated WAV is on disk.
 */
#include <stdio.h>
#include <string.h>

#include "sbx_call.h"

int64_t
sbx_call_wall(const sbx_call *c, int i)
{
	return (c->placed_wall + c->steps[i].at / (c->speed > 0 ? c->speed : 1));
}

void
sbx_recording_path(const char *recdir, const sbx_call *c, char *buf,
    size_t len)
{
	snprintf(buf, len, "%s/%s.wav", recdir, c->pcid);
}

static int
find_step(const sbx_call *c, sbx_status st, int upto)
{
	for (int i = 0; i <= upto && i < c->nsteps; i++) {
		if (c->steps[i].status == st) {
			return (i);
		}
	}
	return (-1);
}

static json_t *
recording(const sbx_call *c, const char *recdir, const char *provider)
{
	char path[4096];
	sbx_recording_path(recdir, c, path, sizeof(path));
	int64_t ms = c->talk_ms < c->cap_ms ? c->talk_ms : c->cap_ms;
	return (json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I}", "v", 1,
	    "provider", provider, "call_id", c->call_id, "provider_call_id",
	    c->pcid, "path", path, "content_type", "audio/wav", "duration_ms",
	    (json_int_t) ms));
}

/* Terminal fields: outcome, times, cost and the artifacts. */
static void
terminal(const sbx_call *c, json_t *ev)
{
	bool answered = c->outcome == SBX_ANSWERED ||
	    c->outcome == SBX_VOICEMAIL;
	json_object_set_new(ev, "outcome",
	    json_string(sbx_outcome_names[c->outcome]));
	json_object_set_new(ev, "ended_at",
	    json_integer(sbx_call_wall(c, c->next)));
	json_object_set_new(ev, "disconnection_reason", json_string(c->reason));
	if (c->recovery) {
		return;
	}
	int64_t dur = answered ? c->talk_ms : 0;
	json_object_set_new(ev, "duration_ms", json_integer(dur));
	/* Providers bill per started minute of a connected call. */
	int64_t minutes = (dur + 59999) / 60000;
	json_object_set_new(ev, "cost_micros",
	    json_integer(minutes * c->price_per_minute));
	json_object_set_new(ev, "currency", json_string(c->currency));
	if (answered && c->script != NULL) {
		sbx_script_finish(c->script, c->talk_ms, c->cut, ev);
	} else {
		json_object_set_new(ev, "voicemail", json_false());
		json_object_set_new(ev, "success", json_false());
		json_object_set_new(ev, "sentiment", json_string("unknown"));
	}
	bool rec_follows = c->next + 1 < c->nsteps &&
	    c->steps[c->next + 1].status == SBX_ST_RECORDING;
	if (rec_follows) {
		json_object_set_new(ev, "recording_pending", json_true());
	}
}

json_t *
sbx_event_build(const cx_host *h, const sbx_call *c, const char *recdir,
    const char **type)
{
	sbx_status st = c->steps[c->next].status;
	if (st == SBX_ST_RECORDING) {
		*type = CX_SVC_CALL_RECORDING;
		return (recording(c, recdir, h->name));
	}
	*type = CX_SVC_CALL_EVENT;
	int32_t seq = c->seq_base + c->next + 1;
	char eid[SBX_ID_MAX + 16];
	snprintf(eid, sizeof(eid), "%s-%d", c->pcid, (int) seq);
	int64_t at = sbx_call_wall(c, c->next);
	json_t *ev = json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:s, s:I}", "v",
	    1, "provider", h->name, "event_id", eid, "call_id", c->call_id,
	    "provider_call_id", c->pcid, "seq", (int) seq, "status",
	    sbx_status_names[st], "at_ms", (json_int_t) at);
	if (ev == NULL) {
		return (NULL);
	}
	if (!c->recovery) {
		json_object_set_new(ev, "started_at",
		    json_integer(sbx_call_wall(c, 0)));
		int ans = find_step(c, SBX_ST_IN_PROGRESS, c->next);
		if (ans >= 0) {
			json_object_set_new(ev, "answered_at",
			    json_integer(sbx_call_wall(c, ans)));
		}
	}
	if (!sbx_status_live(st)) {
		terminal(c, ev);
	}
	/* What a provider's webhook body would be, kept by the core for
	 * audit: the simulation's own view of the step. */
	json_object_set_new(ev, "raw", json_pack("{s:s, s:s, s:i, s:I, s:I, "
	                                         "s:b, s:b}",
	    "sandbox_call", c->pcid, "step", sbx_status_names[st], "seq",
	    (int) seq, "call_ms", (json_int_t) c->steps[c->next].at, "seed",
	    (json_int_t) c->seed, "hangup", c->cut, "recovered", c->recovery));
	return (ev);
}
