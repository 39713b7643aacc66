/*
 * retell_api.c - the core's requests on Retell's REST API.
 *
 *   place   POST /v2/create-phone-call
 *   lookup  GET  /v2/get-call/{id}, or POST /v3/list-calls filtered on
 *           metadata.cx_call_id (+ to/from number) when the dialer never
 *           learnt the id (the create timed out)
 *   hangup  POST /v2/stop-call/{id}
 *
 * Errors follow the contract in callixo/telephony.h: Retell's 4xx
 * refusals are CX_EINVAL with its message, 429 CX_EBUSY, 5xx and no
 * connection CX_EIO, a timeout CX_ETIMEDOUT (the call may exist).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retell.h"

#define RT_LIST_PAGE 50
#define RT_LIST_PAGES 10

static const char *
str(const json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

static void set_msg(json_t **reply, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_msg(json_t **reply, const char *fmt, ...)
{
	char m[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	json_decref(*reply);
	*reply = json_pack("{s:s}", "message", m);
}

/* The key to use: the account's vault entry, else the settings. An
 * entry without a usable api_key is an error, not a fall-back: the call
 * would otherwise run (and be billed) on the platform's workspace. */
static const char *
key_of(const json_t *req, const rt_cfg *cfg)
{
	const json_t *cr = json_object_get(req, "credentials");
	if (json_object_size(cr) > 0) {
		const char *k = str(cr, "api_key");
		return (k != NULL && k[0] != '\0' && strlen(k) < RT_KEY_MAX ? k :
		                                                              NULL);
	}
	return (cfg->api_key[0] != '\0' ? cfg->api_key : NULL);
}

/* Retell call ids are [A-Za-z0-9_-]; anything else would change the
 * path we send the key to. */
static bool
id_ok(const char *id)
{
	if (id == NULL || id[0] == '\0' || strlen(id) >= RT_ID_MAX) {
		return (false);
	}
	for (const char *p = id; *p; p++) {
		if (!isalnum((unsigned char) *p) && *p != '_' && *p != '-') {
			return (false);
		}
	}
	return (true);
}

/* Maps a non-2xx answer or a transport failure. */
static cx_err
fail(retell *r, const char *op, cx_err e, const rt_resp *resp,
    json_t **reply)
{
	if (e == CX_ETIMEDOUT) {
		set_msg(reply, "retell %s: timed out%s", op,
		    strcmp(op, "create-phone-call") == 0 ?
		        "; the call may exist" : "");
		return (CX_ETIMEDOUT);
	}
	if (e != CX_OK) {
		set_msg(reply, "retell %s: no answer (%s)", op, cx_strerror(e));
		return (e == CX_ENOMEM ? CX_ENOMEM : CX_EIO);
	}
	json_t *b = json_loads(resp->body, 0, NULL);
	const char *m = str(b, "message");
	char msg[240];
	snprintf(msg, sizeof(msg), "%s", m ? m : "");
	json_decref(b);
	char hint[64] = "";
	if (resp->retry_after_ms >= 0) {
		snprintf(hint, sizeof(hint), " (retry after %ld ms)",
		    resp->retry_after_ms);
	}
	set_msg(reply, "retell %s %ld: %s%s", op, resp->status,
	    msg[0] ? msg : "(no message)", hint);
	r->host->log(r->host, resp->status >= 500 ? CX_LOG_WARN : CX_LOG_INFO,
	    "retell: %s answered HTTP %ld: %s", op, resp->status,
	    msg[0] ? msg : "(no message)");
	if (resp->status == 429) {
		return (CX_EBUSY);
	}
	if (resp->status >= 500 || resp->status == 408 || resp->status == 409) {
		return (CX_EIO);
	}
	return (resp->status >= 400 ? CX_EINVAL : CX_EPROTO);
}

/* A variable value as Retell wants it: a string. */
static json_t *
as_string(const json_t *v)
{
	char b[64];
	if (json_is_string(v)) {
		return (json_string(json_string_value(v)));
	}
	if (json_is_integer(v)) {
		snprintf(b, sizeof(b), "%lld", (long long) json_integer_value(v));
		return (json_string(b));
	}
	if (json_is_real(v)) {
		snprintf(b, sizeof(b), "%.17g", json_real_value(v));
		return (json_string(b));
	}
	if (json_is_boolean(v)) {
		return (json_string(json_is_true(v) ? "true" : "false"));
	}
	return (NULL);
}

