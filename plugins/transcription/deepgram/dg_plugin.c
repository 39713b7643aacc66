/*
 * deepgram - transcription of call recordings with Deepgram's
 * pre-recorded API (kind transcription, callixo/transcription.h).
 *
 * The core asks for a transcript when a call's provider gave none (Twilio):
 * CX_SVC_TRANSCRIBE names a plaintext copy of the recording on disk. The
 * plugin streams it to POST {api_base}/v1/listen and answers with the
 * transcript, the utterances (one per speaker turn, in milliseconds), the
 * summarize=v2 summary and Deepgram's request_id. The core waits on a
 * worker of its own, so the request is made inline.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "dg.h"

static const char *const dg_summarize_choices[] = {"v2", "none", NULL};

static const cx_setting dg_settings[] = {
    CX_SETTING_SECRET("api_key", CX_SET_RELOADABLE,
        "Deepgram API key, sent as 'Authorization: Token <key>'; the "
        "platform default: an account's vault entry {api_key} wins"),
    CX_SETTING_STR("api_base", CX_SET_RELOADABLE, "https://api.deepgram.com",
        "Base URL of the API, http(s)://host[:port][/path]; tests point "
        "it at a loopback fake"),
    CX_SETTING_STR("model", CX_SET_RELOADABLE, "nova-3",
        "Deepgram model, e.g. nova-3, nova-2, nova-2-phonecall"),
    CX_SETTING_STR("language", CX_SET_RELOADABLE, NULL,
        "BCP-47 language (en, en-US, de, multi) when the request names "
        "none; unset: Deepgram's default (English)"),
    CX_SETTING_BOOL("smart_format", CX_SET_RELOADABLE, "true",
        "Format numbers, dates and currency for reading"),
    CX_SETTING_BOOL("punctuate", CX_SET_RELOADABLE, "true",
        "Add punctuation and capitalisation"),
    CX_SETTING_BOOL("diarize", CX_SET_RELOADABLE, "true",
        "Tell speakers apart (utterances carry the speaker number)"),
    CX_SETTING_BOOL("utterances", CX_SET_RELOADABLE, "true",
        "Split the transcript into utterances with speaker and times"),
    CX_SETTING_ENUM("summarize", CX_SET_RELOADABLE, "v2",
        dg_summarize_choices,
        "v2: ask for a short summary (English audio only; other "
        "languages get none), none: no summary"),
    CX_SETTING_BOOL("mip_opt_out", CX_SET_RELOADABLE, "true",
        "Send mip_opt_out=true: Deepgram keeps neither the call audio nor "
        "the transcript for model training (and, on a regional api_base, "
        "keeps processing in that region); false joins its Model "
        "Improvement Program"),
    CX_SETTING_DURATION("http_timeout", CX_SET_RELOADABLE, "110s", 1000,
        CX_TRANSCRIBE_TIMEOUT_MS - 1000,
        "Time limit of one request, upload included; below the core's "
        "wait (CX_TRANSCRIBE_TIMEOUT_MS) so the core gets a clear timeout"),
    CX_SETTING_INT("max_bytes", CX_SET_RELOADABLE, DG_MAX_BYTES_DEFAULT, 1,
        2147483648LL,
        "Largest recording sent; a larger one is refused (Deepgram's "
        "limit is 2 GB)"),
    CX_SETTING_INT("max_concurrent", CX_SET_RELOADABLE, "50", 1, 10000,
        "Requests in flight at once; beyond it the answer is busy "
        "(Deepgram limits concurrency per project)"),
    CX_SETTINGS_END,
};

static const char *
str_of(const json_t *s, const char *k)
{
	return (json_string_value(json_object_get(s, k)));
}

/* scheme://host[:port][/path]: no user-info (the key must go only in
 * the header), no query or fragment (we build the query). */
static bool
base_ok(const char *b)
{
	const char *h = strncmp(b, "https://", 8) == 0 ? b + 8 :
	    strncmp(b, "http://", 7) == 0              ? b + 7 :
	                                                 NULL;
	if (h == NULL || *h == '\0' || *h == '/' || strlen(b) > 512) {
		return (false);
	}
	for (; *h; h++) {
		if (!isalnum((unsigned char) *h) && !strchr(".-:[]/_~%", *h)) {
			return (false);
		}
	}
	return (true);
}

static bool
word_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);
	if (n == 0 || n > max) {
		return (false);
	}
	for (; *s; s++) {
		if (!isalnum((unsigned char) *s) && !strchr(extra, *s)) {
			return (false);
		}
	}
	return (true);
}

