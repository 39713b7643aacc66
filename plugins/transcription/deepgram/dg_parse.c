/*
 * dg_parse.c - Deepgram's pre-recorded answers, turned into the
 * transcription contract's reply.
 *
 * Everything here is pure (bytes in, JSON or text out) so the fuzz target
 * can drive it. A body that lacks what the request asked for is a
 * protocol error naming the first missing field, never a crash and never
 * a silently empty transcript.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "dg.h"

/* Deepgram times are float seconds; a call of a week is already absurd,
 * and the bound keeps the conversion to milliseconds exact and in range. */
#define DG_MAX_SECONDS (7.0 * 24 * 3600)

static cx_err missing(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static cx_err
missing(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return (CX_EPROTO);
}

static bool
seconds_to_ms(const json_t *v, int64_t *ms)
{
	if (!json_is_number(v)) {
		return (false);
	}
	double s = json_number_value(v);
	if (!isfinite(s) || s < 0 || s > DG_MAX_SECONDS) {
		return (false);
	}
	*ms = (int64_t) llround(s * 1000.0);
	return (true);
}

/* Speakers are small integers from diarization; without diarize there
 * is no field, and everything said is one speaker's. */
static bool
speaker_of(const json_t *u, char *out, size_t cap)
{
	const json_t *sp = json_object_get(u, "speaker");
	if (sp == NULL || json_is_null(sp)) {
		snprintf(out, cap, "0");
		return (true);
	}
	if (!json_is_integer(sp) || json_integer_value(sp) < 0) {
		return (false);
	}
	snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(sp));
	return (true);
}

static cx_err
parse_utterances(const json_t *results, json_t *list, char *why,
    size_t whylen)
{
	const json_t *utts = json_object_get(results, "utterances");
	if (!json_is_array(utts)) {
		return (missing(why, whylen, "results.utterances is missing or "
		                             "not an array"));
	}
	size_t i;
	const json_t *u;
	json_array_foreach(utts, i, u) {
		int64_t start, end;
		char speaker[32];
		const json_t *text = json_object_get(u, "transcript");
		if (!json_is_object(u)) {
			return (missing(why, whylen, "results.utterances[%zu] is "
			                             "not an object", i));
		}
		if (!json_is_string(text)) {
			return (missing(why, whylen, "results.utterances[%zu]."
			                             "transcript is missing", i));
		}
		if (!seconds_to_ms(json_object_get(u, "start"), &start)) {
			return (missing(why, whylen, "results.utterances[%zu].start "
			                             "is missing or not a time", i));
		}
		if (!seconds_to_ms(json_object_get(u, "end"), &end) ||
		    end < start) {
			return (missing(why, whylen, "results.utterances[%zu].end "
			                             "is missing or before start", i));
		}
		if (!speaker_of(u, speaker, sizeof(speaker))) {
			return (missing(why, whylen, "results.utterances[%zu]."
			                             "speaker is not a speaker number",
			    i));
		}
		json_t *o = json_pack("{s:s, s:O, s:I, s:I}", "speaker", speaker,
		    "text", text, "start_ms", (json_int_t) start, "end_ms",
		    (json_int_t) end);
		if (o == NULL || json_array_append_new(list, o) != 0) {
			return (CX_ENOMEM);
		}
	}
	return (CX_OK);
}

/* summarize=v2: {"result":"success"|"failure", "short":"<the text>"}.
 * A failed or absent summary is not fatal: the transcript is still worth
 * storing. `why` then says what happened, for the log. */
static json_t *
parse_summary(const json_t *results, char *why, size_t whylen)
{
	const json_t *sum = json_object_get(results, "summary");
	if (!json_is_object(sum)) {
		snprintf(why, whylen, "no results.summary in the answer");
		return (json_null());
	}
	const char *result = json_string_value(json_object_get(sum, "result"));
	const json_t *shrt = json_object_get(sum, "short");
	if (result != NULL && strcmp(result, "success") != 0) {
		snprintf(why, whylen, "results.summary.result is \"%.40s\"",
		    result);
		return (json_null());
	}
	if (!json_is_string(shrt) || json_string_length(shrt) == 0) {
		snprintf(why, whylen, "results.summary.short is missing");
		return (json_null());
	}
	return (json_copy((json_t *) shrt));
}

