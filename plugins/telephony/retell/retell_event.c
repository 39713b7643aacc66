/*
 * retell_event.c - a Retell webhook payload as the core's call.event.
 *
 * Retell posts {"event": "...", "call": {<call object>}}. call_started,
 * call_ended and call_analyzed become seq 1, 2 and 3 of the call, with
 * event_id "<call_id>:<event>": Retell retries a delivery up to three
 * times and may re-sign it, so (call_id, event) is the only stable key.
 * A call that never connected gets no call_started, and events may
 * arrive out of order; the seq lets the core keep the latest.
 *
 * Pure functions of the payload (no clock, no I/O): the fuzz target runs
 * them on arbitrary bytes.
 */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retell.h"

static const char *
str(const json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

/* A JSON number as int64, or -1 (absent, negative, non-finite). */
static int64_t
num(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	double d;
	if (json_is_integer(v)) {
		return (json_integer_value(v) >= 0 ? json_integer_value(v) : -1);
	}
	if (!json_is_real(v)) {
		return (-1);
	}
	d = json_real_value(v);
	return (isfinite(d) && d >= 0 && d < 9e15 ? (int64_t) llround(d) : -1);
}

static void
copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* A call id the core hands out: "call_" and printable ASCII, at most
 * 64 bytes. Anything else in metadata (a call placed from Retell's
 * dashboard, another integration) is not ours to name. */
static bool
our_id(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n <= 5 || n > 64 || strncmp(id, "call_", 5) != 0) {
		return (false);
	}
	for (const char *p = id; *p; p++) {
		if (*p <= ' ' || *p > '~') {
			return (false);
		}
	}
	return (true);
}

bool
retell_event_known(const char *event)
{
	return (strcmp(event, "call_started") == 0 ||
	    strcmp(event, "call_ended") == 0 ||
	    strcmp(event, "call_analyzed") == 0);
}

cx_err
retell_event_parse(const uint8_t *body, size_t len, json_t **root,
    rt_hook_info *info, char *err, size_t errlen)
{
	json_error_t je;
	memset(info, 0, sizeof(*info));
	info->duration_ms = -1;
	info->want_recording = true;
	*root = json_loadb((const char *) body, len, JSON_REJECT_DUPLICATES,
	    &je);
	if (*root == NULL) {
		snprintf(err, errlen, "body is not JSON: %s (line %d, "
		    "column %d)", je.text, je.line, je.column);
		return (CX_EINVAL);
	}
	const json_t *call = json_object_get(*root, "call");
	const json_t *meta = json_object_get(call, "metadata");
	const char *cx = str(meta, "cx_call_id");
	if (our_id(cx)) {
		copy(info->cx_call_id, sizeof(info->cx_call_id), cx);
	}
	if (json_is_false(json_object_get(meta, "cx_record"))) {
		info->want_recording = false;
	}
	const char *ev = str(*root, "event");
	const char *id = str(call, "call_id");
	if (!json_is_object(*root)) {
		snprintf(err, errlen, "body is not a JSON object");
	} else if (ev == NULL || ev[0] == '\0' || strlen(ev) >= sizeof(info->event)) {
		snprintf(err, errlen, "'event' is missing or not a short string");
	} else if (!json_is_object(call)) {
		snprintf(err, errlen, "'call' is missing or not an object");
	} else if (id == NULL || id[0] == '\0' ||
	           strlen(id) >= sizeof(info->call_id)) {
		snprintf(err, errlen, "'call.call_id' is missing or not a "
		                      "string of 1-%zu characters",
		    sizeof(info->call_id) - 1);
	} else {
		copy(info->event, sizeof(info->event), ev);
		copy(info->call_id, sizeof(info->call_id), id);
		const char *url = str(call, "recording_url");
		if (url != NULL && strlen(url) < sizeof(info->recording_url) &&
		    (strncmp(url, "https://", 8) == 0 ||
		        strncmp(url, "http://", 7) == 0)) {
			copy(info->recording_url, sizeof(info->recording_url),
			    url);
		}
		info->duration_ms = num(call, "duration_ms");
		return (CX_OK);
	}
	json_decref(*root);
	*root = NULL;
	return (CX_EINVAL);
}

/* Terminal status and outcome per disconnection_reason. Retell adds
 * values over time; unknown ones fall back on call_status. */