/* Keys go into a header line: visible ASCII only, so nothing can split
 * the header or smuggle another one. */
static bool
key_ok(const char *k)
{
	if (k[0] == '\0' || strlen(k) > 512) {
		return (false);
	}
	for (; *k; k++) {
		if (*k <= 0x20 || *k >= 0x7f) {
			return (false);
		}
	}
	return (true);
}

static cx_err
dg_validate(const json_t *s, char *err, size_t errlen)
{
	const char *base = str_of(s, "api_base");
	const char *model = str_of(s, "model");
	const char *lang = str_of(s, "language");
	const char *key = str_of(s, "api_key");
	if (base == NULL || !base_ok(base)) {
		snprintf(err, errlen, "'api_base' must be http(s)://host[:port]"
		                      "[/path] without user, query or fragment");
		return (CX_EINVAL);
	}
	if (model == NULL || !word_ok(model, 64, "-_.:")) {
		snprintf(err, errlen, "'model' must be a model name like nova-3");
		return (CX_EINVAL);
	}
	if (lang != NULL && !word_ok(lang, 35, "-")) {
		snprintf(err, errlen, "'language' must be a BCP-47 tag like en "
		                      "or en-US");
		return (CX_EINVAL);
	}
	if (key != NULL && !key_ok(key)) {
		snprintf(err, errlen, "'api_key' must be printable ASCII without "
		                      "spaces");
		return (CX_EINVAL);
	}
	return (CX_OK);
}

static void
conf_put(dg_conf *c)
{
	if (c == NULL || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) > 0) {
		return;
	}
	if (c->api_key != NULL) {
		explicit_bzero(c->api_key, strlen(c->api_key));
	}
	free(c->api_key);
	free(c->api_base);
	free(c->model);
	free(c->language);
	free(c);
}

static dg_conf *
conf_get(dg *d)
{
	pthread_mutex_lock(&d->mu);
	dg_conf *c = d->conf;
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&d->mu);
	return (c);
}

static dg_conf *
conf_new(const json_t *s)
{
	dg_conf *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return (NULL);
	}
	c->refs = 1;
	const char *key = str_of(s, "api_key");
	const char *lang = str_of(s, "language");
	c->api_base = strdup(str_of(s, "api_base"));
	c->model = strdup(str_of(s, "model"));
	c->api_key = key && key[0] ? strdup(key) : NULL;
	c->language = lang ? strdup(lang) : NULL;
	if (c->api_base == NULL || c->model == NULL ||
	    (key && key[0] && c->api_key == NULL) ||
	    (lang && c->language == NULL)) {
		conf_put(c);
		return (NULL);
	}
	size_t n = strlen(c->api_base);
	while (n > 0 && c->api_base[n - 1] == '/') {
		c->api_base[--n] = '\0';
	}
	c->smart_format = json_is_true(json_object_get(s, "smart_format"));
	c->punctuate = json_is_true(json_object_get(s, "punctuate"));
	c->diarize = json_is_true(json_object_get(s, "diarize"));
	c->utterances = json_is_true(json_object_get(s, "utterances"));
	c->mip_opt_out = json_is_true(json_object_get(s, "mip_opt_out"));
	c->summarize = strcmp(str_of(s, "summarize"), "v2") == 0;
	c->timeout_ms = (long) json_integer_value(json_object_get(s,
	    "http_timeout"));
	c->max_bytes = json_integer_value(json_object_get(s, "max_bytes"));
	c->max_concurrent = (int) json_integer_value(json_object_get(s,
	    "max_concurrent"));
	return (c);
}

static void
conf_notes(dg *d, const dg_conf *c)
{
	if (c->api_key == NULL) {
		d->host->log(d->host, CX_LOG_WARN, "deepgram: no api_key set: "
		    "only accounts with a Deepgram vault entry can be "
		    "transcribed");
	}
	if (strncmp(c->api_base, "http://", 7) == 0) {
		d->host->log(d->host, CX_LOG_WARN, "deepgram: api_base %s is "
		    "plain HTTP: the key and the audio travel in the clear; use "
		    "it only for tests", c->api_base);
	}
}

/* summarize=v2 is English only: Deepgram refuses the whole request
 * (400) when it is combined with another language, so it is asked for
 * only when the audio is English or Deepgram's default (English). */
static bool
lang_english(const char *lang)
{
	return (lang == NULL || strcasecmp(lang, "en") == 0 ||
	    strncasecmp(lang, "en-", 3) == 0);
}