/* agent_override.agent: the campaign's voicemail policy and the post-
 * call analysis it asks for. Only what the request names is
 * overridden; everything else stays as the agent is set up in Retell. */
static json_t *
agent_override(const json_t *req)
{
	json_t *agent = json_object();
	const json_t *vm = json_object_get(req, "voicemail");
	const char *act = str(vm, "action");
	if (json_is_true(json_object_get(req, "machine_detection")) &&
	    act != NULL) {
		json_t *a = NULL;
		if (strcmp(act, "message") == 0 && str(vm, "message") != NULL) {
			a = json_pack("{s:s, s:s}", "type", "static_text", "text",
			    str(vm, "message"));
		} else if (strcmp(act, "hangup") == 0) {
			a = json_pack("{s:s}", "type", "hangup");
		}
		if (a != NULL) {
			json_object_set_new(agent, "voicemail_option",
			    json_pack("{s:o}", "action", a));
		}
	}
	const json_t *fields = json_object_get(json_object_get(req,
	    "analysis"), "fields");
	if (json_array_size(fields) > 0) {
		json_t *pca = json_array();
		size_t i;
		const json_t *f;
		json_array_foreach(fields, i, f) {
			const char *name = str(f, "name"), *type = str(f, "type");
			if (name == NULL || type == NULL) {
				continue;
			}
			const char *desc = str(f, "description");
			json_t *o = json_pack("{s:s, s:s, s:s}", "type", type,
			    "name", name, "description", desc ? desc : name);
			const json_t *ch = json_object_get(f, "choices");
			if (strcmp(type, "enum") == 0 && json_is_array(ch)) {
				json_object_set(o, "choices", (json_t *) ch);
			}
			json_array_append_new(pca, o);
		}
		json_object_set_new(agent, "post_call_analysis_data", pca);
	}
	if (json_object_size(agent) == 0) {
		json_decref(agent);
		return (NULL);
	}
	return (json_pack("{s:o}", "agent", agent));
}

static json_t *
place_body(const json_t *req)
{
	json_t *body = json_pack("{s:s, s:s}", "from_number", str(req, "from"),
	    "to_number", str(req, "to"));
	const char *agent = str(req, "agent");
	if (agent != NULL && agent[0] != '\0') {
		json_object_set_new(body, "override_agent_id", json_string(agent));
	}
	/* Retell echoes metadata in every webhook: our call id comes back
	 * with it, and whether to fetch the recording. */
	json_t *meta = json_object();
	const json_t *extra = json_object_get(req, "metadata");
	if (json_is_object(extra)) {
		json_object_update(meta, (json_t *) extra);
	}
	json_object_set_new(meta, "cx_call_id",
	    json_string(str(req, "call_id")));
	if (json_is_false(json_object_get(req, "record"))) {
		json_object_set_new(meta, "cx_record", json_false());
	}
	json_object_set_new(body, "metadata", meta);
	const json_t *vars = json_object_get(req, "variables");
	const json_t *disc = json_object_get(req, "disclosure");
	json_t *dv = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *) vars, k, v) {
		json_t *s = as_string(v);
		if (s != NULL) {
			json_object_set_new(dv, k, s);
		}
	}
	/* Whether the agent must say "this call is recorded" first: the
	 * agent's prompt reads {{cx_recording_disclosure}} (Retell has no
	 * per-call switch for it). */
	if (json_is_boolean(disc)) {
		json_object_set_new(dv, "cx_recording_disclosure",
		    json_string(json_is_true(disc) ? "true" : "false"));
	}
	if (json_object_size(dv) > 0) {
		json_object_set_new(body, "retell_llm_dynamic_variables", dv);
	} else {
		json_decref(dv);
	}
	json_t *ao = agent_override(req);
	if (ao != NULL) {
		json_object_set_new(body, "agent_override", ao);
	}
	return (body);
}

