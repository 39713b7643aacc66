/*
 * envelope.c - the JSON envelope every bus message carries.
 *
 * Wire format: "<type>\0<json>". The type comes first so that nng's SUB
 * prefix matching filters on it without parsing JSON; it is repeated in
 * the JSON, and the decoder insists both agree so a sender cannot route
 * one type while claiming another.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "bus.h"
#include "bus_int.h"

#define ENV_ID_BYTES 16
#define ENV_ID_MAX 64

static int
env_why(char *why, size_t wl, const char *fmt, ...)
{
	if (why != NULL && wl > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, wl, fmt, ap);
		va_end(ap);
	}
	return (-1);
}

/* Printable ASCII without space: types are topics and appear in logs. */
static int
env_type_ok(const char *t, size_t n)
{
	if (n == 0 || n > CXI_ENV_TYPE_MAX) {
		return (0);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char) t[i];
		if (ch <= 0x20 || ch >= 0x7f) {
			return (0);
		}
	}
	return (1);
}

static int
env_new_id(char out[2 * ENV_ID_BYTES + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[ENV_ID_BYTES];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return (-1);
		}
		got += (size_t) n;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0xf];
	}
	out[2 * ENV_ID_BYTES] = '\0';
	return (0);
}

static int
env_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL) {
		return (-1);
	}
	int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L);
	return (n > 0 && (size_t) n < len ? 0 : -1);
}

/* Parses exactly what env_now writes; anything else is malformed. */
static int
env_parse_time(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, msec, used = -1;
	struct tm tm;

	if (strlen(s) != 24 ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi,
	        &sec, &msec, &used) != 7 ||
	    used != 24) {
		return (-1);
	}
	for (int i = 0; i < 24; i++) {
		/* sscanf accepts signs and spaces inside %d; we do not. */
		if (i == 4 || i == 7 || i == 10 || i == 13 || i == 16 ||
		    i == 19 || i == 23) {
			continue;
		}
		if (!isdigit((unsigned char) s[i])) {
			return (-1);
		}
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60) {
		return (-1);
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	if (t == (time_t) -1) {
		return (-1);
	}
	*ms = (int64_t) t * 1000 + msec;
	return (0);
}

json_t *
cxi_env_new(const char *type, const char *account, json_t *data)
{
	char id[2 * ENV_ID_BYTES + 1];
	char now[32];
	json_t *env;

	if (data == NULL) {
		data = json_object();
	}
	if (data == NULL || !json_is_object(data) || type == NULL ||
	    !env_type_ok(type, strlen(type)) || env_new_id(id) != 0 ||
	    env_now(now, sizeof(now)) != 0) {
		json_decref(data);
		return (NULL);
	}
	env = json_pack("{s:i, s:s, s:s, s:s, s:s?, s:o}", "v",
	    CX_ENVELOPE_VERSION, "type", type, "id", id, "time", now,
	    "account", account, "data", data);
	/* json_pack steals "o" even when it fails. */
	return (env);
}

int
cxi_env_encode(const json_t *env, char **buf, size_t *len)
{
	const char *type;
	char *js;
	size_t tl, jl;

	if (env == NULL || buf == NULL || len == NULL ||
	    (type = json_string_value(json_object_get(env, "type"))) ==
	        NULL) {
		return (-1);
	}
	if ((js = json_dumps(env, JSON_COMPACT)) == NULL) {
		return (-1);
	}
	tl = strlen(type);
	jl = strlen(js);
	if ((*buf = malloc(tl + 1 + jl)) == NULL) {
		free(js);
		return (-1);
	}
	memcpy(*buf, type, tl);
	(*buf)[tl] = '\0';
	memcpy(*buf + tl + 1, js, jl);
	*len = tl + 1 + jl;
	free(js);
	return (0);
}