static bool
content_type_ok(const char *ct)
{
	size_t n = strlen(ct);
	if (n < 3 || n > 127 || strchr(ct, '/') == NULL) {
		return (false);
	}
	for (; *ct; ct++) {
		if (*ct < 0x20 || *ct >= 0x7f) {
			return (false);
		}
	}
	return (true);
}

static cx_err
fail(json_t **reply, cx_err e, const char *msg)
{
	*reply = json_pack("{s:s}", "message", msg);
	return (e);
}

/* Checks the request and fills the job; `c` gives the fallbacks. */
static cx_err
job_from(const json_t *data, const dg_conf *c, dg_job *j, char *msg,
    size_t msglen)
{
	const json_t *cred = json_object_get(data, "credentials");
	const char *ckey = str_of(cred, "api_key");
	j->call_id = str_of(data, "call_id") ? str_of(data, "call_id") : "";
	j->path = str_of(data, "path");
	j->content_type = str_of(data, "content_type");
	j->language = str_of(data, "language");
	if (j->path == NULL || j->path[0] != '/') {
		snprintf(msg, msglen, "'path' must be an absolute file path");
		return (CX_EINVAL);
	}
	if (j->content_type == NULL || j->content_type[0] == '\0') {
		j->content_type = "application/octet-stream";
	} else if (!content_type_ok(j->content_type)) {
		snprintf(msg, msglen, "'content_type' is not a media type");
		return (CX_EINVAL);
	}
	if (j->language == NULL || j->language[0] == '\0') {
		j->language = c->language;
	} else if (!word_ok(j->language, 35, "-")) {
		snprintf(msg, msglen, "'language' is not a BCP-47 tag");
		return (CX_EINVAL);
	}
	j->api_key = ckey != NULL && ckey[0] != '\0' ? ckey : c->api_key;
	if (j->api_key == NULL) {
		snprintf(msg, msglen, "no Deepgram api_key: neither the "
		                      "account's vault entry nor the plugin "
		                      "settings have one");
		return (CX_EDENIED);
	}
	if (!key_ok(j->api_key)) {
		snprintf(msg, msglen, "the Deepgram api_key has characters a key "
		                      "cannot have");
		return (CX_EDENIED);
	}
	j->summarize = c->summarize && lang_english(j->language);
	return (CX_OK);
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return ((t1.tv_sec - t0->tv_sec) * 1000L +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000L);
}

/* One exchange with Deepgram, its outcome turned into the reply. */
static cx_err
transcribe(dg *d, const dg_conf *c, const dg_job *j, json_t **reply,
    char *msg, size_t msglen)
{
	dg_resp r;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cx_err e = dg_http_transcribe(c, j, &r, msg, msglen);
	if (e != CX_OK) {
		return (e);
	}
	d->host->metric_add(d->host, "deepgram_audio_bytes_total",
	    (int64_t) r.sent);
	if (r.status < 200 || r.status > 299) {
		char detail[DG_MSG_MAX];
		dg_parse_error(r.body, r.len, detail, sizeof(detail));
		snprintf(msg, msglen, "Deepgram answered HTTP %ld: %s", r.status,
		    detail);
		dg_resp_free(&r);
		return (dg_http_status_err(r.status));
	}
	char why[DG_MSG_MAX];
	e = dg_parse_result(r.body, r.len, c->utterances, j->summarize, reply,
	    why, sizeof(why));
	dg_resp_free(&r);
	if (e != CX_OK) {
		snprintf(msg, msglen, "Deepgram's answer is unusable: %s",
		    e == CX_ENOMEM ? "out of memory" : why);
		return (e);
	}
	const char *rid = str_of(*reply, "request_id");
	size_t nutt = json_array_size(json_object_get(json_object_get(*reply,
	    "transcript"), "utterances"));
	if (j->summarize && json_is_null(json_object_get(*reply, "summary"))) {
		d->host->log(d->host, CX_LOG_WARN, "deepgram: call %s: no "
		    "summary (%s), request_id %s", j->call_id, why, rid);
	}
	d->host->log(d->host, CX_LOG_INFO, "deepgram: call %s transcribed: "
	    "%zu utterances, request_id %s, %ld ms", j->call_id, nutt, rid,
	    ms_since(&t0));
	return (CX_OK);
}