cx_err
retell_place(retell *r, const json_t *req, json_t **reply)
{
	rt_cfg cfg;
	rt_resp resp;
	char url[RT_URL_MAX + 64];
	retell_cfg_get(r, &cfg);
	const char *key = key_of(req, &cfg);
	const char *to = str(req, "to"), *from = str(req, "from");
	const char *cid = str(req, "call_id");
	if (to == NULL || from == NULL || cid == NULL || cid[0] == '\0') {
		set_msg(reply, "place: 'call_id', 'to' and 'from' are required");
		return (CX_EINVAL);
	}
	if (key == NULL) {
		set_msg(reply, "retell: no usable api_key in the account's "
		    "credentials or the settings");
		return (CX_EINVAL);
	}
	json_t *body = place_body(req);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL) {
		return (CX_ENOMEM);
	}
	snprintf(url, sizeof(url), "%s/v2/create-phone-call", cfg.api_base);
	cx_err e = retell_http("POST", url, key, text, cfg.http_timeout_ms,
	    &resp);
	free(text);
	explicit_bzero(cfg.api_key, sizeof(cfg.api_key));
	if (e != CX_OK || resp.status < 200 || resp.status > 299) {
		e = fail(r, "create-phone-call", e, &resp, reply);
		rt_resp_free(&resp);
		return (e);
	}
	json_t *call = json_loads(resp.body, 0, NULL);
	rt_resp_free(&resp);
	const char *id = str(call, "call_id");
	if (!id_ok(id)) {
		json_decref(call);
		/* Retell said yes but we cannot tell to what: the call may
		 * exist, so the dialer must reconcile, not retry. */
		set_msg(reply, "retell create-phone-call: 2xx without a usable "
		    "call_id; the call may exist");
		return (CX_ETIMEDOUT);
	}
	const char *st, *oc;
	retell_call_status(call, &st, &oc);
	*reply = json_pack("{s:s, s:s}", "provider_call_id", id, "status",
	    st ? st : CX_CALL_QUEUED);
	r->host->log(r->host, CX_LOG_INFO, "retell: placed %s as %s", cid, id);
	json_decref(call);
	return (*reply ? CX_OK : CX_ENOMEM);
}

static json_t *
found(const json_t *call)
{
	const char *st, *oc;
	retell_call_status(call, &st, &oc);
	json_t *o = json_pack("{s:b, s:s, s:s}", "found", 1, "provider_call_id",
	    str(call, "call_id"), "status", st);
	if (o != NULL && oc != NULL) {
		json_object_set_new(o, "outcome", json_string(oc));
	}
	return (o);
}

static json_t *
string_filter(const char *v)
{
	return (json_pack("{s:s, s:s, s:s}", "op", "eq", "type", "string",
	    "value", v));
}

static cx_err
lookup_by_list(retell *r, const rt_cfg *cfg, const char *key,
    const json_t *req, json_t **reply)
{
	const char *cid = str(req, "call_id");
	const char *to = str(req, "to"), *from = str(req, "from");
	char url[RT_URL_MAX + 64];
	json_t *pk = NULL; /* pagination_key */
	snprintf(url, sizeof(url), "%s/v3/list-calls", cfg->api_base);

	for (int page = 0; page < RT_LIST_PAGES; page++) {
		json_t *mf = string_filter(cid);
		json_object_set_new(mf, "key", json_string("cx_call_id"));
		json_t *fc = json_pack("{s:[o]}", "metadata", mf);
		if (to != NULL) {
			json_object_set_new(fc, "to_number", string_filter(to));
		}
		if (from != NULL) {
			json_object_set_new(fc, "from_number", string_filter(from));
		}
		json_t *body = json_pack("{s:o, s:i, s:s}", "filter_criteria",
		    fc, "limit", RT_LIST_PAGE, "sort_order", "descending");
		if (pk != NULL) {
			json_object_set_new(body, "pagination_key", pk);
			pk = NULL;
		}
		char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
		if (text == NULL) {
			return (CX_ENOMEM);
		}
		rt_resp resp;
		cx_err e = retell_http("POST", url, key, text,
		    cfg->http_timeout_ms, &resp);
		free(text);
		if (e != CX_OK || resp.status < 200 || resp.status > 299) {
			e = fail(r, "list-calls", e, &resp, reply);
			rt_resp_free(&resp);
			return (e);
		}
		json_t *list = json_loads(resp.body, 0, NULL);
		rt_resp_free(&resp);
		const json_t *items = json_object_get(list, "items");
		if (!json_is_array(items)) {
			json_decref(list);
			set_msg(reply, "retell list-calls: no 'items' in the "
			    "answer");
			return (CX_EPROTO);
		}
		size_t i;
		const json_t *c;
		/* The filter is Retell's; the match is checked here too,
		 * so a filter Retell ignores cannot give a wrong call. */
		json_array_foreach(items, i, c) {
			const char *m = str(json_object_get(c, "metadata"),
			    "cx_call_id");
			if (m != NULL && strcmp(m, cid) == 0 &&
			    id_ok(str(c, "call_id"))) {
				*reply = found(c);
				json_decref(list);
				return (*reply ? CX_OK : CX_ENOMEM);
			}
		}
		const char *next = str(list, "pagination_key");
		bool more = json_is_true(json_object_get(list, "has_more")) &&
		    next != NULL;
		if (more) {
			pk = json_string(next);
		}
		json_decref(list);
		if (!more) {
			break;
		}
	}
	*reply = json_pack("{s:b}", "found", 0);
	return (*reply ? CX_OK : CX_ENOMEM);
}