/* The checks shared by requests, events, answers and replies. */
static int
env_check(const json_t *env, const char *type, size_t tl, char *why,
    size_t wl)
{
	const json_t *v, *t, *id, *tm, *acc, *ok, *data;
	int64_t ms;

	if (!json_is_object(env)) {
		return (env_why(why, wl, "envelope is not a JSON object"));
	}
	v = json_object_get(env, "v");
	if (!json_is_integer(v) ||
	    json_integer_value(v) != CX_ENVELOPE_VERSION) {
		return (env_why(why, wl, "\"v\" must be %d",
		    CX_ENVELOPE_VERSION));
	}
	t = json_object_get(env, "type");
	if (!json_is_string(t)) {
		return (env_why(why, wl, "\"type\" must be a string"));
	}
	if (json_string_length(t) != tl ||
	    memcmp(json_string_value(t), type, tl) != 0) {
		return (env_why(why, wl,
		    "\"type\" does not match the wire topic"));
	}
	id = json_object_get(env, "id");
	if (!json_is_string(id) || json_string_length(id) == 0 ||
	    json_string_length(id) > ENV_ID_MAX ||
	    !env_type_ok(json_string_value(id), json_string_length(id))) {
		return (env_why(why, wl,
		    "\"id\" must be a printable string of 1..%d chars",
		    ENV_ID_MAX));
	}
	tm = json_object_get(env, "time");
	if (!json_is_string(tm) ||
	    env_parse_time(json_string_value(tm), &ms) != 0) {
		return (env_why(why, wl,
		    "\"time\" must be RFC 3339 UTC with milliseconds"));
	}
	acc = json_object_get(env, "account");
	if (acc == NULL || (!json_is_null(acc) && !json_is_string(acc))) {
		return (env_why(why, wl,
		    "\"account\" must be a string or null"));
	}
	if (json_is_string(acc) &&
	    strlen(json_string_value(acc)) != json_string_length(acc)) {
		return (env_why(why, wl, "\"account\" contains NUL"));
	}
	/* Replies carry "ok"; everything else carries "data". */
	ok = json_object_get(env, "ok");
	data = json_object_get(env, "data");
	if (ok != NULL && !json_is_boolean(ok)) {
		return (env_why(why, wl, "\"ok\" must be a boolean"));
	}
	if (ok != NULL && json_is_false(ok)) {
		const json_t *e = json_object_get(env, "error");
		const json_t *code = json_object_get(e, "code");
		if (!json_is_object(e) || !json_is_integer(code) ||
		    !json_is_string(json_object_get(e, "message"))) {
			return (env_why(why, wl,
			    "an error reply needs \"error\":{\"code\":int,"
			    "\"message\":string}"));
		}
		if (data != NULL && !json_is_object(data)) {
			return (env_why(why, wl, "\"data\" must be an object"));
		}
		return (0);
	}
	if (!json_is_object(data)) {
		return (env_why(why, wl, "\"data\" must be an object"));
	}
	return (0);
}

json_t *
cxi_env_decode(const void *buf, size_t len, char *why, size_t wl)
{
	const char *p = buf, *nul;
	json_error_t jerr;
	json_t *env;
	size_t tl;

	if (buf == NULL || len == 0) {
		env_why(why, wl, "empty message");
		return (NULL);
	}
	if ((nul = memchr(p, '\0', len)) == NULL) {
		env_why(why, wl, "no NUL after the type");
		return (NULL);
	}
	tl = (size_t) (nul - p);
	if (tl == 0) {
		env_why(why, wl, "empty type");
		return (NULL);
	}
	if (tl > CXI_ENV_TYPE_MAX) {
		env_why(why, wl, "type longer than %d chars",
		    CXI_ENV_TYPE_MAX);
		return (NULL);
	}
	if (!env_type_ok(p, tl)) {
		env_why(why, wl, "type has a non-printable character");
		return (NULL);
	}
	/* JSON_DISABLE_EOF_CHECK is not set: trailing garbage is an error. */
	env = json_loadb(nul + 1, len - tl - 1, JSON_REJECT_DUPLICATES, &jerr);
	if (env == NULL) {
		env_why(why, wl, "bad JSON at byte %d: %s", jerr.position,
		    jerr.text);
		return (NULL);
	}
	if (env_check(env, p, tl, why, wl) != 0) {
		json_decref(env);
		return (NULL);
	}
	return (env);
}

int
cxi_env_view(const json_t *env, cx_msg *out)
{
	const json_t *acc, *data;
	const char *tm;
	int64_t ms;

	if (env == NULL || out == NULL) {
		return (-1);
	}
	out->type = json_string_value(json_object_get(env, "type"));
	out->id = json_string_value(json_object_get(env, "id"));
	tm = json_string_value(json_object_get(env, "time"));
	if (out->type == NULL || out->id == NULL || tm == NULL ||
	    env_parse_time(tm, &ms) != 0) {
		return (-1);
	}
	acc = json_object_get(env, "account");
	if (acc != NULL && !json_is_null(acc) && !json_is_string(acc)) {
		return (-1);
	}
	/* An error reply may omit data; its error object stands in, so the
	 * view's data is never NULL. */
	if ((data = json_object_get(env, "data")) == NULL) {
		data = json_object_get(env, "error");
	}
	if (!json_is_object(data)) {
		return (-1);
	}
	out->time_ms = ms;
	out->account = json_string_value(acc);
	out->data = data;
	return (0);
}
