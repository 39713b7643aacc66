/*
 * twilio_event.c - a verified Twilio callback form -> the contract's
 * call.event payload. No host, no I/O: the fuzz target runs it on every
 * body the parser accepts.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twilio.h"

const char *
twilio_status_map(const char *st)
{
	static const char *const map[][2] = {
	    {"queued", CX_CALL_QUEUED}, {"initiated", CX_CALL_QUEUED},
	    {"ringing", CX_CALL_RINGING}, {"in-progress", CX_CALL_IN_PROGRESS},
	    {"answered", CX_CALL_IN_PROGRESS}, {"completed", CX_CALL_COMPLETED},
	    {"busy", CX_CALL_BUSY}, {"no-answer", CX_CALL_NO_ANSWER},
	    {"failed", CX_CALL_FAILED}, {"canceled", CX_CALL_CANCELED},
	};
	for (size_t i = 0; st != NULL && i < sizeof(map) / sizeof(map[0]);
	     i++) {
		if (strcmp(st, map[i][0]) == 0) {
			return (map[i][1]);
		}
	}
	return (NULL);
}

bool
twilio_rfc2822_ms(const char *s, int64_t *ms)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (s == NULL || s[0] == '\0') {
		return (false);
	}
	/* The weekday is optional in RFC 2822. */
	const char *p = strchr(s, ',') ? strchr(s, ',') + 1 : s;
	const char *end = strptime(p, " %d %b %Y %H:%M:%S %z", &tm);
	if (end == NULL || *end != '\0') {
		return (false);
	}
	long off = tm.tm_gmtoff;
	time_t t = timegm(&tm);
	if (t == (time_t) -1) {
		return (false);
	}
	*ms = ((int64_t) t - off) * 1000;
	return (true);
}

/* A non-negative decimal integer of at most 12 digits. */
static bool
uint_of(const char *s, int64_t *out)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > 12) {
		return (false);
	}
	int64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char) *p)) {
			return (false);
		}
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return (true);
}

static bool
sid_ok(const char *s)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > 64) {
		return (false);
	}
	for (; *s; s++) {
		if (!isalnum((unsigned char) *s)) {
			return (false);
		}
	}
	return (true);
}

/* The verified payload, for audit: name -> value, or a list of values
 * for a repeated name. */
static json_t *
raw_of(const twilio_form *f)
{
	json_t *o = json_object();
	for (size_t i = 0; o != NULL && i < f->n; i++) {
		json_t *old = json_object_get(o, f->p[i].name);
		json_t *v = json_string(f->p[i].value);
		if (v == NULL) {
			continue;
		}
		if (old == NULL) {
			json_object_set_new(o, f->p[i].name, v);
		} else if (json_is_array(old)) {
			json_array_append_new(old, v);
		} else {
			json_t *a = json_pack("[O,o]", old, v);
			if (a != NULL) {
				json_object_set_new(o, f->p[i].name, a);
			}
		}
	}
	return (o);
}

/* Where a call stands, for callbacks without a SequenceNumber. */
static int64_t
status_rank(const char *cx)
{
	return (strcmp(cx, CX_CALL_QUEUED) == 0 ? 0 :
	        strcmp(cx, CX_CALL_RINGING) == 0 ? 1 :
	        strcmp(cx, CX_CALL_IN_PROGRESS) == 0 ? 2 :
	                                               3);
}

