/*
 * api_http.c - the /v1 request framework: strict JSON bodies, JSON
 * errors, the client address, cookies, and the auth middleware with its
 * CSRF check (security.md S-1..S-3, S-11, X-1).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api_int.h"
#include "log.h"

/* Every /v1 answer may carry account data: never cache any (S-11). */
static void
no_store(cxi_actx *c)
{
	for (size_t i = 0; i < c->resp->n_headers; i++) {
		if (strcasecmp(c->resp->headers[i].name, "Cache-Control") == 0) {
			return;
		}
	}
	cxi_api_header(c, "Cache-Control", "no-store");
}

void
cxi_api_header(cxi_actx *c, const char *name, const char *value)
{
	if (cx_http_resp_header(c->resp, name, value) != CX_OK) {
		/* Only our own fixed headers go here; the table has room
		 * for all of them. */
		cxi_error("api", "response header %s does not fit", name);
	}
}

void
cxi_api_error(cxi_actx *c, uint16_t status, const char *code,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cxi_http_error(c->resp, status, code, msg);
	no_store(c);
}

void
cxi_api_reply(cxi_actx *c, uint16_t status, json_t *body)
{
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL || cx_http_resp_set(c->resp, status,
	                        "application/json", text, strlen(text)) !=
	                        CX_OK) {
		free(text);
		cxi_api_error(c, 500, "internal", "out of memory");
		return;
	}
	free(text);
	no_store(c);
}

/* X-Real-IP, else the first X-Forwarded-For entry (the daemon sits behind
 * a proxy, and nng does not give us the peer). Only address characters
 * are kept, so the value is safe in a log line. */
static void
client_ip(const cx_http_req *req, char *out, size_t len)
{
	const char *v = cx_http_req_header(req, "X-Real-IP");
	if (v == NULL || *v == '\0') {
		v = cx_http_req_header(req, "X-Forwarded-For");
	}
	snprintf(out, len, "unknown");
	if (v == NULL) {
		return;
	}
	while (*v == ' ' || *v == '\t') {
		v++;
	}
	size_t n = strspn(v, "0123456789abcdefABCDEF.:");
	if (n == 0 || n >= len || (v[n] != '\0' && v[n] != ',' &&
	                              v[n] != ' ' && v[n] != '\t')) {
		return;
	}
	memcpy(out, v, n);
	out[n] = '\0';
}

/* The value of cookie `name` when it is a well-formed token; "" else. */
static void
cookie_token(const cx_http_req *req, const char *name,
    char out[CXI_SESSION_TOKEN_LEN + 1])
{
	const char *h = cx_http_req_header(req, "Cookie");
	size_t nl = strlen(name);
	out[0] = '\0';
	while (h != NULL && *h != '\0') {
		while (*h == ' ' || *h == ';') {
			h++;
		}
		size_t seg = strcspn(h, ";");
		if (seg > nl && strncmp(h, name, nl) == 0 && h[nl] == '=') {
			const char *v = h + nl + 1;
			size_t vl = seg - nl - 1;
			while (vl > 0 && v[vl - 1] == ' ') {
				vl--;
			}
			if (vl == CXI_SESSION_TOKEN_LEN) {
				memcpy(out, v, vl);
				out[vl] = '\0';
			}
			return;
		}
		h += seg;
	}
}

void
cxi_api_ctx_init(cxi_actx *c, cxi_api *api, const cx_http_req *req,
    cx_http_resp *resp)
{
	memset(c, 0, sizeof(*c));
	c->api = api;
	c->req = req;
	c->resp = resp;
	client_ip(req, c->ip, sizeof(c->ip));
	cookie_token(req, api->cookie_name, c->token);
}

void
cxi_api_ctx_done(cxi_actx *c)
{
	json_decref(c->body);
	c->body = NULL;
	if (c->authed) {
		free(c->sess.data);
		c->sess.data = NULL;
	}
	explicit_bzero(c->token, sizeof(c->token));
}

static bool
is_json_ct(const char *ct)
{
	static const char want[] = "application/json";
	if (ct == NULL || strncasecmp(ct, want, sizeof(want) - 1) != 0) {
		return (false);
	}
	char next = ct[sizeof(want) - 1];
	return (next == '\0' || next == ';' || next == ' ');
}

