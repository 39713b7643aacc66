/*
 * campaign_conf.c - checks a campaign's config JSON (campaign_conf.h).
 * Every message starts with the field's path so the API can hand it to
 * the caller unchanged.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign_conf_int.h"

#define AGENT_MAX 1024
#define TEMPLATE_MAX 2000

cx_err
cxi_cc_bad(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return (CX_EINVAL);
}

static bool
e164_ok(const char *p)
{
	size_t n = p != NULL ? strlen(p) : 0;
	bool ok = n >= 3 && n <= 16 && p[0] == '+' && p[1] >= '1' &&
	    p[1] <= '9';
	for (size_t i = 2; ok && i < n; i++) {
		ok = isdigit((unsigned char) p[i]);
	}
	return (ok);
}

bool
cxi_cc_printable(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max) {
		return (false);
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
			return (false);
		}
	}
	return (true);
}

/* A Retell agent id ([A-Za-z0-9_-]) or an http(s) URL with a host. */
static bool
agent_ok(const char *a)
{
	if (!cxi_cc_printable(a, AGENT_MAX) || strpbrk(a, " \t") != NULL) {
		return (false);
	}
	const char *h = NULL;
	if (strncmp(a, "https://", 8) == 0) {
		h = a + 8;
	} else if (strncmp(a, "http://", 7) == 0) {
		h = a + 7;
	}
	if (h != NULL) {
		return (*h != '\0' && *h != '/');
	}
	if (strlen(a) > 128) {
		return (false);
	}
	for (const char *p = a; *p; p++) {
		if (!isalnum((unsigned char) *p) && *p != '_' && *p != '-') {
			return (false);
		}
	}
	return (true);
}

/* Every key of `obj` must be in `keys`. */
cx_err
cxi_cc_keys_ok(const json_t *obj, const char *where, const char *const *keys,
    char *why, size_t whylen)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *) obj, k, v) {
		size_t i;
		for (i = 0; keys[i] != NULL && strcmp(keys[i], k) != 0; i++) {
		}
		if (keys[i] == NULL) {
			return (cxi_cc_bad(why, whylen, "%s.%s is not a known field",
			    where, k));
		}
	}
	return (CX_OK);
}

/* An integer member in [min, max]; absent keeps *out. */
cx_err
cxi_cc_get_int(const json_t *obj, const char *where, const char *key, long min,
    long max, int *out, char *why, size_t whylen)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL) {
		return (CX_OK);
	}
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		return (cxi_cc_bad(why, whylen, "%s.%s must be an integer from %ld to "
		    "%ld", where, key, min, max));
	}
	*out = (int) json_integer_value(v);
	return (CX_OK);
}

static cx_err
get_num(const json_t *obj, const char *where, const char *key, double min,
    double max, double *out, char *why, size_t whylen)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL) {
		return (CX_OK);
	}
	double d = json_number_value(v);
	if (!json_is_number(v) || !(d > min) || d > max) {
		return (cxi_cc_bad(why, whylen, "%s.%s must be a number above %g and "
		    "at most %g", where, key, min, max));
	}
	*out = d;
	return (CX_OK);
}

static cx_err
get_bool(const json_t *obj, const char *key, bool *out, char *why,
    size_t whylen)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL) {
		return (CX_OK);
	}
	if (!json_is_boolean(v)) {
		return (cxi_cc_bad(why, whylen, "config.%s must be true or false",
		    key));
	}
	*out = json_is_true(v);
	return (CX_OK);
}

static cx_err
parse_from(const json_t *cfg, cxi_campaign_conf *o, char *why,
    size_t whylen)
{
	const json_t *a = json_object_get(cfg, "from_numbers");
	if (a == NULL) {
		return (CX_OK);
	}
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > CXI_FROM_MAX) {
		return (cxi_cc_bad(why, whylen, "config.from_numbers must be a list of "
		    "1 to %d E.164 numbers", CXI_FROM_MAX));
	}
	size_t i;
	json_t *v;
	json_array_foreach (a, i, v) {
		if (!e164_ok(json_string_value(v))) {
			return (cxi_cc_bad(why, whylen, "config.from_numbers[%zu] is "
			    "not an E.164 number (+ and up to 15 digits)", i));
		}
		o->from[o->n_from++] = json_string_value(v);
	}
	return (CX_OK);
}

