/*
 * callview.c - a call as the customer sees it (GET /v1/calls/{id}, the
 * call.* webhooks and bus events). Internal bookkeeping (seq, settle
 * and artifact times, the blob key) stays inside; the recording is a
 * link to the API, never a storage key.
 */
#include <stdio.h>
#include <string.h>

#include "callevents.h"

static int
copy(json_t *v, const json_t *row, const char *from, const char *to)
{
	const json_t *x = json_object_get(row, from);
	return (json_object_set_new(v, to, x != NULL ? json_incref((json_t *) x) :
	                                               json_null()));
}

json_t *
cxi_call_view(const json_t *row)
{
	static const char *const shown[] = {"id", "account_id", "campaign_id",
	    "lead_id", "attempt", "provider", "provider_call_id", "status",
	    "outcome", "created_at", "started_at", "answered_at", "ended_at",
	    "duration_ms", "cost_micros", "currency", "summary", "sentiment",
	    "success", "voicemail", "disconnection_reason", "analysis",
	    "variables", "error", NULL};
	json_t *v = json_object();
	int bad = v == NULL;
	for (size_t i = 0; !bad && shown[i] != NULL; i++) {
		bad |= copy(v, row, shown[i], shown[i]);
	}
	if (!bad) {
		bad |= copy(v, row, "from_number", "from");
		bad |= copy(v, row, "to_number", "to");
	}
	const char *text = json_string_value(json_object_get(row,
	    "transcript"));
	if (!bad && text == NULL) {
		bad |= json_object_set_new(v, "transcript", json_null());
	} else if (!bad) {
		const json_t *u = json_object_get(row, "utterances");
		json_t *t = json_pack("{s:s}", "text", text);
		bad |= t == NULL;
		bad |= json_object_set_new(t, "utterances", json_is_array(u) ?
		    json_incref((json_t *) u) : json_array());
		bad |= copy(t, row, "transcript_source", "source");
		bad |= json_object_set_new(v, "transcript", t);
	}
	const char *key = json_string_value(json_object_get(row,
	    "recording_key"));
	const char *id = json_string_value(json_object_get(row, "id"));
	if (!bad && key != NULL && id != NULL) {
		char url[128];
		snprintf(url, sizeof(url), "/v1/calls/%s/recording", id);
		bad |= json_object_set_new(v, "recording_url",
		    json_string(url));
		bad |= json_object_set_new(v, "recording", json_pack(
		    "{s:O, s:O}", "content_type",
		    json_object_get(row, "recording_type") ?
		        json_object_get(row, "recording_type") : json_null(),
		    "bytes", json_object_get(row, "recording_bytes") ?
		        json_object_get(row, "recording_bytes") : json_null()));
	} else if (!bad) {
		bad |= json_object_set_new(v, "recording_url", json_null());
		bad |= json_object_set_new(v, "recording", json_null());
	}
	if (bad) {
		json_decref(v);
		return (NULL);
	}
	return (v);
}