cx_err
retell_lookup(retell *r, const json_t *req, json_t **reply)
{
	rt_cfg cfg;
	cx_err e;
	retell_cfg_get(r, &cfg);
	const char *key = key_of(req, &cfg);
	const char *pcid = str(req, "provider_call_id");
	const char *cid = str(req, "call_id");
	if (key == NULL) {
		set_msg(reply, "retell: no api_key");
		e = CX_EINVAL;
	} else if (pcid != NULL && pcid[0] != '\0') {
		char url[RT_URL_MAX + RT_ID_MAX + 32];
		rt_resp resp;
		if (!id_ok(pcid)) {
			set_msg(reply, "lookup: bad provider_call_id");
			e = CX_EINVAL;
			goto out;
		}
		snprintf(url, sizeof(url), "%s/v2/get-call/%s", cfg.api_base,
		    pcid);
		e = retell_http("GET", url, key, NULL, cfg.http_timeout_ms,
		    &resp);
		if (e == CX_OK && (resp.status == 404 || resp.status == 422)) {
			/* The published spec answers 422 for an unknown id. */
			*reply = json_pack("{s:b}", "found", 0);
			e = *reply ? CX_OK : CX_ENOMEM;
		} else if (e != CX_OK || resp.status < 200 || resp.status > 299) {
			e = fail(r, "get-call", e, &resp, reply);
		} else {
			json_t *call = json_loads(resp.body, 0, NULL);
			*reply = id_ok(str(call, "call_id")) ? found(call) : NULL;
			e = *reply ? CX_OK : CX_EPROTO;
			json_decref(call);
		}
		rt_resp_free(&resp);
	} else if (cid == NULL || cid[0] == '\0') {
		set_msg(reply, "lookup: 'call_id' or 'provider_call_id' is "
		    "required");
		e = CX_EINVAL;
	} else {
		e = lookup_by_list(r, &cfg, key, req, reply);
	}
out:
	explicit_bzero(cfg.api_key, sizeof(cfg.api_key));
	return (e);
}

cx_err
retell_hangup(retell *r, const json_t *req, json_t **reply)
{
	rt_cfg cfg;
	rt_resp resp;
	char url[RT_URL_MAX + RT_ID_MAX + 32];
	retell_cfg_get(r, &cfg);
	const char *key = key_of(req, &cfg);
	const char *pcid = str(req, "provider_call_id");
	cx_err e;
	if (key == NULL || !id_ok(pcid)) {
		set_msg(reply, "hangup: %s", key ? "bad provider_call_id" :
		    "no api_key");
		explicit_bzero(cfg.api_key, sizeof(cfg.api_key));
		return (CX_EINVAL);
	}
	snprintf(url, sizeof(url), "%s/v2/stop-call/%s", cfg.api_base, pcid);
	e = retell_http("POST", url, key, NULL, cfg.http_timeout_ms, &resp);
	explicit_bzero(cfg.api_key, sizeof(cfg.api_key));
	if (e == CX_OK && resp.status >= 200 && resp.status <= 299) {
		*reply = json_object();
	} else if (e == CX_OK && (resp.status == 404 || resp.status == 422)) {
		/* Already over (or never existed): nothing left to stop. */
		*reply = json_pack("{s:b}", "ended", 1);
	} else {
		e = fail(r, "stop-call", e, &resp, reply);
	}
	rt_resp_free(&resp);
	return (e);
}
