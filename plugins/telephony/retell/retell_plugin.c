/*
 * retell - outbound AI calls through Retell AI (kind telephony).
 *
 * Speaks the contract in callixo/telephony.h: the dialer's place,
 * lookup and hangup requests go to Retell's REST API (retell_api.c);
 * Retell's signed webhooks, posted to /webhooks/<instance name>, become
 * call.event requests to the core (retell_hook.c); recordings are
 * fetched on a worker thread and handed over as call.recording
 * (retell_rec.c).
 *
 * Operators point Retell at the webhook in Retell's dashboard (account
 * webhook URL, or the agent's webhook_url): <public_url>/webhooks/<name>.
 * Retell signs with the workspace's API key that has the webhook badge;
 * that is the api_key set here (or in the account's vault entry).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "retell.h"

static const cx_setting retell_settings[] = {
    CX_SETTING_SECRET("api_key", CX_SET_RELOADABLE,
        "Retell API key (the one with the webhook badge: it also checks "
        "x-retell-signature); the platform default when an account has "
        "no Retell entry in its vault. Never logged"),
    CX_SETTING_STR("api_base", CX_SET_RELOADABLE, "https://api.retellai.com",
        "Base URL of Retell's API, scheme://host[:port]"),
    CX_SETTING_STR("public_url", CX_SET_RELOADABLE, NULL,
        "Public base URL of this daemon, e.g. https://calls.example.com; "
        "set Retell's webhook URL (account or agent) to "
        "<public_url>/webhooks/<name>. Only logged at start"),
    CX_SETTING_DURATION("http_timeout", CX_SET_RELOADABLE, "30s", 100,
        600000, "Time limit of one request to Retell's API"),
    CX_SETTING_DURATION("signature_tolerance", CX_SET_RELOADABLE, "5m",
        1000, 3600000,
        "Largest accepted distance between a webhook's signed timestamp "
        "and now (Retell's SDK uses 5 minutes)"),
    CX_SETTING_DURATION("recording_backoff", CX_SET_RELOADABLE, "10s", 10,
        3600000, "Delay before the first retry of a recording download; "
                 "doubles per attempt, at most 10 minutes"),
    CX_SETTING_INT("recording_attempts", CX_SET_RELOADABLE, "12", 1, 1000,
        "Attempts at a recording before it is given up"),
    CX_SETTINGS_END,
};

static const char *
sget(const json_t *s, const char *k)
{
	const char *v = json_string_value(json_object_get(s, k));
	return (v ? v : "");
}

static bool
base_ok(const char *b)
{
	size_t n = strlen(b);
	return (n > 8 && n < RT_URL_MAX &&
	    (strncmp(b, "https://", 8) == 0 || strncmp(b, "http://", 7) == 0) &&
	    strpbrk(b, " ?#\r\n") == NULL);
}

static cx_err
retell_validate(const json_t *s, char *err, size_t errlen)
{
	if (!base_ok(sget(s, "api_base"))) {
		snprintf(err, errlen, "'api_base' must be an http(s) URL without "
		                      "query or fragment");
		return (CX_EINVAL);
	}
	const char *pu = sget(s, "public_url");
	if (pu[0] != '\0' && !base_ok(pu)) {
		snprintf(err, errlen, "'public_url' must be an http(s) URL");
		return (CX_EINVAL);
	}
	if (strlen(sget(s, "api_key")) >= RT_KEY_MAX) {
		snprintf(err, errlen, "'api_key' is too long");
		return (CX_EINVAL);
	}
	return (CX_OK);
}

static void
cfg_from(rt_cfg *c, const json_t *s)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->api_key, sizeof(c->api_key), "%s", sget(s, "api_key"));
	snprintf(c->api_base, sizeof(c->api_base), "%s", sget(s, "api_base"));
	size_t n = strlen(c->api_base);
	while (n > 0 && c->api_base[n - 1] == '/') {
		c->api_base[--n] = '\0';
	}
	snprintf(c->public_url, sizeof(c->public_url), "%s",
	    sget(s, "public_url"));
	c->http_timeout_ms = (long) json_integer_value(
	    json_object_get(s, "http_timeout"));
	c->tolerance_ms = json_integer_value(
	    json_object_get(s, "signature_tolerance"));
	c->rec_backoff_ms = json_integer_value(
	    json_object_get(s, "recording_backoff"));
	c->rec_max_attempts = (int) json_integer_value(
	    json_object_get(s, "recording_attempts"));
}

void
retell_cfg_get(retell *r, rt_cfg *out)
{
	pthread_mutex_lock(&r->mu);
	*out = r->cfg;
	pthread_mutex_unlock(&r->mu);
}

static cx_err
retell_serve(void *arg, const cx_msg *req, json_t **reply)
{
	retell *r = arg;
	if (strcmp(req->type, CX_SVC_CALL_PLACE) == 0) {
		return (retell_place(r, req->data, reply));
	}
	if (strcmp(req->type, CX_SVC_CALL_LOOKUP) == 0) {
		return (retell_lookup(r, req->data, reply));
	}
	if (strcmp(req->type, CX_SVC_CALL_HANGUP) == 0) {
		return (retell_hangup(r, req->data, reply));
	}
	*reply = json_pack("{s:s}", "message", "retell: unknown request type");
	return (CX_ENOTSUP);
}

static void
announce(retell *r)
{
	const rt_cfg *c = &r->cfg;
	if (c->public_url[0] != '\0') {
		r->host->log(r->host, CX_LOG_INFO, "retell: webhook URL to set "
		    "in Retell: %s/webhooks/%s", c->public_url, r->host->name);
	}
	if (c->api_key[0] == '\0') {
		r->host->log(r->host, CX_LOG_WARN, "retell: no api_key: only "
		    "accounts with a Retell vault entry can call, and webhooks "
		    "of other calls are rejected");
	}
}

static void retell_fini(void *state);

static cx_err
retell_init_all(retell *r, const cx_host *host, const json_t *settings)
{
	cx_err e;
	r->host = host;
	if (sodium_init() < 0) {
		return (CX_EINTERNAL);
	}
	if (pthread_mutex_init(&r->mu, NULL) != 0) {
		return (CX_ENOMEM);
	}
	r->mu_init = true;
	cfg_from(&r->cfg, settings);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		return (CX_EIO);
	}
	r->curl_inited = true;
	if ((e = retell_rec_open(r)) != CX_OK) {
		return (e);
	}
	if ((e = host->serve(host, retell_serve, r)) != CX_OK) {
		return (e);
	}
	if ((e = host->http_route(host, "POST", "/", retell_hook, r)) != CX_OK) {
		return (e);
	}
	announce(r);
	return (CX_OK);
}

/* The core calls fini only after a successful init: undo a partial one
 * here. */