static const struct {
	const char *reason, *status, *outcome;
} reasons[] = {
    {"dial_no_answer", CX_CALL_NO_ANSWER, CX_OUTCOME_NO_ANSWER},
    {"dial_busy", CX_CALL_BUSY, CX_OUTCOME_BUSY},
    /* The callee rejected the call: a telephone network reports that
     * as busy, and retry policies treat it so. */
    {"user_declined", CX_CALL_BUSY, CX_OUTCOME_BUSY},
    {"dial_failed", CX_CALL_FAILED, CX_OUTCOME_FAILED},
    {"voicemail_reached", CX_CALL_COMPLETED, CX_OUTCOME_VOICEMAIL},
    /* A machine answered, not the lead: retried like voicemail. */
    {"ivr_reached", CX_CALL_COMPLETED, CX_OUTCOME_VOICEMAIL},
    {"user_hangup", CX_CALL_COMPLETED, CX_OUTCOME_ANSWERED},
    {"agent_hangup", CX_CALL_COMPLETED, CX_OUTCOME_ANSWERED},
    {"inactivity", CX_CALL_COMPLETED, CX_OUTCOME_ANSWERED},
    {"max_duration_reached", CX_CALL_COMPLETED, CX_OUTCOME_ANSWERED},
    {"call_take_over", CX_CALL_COMPLETED, CX_OUTCOME_ANSWERED},
    {"call_transfer", CX_CALL_COMPLETED, CX_OUTCOME_ANSWERED},
    {"transfer_bridged", CX_CALL_COMPLETED, CX_OUTCOME_ANSWERED},
    {"transfer_cancelled", CX_CALL_COMPLETED, CX_OUTCOME_ANSWERED},
    {"invalid_destination", CX_CALL_FAILED, CX_OUTCOME_FAILED},
    {"telephony_provider_permission_denied", CX_CALL_FAILED,
        CX_OUTCOME_FAILED},
    {"telephony_provider_unavailable", CX_CALL_FAILED, CX_OUTCOME_FAILED},
    {"sip_routing_error", CX_CALL_FAILED, CX_OUTCOME_FAILED},
    {"concurrency_limit_reached", CX_CALL_FAILED, CX_OUTCOME_FAILED},
    {"no_concurrency_fallback", CX_CALL_FAILED, CX_OUTCOME_FAILED},
    {"no_valid_payment", CX_CALL_FAILED, CX_OUTCOME_FAILED},
    {"scam_detected", CX_CALL_FAILED, CX_OUTCOME_FAILED},
    {"marked_as_spam", CX_CALL_FAILED, CX_OUTCOME_FAILED},
    {"registered_call_timeout", CX_CALL_FAILED, CX_OUTCOME_FAILED},
};

void
retell_call_status(const json_t *call, const char **status,
    const char **outcome)
{
	const char *cs = str(call, "call_status");
	const char *dr = str(call, "disconnection_reason");
	const json_t *an = json_object_get(call, "call_analysis");

	*outcome = NULL;
	if (cs != NULL && strcmp(cs, "registered") == 0) {
		*status = CX_CALL_QUEUED;
		return;
	}
	if (cs != NULL && strcmp(cs, "ongoing") == 0) {
		*status = CX_CALL_IN_PROGRESS;
		return;
	}
	*status = NULL;
	for (size_t i = 0; dr != NULL && i < sizeof(reasons) / sizeof(reasons[0]);
	     i++) {
		if (strcmp(dr, reasons[i].reason) == 0) {
			*status = reasons[i].status;
			*outcome = reasons[i].outcome;
			break;
		}
	}
	if (*status == NULL && dr != NULL && strcmp(dr, "manual_stopped") == 0) {
		/* stop-call: the call was ours to cancel; if it had been
		 * answered it still counts as a conversation. */
		bool talked = num(call, "duration_ms") > 0 &&
		    num(call, "start_timestamp") > 0 &&
		    (cs == NULL || strcmp(cs, "not_connected") != 0);
		*status = talked ? CX_CALL_COMPLETED : CX_CALL_CANCELED;
		*outcome = talked ? CX_OUTCOME_ANSWERED : CX_OUTCOME_CANCELED;
	}
	if (*status == NULL && dr != NULL && strncmp(dr, "error_", 6) == 0) {
		*status = CX_CALL_FAILED;
		*outcome = CX_OUTCOME_FAILED;
	}
	if (*status == NULL) {
		/* Unknown or missing reason: the call status decides. */
		bool ended = cs != NULL && strcmp(cs, "ended") == 0;
		*status = ended ? CX_CALL_COMPLETED : CX_CALL_FAILED;
		*outcome = ended ? CX_OUTCOME_ANSWERED : CX_OUTCOME_FAILED;
	}
	/* The analysis may notice voicemail the dialling did not. */
	if (json_is_true(json_object_get(an, "in_voicemail")) &&
	    strcmp(*status, CX_CALL_COMPLETED) == 0) {
		*outcome = CX_OUTCOME_VOICEMAIL;
	}
}

