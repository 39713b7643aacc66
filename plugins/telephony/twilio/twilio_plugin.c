/*
 * twilio - outbound calls through Twilio Programmable Voice.
 *
 * The core's dialer asks for calls over the bus (callixo/telephony.h);
 * Twilio reports their progress to /webhooks/<name>/status and
 * /recording, signed with the account's auth token. Credentials come
 * from the account's vault entry when the dialer passes one, else from
 * these settings (the platform default).
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "twilio.h"

static const char *const twilio_amd_modes[] = {"Enable", "DetectMessageEnd",
    NULL};
static const char *const twilio_formats[] = {"wav", "mp3", NULL};

static const cx_setting twilio_settings[] = {
    CX_SETTING_STR("account_sid", 0, NULL,
        "Account SID (AC...) used when the account has no Twilio "
        "credentials in its vault"),
    CX_SETTING_SECRET("auth_token", 0,
        "Auth token of account_sid: signs REST calls and checks webhook "
        "signatures; never logged"),
    CX_SETTING_STR("api_base", 0, "https://api.twilio.com",
        "Base URL of the Twilio REST API (tests point it at a fake)"),
    CX_SETTING_STR("public_url", CX_SET_REQUIRED, NULL,
        "Base URL at which Twilio reaches this daemon, e.g. "
        "https://calls.example.com; callbacks go to "
        "<public_url>/webhooks/<name>/status and /recording"),
    CX_SETTING_DURATION("http_timeout", 0, "10s", 100, 120000,
        "Time limit of one REST request (downloads get 30 times more)"),
    CX_SETTING_ENUM("machine_detection", 0, "Enable", twilio_amd_modes,
        "Answering machine detection for calls that ask for it; "
        "DetectMessageEnd is always used to leave a voicemail message"),
    CX_SETTING_BOOL("delete_recordings", 0, "false",
        "Delete each recording at Twilio once the core has stored it"),
    CX_SETTING_ENUM("recording_format", 0, "wav", twilio_formats,
        "Format recordings are downloaded in (audio/wav or audio/mpeg)"),
    CX_SETTING_DURATION("retry_backoff", 0, "5s", 10, 600000,
        "Delay before the first retry of a failed recording download; "
        "doubles each time, at most one hour"),
    CX_SETTING_INT("max_attempts", 0, "20", 1, 1000,
        "Attempts at downloading (and deleting) one recording before "
        "giving up"),
    CX_SETTINGS_END,
};

static const char *
str_of(const json_t *s, const char *k)
{
	return (json_string_value(json_object_get(s, k)));
}

/* scheme://host[:port][/path], no query, fragment or user-info. */
static bool
base_url_ok(const char *u)
{
	const char *h = strncmp(u, "https://", 8) == 0 ? u + 8 :
	    strncmp(u, "http://", 7) == 0               ? u + 7 :
	                                                  NULL;
	return (h != NULL && *h != '\0' && *h != '/' && strlen(u) < 512 &&
	    strpbrk(u, "?#@ \t\r\n") == NULL);
}