static cx_err
dg_serve(void *arg, const cx_msg *req, json_t **reply)
{
	dg *d = arg;
	char msg[DG_MSG_MAX];
	if (strcmp(req->type, CX_SVC_TRANSCRIBE) != 0) {
		snprintf(msg, sizeof(msg), "unknown request type '%.64s'",
		    req->type);
		return (fail(reply, CX_ENOTSUP, msg));
	}
	dg_conf *c = conf_get(d);
	dg_job j = {0};
	cx_err e = job_from(req->data, c, &j, msg, sizeof(msg));
	if (e == CX_OK) {
		int n = __atomic_add_fetch(&d->in_flight, 1, __ATOMIC_ACQ_REL);
		if (n > c->max_concurrent) {
			snprintf(msg, sizeof(msg), "%d transcriptions already in "
			    "flight (max_concurrent)", n - 1);
			e = CX_EBUSY;
		} else {
			d->host->metric_add(d->host, "deepgram_requests_total", 1);
			e = transcribe(d, c, &j, reply, msg, sizeof(msg));
		}
		__atomic_sub_fetch(&d->in_flight, 1, __ATOMIC_ACQ_REL);
	}
	if (e != CX_OK) {
		d->host->metric_add(d->host, "deepgram_failures_total", 1);
		d->host->log(d->host, e == CX_EBUSY ? CX_LOG_WARN : CX_LOG_ERROR,
		    "deepgram: call %s: %s (%s)", j.call_id ? j.call_id : "",
		    msg, cx_strerror(e));
		json_decref(*reply);
		*reply = NULL;
		fail(reply, e, msg);
	}
	conf_put(c);
	return (e);
}

static void
dg_fini(void *state)
{
	dg *d = state;
	conf_put(d->conf);
	d->conf = NULL;
	if (d->curl_inited) {
		curl_global_cleanup();
	}
	if (d->mu_inited) {
		pthread_mutex_destroy(&d->mu);
	}
	memset(d, 0, sizeof(*d));
}

static cx_err
dg_init(void *state, const cx_host *h, const json_t *s)
{
	dg *d = state;
	d->host = h;
	char err[256];
	cx_err e = dg_validate(s, err, sizeof(err));
	if (e != CX_OK) {
		h->log(h, CX_LOG_ERROR, "deepgram: %s", err);
		return (e);
	}
	if (pthread_mutex_init(&d->mu, NULL) != 0) {
		return (CX_ENOMEM);
	}
	d->mu_inited = true;
	/* Reference counted since curl 7.84: one per instance keeps the
	 * plugin free of globals. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		h->log(h, CX_LOG_ERROR, "deepgram: curl_global_init failed");
		dg_fini(d);
		return (CX_EIO);
	}
	d->curl_inited = true;
	if ((d->conf = conf_new(s)) == NULL) {
		dg_fini(d);
		return (CX_ENOMEM);
	}
	conf_notes(d, d->conf);
	if ((e = h->serve(h, dg_serve, d)) != CX_OK) {
		h->log(h, CX_LOG_ERROR, "deepgram: cannot serve requests: %s",
		    cx_strerror(e));
		dg_fini(d);
		return (e);
	}
	h->log(h, CX_LOG_INFO, "deepgram: model %s at %s", d->conf->model,
	    d->conf->api_base);
	return (CX_OK);
}

static cx_err
dg_reconfigure(void *state, const json_t *s)
{
	dg *d = state;
	char err[256];
	if (dg_validate(s, err, sizeof(err)) != CX_OK) {
		d->host->log(d->host, CX_LOG_ERROR, "deepgram: %s", err);
		return (CX_ECONFIG);
	}
	dg_conf *c = conf_new(s);
	if (c == NULL) {
		return (CX_ENOMEM);
	}
	conf_notes(d, c);
	pthread_mutex_lock(&d->mu);
	dg_conf *old = d->conf;
	d->conf = c;
	pthread_mutex_unlock(&d->mu);
	conf_put(old); /* requests in flight keep theirs */
	d->host->log(d->host, CX_LOG_INFO, "deepgram: settings reloaded "
	    "(model %s at %s)", c->model, c->api_base);
	return (CX_OK);
}

CX_PLUGIN_DEFINE(.kind = CX_KIND_TRANSCRIPTION, .name = "deepgram",
    .version = "1.0.0",
    .summary = "Transcripts and summaries of recordings with Deepgram",
    .settings = dg_settings, .state_size = sizeof(dg),
    .validate = dg_validate, .init = dg_init,
    .reconfigure = dg_reconfigure, .fini = dg_fini);
