/*
 * sbx_request.c - checks a place request the way a provider's API checks
 * a create-call: a refused request is CX_EINVAL with a message naming the
 * field, so the dialer marks the attempt failed for good (a 4xx).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sbx.h"

/* "+" then 7 to 15 digits, the first not 0 (ITU-T E.164). */
bool
sbx_e164_ok(const char *s)
{
	if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9') {
		return (false);
	}
	size_t n = strlen(s + 1);
	return (n >= 7 && n <= 15 && strspn(s + 1, "0123456789") == n);
}

static bool
fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool
fail(char *err, size_t errlen, const char *fmt, ...)
{
	int n = snprintf(err, errlen, "sandbox: ");
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t) n < errlen) {
		vsnprintf(err + n, errlen - (size_t) n, fmt, ap);
	}
	va_end(ap);
	return (false);
}

static bool
printable(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n >= max) {
		return (false);
	}
	for (size_t i = 0; i < n; i++) {
		if (!isgraph((unsigned char) s[i])) {
			return (false);
		}
	}
	return (true);
}

static bool
opt_bool(const json_t *req, const char *k, char *err, size_t errlen)
{
	const json_t *v = json_object_get(req, k);
	if (v != NULL && !json_is_boolean(v) && !json_is_null(v)) {
		return (fail(err, errlen, "'%s' must be true or false", k));
	}
	return (true);
}

static bool
check_voicemail(const json_t *vm, char *err, size_t errlen)
{
	if (vm == NULL || json_is_null(vm)) {
		return (true);
	}
	if (!json_is_object(vm)) {
		return (fail(err, errlen, "'voicemail' must be an object"));
	}
	const char *a = json_string_value(json_object_get(vm, "action"));
	if (a == NULL || (strcmp(a, "hangup") != 0 &&
	                     strcmp(a, "message") != 0)) {
		return (fail(err, errlen,
		    "voicemail.action must be \"hangup\" or \"message\""));
	}
	const json_t *m = json_object_get(vm, "message");
	if (strcmp(a, "message") == 0 &&
	    (!json_is_string(m) || json_string_length(m) == 0)) {
		return (fail(err, errlen, "voicemail.message is required when "
		    "voicemail.action is \"message\""));
	}
	if (m != NULL && !json_is_null(m) &&
	    (!json_is_string(m) || json_string_length(m) > 4000)) {
		return (fail(err, errlen, "voicemail.message must be a string "
		    "of at most 4000 characters"));
	}
	return (true);
}

static bool
check_field(const json_t *f, size_t i, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(f, "name"));
	const char *type = json_string_value(json_object_get(f, "type"));
	if (!json_is_object(f) || name == NULL || name[0] == '\0' ||
	    strlen(name) > 64) {
		return (fail(err, errlen, "analysis.fields[%zu] needs a name "
		    "(1 to 64 characters)", i));
	}
	if (type == NULL || (strcmp(type, "boolean") != 0 &&
	                        strcmp(type, "string") != 0 &&
	                        strcmp(type, "number") != 0 &&
	                        strcmp(type, "enum") != 0)) {
		return (fail(err, errlen, "analysis field '%s': type must be "
		    "boolean, string, number or enum", name));
	}
	const json_t *ch = json_object_get(f, "choices");
	if (strcmp(type, "enum") == 0) {
		if (!json_is_array(ch) || json_array_size(ch) == 0) {
			return (fail(err, errlen, "analysis field '%s': an enum "
			    "needs a non-empty list of choices", name));
		}
		size_t k;
		json_t *c;
		json_array_foreach (ch, k, c) {
			if (!json_is_string(c)) {
				return (fail(err, errlen, "analysis field '%s': "
				    "choices must be strings", name));
			}
		}
	}
	return (true);
}

static bool
check_analysis(const json_t *an, char *err, size_t errlen)
{
	if (an == NULL || json_is_null(an)) {
		return (true);
	}
	const json_t *fields = json_object_get(an, "fields");
	if (!json_is_object(an) ||
	    (fields != NULL && !json_is_null(fields) && !json_is_array(fields))) {
		return (fail(err, errlen, "'analysis' must be {\"summary\": "
		    "bool, \"fields\": [...]}"));
	}
	if (!opt_bool(an, "summary", err, errlen)) {
		return (false);
	}
	if (json_array_size(fields) > 50) {
		return (fail(err, errlen, "at most 50 analysis fields"));
	}
	size_t i;
	json_t *f;
	json_array_foreach (fields, i, f) {
		if (!check_field(f, i, err, errlen)) {
			return (false);
		}
	}
	return (true);
}

bool
sbx_request_check(const json_t *req, char *err, size_t errlen)
{
	if (!json_is_object(req)) {
		return (fail(err, errlen, "request must be a JSON object"));
	}
	const json_t *v = json_object_get(req, "v");
	if (v != NULL && (!json_is_integer(v) ||
	                     json_integer_value(v) != CX_TELEPHONY_VERSION)) {
		return (fail(err, errlen, "unsupported request version (want "
		    "v=%d)", CX_TELEPHONY_VERSION));
	}
	const char *id = json_string_value(json_object_get(req, "call_id"));
	if (id == NULL || !printable(id, SBX_ID_MAX)) {
		return (fail(err, errlen, "call_id is required (1 to %d "
		    "printable characters)", SBX_ID_MAX - 1));
	}
	const char *to = json_string_value(json_object_get(req, "to"));
	if (!sbx_e164_ok(to)) {
		return (fail(err, errlen, "invalid 'to' number: must be E.164, "
		    "e.g. +14155550100"));
	}
	const char *from = json_string_value(json_object_get(req, "from"));
	if (!sbx_e164_ok(from)) {
		return (fail(err, errlen, "invalid 'from' number: must be "
		    "E.164, e.g. +14155550100"));
	}
	if (strcmp(to, from) == 0) {
		return (fail(err, errlen, "'to' and 'from' are the same number"));
	}
	const char *agent = json_string_value(json_object_get(req, "agent"));
	if (agent == NULL || agent[0] == '\0' || strlen(agent) > 2048) {
		return (fail(err, errlen, "'agent' is required (an agent id or "
		    "URL, at most 2048 characters)"));
	}
	if (!opt_bool(req, "record", err, errlen) ||
	    !opt_bool(req, "disclosure", err, errlen) ||
	    !opt_bool(req, "machine_detection", err, errlen) ||
	    !check_voicemail(json_object_get(req, "voicemail"), err, errlen) ||
	    !check_analysis(json_object_get(req, "analysis"), err, errlen)) {
		return (false);
	}
	const json_t *vars = json_object_get(req, "variables");
	if (vars != NULL && !json_is_null(vars)) {
		if (!json_is_object(vars)) {
			return (fail(err, errlen, "'variables' must be an object "
			    "of strings"));
		}
		const char *k;
		json_t *x;
		json_object_foreach ((json_t *) vars, k, x) {
			if (!json_is_string(x)) {
				return (fail(err, errlen, "variable '%s' must be "
				    "a string", k));
			}
		}
	}
	const json_t *cred = json_object_get(req, "credentials");
	if (cred != NULL && !json_is_null(cred) && !json_is_object(cred)) {
		return (fail(err, errlen, "'credentials' must be an object"));
	}
	return (true);
}
