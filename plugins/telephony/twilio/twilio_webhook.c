/*
 * twilio_webhook.c - the status and recording callbacks.
 *
 * Order of work for each request: parse the form (400 naming what is
 * wrong), find the auth token of the account the call was placed with,
 * check X-Twilio-Signature over the public URL (403, never processed),
 * build the event, hand it to the core and answer 2xx only once the core
 * has stored it (any failure: 503, so Twilio retries).
 */
#include <string.h>

#include "twilio.h"

#define TWILIO_CORE_TIMEOUT_MS 10000

static const char twiml_empty[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

static cx_err
reply_text(cx_http_resp *resp, uint16_t status, const char *msg)
{
	return (cx_http_resp_set(resp, status, "text/plain; charset=utf-8", msg,
	    strlen(msg)));
}

/* The URL Twilio requested: public_url + path + "?" + raw query. */
static char *
public_request_url(const twilio *t, const cx_http_req *req)
{
	twilio_buf b = {0};
	twilio_buf_str(&b, t->public_url);
	twilio_buf_str(&b, req->path);
	if (req->query != NULL && req->query[0] != '\0') {
		twilio_buf_str(&b, "?");
		twilio_buf_str(&b, req->query);
	}
	if (b.oom) {
		twilio_buf_free(&b);
		return (NULL);
	}
	return (b.s);
}

static bool
is_form(const cx_http_req *req)
{
	const char *ct = cx_http_req_header(req, "Content-Type");
	const char *want = "application/x-www-form-urlencoded";
	return (ct != NULL && strncasecmp(ct, want, strlen(want)) == 0 &&
	    (ct[strlen(want)] == '\0' || ct[strlen(want)] == ';'));
}

/* Checks the signature with the right account's token. CX_OK: valid;
 * CX_EDENIED: missing or forged; anything else: we could not tell. */
static cx_err
verify(twilio *t, const cx_http_req *req, const twilio_form *body,
    const char *call_id)
{
	const char *sig = cx_http_req_header(req, "X-Twilio-Signature");
	if (sig == NULL || sig[0] == '\0') {
		return (CX_EDENIED);
	}
	if (cx_http_req_header(req, "X-Twilio-Webhooks-Signature-Settings")) {
		/* HMAC-SHA256 "Webhook Rules" are not in any released SDK;
		 * only the classic signature is checked. */
		t->host->log(t->host, CX_LOG_WARN, "twilio: webhook signature "
		    "settings header present; only X-Twilio-Signature "
		    "(HMAC-SHA1) is supported");
	}
	twilio_creds c;
	cx_err e = twilio_creds_for_call(t, call_id, &c);
	if (e != CX_OK) {
		twilio_creds_wipe(&c);
		return (e == CX_EINVAL ? CX_EDENIED : e);
	}
	char *url = public_request_url(t, req);
	if (url == NULL) {
		twilio_creds_wipe(&c);
		return (CX_ENOMEM);
	}
	bool ok = twilio_sig_verify(c.token, url, body, sig);
	free(url);
	/* A valid signature from one account must not speak for a call of
	 * another: the posted AccountSid has to be the one we expect. */
	const char *acc = twilio_form_get(body, "AccountSid");
	if (ok && acc != NULL && strcmp(acc, c.sid) != 0) {
		ok = false;
	}
	twilio_creds_wipe(&c);
	return (ok ? CX_OK : CX_EDENIED);
}

/* Remembers AnsweredBy of a call, or recalls it into out (""). */
static void
amd_memory(twilio *t, const twilio_form *f, char *out, size_t outlen)
{
	const char *sid = twilio_form_get(f, "CallSid");
	const char *ab = twilio_form_get(f, "AnsweredBy");
	out[0] = '\0';
	if (!t->amd_mu_ok || sid == NULL || strlen(sid) >= 40) {
		return;
	}
	pthread_mutex_lock(&t->amd_mu);
	if (ab != NULL && ab[0] != '\0' && strlen(ab) < 24) {
		twilio_amd *a = &t->amd[t->amd_next++ % TWILIO_AMD_MEMORY];
		snprintf(a->call_sid, sizeof(a->call_sid), "%s", sid);
		snprintf(a->answered_by, sizeof(a->answered_by), "%s", ab);
	} else {
		for (size_t i = 0; i < TWILIO_AMD_MEMORY; i++) {
			if (strcmp(t->amd[i].call_sid, sid) == 0) {
				snprintf(out, outlen, "%s", t->amd[i].answered_by);
			}
		}
	}
	pthread_mutex_unlock(&t->amd_mu);
}

static cx_err
handle(twilio *t, const cx_http_req *req, cx_http_resp *resp,
    bool recording)
{
	twilio_form body = {0}, query = {0};
	char err[160];
	json_t *ev = NULL, *rep = NULL;
	cx_err e;
	if (!is_form(req)) {
		return (reply_text(resp, 415, "expected an "
		    "application/x-www-form-urlencoded body\n"));
	}
	if (!twilio_form_parse((const char *) req->body, req->body_len, &body,
	        err, sizeof(err)) ||
	    !twilio_form_parse(req->query ? req->query : "",
	        req->query ? strlen(req->query) : 0, &query, err,
	        sizeof(err))) {
		twilio_form_free(&body);
		char msg[200];
		snprintf(msg, sizeof(msg), "bad request: %s\n", err);
		return (reply_text(resp, 400, msg));
	}
	const char *call_id = twilio_form_get(&query, "cx_call");
	e = verify(t, req, &body, call_id);
	if (e == CX_EDENIED) {
		t->host->metric_add(t->host, "webhooks_forged_total", 1);
		t->host->log(t->host, CX_LOG_WARN, "twilio: %s callback with a "
		    "missing or wrong X-Twilio-Signature refused",
		    recording ? "recording" : "status");
		e = reply_text(resp, 403, "invalid X-Twilio-Signature\n");
		goto out;
	}
	if (e != CX_OK) {
		t->host->log(t->host, CX_LOG_ERROR, "twilio: cannot get the "
		    "call's credentials to check a callback: %s",
		    cx_strerror(e));
		e = reply_text(resp, 503, "try again later\n");
		goto out;
	}
	char ab[24] = "";
	amd_memory(t, &body, ab, sizeof(ab));
	twilio_ev_kind k = twilio_event_build(&body, recording, t->host->name,
	    call_id, ab[0] ? ab : NULL, &ev, err, sizeof(err));
	if (k == TWILIO_EV_BAD) {
		char msg[200];
		snprintf(msg, sizeof(msg), "bad request: %s\n", err);
		e = reply_text(resp, 400, msg);
		goto out;
	}
	if (k == TWILIO_EV_IGNORE) {
		/* Twilio may add statuses: acknowledge, store nothing. */
		t->host->log(t->host, CX_LOG_WARN, "twilio: %s; ignored", err);
		e = cx_http_resp_set(resp, 200, "text/xml", twiml_empty,
		    strlen(twiml_empty));
		goto out;
	}
	e = t->host->call(t->host, CX_SVC_CORE, CX_SVC_CALL_EVENT, NULL, ev,
	    TWILIO_CORE_TIMEOUT_MS, &rep);
	ev = NULL; /* stolen */
	if (e == CX_OK && k == TWILIO_EV_RECORDING &&
	    strcmp(twilio_form_get(&body, "RecordingStatus"), "completed") ==
	        0) {
		/* Queued durably before Twilio hears OK; a redelivery of an
		 * event the core already has (duplicate) queues nothing new. */
		e = twilio_rec_add(t, &body, call_id);
	}
	if (e != CX_OK) {
		t->host->log(t->host, CX_LOG_ERROR, "twilio: %s callback not "
		    "stored (%s); Twilio will retry",
		    recording ? "recording" : "status", cx_strerror(e));
		e = reply_text(resp, 503, "not stored; try again later\n");
		goto out;
	}
	t->host->metric_add(t->host, "webhooks_total", 1);
	e = cx_http_resp_set(resp, 200, "text/xml", twiml_empty,
	    strlen(twiml_empty));
out:
	json_decref(ev);
	json_decref(rep);
	twilio_form_free(&body);
	twilio_form_free(&query);
	return (e);
}

static cx_err
on_status(void *arg, const cx_http_req *req, cx_http_resp *resp)
{
	return (handle(arg, req, resp, false));
}

static cx_err
on_recording(void *arg, const cx_http_req *req, cx_http_resp *resp)
{
	return (handle(arg, req, resp, true));
}

cx_err
twilio_webhook_register(twilio *t)
{
	cx_err e = t->host->http_route(t->host, "POST", "/status", on_status,
	    t);
	if (e == CX_OK) {
		e = t->host->http_route(t->host, "POST", "/recording",
		    on_recording, t);
	}
	return (e);
}
