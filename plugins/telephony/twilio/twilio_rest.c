/*
 * twilio_rest.c - the Calls resource: place, look up and end calls.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twilio.h"

/* Clock difference tolerated between us and Twilio when a lookup
 * matches a call by its creation time. Attempts of one lead are minutes
 * apart, so this cannot pick up an earlier attempt's call. */
#define TWILIO_LOOKUP_SKEW_S 5
#define TWILIO_LOOKUP_MAX_PAGES 5

static const char *
str(const json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

/* Our ids travel in callback URLs: keep them to a safe alphabet. */
static bool
id_ok(const char *s)
{
	if (s == NULL || s[0] == '\0' || strlen(s) > 64) {
		return (false);
	}
	for (; *s; s++) {
		if (!isalnum((unsigned char) *s) && *s != '_' && *s != '-') {
			return (false);
		}
	}
	return (true);
}

static cx_err
bad(json_t **reply, const char *msg)
{
	*reply = json_pack("{s:s}", "message", msg);
	return (CX_EINVAL);
}

static void
callback_url(const twilio *t, twilio_buf *b, const char *what,
    const char *call_id)
{
	twilio_buf_str(b, t->public_url);
	twilio_buf_str(b, "/webhooks/");
	twilio_buf_enc(b, t->host->name);
	twilio_buf_str(b, what);
	twilio_buf_str(b, "?cx_call=");
	twilio_buf_enc(b, call_id);
}

static void
url_param(twilio_buf *b, bool *first, const char *name, const char *value)
{
	twilio_buf_str(b, *first ? "" : "&");
	*first = false;
	twilio_buf_enc(b, name);
	twilio_buf_str(b, "=");
	twilio_buf_enc(b, value);
}

/* The agent's TwiML URL with the call's variables as query parameters;
 * our own ones are prefixed cx_ and win over a variable of that name. */
static void
agent_url(twilio_buf *b, const char *agent, const json_t *d)
{
	const json_t *vars = json_object_get(d, "variables");
	const json_t *vm = json_object_get(d, "voicemail");
	const char *k;
	const json_t *v;
	bool first = false;
	twilio_buf_str(b, agent);
	if (strchr(agent, '?') == NULL) {
		twilio_buf_str(b, "?");
		first = true;
	} else if (agent[strlen(agent) - 1] == '?' ||
	           agent[strlen(agent) - 1] == '&') {
		first = true;
	}
	json_object_foreach((json_t *) vars, k, v) {
		char num[64];
		const char *s = json_string_value(v);
		if (strncmp(k, "cx_", 3) == 0) {
			continue;
		}
		if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld",
			    (long long) json_integer_value(v));
			s = num;
		} else if (json_is_real(v)) {
			snprintf(num, sizeof(num), "%.17g", json_real_value(v));
			s = num;
		} else if (json_is_boolean(v)) {
			s = json_is_true(v) ? "true" : "false";
		}
		if (s != NULL) {
			url_param(b, &first, k, s);
		}
	}
	url_param(b, &first, "cx_call", str(d, "call_id"));
	if (json_is_true(json_object_get(d, "disclosure"))) {
		url_param(b, &first, "cx_disclosure", "true");
	}
	const char *action = str(vm, "action");
	if (action != NULL) {
		url_param(b, &first, "cx_voicemail", action);
	}
	if (action != NULL && strcmp(action, "message") == 0 &&
	    str(vm, "message") != NULL) {
		url_param(b, &first, "cx_voicemail_message", str(vm, "message"));
	}
}

