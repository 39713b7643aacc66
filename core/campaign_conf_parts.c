/*
 * campaign_conf_parts.c - the larger pieces of a campaign's config
 * (campaign_conf.h): the post-call analysis fields, the calling windows
 * and weekdays, and the template renderer for voicemail messages.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign_conf_int.h"

#define DESC_MAX 500
#define CHOICES_MAX 50

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
		return (cxi_cc_bad(why, whylen, "%s must be an object {name, type, "
		    "description, choices}", where));
	}
	cx_err rv = cxi_cc_keys_ok(f, where, fkeys, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	if (!field_name_ok(json_string_value(json_object_get(f, "name")))) {
		return (cxi_cc_bad(why, whylen, "%s.name must be 1 to 64 lower-case "
		    "letters, digits or '_', starting with a letter or '_'",
		    where));
	}
	const char *t = json_string_value(json_object_get(f, "type"));
	size_t k;
	for (k = 0; t != NULL && types[k] != NULL && strcmp(types[k], t);
	     k++) {
	}
	if (t == NULL || types[k] == NULL) {
		return (cxi_cc_bad(why, whylen, "%s.type must be string, number, "
		    "boolean or enum", where));
	}
	const json_t *d = json_object_get(f, "description");
	if (d != NULL && (!json_is_string(d) ||
	                     !cxi_cc_printable(json_string_value(d), DESC_MAX))) {
		return (cxi_cc_bad(why, whylen, "%s.description must be text of 1 to "
		    "%d characters", where, DESC_MAX));
	}
	const json_t *ch = json_object_get(f, "choices");
	bool is_enum = strcmp(t, "enum") == 0;
	if (ch != NULL && !is_enum) {
		return (cxi_cc_bad(why, whylen, "%s.choices is only for type enum",
		    where));
	}
	if (is_enum) {
		if (!json_is_array(ch) || json_array_size(ch) == 0 ||
		    json_array_size(ch) > CHOICES_MAX) {
			return (cxi_cc_bad(why, whylen, "%s.choices must list 1 to %d "
			    "strings for type enum", where, CHOICES_MAX));
		}
		size_t j;
		json_t *c;
		json_array_foreach (ch, j, c) {
			if (!json_is_string(c) ||
			    !cxi_cc_printable(json_string_value(c), CXI_CC_NAME_MAX)) {
				return (cxi_cc_bad(why, whylen, "%s.choices[%zu] must "
				    "be text of 1 to %d characters", where, j,
				    CXI_CC_NAME_MAX));
			}
		}
	}
	return (CX_OK);
}

cx_err
cxi_cc_parse_analysis(const json_t *cfg, cxi_campaign_conf *o, char *why,
    size_t whylen)
{
	static const char *const keys[] = {"summary", "fields", NULL};
	const json_t *a = json_object_get(cfg, "analysis");
	if (a == NULL) {
		o->analysis = json_pack("{s:b, s:[]}", "summary", 1, "fields");
		return (o->analysis != NULL ? CX_OK : CX_ENOMEM);
	}
	if (!json_is_object(a)) {
		return (cxi_cc_bad(why, whylen, "config.analysis must be an object "
		    "{summary, fields}"));
	}
	cx_err rv = cxi_cc_keys_ok(a, "config.analysis", keys, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	const json_t *s = json_object_get(a, "summary");
	if (s != NULL && !json_is_boolean(s)) {
		return (cxi_cc_bad(why, whylen, "config.analysis.summary must be true "
		    "or false"));
	}
	const json_t *fs = json_object_get(a, "fields");
	if (fs != NULL && (!json_is_array(fs) ||
	                      json_array_size(fs) > CXI_ANALYSIS_FIELDS_MAX)) {
		return (cxi_cc_bad(why, whylen, "config.analysis.fields must be a list "
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
				return (cxi_cc_bad(why, whylen, "config.analysis."
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

cx_err
cxi_cc_parse_windows(const json_t *cfg, cxi_campaign_conf *o, char *why,
    size_t whylen)
{
	static const char *const wkeys[] = {"start_minute", "end_minute", NULL};
	const json_t *ws = json_object_get(cfg, "windows");
	const json_t *wd = json_object_get(cfg, "weekdays");
	size_t i;
	json_t *v;
	if (ws != NULL && (!json_is_array(ws) ||
	                      json_array_size(ws) > CXI_WINDOWS_MAX)) {
		return (cxi_cc_bad(why, whylen, "config.windows must be a list of at "
		    "most %d {start_minute, end_minute}", CXI_WINDOWS_MAX));
	}
	json_array_foreach (ws, i, v) {
		char where[48];
		snprintf(where, sizeof(where), "config.windows[%zu]", i);
		int s = -1, e = -1;
		cx_err rv;
		if (!json_is_object(v)) {
			return (cxi_cc_bad(why, whylen, "%s must be an object "
			    "{start_minute, end_minute}", where));
		}
		if ((rv = cxi_cc_keys_ok(v, where, wkeys, why, whylen)) != CX_OK ||
		    (rv = cxi_cc_get_int(v, where, "start_minute", 0,
		         CXI_DAY_MINUTES - 1, &s, why, whylen)) != CX_OK ||
		    (rv = cxi_cc_get_int(v, where, "end_minute", 1, CXI_DAY_MINUTES,
		         &e, why, whylen)) != CX_OK) {
			return (rv);
		}
		if (s < 0 || e < 0 || e <= s) {
			return (cxi_cc_bad(why, whylen, "%s needs start_minute and a "
			    "larger end_minute (minutes since local midnight, "
			    "end exclusive)", where));
		}
		o->windows.w[o->windows.n].start_minute = s;
		o->windows.w[o->windows.n].end_minute = e;
		o->windows.n++;
	}
	if (wd != NULL && (!json_is_array(wd) || json_array_size(wd) == 0 ||
	                      json_array_size(wd) > 7)) {
		return (cxi_cc_bad(why, whylen, "config.weekdays must list 1 to 7 days "
		    "(\"mon\" .. \"sun\")"));
	}
	json_array_foreach (wd, i, v) {
		int bit = cxi_weekday_bit(json_string_value(v));
		if (bit < 0) {
			return (cxi_cc_bad(why, whylen, "config.weekdays[%zu] is not a "
			    "day (\"mon\" .. \"sun\")", i));
		}
		o->windows.weekdays |= 1u << bit;
	}
	const json_t *tz = json_object_get(cfg, "timezone_fallback");
	if (tz != NULL) {
		if (!cxi_tz_valid(json_string_value(tz))) {
			return (cxi_cc_bad(why, whylen, "config.timezone_fallback is not "
			    "a time zone of the tz database (e.g. "
			    "America/New_York)"));
		}
		o->tz_fallback = json_string_value(tz);
	}
	return (CX_OK);
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