static void
add_outcome(json_t *ev, const char *cx, const char *answered_by,
    const twilio_form *f)
{
	bool machine = answered_by != NULL &&
	    strncmp(answered_by, "machine", 7) == 0;
	bool fax = answered_by != NULL && strcmp(answered_by, "fax") == 0;
	const char *outcome = CX_OUTCOME_FAILED;
	const char *reason = NULL;
	char sip[48];
	if (strcmp(cx, CX_CALL_COMPLETED) == 0) {
		outcome = machine ? CX_OUTCOME_VOICEMAIL :
		    fax           ? CX_OUTCOME_FAILED :
		                    CX_OUTCOME_ANSWERED;
		reason = fax ? "fax" : NULL;
	} else if (strcmp(cx, CX_CALL_BUSY) == 0) {
		outcome = CX_OUTCOME_BUSY, reason = "busy";
	} else if (strcmp(cx, CX_CALL_NO_ANSWER) == 0) {
		outcome = CX_OUTCOME_NO_ANSWER, reason = "no_answer";
	} else if (strcmp(cx, CX_CALL_CANCELED) == 0) {
		outcome = CX_OUTCOME_CANCELED, reason = "canceled";
	} else {
		const char *code = twilio_form_get(f, "SipResponseCode");
		int64_t c;
		if (uint_of(code, &c)) {
			snprintf(sip, sizeof(sip), "sip %lld", (long long) c);
			reason = sip;
		} else {
			reason = "failed";
		}
	}
	json_object_set_new(ev, "outcome", json_string(outcome));
	if (reason != NULL) {
		json_object_set_new(ev, "disconnection_reason",
		    json_string(reason));
	}
}

static twilio_ev_kind
status_event(const twilio_form *f, const char *hint, json_t *ev, char *err,
    size_t errlen)
{
	const char *sid = twilio_form_get(f, "CallSid");
	const char *st = twilio_form_get(f, "CallStatus");
	const char *seqs = twilio_form_get(f, "SequenceNumber");
	const char *ab = twilio_form_get(f, "AnsweredBy");
	int64_t seq = 0, v;
	if (ab == NULL || ab[0] == '\0') {
		ab = hint;
	}
	if (st == NULL || st[0] == '\0') {
		snprintf(err, errlen, "CallStatus is missing");
		return (TWILIO_EV_BAD);
	}
	if (seqs != NULL && !uint_of(seqs, &seq)) {
		snprintf(err, errlen, "SequenceNumber is not a number");
		return (TWILIO_EV_BAD);
	}
	const char *cx = twilio_status_map(st);
	if (cx == NULL) {
		snprintf(err, errlen, "unknown CallStatus %.32s", st);
		return (TWILIO_EV_IGNORE);
	}
	char id[256];
	snprintf(id, sizeof(id), "%s:%s:%s", sid, st, seqs ? seqs : "-");
	json_object_set_new(ev, "event_id", json_string(id));
	json_object_set_new(ev, "seq",
	    json_integer(seqs ? seq : status_rank(cx)));
	json_object_set_new(ev, "status", json_string(cx));
	int64_t at;
	bool has_at = twilio_rfc2822_ms(twilio_form_get(f, "Timestamp"), &at);
	if (has_at) {
		json_object_set_new(ev, "at_ms", json_integer(at));
	}
	const char *when = strcmp(cx, CX_CALL_QUEUED) == 0 ? "started_at" :
	    strcmp(cx, CX_CALL_IN_PROGRESS) == 0        ? "answered_at" :
	    strcmp(cx, CX_CALL_RINGING) == 0            ? NULL :
	                                                  "ended_at";
	if (has_at && when != NULL) {
		json_object_set_new(ev, when, json_integer(at));
	}
	if (ab != NULL && ab[0] != '\0' && strcmp(ab, "unknown") != 0) {
		json_object_set_new(ev, "voicemail",
		    json_boolean(strncmp(ab, "machine", 7) == 0));
	}
	if (status_rank(cx) == 3) {
		add_outcome(ev, cx, ab, f);
		if (uint_of(twilio_form_get(f, "CallDuration"), &v)) {
			json_object_set_new(ev, "duration_ms",
			    json_integer(v * 1000));
		}
		/* With Record=true the final status carries the recording;
		 * its own callback follows. */
		if (strcmp(cx, CX_CALL_COMPLETED) == 0 &&
		    twilio_form_get(f, "RecordingSid") != NULL &&
		    twilio_form_get(f, "RecordingUrl") != NULL) {
			json_object_set_new(ev, "recording_pending", json_true());
		}
	}
	return (TWILIO_EV_STATUS);
}