cx_err
dg_parse_result(const char *body, size_t len, bool want_utterances,
    bool want_summary, json_t **out, char *why, size_t whylen)
{
	json_error_t jerr;
	cx_err e = CX_OK;
	*out = NULL;
	why[0] = '\0';
	json_t *root = json_loadb(body ? body : "", len, 0, &jerr);
	json_t *reply = NULL, *list = NULL;
	if (root == NULL) {
		e = missing(why, whylen, "answer is not JSON (%s at byte %d)",
		    jerr.text, jerr.position);
		goto out;
	}
	const json_t *rid = json_object_get(json_object_get(root, "metadata"),
	    "request_id");
	const json_t *results = json_object_get(root, "results");
	const json_t *chan = json_array_get(json_object_get(results,
	                                        "channels"), 0);
	const json_t *alt = json_array_get(json_object_get(chan,
	                                       "alternatives"), 0);
	const json_t *text = json_object_get(alt, "transcript");
	if (!json_is_string(rid) || json_string_length(rid) == 0) {
		e = missing(why, whylen, "metadata.request_id is missing");
	} else if (!json_is_object(results)) {
		e = missing(why, whylen, "results is missing");
	} else if (!json_is_object(chan)) {
		e = missing(why, whylen, "results.channels[0] is missing");
	} else if (!json_is_object(alt)) {
		e = missing(why, whylen, "results.channels[0].alternatives[0] "
		                         "is missing");
	} else if (!json_is_string(text)) {
		e = missing(why, whylen, "results.channels[0].alternatives[0]."
		                         "transcript is missing");
	}
	if (e != CX_OK) {
		goto out;
	}
	if ((list = json_array()) == NULL) {
		e = CX_ENOMEM;
		goto out;
	}
	if (want_utterances &&
	    (e = parse_utterances(results, list, why, whylen)) != CX_OK) {
		goto out;
	}
	json_t *summary = want_summary ? parse_summary(results, why, whylen) :
	                                 json_null();
	reply = json_pack("{s:{s:O, s:O}, s:o, s:O}", "transcript", "text",
	    text, "utterances", list, "summary", summary, "request_id", rid);
	if (reply == NULL) {
		e = CX_ENOMEM;
	}
out:
	json_decref(list);
	json_decref(root);
	*out = reply;
	return (e);
}

/* Copies printable text, one space for any run of whitespace or control
 * bytes: a provider's words go into log lines and API answers. */
static size_t
put_clean(char *out, size_t o, size_t cap, const char *s, size_t n)
{
	bool space = o > 0 && out[o - 1] == ' ';
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char ch = (unsigned char) s[i];
		if (ch < 0x20 || ch == 0x7f || isspace(ch)) {
			if (!space && o > 0) {
				out[o++] = ' ';
				space = true;
			}
			continue;
		}
		out[o++] = (char) ch;
		space = false;
	}
	out[o] = '\0';
	return (o);
}

static size_t
put_str(char *out, size_t o, size_t cap, const char *s)
{
	return (s ? put_clean(out, o, cap, s, strlen(s)) : o);
}

void
dg_parse_error(const char *body, size_t len, char *out, size_t cap)
{
	if (cap == 0) {
		return;
	}
	out[0] = '\0';
	size_t o = 0;
	json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	const char *code = json_string_value(json_object_get(root, "err_code"));
	const char *msg = json_string_value(json_object_get(root, "err_msg"));
	const char *detail = NULL;
	if (code == NULL && msg == NULL) {
		code = json_string_value(json_object_get(root, "category"));
		msg = json_string_value(json_object_get(root, "message"));
		detail = json_string_value(json_object_get(root, "details"));
	}
	const char *rid = json_string_value(json_object_get(root,
	    "request_id"));
	if (code != NULL || msg != NULL) {
		o = put_str(out, o, cap, code);
		if (code != NULL && msg != NULL) {
			o = put_str(out, o, cap, ": ");
		}
		o = put_str(out, o, cap, msg);
		if (detail != NULL) {
			o = put_str(out, o, cap, " (");
			o = put_str(out, o, cap, detail);
			o = put_str(out, o, cap, ")");
		}
		if (rid != NULL) {
			o = put_str(out, o, cap, " [request_id ");
			o = put_str(out, o, cap, rid);
			o = put_str(out, o, cap, "]");
		}
	} else if (body != NULL && len > 0) {
		o = put_clean(out, o, cap, body, len < 300 ? len : 300);
	}
	while (o > 0 && out[o - 1] == ' ') {
		out[--o] = '\0';
	}
	if (o == 0) {
		snprintf(out, cap, "(empty body)");
	}
	json_decref(root);
}
