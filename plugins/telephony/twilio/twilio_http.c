/*
 * twilio_http.c - one Twilio REST request, error mapping, credentials.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "twilio.h"

void
twilio_creds_wipe(twilio_creds *c)
{
	explicit_bzero(c, sizeof(*c));
}

/* Account SIDs go into URL paths: only letters and digits. */
static bool
sid_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > 64) {
		return (false);
	}
	for (; *s; s++) {
		if (!isalnum((unsigned char) *s)) {
			return (false);
		}
	}
	return (true);
}

static cx_err
creds_set(twilio_creds *c, const char *sid, const char *token)
{
	if (sid == NULL || token == NULL || token[0] == '\0' || !sid_ok(sid) ||
	    strlen(token) >= sizeof(c->token)) {
		return (CX_EINVAL);
	}
	snprintf(c->sid, sizeof(c->sid), "%s", sid);
	snprintf(c->token, sizeof(c->token), "%s", token);
	return (CX_OK);
}

cx_err
twilio_creds_from(const twilio *t, const json_t *data, twilio_creds *c,
    json_t **reply)
{
	const json_t *cr = json_object_get(data, "credentials");
	cx_err e;
	memset(c, 0, sizeof(*c));
	if (json_is_object(cr)) {
		e = creds_set(c, json_string_value(json_object_get(cr,
		    "account_sid")), json_string_value(json_object_get(cr,
		    "auth_token")));
		if (e != CX_OK && reply != NULL) {
			*reply = json_pack("{s:s}", "message", "twilio: the "
			    "account's credentials need account_sid (letters "
			    "and digits) and auth_token");
		}
		return (e);
	}
	e = creds_set(c, t->account_sid, t->auth_token);
	if (e != CX_OK && reply != NULL) {
		*reply = json_pack("{s:s}", "message", "twilio: no credentials: "
		    "set account_sid and auth_token, or store them in the "
		    "account's vault");
	}
	return (e);
}

cx_err
twilio_creds_for_call(const twilio *t, const char *call_id, twilio_creds *c)
{
	memset(c, 0, sizeof(*c));
	if (call_id != NULL && call_id[0] != '\0') {
		json_t *req = json_pack("{s:i, s:s, s:s}", "v",
		    CX_TELEPHONY_VERSION, "provider", t->host->name, "call_id",
		    call_id);
		json_t *rep = NULL;
		if (req == NULL) {
			return (CX_ENOMEM);
		}
		cx_err e = t->host->call(t->host, CX_SVC_CORE,
		    CX_SVC_CALL_CREDENTIALS, NULL, req, 10000, &rep);
		/* An unknown call has no vault entry: the settings apply. Any
		 * other failure must not silently fall back to them. */
		if (e != CX_OK && e != CX_ENOENT) {
			json_decref(rep);
			return (e);
		}
		const json_t *cr = e == CX_OK ?
		    json_object_get(rep, "credentials") : NULL;
		if (json_is_object(cr) && json_object_size(cr) > 0) {
			e = creds_set(c, json_string_value(json_object_get(cr,
			    "account_sid")), json_string_value(json_object_get(cr,
			    "auth_token")));
			json_decref(rep);
			return (e);
		}
		json_decref(rep);
	}
	return (creds_set(c, t->account_sid, t->auth_token));
}

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	twilio_resp *r = arg;
	size_t add = sz * n;
	/* REST answers are small; a runaway body is cut off. */
	if (r->len + add > 8u << 20) {
		return (0);
	}
	char *nb = realloc(r->body, r->len + add + 1);
	if (nb == NULL) {
		return (0);
	}
	memcpy(nb + r->len, p, add);
	r->body = nb;
	r->len += add;
	r->body[r->len] = '\0';
	return (add);
}

cx_err
twilio_http(const twilio *t, const twilio_creds *c, const char *method,
    const char *url, const char *form, long timeout_ms, FILE *sink,
    twilio_resp *r)
{
	(void) t;
	memset(r, 0, sizeof(*r));
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	if (h == NULL) {
		r->curl_code = CURLE_OUT_OF_MEMORY;
		return (CX_ENOMEM);
	}
	hdr = curl_slist_append(hdr, "Accept: application/json");
	if (form != NULL) {
		struct curl_slist *h2 = curl_slist_append(hdr,
		    "Content-Type: application/x-www-form-urlencoded");
		hdr = h2 ? h2 : hdr;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (form != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long) strlen(form));
	} else if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
	curl_easy_setopt(h, CURLOPT_USERNAME, c->sid);
	curl_easy_setopt(h, CURLOPT_PASSWORD, c->token);
	/* Media is served through a redirect; curl never sends the Basic
	 * credentials to another host (CURLOPT_UNRESTRICTED_AUTH is off). */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    timeout_ms < 10000 ? timeout_ms : 10000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "callixo-twilio/1.0");
	if (sink != NULL) {
		curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
	} else {
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	}
	CURLcode cc = curl_easy_perform(h);
	r->curl_code = (int) cc;
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	if (cc == CURLE_OK) {
		return (CX_OK);
	}
	/* No connection at all: Twilio never saw the request. Anything
	 * later (a timeout, a reset, an empty answer) may come after the
	 * call was created, so the dialer must reconcile before retrying. */
	if (cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_CONNECT ||
	    cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_URL_MALFORMAT ||
	    cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_OUT_OF_MEMORY) {
		return (CX_EIO);
	}
	return (CX_ETIMEDOUT);
}

void
twilio_resp_free(twilio_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

cx_err
twilio_http_error(const twilio *t, const char *op, const twilio_resp *r,
    cx_err transport, json_t **reply)
{
	char msg[512], logmsg[160];
	cx_err e;
	if (transport != CX_OK) {
		snprintf(msg, sizeof(msg), "twilio: %s: %s (%s)", op,
		    transport == CX_ETIMEDOUT ? "no answer in time" :
		                                "cannot reach the API",
		    curl_easy_strerror((CURLcode) r->curl_code));
		e = transport;
		snprintf(logmsg, sizeof(logmsg), "%s", msg);
	} else {
		json_t *j = r->body ? json_loads(r->body, 0, NULL) : NULL;
		json_int_t code = json_integer_value(json_object_get(j, "code"));
		const char *m = json_string_value(json_object_get(j, "message"));
		/* Twilio's message can quote the phone number: it goes to
		 * the dialer (the call's error), the log gets the code. */
		snprintf(logmsg, sizeof(logmsg), "twilio: %s: HTTP %ld, code "
		    "%lld", op, r->status, (long long) code);
		if (code != 0) {
			snprintf(msg, sizeof(msg), "twilio %lld: %s",
			    (long long) code, m ? m : "(no message)");
		} else {
			snprintf(msg, sizeof(msg), "twilio: %s: HTTP %ld", op,
			    r->status);
		}
		json_decref(j);
		e = r->status == 429 ? CX_EBUSY :
		    r->status >= 500 ? CX_EIO :
		    r->status == 404 ? CX_ENOENT :
		                       CX_EINVAL;
		/* A lookup or hangup of a call that is gone is "not found";
		 * a 404 on creating one means the account path is wrong. */
		if (e == CX_ENOENT && strcmp(op, "place call") == 0) {
			e = CX_EINVAL;
		}
	}
	t->host->log(t->host, e == CX_EINVAL || e == CX_ENOENT ? CX_LOG_WARN :
	                                                        CX_LOG_ERROR,
	    "%s", logmsg);
	if (reply != NULL) {
		json_decref(*reply);
		*reply = json_pack("{s:s}", "message", msg);
	}
	return (e);
}