static json_t *
transcript_of(const json_t *call)
{
	const char *text = str(call, "transcript");
	const json_t *tobj = json_object_get(call, "transcript_object");
	if (text == NULL && !json_is_array(tobj)) {
		return (NULL);
	}
	json_t *t = json_object();
	json_t *utt = json_array();
	size_t i;
	const json_t *u;
	json_object_set_new(t, "text", json_string(text ? text : ""));
	json_array_foreach(tobj, i, u) {
		const char *role = str(u, "role"), *content = str(u, "content");
		if (role == NULL || content == NULL) {
			continue;
		}
		/* Only the agent speaks for us; the lead and any transfer
		 * target are the other side of the line. */
		json_t *o = json_pack("{s:s, s:s}", "speaker",
		    strcmp(role, "agent") == 0 ? "agent" : "user", "text",
		    content);
		const json_t *words = json_object_get(u, "words");
		size_t n = json_array_size(words);
		if (n > 0) {
			const json_t *a = json_object_get(json_array_get(words, 0),
			    "start");
			const json_t *b = json_object_get(
			    json_array_get(words, n - 1), "end");
			double s = json_number_value(a), e = json_number_value(b);
			if (json_is_number(a) && json_is_number(b) &&
			    isfinite(s) && isfinite(e) && s >= 0 && e >= s &&
			    e < 1e9) {
				json_object_set_new(o, "start_ms",
				    json_integer((json_int_t) llround(s * 1000)));
				json_object_set_new(o, "end_ms",
				    json_integer((json_int_t) llround(e * 1000)));
			}
		}
		json_array_append_new(utt, o);
	}
	json_object_set_new(t, "utterances", utt);
	return (t);
}

static void
set_int(json_t *o, const char *k, int64_t v)
{
	if (v >= 0) {
		json_object_set_new(o, k, json_integer((json_int_t) v));
	}
}

static void
add_analysis(json_t *ev, const json_t *an)
{
	const char *summary = str(an, "call_summary");
	const char *sent = str(an, "user_sentiment");
	const json_t *v;
	if (summary != NULL) {
		json_object_set_new(ev, "summary", json_string(summary));
	}
	if (sent != NULL) {
		const char *s = strcasecmp(sent, "positive") == 0 ? "positive" :
		    strcasecmp(sent, "negative") == 0             ? "negative" :
		    strcasecmp(sent, "neutral") == 0              ? "neutral" :
		                                                    "unknown";
		json_object_set_new(ev, "sentiment", json_string(s));
	}
	if (json_is_boolean(v = json_object_get(an, "call_successful"))) {
		json_object_set_new(ev, "success", json_boolean(json_is_true(v)));
	}
	if (json_is_boolean(v = json_object_get(an, "in_voicemail"))) {
		json_object_set_new(ev, "voicemail",
		    json_boolean(json_is_true(v)));
	}
	if (json_is_object(v = json_object_get(an, "custom_analysis_data"))) {
		json_object_set(ev, "analysis", (json_t *) v);
	}
}

static size_t
size_of(const json_t *j)
{
	char *d = json_dumps(j, JSON_COMPACT);
	size_t n = d ? strlen(d) : SIZE_MAX;
	free(d);
	return (n);
}

/* The core refuses a call.event over 1 MiB, and a long call's payload
 * (word timings, tool calls, the scrubbed copies) passes that. What we
 * derived (transcript, utterances, analysis) stays; the audit copy in
 * raw sheds, in order, the bulky derived fields, then everything but
 * the ids; then the utterances go, then the transcript. */
