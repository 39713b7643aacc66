/*
 * callvalidate.c - the complete check of a call.event payload
 * (callixo/telephony.h) before anything of it is stored. It is the one
 * parser a telephony plugin (possibly compromised, possibly in another
 * process) can feed, so it is strict: every known field has its type,
 * range and size checked, an unknown field is refused, and the message
 * names the field. Pure (fuzzed by tests/callevents/fuzz_callevent.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callevents.h"
#include "callevents_int.h"

/* Unix ms up to the year 2200; anything beyond is a unit mistake. */
#define MS_MAX 7258118400000LL
#define DURATION_MAX (7LL * 24 * 3600 * 1000)
#define TEXT_MAX (1024 * 1024)
#define SUMMARY_MAX (64 * 1024)
#define UTTERANCES_MAX 20000
#define PAYLOAD_MAX (1024 * 1024)

static const char *const statuses[] = {CX_CALL_QUEUED, CX_CALL_RINGING,
    CX_CALL_IN_PROGRESS, CX_CALL_COMPLETED, CX_CALL_BUSY, CX_CALL_NO_ANSWER,
    CX_CALL_FAILED, CX_CALL_CANCELED, NULL};
static const char *const outcomes[] = {CX_OUTCOME_ANSWERED,
    CX_OUTCOME_VOICEMAIL, CX_OUTCOME_BUSY, CX_OUTCOME_NO_ANSWER,
    CX_OUTCOME_FAILED, CX_OUTCOME_CANCELED, NULL};
static const char *const sentiments[] = {"positive", "neutral", "negative",
    "unknown", NULL};

int
ce_status_rank(const char *s)
{
	if (s == NULL) {
		return (-1);
	}
	for (int i = 0; statuses[i] != NULL; i++) {
		if (strcmp(s, statuses[i]) == 0) {
			return (i < 3 ? i : 3);
		}
	}
	return (-1);
}

bool
ce_in(const char *s, const char *const *set)
{
	for (size_t i = 0; s != NULL && set[i] != NULL; i++) {
		if (strcmp(s, set[i]) == 0) {
			return (true);
		}
	}
	return (false);
}

/* A string of 1..max bytes without NUL (jansson allows "\u0000"). */
static bool
str_ok(const json_t *v, size_t max)
{
	if (!json_is_string(v)) {
		return (false);
	}
	size_t n = json_string_length(v);
	return (n >= 1 && n <= max && strlen(json_string_value(v)) == n);
}

/* Printable ASCII without spaces: names and ids. */
static bool
token_ok(const json_t *v, size_t max)
{
	if (!str_ok(v, max)) {
		return (false);
	}
	for (const char *p = json_string_value(v); *p != '\0'; p++) {
		if (*p <= ' ' || *p > '~') {
			return (false);
		}
	}
	return (true);
}

static bool
int_ok(const json_t *v, json_int_t lo, json_int_t hi)
{
	return (json_is_integer(v) && json_integer_value(v) >= lo &&
	    json_integer_value(v) <= hi);
}

#define BAD(...)                                                          \
	do {                                                              \
		snprintf(why, whylen, __VA_ARGS__);                       \
		return (CX_EINVAL);                                       \
	} while (0)

static cx_err
check_utterances(const json_t *u, char *why, size_t whylen)
{
	if (!json_is_array(u) || json_array_size(u) > UTTERANCES_MAX) {
		BAD("transcript.utterances must be an array of at most %d "
		    "items", UTTERANCES_MAX);
	}
	size_t i;
	const json_t *it;
	json_array_foreach (u, i, it) {
		const char *k;
		const json_t *v;
		if (!json_is_object(it)) {
			BAD("transcript.utterances[%zu] must be an object", i);
		}
		json_object_foreach ((json_t *) it, k, v) {
			if (strcmp(k, "speaker") == 0 ? !str_ok(v, 64) :
			    strcmp(k, "text") == 0 ? !json_is_string(v) ||
			        json_string_length(v) > TEXT_MAX :
			    strcmp(k, "start_ms") == 0 ||
			        strcmp(k, "end_ms") == 0 ?
			        !int_ok(v, 0, DURATION_MAX) :
			    strcmp(k, "confidence") == 0 ? !json_is_number(v) :
			                                   true) {
				BAD("transcript.utterances[%zu].%.64s is not "
				    "valid", i, k);
			}
		}
		if (json_object_get(it, "text") == NULL) {
			BAD("transcript.utterances[%zu].text is missing", i);
		}
		const json_t *s = json_object_get(it, "start_ms");
		const json_t *e = json_object_get(it, "end_ms");
		if (s != NULL && e != NULL &&
		    json_integer_value(e) < json_integer_value(s)) {
			BAD("transcript.utterances[%zu].end_ms is before "
			    "start_ms", i);
		}
	}
	return (CX_OK);
}

static cx_err
check_transcript(const json_t *t, char *why, size_t whylen)
{
	const char *k;
	const json_t *v;
	if (!json_is_object(t)) {
		BAD("transcript must be an object {text, utterances}");
	}
	json_object_foreach ((json_t *) t, k, v) {
		if (strcmp(k, "text") == 0) {
			if (!json_is_string(v) || json_string_length(v) >
			    TEXT_MAX) {
				BAD("transcript.text must be a string of at "
				    "most %d bytes", TEXT_MAX);
			}
		} else if (strcmp(k, "utterances") == 0) {
			cx_err rv = check_utterances(v, why, whylen);
			if (rv != CX_OK) {
				return (rv);
			}
		} else {
			BAD("transcript.%.64s is not a known field", k);
		}
	}
	if (!json_is_string(json_object_get(t, "text"))) {
		BAD("transcript.text is missing");
	}
	return (CX_OK);
}