static void
place_form(const twilio *t, twilio_buf *f, const json_t *d)
{
	const char *id = str(d, "call_id");
	twilio_buf u = {0};
	twilio_buf_param(f, "To", str(d, "to"));
	twilio_buf_param(f, "From", str(d, "from"));
	agent_url(&u, str(d, "agent"), d);
	twilio_buf_param(f, "Url", u.s ? u.s : "");
	twilio_buf_free(&u);
	twilio_buf_param(f, "Method", "POST");
	callback_url(t, &u, "/status", id);
	twilio_buf_param(f, "StatusCallback", u.s ? u.s : "");
	twilio_buf_free(&u);
	twilio_buf_param(f, "StatusCallbackMethod", "POST");
	/* A repeated key, one event each, as the SDK sends it. */
	static const char *const evs[] = {"initiated", "ringing", "answered",
	    "completed"};
	for (size_t i = 0; i < 4; i++) {
		twilio_buf_param(f, "StatusCallbackEvent", evs[i]);
	}
	if (json_is_true(json_object_get(d, "record"))) {
		twilio_buf_param(f, "Record", "true");
		callback_url(t, &u, "/recording", id);
		twilio_buf_param(f, "RecordingStatusCallback", u.s ? u.s : "");
		twilio_buf_free(&u);
		twilio_buf_param(f, "RecordingStatusCallbackMethod", "POST");
		/* "absent" tells the core no recording will come. */
		twilio_buf_param(f, "RecordingStatusCallbackEvent", "completed");
		twilio_buf_param(f, "RecordingStatusCallbackEvent", "absent");
	}
	const json_t *vm = json_object_get(d, "voicemail");
	const char *action = str(vm, "action");
	bool leave = action != NULL && strcmp(action, "message") == 0;
	/* Leaving a message needs the end of the greeting (the beep);
	 * otherwise the operator's choice applies. */
	if (leave) {
		twilio_buf_param(f, "MachineDetection", "DetectMessageEnd");
	} else if (json_is_true(json_object_get(d, "machine_detection"))) {
		twilio_buf_param(f, "MachineDetection", t->machine_detection);
	}
}

cx_err
twilio_place(twilio *t, const json_t *d, json_t **reply)
{
	const char *agent = str(d, "agent");
	if (!id_ok(str(d, "call_id"))) {
		return (bad(reply, "twilio: call_id must be 1-64 of A-Z a-z "
		                   "0-9 _ -"));
	}
	if (str(d, "to") == NULL || str(d, "to")[0] == '\0' ||
	    str(d, "from") == NULL || str(d, "from")[0] == '\0') {
		return (bad(reply, "twilio: to and from are required"));
	}
	if (agent == NULL || (strncmp(agent, "https://", 8) != 0 &&
	                         strncmp(agent, "http://", 7) != 0)) {
		return (bad(reply, "twilio: agent must be the http(s) URL of "
		                   "the call's TwiML"));
	}
	twilio_creds c;
	cx_err e = twilio_creds_from(t, d, &c, reply);
	if (e != CX_OK) {
		return (e);
	}
	twilio_buf form = {0}, url = {0};
	place_form(t, &form, d);
	twilio_buf_str(&url, t->api_base);
	twilio_buf_str(&url, "/2010-04-01/Accounts/");
	twilio_buf_str(&url, c.sid);
	twilio_buf_str(&url, "/Calls.json");
	if (form.oom || url.oom) {
		twilio_buf_free(&form);
		twilio_buf_free(&url);
		twilio_creds_wipe(&c);
		return (CX_ENOMEM);
	}
	twilio_resp r;
	e = twilio_http(t, &c, "POST", url.s, form.s, t->http_timeout_ms,
	    NULL, &r);
	twilio_creds_wipe(&c);
	twilio_buf_free(&form);
	twilio_buf_free(&url);
	if (e != CX_OK || r.status < 200 || r.status > 299) {
		e = twilio_http_error(t, "place call", &r, e, reply);
		twilio_resp_free(&r);
		return (e);
	}
	json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
	twilio_resp_free(&r);
	const char *sid = str(j, "sid");
	if (sid == NULL) {
		json_decref(j);
		/* Twilio took the call but we cannot tell its sid: like a
		 * timeout, the dialer must reconcile. */
		*reply = json_pack("{s:s}", "message", "twilio: the created "
		    "call's answer has no sid");
		return (CX_ETIMEDOUT);
	}
	const char *st = twilio_status_map(str(j, "status"));
	*reply = json_pack("{s:s, s:s}", "provider_call_id", sid, "status",
	    st ? st : CX_CALL_QUEUED);
	t->host->metric_add(t->host, "calls_placed_total", 1);
	json_decref(j);
	return (*reply ? CX_OK : CX_ENOMEM);
}