/* A recording callback says little about the call, so it carries the
 * least its existence proves: a completed recording exists only for a
 * call that was answered and is over ("completed"; voicemail when AMD
 * said machine); any other recording status proves nothing ("queued",
 * which never moves a call's status). seq 0 keeps it from overriding
 * what the status callbacks (SequenceNumber 0 and up) report. */
static twilio_ev_kind
recording_event(const twilio_form *f, const char *hint, json_t *ev,
    char *err, size_t errlen)
{
	const char *sid = twilio_form_get(f, "CallSid");
	const char *re = twilio_form_get(f, "RecordingSid");
	const char *st = twilio_form_get(f, "RecordingStatus");
	if (!sid_ok(re)) {
		snprintf(err, errlen, "RecordingSid is missing or malformed");
		return (TWILIO_EV_BAD);
	}
	if (st == NULL || st[0] == '\0') {
		snprintf(err, errlen, "RecordingStatus is missing");
		return (TWILIO_EV_BAD);
	}
	bool done = strcmp(st, "completed") == 0;
	if (done && twilio_form_get(f, "RecordingUrl") == NULL) {
		snprintf(err, errlen, "RecordingUrl is missing");
		return (TWILIO_EV_BAD);
	}
	char id[256];
	snprintf(id, sizeof(id), "%s:recording:%s:%.32s", sid, re, st);
	json_object_set_new(ev, "event_id", json_string(id));
	json_object_set_new(ev, "seq", json_integer(0));
	json_object_set_new(ev, "status",
	    json_string(done ? CX_CALL_COMPLETED : CX_CALL_QUEUED));
	bool machine = hint != NULL && strncmp(hint, "machine", 7) == 0;
	if (done && machine) {
		json_object_set_new(ev, "outcome",
		    json_string(CX_OUTCOME_VOICEMAIL));
		json_object_set_new(ev, "voicemail", json_true());
	}
	json_object_set_new(ev, "recording_pending", json_boolean(done));
	return (TWILIO_EV_RECORDING);
}

/* The core takes our own call ids only ("call_" and printable ASCII);
 * anything else in the callback URL is left out, not refused. */
static bool
call_id_ok(const char *s)
{
	if (s == NULL || strncmp(s, "call_", 5) != 0 || strlen(s) > 64) {
		return (false);
	}
	for (; *s; s++) {
		if (*s <= ' ' || *s > '~') {
			return (false);
		}
	}
	return (true);
}

twilio_ev_kind
twilio_event_build(const twilio_form *f, bool recording,
    const char *provider, const char *call_id, const char *answered_by,
    json_t **event, char *err, size_t errlen)
{
	*event = NULL;
	const char *sid = twilio_form_get(f, "CallSid");
	if (!sid_ok(sid)) {
		snprintf(err, errlen, "CallSid is missing or malformed");
		return (TWILIO_EV_BAD);
	}
	json_t *ev = json_pack("{s:i, s:s, s:s}", "v", CX_TELEPHONY_VERSION,
	    "provider", provider, "provider_call_id", sid);
	if (ev == NULL) {
		snprintf(err, errlen, "out of memory");
		return (TWILIO_EV_BAD);
	}
	if (call_id_ok(call_id)) {
		json_object_set_new(ev, "call_id", json_string(call_id));
	}
	twilio_ev_kind k = recording ?
	    recording_event(f, answered_by, ev, err, errlen) :
	                               status_event(f, answered_by, ev, err,
	                                   errlen);
	if (k != TWILIO_EV_STATUS && k != TWILIO_EV_RECORDING) {
		json_decref(ev);
		return (k);
	}
	json_t *raw = raw_of(f);
	if (raw == NULL || json_object_set_new(ev, "raw", raw) != 0) {
		json_decref(ev);
		snprintf(err, errlen, "out of memory");
		return (TWILIO_EV_BAD);
	}
	*event = ev;
	return (k);
}
