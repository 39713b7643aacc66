/*
 * retell_hook.c - POST /webhooks/<name>: Retell's call events.
 *
 * Order of checks, so that nothing unverified is ever processed and an
 * unsigned sender learns nothing about the body:
 *   1. x-retell-signature present and well formed, timestamp within the
 *      tolerance (5 min)                                   else 401
 *   2. the key: the account's vault entry when the call was placed with
 *      one (CX_SVC_CALL_CREDENTIALS, by metadata.cx_call_id), else the
 *      api_key setting; HMAC over the raw body            else 401
 *   3. the JSON is a Retell event                           else 400
 *   4. the core stores call.event                           else 503
 *   5. a recording to fetch is queued durably               else 500
 *   then 204. Any 5xx makes Retell retry; the core dedupes on event_id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "retell.h"

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static cx_err
answer(cx_http_resp *resp, uint16_t status, const char *error)
{
	if (error == NULL) {
		return (cx_http_resp_set(resp, status, "application/json", "", 0));
	}
	json_t *o = json_pack("{s:s}", "error", error);
	char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (t == NULL) {
		return (CX_ENOMEM);
	}
	cx_err e = cx_http_resp_set(resp, status, "application/json", t,
	    strlen(t));
	free(t);
	return (e);
}

/* Fills key with the account's Retell key for this call, or the
 * platform's. CX_OK or the core's failure (then we cannot verify). */
static cx_err
key_for(retell *r, const rt_cfg *cfg, const char *cx_call_id, char *key,
    size_t keylen)
{
	snprintf(key, keylen, "%s", cfg->api_key);
	if (cx_call_id[0] == '\0') {
		return (CX_OK);
	}
	json_t *q = json_pack("{s:i, s:s, s:s}", "v", 1, "provider",
	    r->host->name, "call_id", cx_call_id);
	json_t *rep = NULL;
	if (q == NULL) {
		return (CX_ENOMEM);
	}
	cx_err e = r->host->call(r->host, CX_SVC_CORE, CX_SVC_CALL_CREDENTIALS,
	    NULL, q, RT_CRED_TIMEOUT_MS, &rep);
	if (e == CX_ENOENT) {
		/* No such call of ours: only the platform key can have
		 * signed it. */
		json_decref(rep);
		return (CX_OK);
	}
	if (e != CX_OK) {
		json_decref(rep);
		return (e);
	}
	const json_t *cr = json_object_get(rep, "credentials");
	if (json_object_size(cr) > 0) {
		/* A vault entry replaces the platform key: a call placed
		 * with an account's key is signed with that key only (an
		 * entry without one verifies nothing). */
		const char *k = json_string_value(json_object_get(cr,
		    "api_key"));
		snprintf(key, keylen, "%s", k ? k : "");
	}
	json_decref(rep);
	return (CX_OK);
}

cx_err
retell_hook(void *arg, const cx_http_req *req, cx_http_resp *resp)
{
	retell *r = arg;
	rt_cfg cfg;
	rt_hook_info info;
	json_t *root = NULL;
	char perr[160], key[RT_KEY_MAX];
	uint8_t digest[32];
	uint64_t ts;
	cx_err e;

	const char *sig = cx_http_req_header(req, "x-retell-signature");
	if (sig == NULL) {
		r->host->metric_add(r->host, "retell_webhook_rejected_total", 1);
		return (answer(resp, 401, "missing x-retell-signature"));
	}
	if (!retell_sig_parse(sig, &ts, digest)) {
		r->host->metric_add(r->host, "retell_webhook_rejected_total", 1);
		return (answer(resp, 401, "malformed x-retell-signature"));
	}
	retell_cfg_get(r, &cfg);
	int64_t skew = now_ms() - (int64_t) ts;
	if (skew > cfg.tolerance_ms || skew < -cfg.tolerance_ms) {
		explicit_bzero(cfg.api_key, sizeof(cfg.api_key));
		r->host->log(r->host, CX_LOG_WARN, "retell: webhook signed "
		    "%lld ms away from now; rejected as stale", (long long) skew);
		r->host->metric_add(r->host, "retell_webhook_rejected_total", 1);
		return (answer(resp, 401, "stale x-retell-signature"));
	}
	cx_err pe = retell_event_parse(req->body, req->body_len, &root, &info,
	    perr, sizeof(perr));
	e = key_for(r, &cfg, info.cx_call_id, key, sizeof(key));
	explicit_bzero(cfg.api_key, sizeof(cfg.api_key));
	if (e != CX_OK) {
		sodium_memzero(key, sizeof(key));
		json_decref(root);
		r->host->log(r->host, CX_LOG_WARN, "retell: cannot get the key "
		    "for call %s: %s", info.cx_call_id, cx_strerror(e));
		return (answer(resp, 503, "cannot verify now; retry"));
	}
	bool ok = retell_sig_check(key, req->body, req->body_len, ts, digest);
	sodium_memzero(key, sizeof(key));
	if (!ok) {
		json_decref(root);
		r->host->log(r->host, CX_LOG_WARN, "retell: webhook with a bad "
		    "signature rejected");
		r->host->metric_add(r->host, "retell_webhook_rejected_total", 1);
		return (answer(resp, 401, "bad x-retell-signature"));
	}
	if (pe != CX_OK) {
		r->host->log(r->host, CX_LOG_WARN, "retell: signed webhook "
		    "rejected: %s", perr);
		return (answer(resp, 400, perr));
	}
	if (!retell_event_known(info.event)) {
		/* transcript_updated, transfer_*: verified but not part of
		 * the call's record; acknowledge so Retell stops. */
		json_decref(root);
		return (answer(resp, 204, NULL));
	}
	json_t *ev = retell_event_build(root, &info, r->host->name);
	json_decref(root);
	if (ev == NULL) {
		r->host->log(r->host, CX_LOG_ERROR, "retell: %s of %s cannot be "
		    "sent to the core (out of memory, or its analysis alone is "
		    "over %u bytes)", info.event, info.call_id, RT_EVENT_MAX);
		return (answer(resp, 500, "event not forwarded"));
	}
	json_t *rep = NULL;
	e = r->host->call(r->host, CX_SVC_CORE, CX_SVC_CALL_EVENT, NULL, ev,
	    RT_CORE_TIMEOUT_MS, &rep);
	json_decref(rep);
	if (e != CX_OK) {
		r->host->log(r->host, CX_LOG_WARN, "retell: core did not store "
		    "%s of %s: %s; Retell will retry", info.event, info.call_id,
		    cx_strerror(e));
		return (answer(resp, 503, "event not stored; retry"));
	}
	r->host->metric_add(r->host, "retell_webhook_events_total", 1);
	if (strcmp(info.event, "call_started") != 0 &&
	    info.recording_url[0] != '\0' && info.want_recording) {
		e = retell_rec_enqueue(r, info.call_id, info.cx_call_id,
		    info.recording_url, info.duration_ms);
		if (e != CX_OK) {
			return (answer(resp, 500, "recording not queued; retry"));
		}
	}
	return (answer(resp, 204, NULL));
}