static cx_err
parse_voicemail(const json_t *cfg, cxi_campaign_conf *o, char *why,
    size_t whylen)
{
	static const char *const keys[] = {"action", "message", NULL};
	const json_t *vm = json_object_get(cfg, "voicemail");
	if (vm == NULL) {
		return (CX_OK);
	}
	if (!json_is_object(vm)) {
		return (cxi_cc_bad(why, whylen, "config.voicemail must be an object "
		    "{action, message}"));
	}
	cx_err rv = cxi_cc_keys_ok(vm, "config.voicemail", keys, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	const char *act = json_string_value(json_object_get(vm, "action"));
	const json_t *msg = json_object_get(vm, "message");
	if (act == NULL || (strcmp(act, "hangup") != 0 &&
	                       strcmp(act, "message") != 0)) {
		return (cxi_cc_bad(why, whylen, "config.voicemail.action must be "
		    "\"hangup\" or \"message\""));
	}
	if (msg != NULL && (!json_is_string(msg) ||
	                       !cxi_cc_printable(json_string_value(msg),
	                           TEMPLATE_MAX))) {
		return (cxi_cc_bad(why, whylen, "config.voicemail.message must be text "
		    "of 1 to %d characters", TEMPLATE_MAX));
	}
	o->vm_message = strcmp(act, "message") == 0;
	if (o->vm_message && msg == NULL) {
		return (cxi_cc_bad(why, whylen, "config.voicemail.message is required "
		    "when the action is \"message\""));
	}
	o->vm_template = json_string_value(msg);
	return (CX_OK);
}

static cx_err
parse_retry(const json_t *cfg, cxi_campaign_conf *o, char *why,
    size_t whylen)
{
	static const char *const kinds[] = {"no_answer", "busy", "voicemail",
	    "failed", NULL};
	static const char *const rkeys[] = {"after_minutes", "max_attempts",
	    NULL};
	const json_t *r = json_object_get(cfg, "retry");
	if (r == NULL) {
		return (CX_OK);
	}
	if (!json_is_object(r)) {
		return (cxi_cc_bad(why, whylen, "config.retry must be an object keyed "
		    "by outcome (no_answer, busy, voicemail, failed)"));
	}
	cx_err rv = cxi_cc_keys_ok(r, "config.retry", kinds, why, whylen);
	for (int k = 0; rv == CX_OK && k < CXI_RETRY_KINDS; k++) {
		const json_t *rule = json_object_get(r, kinds[k]);
		char where[64];
		snprintf(where, sizeof(where), "config.retry.%s", kinds[k]);
		if (rule == NULL) {
			continue;
		}
		if (!json_is_object(rule)) {
			return (cxi_cc_bad(why, whylen, "%s must be an object "
			    "{after_minutes, max_attempts}", where));
		}
		if ((rv = cxi_cc_keys_ok(rule, where, rkeys, why, whylen)) != CX_OK ||
		    (rv = cxi_cc_get_int(rule, where, "after_minutes", 0, 10080,
		         &o->retry[k].after_minutes, why, whylen)) != CX_OK ||
		    (rv = cxi_cc_get_int(rule, where, "max_attempts", 1, 20,
		         &o->retry[k].max_attempts, why, whylen)) != CX_OK) {
			return (rv);
		}
	}
	return (rv);
}

static cx_err
parse_breaker(const json_t *cfg, cxi_campaign_conf *o, char *why,
    size_t whylen)
{
	static const char *const keys[] = {"min_calls", "failure_ratio",
	    "window_seconds", NULL};
	const json_t *b = json_object_get(cfg, "breaker");
	if (b == NULL) {
		return (CX_OK);
	}
	if (!json_is_object(b)) {
		return (cxi_cc_bad(why, whylen, "config.breaker must be an object "
		    "{min_calls, failure_ratio, window_seconds}"));
	}
	cx_err rv;
	if ((rv = cxi_cc_keys_ok(b, "config.breaker", keys, why, whylen)) != CX_OK ||
	    (rv = cxi_cc_get_int(b, "config.breaker", "min_calls", 1, 100000,
	         &o->breaker_min_calls, why, whylen)) != CX_OK ||
	    (rv = get_num(b, "config.breaker", "failure_ratio", 0.0, 1.0,
	         &o->breaker_ratio, why, whylen)) != CX_OK) {
		return (rv);
	}
	return (cxi_cc_get_int(b, "config.breaker", "window_seconds", 1, 86400,
	    &o->breaker_window_s, why, whylen));
}

static cx_err
parse_strings(const json_t *cfg, cxi_campaign_conf *o, char *why,
    size_t whylen)
{
	const json_t *t = json_object_get(cfg, "telephony");
	const json_t *a = json_object_get(cfg, "agent");
	const json_t *c = json_object_get(cfg, "credential");
	if (t != NULL) {
		const char *s = json_string_value(t);
		bool ok = s != NULL && s[0] != '\0' && strlen(s) <= 64;
		for (const char *p = s; ok && *p; p++) {
			ok = isalnum((unsigned char) *p) || strchr("_.-", *p);
		}
		if (!ok) {
			return (cxi_cc_bad(why, whylen, "config.telephony must name a "
			    "telephony plugin instance ([A-Za-z0-9_.-], up to "
			    "64)"));
		}
		o->telephony = s;
	}
	if (a != NULL) {
		if (!json_is_string(a) || !agent_ok(json_string_value(a))) {
			return (cxi_cc_bad(why, whylen, "config.agent must be a Retell "
			    "agent id or an http(s) TwiML/agent URL"));
		}
		o->agent = json_string_value(a);
	}
	if (c != NULL) {
		if (!json_is_string(c) ||
		    !cxi_cc_printable(json_string_value(c), CXI_CC_NAME_MAX)) {
			return (cxi_cc_bad(why, whylen, "config.credential must be the "
			    "name of a vault entry (1 to %d characters)",
			    CXI_CC_NAME_MAX));
		}
		o->credential = json_string_value(c);
	}
	return (CX_OK);
}

static cx_err
check_complete(const cxi_campaign_conf *o, char *why, size_t whylen)
{
	if (o->telephony == NULL) {
		return (cxi_cc_bad(why, whylen, "config.telephony is required"));
	}
	if (o->agent == NULL) {
		return (cxi_cc_bad(why, whylen, "config.agent is required"));
	}
	if (o->n_from == 0) {
		return (cxi_cc_bad(why, whylen, "config.from_numbers is required"));
	}
	return (CX_OK);
}

cx_err
cxi_campaign_conf_parse(const json_t *cfg, bool complete,
    cxi_campaign_conf *o, char *why, size_t whylen)
{
	static const char *const keys[] = {"telephony", "agent",
	    "from_numbers", "credential", "record", "recording_disclosure",
	    "voicemail", "max_concurrency", "calls_per_second", "retry",
	    "analysis", "windows", "weekdays", "timezone_fallback", "breaker",
	    "artifacts_wait_s", NULL};
	memset(o, 0, sizeof(*o));
	o->record = true;
	o->disclosure = true;
	o->max_concurrency = 5;
	o->cps = 1.0;
	for (int k = 0; k < CXI_RETRY_KINDS; k++) {
		o->retry[k].after_minutes = 60;
		o->retry[k].max_attempts = 1;
	}
	o->tz_fallback = "UTC";
	o->breaker_min_calls = 5;
	o->breaker_ratio = 0.5;
	o->breaker_window_s = 120;
	o->artifacts_wait_s = 600;
	if (cfg != NULL && !json_is_object(cfg)) {
		return (cxi_cc_bad(why, whylen, "config must be an object"));
	}
	json_t *empty = cfg == NULL ? json_object() : NULL;
	o->src = cfg != NULL ? json_incref((json_t *) cfg) : empty;
	if (o->src == NULL) {
		return (CX_ENOMEM);
	}
	cx_err rv;
	const json_t *c = o->src;
	if ((rv = cxi_cc_keys_ok(c, "config", keys, why, whylen)) != CX_OK ||
	    (rv = parse_strings(c, o, why, whylen)) != CX_OK ||
	    (rv = parse_from(c, o, why, whylen)) != CX_OK ||
	    (rv = get_bool(c, "record", &o->record, why, whylen)) != CX_OK ||
	    (rv = get_bool(c, "recording_disclosure", &o->disclosure, why,
	         whylen)) != CX_OK ||
	    (rv = parse_voicemail(c, o, why, whylen)) != CX_OK ||
	    (rv = cxi_cc_get_int(c, "config", "max_concurrency", 1, 10000,
	         &o->max_concurrency, why, whylen)) != CX_OK ||
	    (rv = get_num(c, "config", "calls_per_second", 0.0, 1000.0,
	         &o->cps, why, whylen)) != CX_OK ||
	    (rv = parse_retry(c, o, why, whylen)) != CX_OK ||
	    (rv = cxi_cc_parse_analysis(c, o, why, whylen)) != CX_OK ||
	    (rv = cxi_cc_parse_windows(c, o, why, whylen)) != CX_OK ||
	    (rv = parse_breaker(c, o, why, whylen)) != CX_OK ||
	    (rv = cxi_cc_get_int(c, "config", "artifacts_wait_s", 1, 86400,
	         &o->artifacts_wait_s, why, whylen)) != CX_OK ||
	    (complete && (rv = check_complete(o, why, whylen)) != CX_OK)) {
		cxi_campaign_conf_free(o);
		return (rv);
	}
	return (CX_OK);
}

void
cxi_campaign_conf_free(cxi_campaign_conf *o)
{
	if (o == NULL) {
		return;
	}
	json_decref(o->analysis);
	json_decref(o->src);
	memset(o, 0, sizeof(*o));
}

const cxi_retry_rule *
cxi_campaign_retry(const cxi_campaign_conf *o, const char *outcome)
{
	static const char *const kinds[] = {"no_answer", "busy", "voicemail",
	    "failed"};
	for (int k = 0; outcome != NULL && k < CXI_RETRY_KINDS; k++) {
		if (strcmp(outcome, kinds[k]) == 0) {
			return (&o->retry[k]);
		}
	}
	return (NULL);
}