static const char *
type_name(cxi_aftype t)
{
	switch (t) {
	case CXI_AF_STR:
		return ("a string");
	case CXI_AF_STR_NULL:
		return ("a string or null");
	case CXI_AF_BOOL:
		return ("true or false");
	case CXI_AF_OBJECT:
		return ("an object");
	case CXI_AF_ARRAY:
		return ("a list");
	}
	return ("?");
}

static bool
check_fields(cxi_actx *c, const cxi_afield *fields)
{
	const char *key;
	json_t *v;
	json_object_foreach (c->body, key, v) {
		const cxi_afield *f = fields;
		while (f->name != NULL && strcmp(f->name, key) != 0) {
			f++;
		}
		if (f->name == NULL) {
			/* The name is client text: show it only when it is
			 * short plain ASCII. */
			bool plain = strlen(key) <= 64;
			for (const char *p = key; plain && *p; p++) {
				plain = isalnum((unsigned char) *p) ||
				    *p == '_' || *p == '-';
			}
			cxi_api_error(c, 400, "unknown_field",
			    "unknown field '%s'", plain ? key : "(unprintable)");
			return (false);
		}
	}
	for (const cxi_afield *f = fields; f->name != NULL; f++) {
		v = json_object_get(c->body, f->name);
		if (v == NULL) {
			if (f->required) {
				cxi_api_error(c, 400, "missing_field",
				    "missing field '%s'", f->name);
				return (false);
			}
			continue;
		}
		bool ok = f->type == CXI_AF_BOOL ? json_is_boolean(v) :
		    f->type == CXI_AF_OBJECT ? json_is_object(v) :
		    f->type == CXI_AF_ARRAY ? json_is_array(v) &&
		        (f->max == 0 || json_array_size(v) <= f->max) :
		    json_is_string(v) ||
		        (f->type == CXI_AF_STR_NULL && json_is_null(v));
		if (!ok) {
			cxi_api_error(c, 400, "invalid_field",
			    "field '%s' must be %s", f->name,
			    type_name(f->type));
			return (false);
		}
		if (json_is_string(v) && f->max > 0 &&
		    json_string_length(v) > f->max) {
			cxi_api_error(c, 400, "invalid_field",
			    "field '%s' is longer than %zu bytes", f->name,
			    f->max);
			return (false);
		}
	}
	return (true);
}