static json_t *
fit(json_t *ev, const json_t *root)
{
	static const char *const bulky[] = {"transcript_object",
	    "transcript_with_tool_calls", "scrubbed_transcript_object",
	    "scrubbed_transcript_with_tool_calls", "latency",
	    "llm_token_usage", "collected_dynamic_variables",
	    "knowledge_base_retrieved_contents_url", "transcript",
	    "scrubbed_transcript", NULL};
	if (size_of(ev) <= RT_EVENT_MAX) {
		return (ev);
	}
	json_t *raw = json_deep_copy(root);
	json_t *call = json_object_get(raw, "call");
	json_t *dropped = json_array();
	for (size_t i = 0; bulky[i] != NULL && raw != NULL; i++) {
		if (json_object_get(call, bulky[i]) != NULL) {
			json_object_del(call, bulky[i]);
			json_array_append_new(dropped, json_string(bulky[i]));
		}
	}
	json_object_set_new(raw, "cx_dropped", dropped);
	json_object_set_new(ev, "raw", raw ? raw : json_object());
	if (size_of(ev) > RT_EVENT_MAX) {
		const json_t *c = json_object_get(root, "call");
		json_object_set_new(ev, "raw", json_pack("{s:O?, s:{s:O?, s:O?, "
		    "s:O?}, s:b}", "event", json_object_get(root, "event"),
		    "call", "call_id", json_object_get(c, "call_id"),
		    "call_status", json_object_get(c, "call_status"),
		    "disconnection_reason", json_object_get(c,
		        "disconnection_reason"), "cx_truncated", 1));
	}
	json_t *t = json_object_get(ev, "transcript");
	if (size_of(ev) > RT_EVENT_MAX && t != NULL) {
		json_object_set_new(t, "utterances", json_array());
	}
	if (size_of(ev) > RT_EVENT_MAX) {
		json_object_del(ev, "transcript");
	}
	if (size_of(ev) > RT_EVENT_MAX) {
		json_decref(ev); /* an analysis too large for the core */
		return (NULL);
	}
	return (ev);
}

json_t *
retell_event_build(const json_t *root, const rt_hook_info *info,
    const char *provider)
{
	const json_t *call = json_object_get(root, "call");
	const char *status, *outcome;
	char eid[RT_ID_MAX + 40];
	int seq = strcmp(info->event, "call_started") == 0 ? 1 :
	    strcmp(info->event, "call_ended") == 0         ? 2 :
	                                                     3;

	if (seq == 1) {
		status = CX_CALL_IN_PROGRESS;
		outcome = NULL;
	} else {
		retell_call_status(call, &status, &outcome);
		if (outcome == NULL) {
			/* An ended event whose call_status still says
			 * ongoing: it is over all the same. */
			status = CX_CALL_COMPLETED;
			outcome = CX_OUTCOME_ANSWERED;
		}
	}
	snprintf(eid, sizeof(eid), "%s:%s", info->call_id, info->event);
	json_t *ev = json_pack("{s:i, s:s, s:s, s:s, s:i, s:s}", "v", 1,
	    "provider", provider, "event_id", eid, "provider_call_id",
	    info->call_id, "seq", seq, "status", status);
	if (ev == NULL) {
		return (NULL);
	}
	if (info->cx_call_id[0] != '\0') {
		json_object_set_new(ev, "call_id", json_string(info->cx_call_id));
	}
	if (outcome != NULL) {
		json_object_set_new(ev, "outcome", json_string(outcome));
	}
	int64_t start = num(call, "start_timestamp");
	int64_t end = num(call, "end_timestamp");
	set_int(ev, "at_ms", seq == 1 ? start : (end >= 0 ? end : start));
	set_int(ev, "started_at", start);
	/* Retell starts the clock when the callee picks up: a call that
	 * never connected has no start_timestamp. */
	if (outcome == NULL || strcmp(outcome, CX_OUTCOME_ANSWERED) == 0 ||
	    strcmp(outcome, CX_OUTCOME_VOICEMAIL) == 0) {
		set_int(ev, "answered_at", start);
	}
	if (seq > 1) {
		set_int(ev, "ended_at", end);
		set_int(ev, "duration_ms", num(call, "duration_ms"));
	}
	const json_t *cost = json_object_get(call, "call_cost");
	const json_t *cc = json_object_get(cost, "combined_cost");
	if (json_is_number(cc) && isfinite(json_number_value(cc)) &&
	    json_number_value(cc) >= 0 && json_number_value(cc) < 1e12) {
		/* combined_cost is in US cents. */
		json_object_set_new(ev, "cost_micros", json_integer(
		    (json_int_t) llround(json_number_value(cc) * 10000.0)));
		json_object_set_new(ev, "currency", json_string("USD"));
	}
	json_t *t = transcript_of(call);
	if (t != NULL) {
		json_object_set_new(ev, "transcript", t);
	}
	add_analysis(ev, json_object_get(call, "call_analysis"));
	const char *dr = str(call, "disconnection_reason");
	if (dr != NULL) {
		json_object_set_new(ev, "disconnection_reason", json_string(dr));
	}
	if (seq > 1 && info->recording_url[0] != '\0' && info->want_recording) {
		json_object_set_new(ev, "recording_pending", json_true());
	}
	json_object_set(ev, "raw", (json_t *) root);
	return (fit(ev, root));
}