/* GET one Calls resource path (with its query); *out is the JSON. */
static cx_err
get_json(twilio *t, const twilio_creds *c, const char *path, json_t **out,
    json_t **reply)
{
	twilio_buf url = {0};
	twilio_buf_str(&url, t->api_base);
	twilio_buf_str(&url, path);
	if (url.oom) {
		return (CX_ENOMEM);
	}
	twilio_resp r;
	cx_err e = twilio_http(t, c, "GET", url.s, NULL, t->http_timeout_ms,
	    NULL, &r);
	twilio_buf_free(&url);
	if (e != CX_OK || r.status != 200) {
		e = twilio_http_error(t, "look up calls", &r, e, reply);
		twilio_resp_free(&r);
		return (e);
	}
	*out = r.body ? json_loads(r.body, 0, NULL) : NULL;
	twilio_resp_free(&r);
	if (*out == NULL) {
		*reply = json_pack("{s:s}", "message", "twilio: the answer is "
		    "not JSON");
		return (CX_EPROTO);
	}
	return (CX_OK);
}

static void
call_path(twilio_buf *b, const char *sid, const char *call_sid)
{
	twilio_buf_str(b, "/2010-04-01/Accounts/");
	twilio_buf_str(b, sid);
	twilio_buf_str(b, "/Calls");
	if (call_sid != NULL) {
		twilio_buf_str(b, "/");
		twilio_buf_enc(b, call_sid);
	}
	twilio_buf_str(b, ".json");
}

/* Scans one page of calls for the one created closest to since_s (and
 * not before since_s - skew): the create we sent at dispatch time. An
 * earlier attempt's call is minutes older. Keeps the best in *best (a
 * new reference) and its distance in *best_d. */
static void
scan_page(const json_t *page, int64_t since_s, json_t **best,
    int64_t *best_d)
{
	size_t i;
	const json_t *call;
	json_array_foreach(json_object_get(page, "calls"), i, call) {
		int64_t ms;
		const char *dir = str(call, "direction");
		if (str(call, "sid") == NULL || (dir != NULL &&
		    strcmp(dir, "outbound-api") != 0) ||
		    !twilio_rfc2822_ms(str(call, "date_created"), &ms) ||
		    ms / 1000 < since_s - TWILIO_LOOKUP_SKEW_S) {
			continue;
		}
		int64_t d = ms / 1000 - since_s;
		d = d < 0 ? -d : d;
		if (*best == NULL || d < *best_d) {
			json_decref(*best);
			*best = json_incref((json_t *) call);
			*best_d = d;
		}
	}
}

/* Lists calls matching `query`, following next_page_uri. */
static cx_err
list_calls(twilio *t, const twilio_creds *c, const char *query,
    int64_t since_s, json_t **best, int64_t *best_d, json_t **reply)
{
	twilio_buf p = {0};
	call_path(&p, c->sid, NULL);
	twilio_buf_str(&p, "?");
	twilio_buf_str(&p, query);
	if (p.oom) {
		return (CX_ENOMEM);
	}
	char *path = p.s;
	cx_err e = CX_OK;
	for (int n = 0; n < TWILIO_LOOKUP_MAX_PAGES && path != NULL; n++) {
		json_t *page = NULL;
		e = get_json(t, c, path, &page, reply);
		free(path);
		path = NULL;
		if (e != CX_OK) {
			break;
		}
		scan_page(page, since_s, best, best_d);
		const char *next = str(page, "next_page_uri");
		if (next != NULL && next[0] == '/') {
			path = strdup(next);
		}
		json_decref(page);
	}
	free(path);
	return (e);
}

static cx_err
found(json_t **reply, const json_t *call)
{
	const char *st = twilio_status_map(str(call, "status"));
	*reply = json_pack("{s:b, s:s, s:s}", "found", 1, "provider_call_id",
	    str(call, "sid"), "status", st ? st : CX_CALL_QUEUED);
	return (*reply ? CX_OK : CX_ENOMEM);
}