/* One top-level field; CX_ENOENT for a name that is not in the
 * contract. */
static cx_err
check_field(const char *k, const json_t *v, char *why, size_t whylen)
{
	static const char *const times[] = {"at_ms", "started_at",
	    "answered_at", "ended_at", NULL};
	if (strcmp(k, "v") == 0) {
		return (int_ok(v, CX_TELEPHONY_VERSION, CX_TELEPHONY_VERSION) ?
		    CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "provider") == 0) {
		return (token_ok(v, 64) ? CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "event_id") == 0) {
		return (token_ok(v, 256) ? CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "call_id") == 0) {
		return (token_ok(v, 64) && strncmp(json_string_value(v),
		    "call_", 5) == 0 ? CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "provider_call_id") == 0) {
		return (token_ok(v, 128) ? CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "seq") == 0) {
		return (int_ok(v, 0, INT64_MAX / 2) ? CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "status") == 0) {
		return (json_is_string(v) && ce_status_rank(
		    json_string_value(v)) >= 0 ? CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "outcome") == 0) {
		return (json_is_string(v) && ce_in(json_string_value(v),
		    outcomes) ? CX_OK : CX_EINVAL);
	}
	if (ce_in(k, times)) {
		return (int_ok(v, 0, MS_MAX) ? CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "duration_ms") == 0) {
		return (int_ok(v, 0, DURATION_MAX) ? CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "cost_micros") == 0) {
		return (int_ok(v, 0, INT64_MAX / 2) ? CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "currency") == 0) {
		const char *s = json_string_value(v);
		return (str_ok(v, 3) && strlen(s) == 3 && s[0] >= 'A' &&
		    s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' &&
		    s[2] <= 'Z' ? CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "transcript") == 0) {
		return (check_transcript(v, why, whylen));
	}
	if (strcmp(k, "summary") == 0) {
		return (json_is_string(v) && json_string_length(v) <=
		    SUMMARY_MAX ? CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "sentiment") == 0) {
		return (json_is_string(v) && ce_in(json_string_value(v),
		    sentiments) ? CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "success") == 0 || strcmp(k, "voicemail") == 0 ||
	    strcmp(k, "recording_pending") == 0) {
		return (json_is_boolean(v) ? CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "disconnection_reason") == 0) {
		return (str_ok(v, 128) ? CX_OK : CX_EINVAL);
	}
	if (strcmp(k, "analysis") == 0 || strcmp(k, "raw") == 0) {
		return (json_is_object(v) ? CX_OK : CX_EINVAL);
	}
	return (CX_ENOENT);
}

cx_err
cxi_callevent_validate(const json_t *data, char *why, size_t whylen)
{
	static const char *const required[] = {"v", "provider", "event_id",
	    "seq", "status", NULL};
	const char *k;
	const json_t *v;
	if (!json_is_object(data)) {
		BAD("call.event data must be an object");
	}
	for (size_t i = 0; required[i] != NULL; i++) {
		if (json_object_get(data, required[i]) == NULL) {
			BAD("call.event: %s is missing", required[i]);
		}
	}
	json_object_foreach ((json_t *) data, k, v) {
		why[0] = '\0';
		cx_err rv = check_field(k, v, why, whylen);
		if (rv == CX_ENOENT) {
			BAD("call.event: %.64s is not a known field", k);
		}
		if (rv != CX_OK) {
			if (why[0] == '\0') {
				snprintf(why, whylen, "call.event: %s is not "
				    "valid", k);
			}
			return (rv);
		}
	}
	if (json_object_get(data, "call_id") == NULL &&
	    json_object_get(data, "provider_call_id") == NULL) {
		BAD("call.event: call_id or provider_call_id is required");
	}
	const char *st = json_string_value(json_object_get(data, "status"));
	if (json_object_get(data, "outcome") != NULL &&
	    ce_status_rank(st) < 3) {
		BAD("call.event: outcome is only for a terminal status, not "
		    "%s", st);
	}
	char *dump = json_dumps(data, JSON_COMPACT);
	size_t n = dump != NULL ? strlen(dump) : 0;
	free(dump);
	if (dump == NULL || n > PAYLOAD_MAX) {
		BAD("call.event: the payload is larger than %d bytes",
		    PAYLOAD_MAX);
	}
	/* What the calls row can hold (repo_entities.c), as stored. */
	static const struct {
		const char *name;
		size_t max;
	} caps[] = {{"analysis", CXI_REPO_JSON_MAX},
	    {"utterances", TEXT_MAX}};
	for (size_t i = 0; i < 2; i++) {
		const json_t *x = json_object_get(data, caps[i].name);
		if (i == 1) {
			x = json_object_get(json_object_get(data,
			    "transcript"), "utterances");
		}
		if (x == NULL) {
			continue;
		}
		dump = json_dumps(x, JSON_COMPACT | JSON_ENSURE_ASCII);
		n = dump != NULL ? strlen(dump) : 0;
		free(dump);
		if (n > caps[i].max) {
			BAD("call.event: %s is larger than %zu bytes",
			    caps[i].name, caps[i].max);
		}
	}
	why[0] = '\0';
	return (CX_OK);
}