static cx_err
retell_init(void *state, const cx_host *host, const json_t *settings)
{
	cx_err e = retell_init_all(state, host, settings);
	if (e != CX_OK) {
		retell_fini(state);
	}
	return (e);
}

static cx_err
retell_start(void *state)
{
	return (retell_rec_start(state));
}

static cx_err
retell_reconfigure(void *state, const json_t *settings)
{
	retell *r = state;
	rt_cfg c;
	cfg_from(&c, settings);
	pthread_mutex_lock(&r->mu);
	r->cfg = c;
	pthread_mutex_unlock(&r->mu);
	sodium_memzero(&c, sizeof(c));
	announce(r);
	retell_rec_kick(r);
	return (CX_OK);
}

static void
retell_stop(void *state)
{
	retell_rec_stop(state);
}

static void
retell_fini(void *state)
{
	retell *r = state;
	retell_rec_close(r);
	if (r->curl_inited) {
		curl_global_cleanup();
	}
	sodium_memzero(&r->cfg, sizeof(r->cfg));
	if (r->mu_init) {
		pthread_mutex_destroy(&r->mu);
	}
}

CX_PLUGIN_DEFINE(.kind = CX_KIND_TELEPHONY, .name = "retell",
    .version = "1.0.0",
    .summary = "Retell AI voice agents: outbound calls, signed webhooks, "
               "recordings",
    .settings = retell_settings, .state_size = sizeof(retell),
    .validate = retell_validate, .init = retell_init, .start = retell_start,
    .reconfigure = retell_reconfigure, .stop = retell_stop,
    .fini = retell_fini);