cx_err
twilio_lookup(twilio *t, const json_t *d, json_t **reply)
{
	const char *pcid = str(d, "provider_call_id");
	twilio_creds c;
	cx_err e = twilio_creds_from(t, d, &c, reply);
	if (e != CX_OK) {
		return (e);
	}
	json_t *best = NULL;
	if (pcid != NULL && pcid[0] != '\0') {
		twilio_buf p = {0};
		call_path(&p, c.sid, pcid);
		e = p.oom ? CX_ENOMEM : get_json(t, &c, p.s, &best, reply);
		twilio_buf_free(&p);
		twilio_creds_wipe(&c);
		if (e == CX_ENOENT) {
			json_decref(*reply);
			*reply = json_pack("{s:b}", "found", 0);
			return (CX_OK);
		}
		if (e == CX_OK) {
			e = found(reply, best);
		}
		json_decref(best);
		return (e);
	}
	if (str(d, "to") == NULL || str(d, "from") == NULL ||
	    !json_is_integer(json_object_get(d, "since_ms"))) {
		twilio_creds_wipe(&c);
		return (bad(reply, "twilio: lookup needs to, from and since_ms "
		                   "(or provider_call_id)"));
	}
	int64_t since_s = json_integer_value(json_object_get(d, "since_ms")) /
	    1000;
	time_t from_t = (time_t) (since_s - TWILIO_LOOKUP_SKEW_S);
	struct tm tm;
	char when[32];
	gmtime_r(&from_t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* Calls that were dialled have a start time; a call still waiting
	 * in Twilio's queue (1 call per second by default) has none, so
	 * queued calls are asked for separately. */
	twilio_buf q1 = {0}, q2 = {0};
	twilio_buf_param(&q1, "To", str(d, "to"));
	twilio_buf_param(&q1, "From", str(d, "from"));
	twilio_buf_param(&q1, "StartTime>", when);
	twilio_buf_param(&q1, "PageSize", "50");
	twilio_buf_param(&q2, "To", str(d, "to"));
	twilio_buf_param(&q2, "From", str(d, "from"));
	twilio_buf_param(&q2, "Status", "queued");
	twilio_buf_param(&q2, "PageSize", "50");
	int64_t best_d = 0;
	e = q1.oom || q2.oom ? CX_ENOMEM :
	                       list_calls(t, &c, q1.s, since_s, &best, &best_d,
	                           reply);
	if (e == CX_OK) {
		e = list_calls(t, &c, q2.s, since_s, &best, &best_d, reply);
	}
	twilio_buf_free(&q1);
	twilio_buf_free(&q2);
	twilio_creds_wipe(&c);
	if (e == CX_OK) {
		e = best ? found(reply, best) :
		           ((*reply = json_pack("{s:b}", "found", 0)) ? CX_OK :
		                                                       CX_ENOMEM);
	}
	json_decref(best);
	return (e);
}

cx_err
twilio_hangup(twilio *t, const json_t *d, json_t **reply)
{
	const char *pcid = str(d, "provider_call_id");
	if (pcid == NULL || pcid[0] == '\0') {
		return (bad(reply, "twilio: hangup needs provider_call_id"));
	}
	twilio_creds c;
	cx_err e = twilio_creds_from(t, d, &c, reply);
	if (e != CX_OK) {
		return (e);
	}
	twilio_buf p = {0};
	call_path(&p, c.sid, pcid);
	json_t *call = NULL;
	e = p.oom ? CX_ENOMEM : get_json(t, &c, p.s, &call, reply);
	const char *st = str(call, "status");
	const char *to = NULL;
	if (e == CX_OK && st != NULL) {
		/* Twilio cancels only a call that has not been answered;
		 * one in progress is ended with "completed". */
		if (strcmp(st, "queued") == 0 || strcmp(st, "ringing") == 0 ||
		    strcmp(st, "initiated") == 0) {
			to = "canceled";
		} else if (strcmp(st, "in-progress") == 0) {
			to = "completed";
		}
	}
	if (to != NULL) {
		twilio_buf url = {0}, form = {0};
		twilio_buf_str(&url, t->api_base);
		twilio_buf_str(&url, p.s);
		twilio_buf_param(&form, "Status", to);
		twilio_resp r = {0};
		e = url.oom || form.oom ? CX_ENOMEM :
		    twilio_http(t, &c, "POST", url.s, form.s, t->http_timeout_ms,
		        NULL, &r);
		if (e == CX_OK && (r.status < 200 || r.status > 299)) {
			e = twilio_http_error(t, "hang up", &r, CX_OK, reply);
		} else if (e != CX_OK && e != CX_ENOMEM) {
			e = twilio_http_error(t, "hang up", &r, e, reply);
		}
		twilio_resp_free(&r);
		twilio_buf_free(&url);
		twilio_buf_free(&form);
	}
	twilio_buf_free(&p);
	twilio_creds_wipe(&c);
	json_decref(call);
	if (e == CX_OK) {
		json_decref(*reply);
		*reply = json_object();
	}
	return (e);
}
