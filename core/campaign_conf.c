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

#include "campaign_conf.h"

#define AGENT_MAX 1024
#define NAME_MAX_LEN 200
#define TEMPLATE_MAX 2000
#define DESC_MAX 500
#define CHOICES_MAX 50

static cx_err
bad(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static cx_err
bad(char *why, size_t whylen, const char *fmt, ...)
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

static bool
printable(const char *s, size_t max)
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
	if (!printable(a, AGENT_MAX) || strpbrk(a, " \t") != NULL) {
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
static cx_err
keys_ok(const json_t *obj, const char *where, const char *const *keys,
    char *why, size_t whylen)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *) obj, k, v) {
		size_t i;
		for (i = 0; keys[i] != NULL && strcmp(keys[i], k) != 0; i++) {
		}
		if (keys[i] == NULL) {
			return (bad(why, whylen, "%s.%s is not a known field",
			    where, k));
		}
	}
	return (CX_OK);
}

/* An integer member in [min, max]; absent keeps *out. */
static cx_err
get_int(const json_t *obj, const char *where, const char *key, long min,
    long max, int *out, char *why, size_t whylen)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL) {
		return (CX_OK);
	}
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		return (bad(why, whylen, "%s.%s must be an integer from %ld to "
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
		return (bad(why, whylen, "%s.%s must be a number above %g and "
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
		return (bad(why, whylen, "config.%s must be true or false",
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
		return (bad(why, whylen, "config.from_numbers must be a list of "
		    "1 to %d E.164 numbers", CXI_FROM_MAX));
	}
	size_t i;
	json_t *v;
	json_array_foreach (a, i, v) {
		if (!e164_ok(json_string_value(v))) {
			return (bad(why, whylen, "config.from_numbers[%zu] is "
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
		return (bad(why, whylen, "config.voicemail must be an object "
		    "{action, message}"));
	}
	cx_err rv = keys_ok(vm, "config.voicemail", keys, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	const char *act = json_string_value(json_object_get(vm, "action"));
	const json_t *msg = json_object_get(vm, "message");
	if (act == NULL || (strcmp(act, "hangup") != 0 &&
	                       strcmp(act, "message") != 0)) {
		return (bad(why, whylen, "config.voicemail.action must be "
		    "\"hangup\" or \"message\""));
	}
	if (msg != NULL && (!json_is_string(msg) ||
	                       !printable(json_string_value(msg),
	                           TEMPLATE_MAX))) {
		return (bad(why, whylen, "config.voicemail.message must be text "
		    "of 1 to %d characters", TEMPLATE_MAX));
	}
	o->vm_message = strcmp(act, "message") == 0;
	if (o->vm_message && msg == NULL) {
		return (bad(why, whylen, "config.voicemail.message is required "
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
		return (bad(why, whylen, "config.retry must be an object keyed "
		    "by outcome (no_answer, busy, voicemail, failed)"));
	}
	cx_err rv = keys_ok(r, "config.retry", kinds, why, whylen);
	for (int k = 0; rv == CX_OK && k < CXI_RETRY_KINDS; k++) {
		const json_t *rule = json_object_get(r, kinds[k]);
		char where[64];
		snprintf(where, sizeof(where), "config.retry.%s", kinds[k]);
		if (rule == NULL) {
			continue;
		}
		if (!json_is_object(rule)) {
			return (bad(why, whylen, "%s must be an object "
			    "{after_minutes, max_attempts}", where));
		}
		if ((rv = keys_ok(rule, where, rkeys, why, whylen)) != CX_OK ||
		    (rv = get_int(rule, where, "after_minutes", 0, 10080,
		         &o->retry[k].after_minutes, why, whylen)) != CX_OK ||
		    (rv = get_int(rule, where, "max_attempts", 1, 20,
		         &o->retry[k].max_attempts, why, whylen)) != CX_OK) {
			return (rv);
		}
	}
	return (rv);
}

static bool
field_name_ok(const char *n)
{
	size_t len = n != NULL ? strlen(n) : 0;
	if (len == 0 || len > 64 || !(islower((unsigned char) n[0]) ||
	                                 n[0] == '_')) {
		return (false);
	}
	for (size_t i = 0; i < len; i++) {
		if (!islower((unsigned char) n[i]) &&
		    !isdigit((unsigned char) n[i]) && n[i] != '_') {
			return (false);
		}
	}
	return (true);
}

static cx_err
parse_field(const json_t *f, size_t i, char *why, size_t whylen)
{
	static const char *const fkeys[] = {"name", "type", "description",
	    "choices", NULL};
	static const char *const types[] = {"string", "number", "boolean",
	    "enum", NULL};
	char where[64];
	snprintf(where, sizeof(where), "config.analysis.fields[%zu]", i);
	if (!json_is_object(f)) {
		return (bad(why, whylen, "%s must be an object {name, type, "
		    "description, choices}", where));
	}
	cx_err rv = keys_ok(f, where, fkeys, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	if (!field_name_ok(json_string_value(json_object_get(f, "name")))) {
		return (bad(why, whylen, "%s.name must be 1 to 64 lower-case "
		    "letters, digits or '_', starting with a letter or '_'",
		    where));
	}
	const char *t = json_string_value(json_object_get(f, "type"));
	size_t k;
	for (k = 0; t != NULL && types[k] != NULL && strcmp(types[k], t);
	     k++) {
	}
	if (t == NULL || types[k] == NULL) {
		return (bad(why, whylen, "%s.type must be string, number, "
		    "boolean or enum", where));
	}
	const json_t *d = json_object_get(f, "description");
	if (d != NULL && (!json_is_string(d) ||
	                     !printable(json_string_value(d), DESC_MAX))) {
		return (bad(why, whylen, "%s.description must be text of 1 to "
		    "%d characters", where, DESC_MAX));
	}
	const json_t *ch = json_object_get(f, "choices");
	bool is_enum = strcmp(t, "enum") == 0;
	if (ch != NULL && !is_enum) {
		return (bad(why, whylen, "%s.choices is only for type enum",
		    where));
	}
	if (is_enum) {
		if (!json_is_array(ch) || json_array_size(ch) == 0 ||
		    json_array_size(ch) > CHOICES_MAX) {
			return (bad(why, whylen, "%s.choices must list 1 to %d "
			    "strings for type enum", where, CHOICES_MAX));
		}
		size_t j;
		json_t *c;
		json_array_foreach (ch, j, c) {
			if (!json_is_string(c) ||
			    !printable(json_string_value(c), NAME_MAX_LEN)) {
				return (bad(why, whylen, "%s.choices[%zu] must "
				    "be text of 1 to %d characters", where, j,
				    NAME_MAX_LEN));
			}
		}
	}
	return (CX_OK);
}

static cx_err
parse_analysis(const json_t *cfg, cxi_campaign_conf *o, char *why,
    size_t whylen)
{
	static const char *const keys[] = {"summary", "fields", NULL};
	const json_t *a = json_object_get(cfg, "analysis");
	if (a == NULL) {
		o->analysis = json_pack("{s:b, s:[]}", "summary", 1, "fields");
		return (o->analysis != NULL ? CX_OK : CX_ENOMEM);
	}
	if (!json_is_object(a)) {
		return (bad(why, whylen, "config.analysis must be an object "
		    "{summary, fields}"));
	}
	cx_err rv = keys_ok(a, "config.analysis", keys, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	const json_t *s = json_object_get(a, "summary");
	if (s != NULL && !json_is_boolean(s)) {
		return (bad(why, whylen, "config.analysis.summary must be true "
		    "or false"));
	}
	const json_t *fs = json_object_get(a, "fields");
	if (fs != NULL && (!json_is_array(fs) ||
	                      json_array_size(fs) > CXI_ANALYSIS_FIELDS_MAX)) {
		return (bad(why, whylen, "config.analysis.fields must be a list "
		    "of at most %d fields", CXI_ANALYSIS_FIELDS_MAX));
	}
	size_t i;
	json_t *f;
	json_array_foreach (fs, i, f) {
		if ((rv = parse_field(f, i, why, whylen)) != CX_OK) {
			return (rv);
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(json_string_value(json_object_get(f, "name")),
			        json_string_value(json_object_get(
			            json_array_get(fs, j), "name"))) == 0) {
				return (bad(why, whylen, "config.analysis."
				    "fields[%zu].name repeats fields[%zu]", i,
				    j));
			}
		}
	}
	json_t *fields = fs != NULL ? json_deep_copy(fs) : json_array();
	o->analysis = json_pack("{s:b, s:o}", "summary", s == NULL ||
	    json_is_true(s), "fields", fields);
	return (o->analysis != NULL ? CX_OK : CX_ENOMEM);
}

static cx_err
parse_windows(const json_t *cfg, cxi_campaign_conf *o, char *why,
    size_t whylen)
{
	static const char *const wkeys[] = {"start_minute", "end_minute", NULL};
	const json_t *ws = json_object_get(cfg, "windows");
	const json_t *wd = json_object_get(cfg, "weekdays");
	size_t i;
	json_t *v;
	if (ws != NULL && (!json_is_array(ws) ||
	                      json_array_size(ws) > CXI_WINDOWS_MAX)) {
		return (bad(why, whylen, "config.windows must be a list of at "
		    "most %d {start_minute, end_minute}", CXI_WINDOWS_MAX));
	}
	json_array_foreach (ws, i, v) {
		char where[48];
		snprintf(where, sizeof(where), "config.windows[%zu]", i);
		int s = -1, e = -1;
		cx_err rv;
		if (!json_is_object(v)) {
			return (bad(why, whylen, "%s must be an object "
			    "{start_minute, end_minute}", where));
		}
		if ((rv = keys_ok(v, where, wkeys, why, whylen)) != CX_OK ||
		    (rv = get_int(v, where, "start_minute", 0,
		         CXI_DAY_MINUTES - 1, &s, why, whylen)) != CX_OK ||
		    (rv = get_int(v, where, "end_minute", 1, CXI_DAY_MINUTES,
		         &e, why, whylen)) != CX_OK) {
			return (rv);
		}
		if (s < 0 || e < 0 || e <= s) {
			return (bad(why, whylen, "%s needs start_minute and a "
			    "larger end_minute (minutes since local midnight, "
			    "end exclusive)", where));
		}
		o->windows.w[o->windows.n].start_minute = s;
		o->windows.w[o->windows.n].end_minute = e;
		o->windows.n++;
	}
	if (wd != NULL && (!json_is_array(wd) || json_array_size(wd) == 0 ||
	                      json_array_size(wd) > 7)) {
		return (bad(why, whylen, "config.weekdays must list 1 to 7 days "
		    "(\"mon\" .. \"sun\")"));
	}
	json_array_foreach (wd, i, v) {
		int bit = cxi_weekday_bit(json_string_value(v));
		if (bit < 0) {
			return (bad(why, whylen, "config.weekdays[%zu] is not a "
			    "day (\"mon\" .. \"sun\")", i));
		}
		o->windows.weekdays |= 1u << bit;
	}
	const json_t *tz = json_object_get(cfg, "timezone_fallback");
	if (tz != NULL) {
		if (!cxi_tz_valid(json_string_value(tz))) {
			return (bad(why, whylen, "config.timezone_fallback is not "
			    "a time zone of the tz database (e.g. "
			    "America/New_York)"));
		}
		o->tz_fallback = json_string_value(tz);
	}
	return (CX_OK);
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
		return (bad(why, whylen, "config.breaker must be an object "
		    "{min_calls, failure_ratio, window_seconds}"));
	}
	cx_err rv;
	if ((rv = keys_ok(b, "config.breaker", keys, why, whylen)) != CX_OK ||
	    (rv = get_int(b, "config.breaker", "min_calls", 1, 100000,
	         &o->breaker_min_calls, why, whylen)) != CX_OK ||
	    (rv = get_num(b, "config.breaker", "failure_ratio", 0.0, 1.0,
	         &o->breaker_ratio, why, whylen)) != CX_OK) {
		return (rv);
	}
	return (get_int(b, "config.breaker", "window_seconds", 1, 86400,
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
			return (bad(why, whylen, "config.telephony must name a "
			    "telephony plugin instance ([A-Za-z0-9_.-], up to "
			    "64)"));
		}
		o->telephony = s;
	}
	if (a != NULL) {
		if (!json_is_string(a) || !agent_ok(json_string_value(a))) {
			return (bad(why, whylen, "config.agent must be a Retell "
			    "agent id or an http(s) TwiML/agent URL"));
		}
		o->agent = json_string_value(a);
	}
	if (c != NULL) {
		if (!json_is_string(c) ||
		    !printable(json_string_value(c), NAME_MAX_LEN)) {
			return (bad(why, whylen, "config.credential must be the "
			    "name of a vault entry (1 to %d characters)",
			    NAME_MAX_LEN));
		}
		o->credential = json_string_value(c);
	}
	return (CX_OK);
}

static cx_err
check_complete(const cxi_campaign_conf *o, char *why, size_t whylen)
{
	if (o->telephony == NULL) {
		return (bad(why, whylen, "config.telephony is required"));
	}
	if (o->agent == NULL) {
		return (bad(why, whylen, "config.agent is required"));
	}
	if (o->n_from == 0) {
		return (bad(why, whylen, "config.from_numbers is required"));
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
	    NULL};
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
	if (cfg != NULL && !json_is_object(cfg)) {
		return (bad(why, whylen, "config must be an object"));
	}
	json_t *empty = cfg == NULL ? json_object() : NULL;
	o->src = cfg != NULL ? json_incref((json_t *) cfg) : empty;
	if (o->src == NULL) {
		return (CX_ENOMEM);
	}
	cx_err rv;
	const json_t *c = o->src;
	if ((rv = keys_ok(c, "config", keys, why, whylen)) != CX_OK ||
	    (rv = parse_strings(c, o, why, whylen)) != CX_OK ||
	    (rv = parse_from(c, o, why, whylen)) != CX_OK ||
	    (rv = get_bool(c, "record", &o->record, why, whylen)) != CX_OK ||
	    (rv = get_bool(c, "recording_disclosure", &o->disclosure, why,
	         whylen)) != CX_OK ||
	    (rv = parse_voicemail(c, o, why, whylen)) != CX_OK ||
	    (rv = get_int(c, "config", "max_concurrency", 1, 10000,
	         &o->max_concurrency, why, whylen)) != CX_OK ||
	    (rv = get_num(c, "config", "calls_per_second", 0.0, 1000.0,
	         &o->cps, why, whylen)) != CX_OK ||
	    (rv = parse_retry(c, o, why, whylen)) != CX_OK ||
	    (rv = parse_analysis(c, o, why, whylen)) != CX_OK ||
	    (rv = parse_windows(c, o, why, whylen)) != CX_OK ||
	    (rv = parse_breaker(c, o, why, whylen)) != CX_OK ||
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

/* Appends n bytes to a growing buffer. */
static int
grow(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t nc = (*cap + n + 1) * 2;
		char *b = realloc(*buf, nc);
		if (b == NULL) {
			return (-1);
		}
		*buf = b;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return (0);
}

char *
cxi_template_render(const char *tpl, const json_t *vars)
{
	size_t len = 0, cap = 0;
	char *out = NULL;
	if (grow(&out, &len, &cap, "", 0) != 0) {
		return (NULL);
	}
	const char *p = tpl != NULL ? tpl : "";
	while (*p != '\0') {
		const char *open = strstr(p, "{{");
		const char *close = open != NULL ? strstr(open + 2, "}}") : NULL;
		if (open == NULL || close == NULL) {
			if (grow(&out, &len, &cap, p, strlen(p)) != 0) {
				goto oom;
			}
			break;
		}
		if (grow(&out, &len, &cap, p, (size_t) (open - p)) != 0) {
			goto oom;
		}
		const char *k = open + 2, *ke = close;
		while (k < ke && isspace((unsigned char) *k)) {
			k++;
		}
		while (ke > k && isspace((unsigned char) ke[-1])) {
			ke--;
		}
		char key[128];
		size_t kl = (size_t) (ke - k);
		if (kl < sizeof(key)) {
			memcpy(key, k, kl);
			key[kl] = '\0';
			const char *v = json_string_value(json_object_get(vars,
			    key));
			if (v != NULL && grow(&out, &len, &cap, v,
			                     strlen(v)) != 0) {
				goto oom;
			}
		}
		p = close + 2;
	}
	return (out);
oom:
	free(out);
	return (NULL);
}