bool
cxi_api_body(cxi_actx *c, const cxi_afield *fields)
{
	const cx_http_req *req = c->req;
	json_error_t jerr;

	if (req->body_len > CXI_API_MAX_BODY) {
		cxi_api_error(c, 413, "body_too_large", "the request body is "
		    "larger than %d bytes", CXI_API_MAX_BODY);
		return (false);
	}
	/* X-1: a cross-site form cannot send this type without a CORS
	 * preflight, which we never grant. */
	if (!is_json_ct(cx_http_req_header(req, "Content-Type"))) {
		cxi_api_error(c, 415, "unsupported_media_type", "the request "
		    "body must be JSON with Content-Type: application/json");
		return (false);
	}
	if (req->body_len == 0) {
		cxi_api_error(c, 400, "invalid_json", "a JSON object is "
		    "expected as the request body");
		return (false);
	}
	/* jansson refuses invalid UTF-8, and \u0000 without
	 * JSON_ALLOW_NUL: both are never valid here (A-2). */
	c->body = json_loadb((const char *) req->body, req->body_len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (c->body == NULL) {
		cxi_api_error(c, 400, "invalid_json", "the body is not valid "
		    "JSON: %s (line %d, column %d)", jerr.text, jerr.line,
		    jerr.column);
		return (false);
	}
	if (!json_is_object(c->body)) {
		cxi_api_error(c, 400, "invalid_json", "the body must be a JSON "
		    "object");
		return (false);
	}
	return (check_fields(c, fields));
}

bool
cxi_api_no_body(cxi_actx *c)
{
	static const cxi_afield none[] = {{NULL, CXI_AF_STR, false, 0}};
	if (c->req->body_len == 0) {
		return (true);
	}
	return (cxi_api_body(c, none));
}

/* Origin when sent, else the scheme://host[:port] part of Referer. */
static bool
origin_of(const cx_http_req *req, char *out, size_t len)
{
	const char *o = cx_http_req_header(req, "Origin");
	if (o != NULL && strcmp(o, "null") != 0) {
		snprintf(out, len, "%s", o);
		return (true);
	}
	const char *r = cx_http_req_header(req, "Referer");
	const char *s = r != NULL ? strstr(r, "://") : NULL;
	if (s == NULL) {
		return (false);
	}
	size_t n = (size_t) (s + 3 - r) + strcspn(s + 3, "/?#");
	if (n >= len) {
		return (false);
	}
	memcpy(out, r, n);
	out[n] = '\0';
	return (true);
}

static bool
origin_allowed(cxi_api *a, const char *o)
{
	for (size_t i = 0; i < a->n_origins; i++) {
		if (strcmp(a->origins[i], o) == 0) {
			return (true);
		}
	}
	return (false);
}

bool
cxi_api_origin_guard(cxi_actx *c)
{
	char o[256];
	if (origin_of(c->req, o, sizeof(o)) && !origin_allowed(c->api, o)) {
		cxi_api_error(c, 403, "forbidden_origin", "requests from this "
		    "origin are not allowed");
		return (false);
	}
	return (true);
}

static bool
state_changing(const char *m)
{
	return (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 &&
	    strcmp(m, "OPTIONS") != 0);
}

bool
cxi_api_auth(cxi_actx *c)
{
	/* Z-2: an API key, when no session cookie came. It is not a
	 * credential a browser attaches by itself (a cross-site page cannot
	 * set Authorization without a CORS preflight, never granted), so
	 * there is no CSRF to guard against and no Origin check. */
	if (c->token[0] == '\0' && cxi_api_has_bearer(c)) {
		return (cxi_api_key_auth(c));
	}
	/* X-1: cookie-authenticated changes need an allow-listed Origin
	 * (or Referer); a browser always sends one on such requests. */
	if (state_changing(c->req->method)) {
		char o[256];
		if (!origin_of(c->req, o, sizeof(o)) ||
		    !origin_allowed(c->api, o)) {
			cxi_api_error(c, 403, "forbidden_origin", "a request "
			    "that changes state needs an allowed Origin or "
			    "Referer header");
			return (false);
		}
	}
	if (c->token[0] == '\0') {
		cxi_api_error(c, 401, "unauthenticated", "log in first");
		return (false);
	}
	cx_err rv = cxi_sessions_check(c->api->sessions, c->token,
	    cxi_repo_now_ms(), &c->sess);
	if (rv == CX_ENOENT) {
		cxi_api_error(c, 401, "unauthenticated", "the session has "
		    "ended; log in again");
		return (false);
	}
	if (rv != CX_OK) {
		cxi_api_error(c, 503, "unavailable", "sessions are not "
		    "available right now");
		return (false);
	}
	c->authed = true;
	return (true);
}

bool
cxi_api_db(cxi_actx *c, cxi_db *db)
{
	if (!cxi_manager_db_hold(c->api->mgr, db)) {
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
		return (false);
	}
	return (true);
}

/* S-1..S-3: HttpOnly, SameSite=Lax, Path=/, Secure with the __Host-
 * name unless the config allows plain-HTTP loopback. */
void
cxi_api_set_cookie(cxi_actx *c, const char *token)
{
	char v[200];
	snprintf(v, sizeof(v), "%s=%s; HttpOnly; SameSite=Lax; Path=/%s",
	    c->api->cookie_name, token, c->api->secure ? "; Secure" : "");
	cxi_api_header(c, "Set-Cookie", v);
	explicit_bzero(v, sizeof(v));
}

void
cxi_api_clear_cookie(cxi_actx *c)
{
	char v[200];
	snprintf(v, sizeof(v), "%s=; Max-Age=0; HttpOnly; SameSite=Lax; "
	    "Path=/%s", c->api->cookie_name, c->api->secure ? "; Secure" : "");
	cxi_api_header(c, "Set-Cookie", v);
	cxi_api_header(c, "Clear-Site-Data", "\"cookies\"");
}

void
cxi_api_log(cxi_actx *c, const char *event, const char *outcome,
    const char *account, const char *detail)
{
	const char *kv[12];
	size_t n = 0;
	kv[n++] = "event";
	kv[n++] = event;
	kv[n++] = "outcome";
	kv[n++] = outcome;
	kv[n++] = "ip";
	kv[n++] = c->ip;
	if (account != NULL) {
		kv[n++] = "account";
		kv[n++] = account;
	}
	if (detail != NULL) {
		kv[n++] = "detail";
		kv[n++] = detail;
	}
	kv[n] = NULL;
	cxi_log_line(CX_LOG_INFO, "component", "auth", "auth attempt", kv);
}