static cx_err
twilio_validate(const json_t *s, char *err, size_t errlen)
{
	const char *sid = str_of(s, "account_sid");
	const char *tok = str_of(s, "auth_token");
	const char *api = str_of(s, "api_base");
	const char *pub = str_of(s, "public_url");
	if ((sid == NULL) != (tok == NULL)) {
		snprintf(err, errlen, "'account_sid' and 'auth_token' go "
		                      "together: set both or neither");
		return (CX_EINVAL);
	}
	/* Twilio's SIDs are AC + 32 hex digits; any letters and digits are
	 * let through (test and benchmark accounts): the SID goes into URL
	 * paths, so that is what matters. */
	if (sid != NULL && (strlen(sid) < 3 || strlen(sid) > 64 ||
	                       strncmp(sid, "AC", 2) != 0 ||
	                       strspn(sid, "0123456789abcdefghijklmnopqrstuvwxyz"
	                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ") !=
	                           strlen(sid))) {
		snprintf(err, errlen, "'account_sid' must be AC followed by "
		                      "letters and digits (AC + 32 hex digits)");
		return (CX_EINVAL);
	}
	if (api == NULL || !base_url_ok(api)) {
		snprintf(err, errlen, "'api_base' must be an http(s) URL "
		                      "without query or user-info");
		return (CX_EINVAL);
	}
	if (pub == NULL || !base_url_ok(pub)) {
		snprintf(err, errlen, "'public_url' must be an http(s) URL "
		                      "without query or user-info");
		return (CX_EINVAL);
	}
	return (CX_OK);
}

static char *
dup_base(const char *s)
{
	char *d = strdup(s);
	size_t n = d ? strlen(d) : 0;
	while (n > 0 && d[n - 1] == '/') {
		d[--n] = '\0';
	}
	return (d);
}

static void
twilio_fini(void *state)
{
	twilio *t = state;
	twilio_rec_stop(t);
	if (t->amd_mu_ok) {
		pthread_mutex_destroy(&t->amd_mu);
	}
	if (t->curl_inited) {
		curl_global_cleanup();
	}
	if (t->auth_token != NULL) {
		explicit_bzero(t->auth_token, strlen(t->auth_token));
	}
	free(t->auth_token);
	free(t->account_sid);
	free(t->api_base);
	free(t->public_url);
	memset(t, 0, sizeof(*t));
}

static cx_err
twilio_serve(void *arg, const cx_msg *req, json_t **reply)
{
	twilio *t = arg;
	if (!json_is_object(req->data)) {
		return (CX_EINVAL);
	}
	if (strcmp(req->type, CX_SVC_CALL_PLACE) == 0) {
		return (twilio_place(t, req->data, reply));
	}
	if (strcmp(req->type, CX_SVC_CALL_LOOKUP) == 0) {
		return (twilio_lookup(t, req->data, reply));
	}
	if (strcmp(req->type, CX_SVC_CALL_HANGUP) == 0) {
		return (twilio_hangup(t, req->data, reply));
	}
	return (CX_ENOTSUP);
}

static cx_err
load(twilio *t, const json_t *st)
{
	const char *sid = str_of(st, "account_sid");
	const char *tok = str_of(st, "auth_token");
	t->api_base = dup_base(str_of(st, "api_base"));
	t->public_url = dup_base(str_of(st, "public_url"));
	t->account_sid = sid ? strdup(sid) : NULL;
	t->auth_token = tok ? strdup(tok) : NULL;
	if (t->api_base == NULL || t->public_url == NULL ||
	    (sid != NULL && t->account_sid == NULL) ||
	    (tok != NULL && t->auth_token == NULL)) {
		return (CX_ENOMEM);
	}
	t->http_timeout_ms = (long) json_integer_value(json_object_get(st,
	    "http_timeout"));
	snprintf(t->machine_detection, sizeof(t->machine_detection), "%s",
	    str_of(st, "machine_detection"));
	t->delete_recordings = json_is_true(json_object_get(st,
	    "delete_recordings"));
	t->mp3 = strcmp(str_of(st, "recording_format"), "mp3") == 0;
	t->retry_backoff_ms = (long) json_integer_value(json_object_get(st,
	    "retry_backoff"));
	t->max_attempts = (int) json_integer_value(json_object_get(st,
	    "max_attempts"));
	return (CX_OK);
}

static cx_err
twilio_init(void *state, const cx_host *h, const json_t *st)
{
	twilio *t = state;
	char err[256];
	t->host = h;
	cx_err e = twilio_validate(st, err, sizeof(err));
	if (e != CX_OK) {
		h->log(h, CX_LOG_ERROR, "twilio: %s", err);
		return (e);
	}
	e = load(t, st);
	t->amd_mu_ok = e == CX_OK && pthread_mutex_init(&t->amd_mu, NULL) == 0;
	/* Reference counted and thread safe since curl 7.84. */
	if (e == CX_OK && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		e = CX_EIO;
	}
	t->curl_inited = e == CX_OK;
	if (e == CX_OK && t->account_sid == NULL) {
		h->log(h, CX_LOG_INFO, "twilio: no platform credentials; only "
		    "accounts with Twilio credentials in their vault can call");
	}
	if (e == CX_OK && strncmp(t->public_url, "http://", 7) == 0) {
		h->log(h, CX_LOG_WARN, "twilio: public_url %s is plain HTTP; "
		    "Twilio should reach you over HTTPS", t->public_url);
	}
	if (e == CX_OK) {
		e = twilio_rec_start(t);
	}
	if (e == CX_OK) {
		e = twilio_webhook_register(t);
	}
	if (e == CX_OK) {
		e = h->serve(h, twilio_serve, t);
	}
	if (e != CX_OK) {
		twilio_fini(t);
	}
	return (e);
}

static void
twilio_stop(void *state)
{
	/* No download may call into the core after stop. Webhooks that
	 * still arrive only queue work in the file. */
	twilio_rec_halt(state);
}

CX_PLUGIN_DEFINE(.kind = CX_KIND_TELEPHONY, .name = "twilio",
    .version = "1.0.0",
    .summary = "Outbound calls through Twilio Programmable Voice",
    .settings = twilio_settings, .state_size = sizeof(twilio),
    .validate = twilio_validate, .init = twilio_init, .stop = twilio_stop,
    .fini = twilio_fini);
