/*
 * callixo/http.h - HTTP routes registered by plugins.
 *
 * Provider webhooks arrive over HTTP. A plugin registers routes with
 * cx_host.http_route(); the core serves them under
 * /webhooks/<plugin-instance>/<subpath>. Requests and responses are plain
 * data with no pointers into core state, so the same handler works when
 * the plugin runs in its own process (the core forwards the request over
 * the bus). Handlers run on a worker pool and may block briefly (a
 * database write), but must not wait on the network for long.
 */
#ifndef CALLIXO_HTTP_H
#define CALLIXO_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <callixo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cx_http_header {
	const char *name;
	const char *value;
} cx_http_header;

/* A request, borrowed for the duration of the handler. Since ABI 1.0. */
typedef struct cx_http_req {
	const char *method;   /* "POST" */
	const char *path;     /* full path, e.g. "/webhooks/twilio/status" */
	const char *subpath;  /* path below the plugin prefix: "/status" */
	const char *query;    /* raw query string without '?', or "" */
	const cx_http_header *headers;
	size_t n_headers;
	const uint8_t *body;  /* not NUL-terminated */
	size_t body_len;
} cx_http_req;

#define CX_HTTP_MAX_RESP_HEADERS 8

/* A response filled by the handler. The core pre-sets status 200 and
 * "application/json". `body` must come from malloc(); the core frees it. */
typedef struct cx_http_resp {
	uint16_t status;
	char content_type[64];
	char *body;
	size_t body_len;
	size_t n_headers;
	struct {
		char name[48];
		char value[208];
	} headers[CX_HTTP_MAX_RESP_HEADERS];
} cx_http_resp;

typedef cx_err (*cx_http_fn)(void *arg, const cx_http_req *req,
    cx_http_resp *resp);

/* Case-insensitive header lookup; NULL when absent. */
static inline const char *
cx_http_req_header(const cx_http_req *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		if (strcasecmp(req->headers[i].name, name) == 0) {
			return (req->headers[i].value);
		}
	}
	return (NULL);
}

/* Adds a response header; CX_ENOMEM when the table or a field is full. */
static inline cx_err
cx_http_resp_header(cx_http_resp *resp, const char *name, const char *value)
{
	if (resp->n_headers >= CX_HTTP_MAX_RESP_HEADERS ||
	    strlen(name) >= sizeof(resp->headers[0].name) ||
	    strlen(value) >= sizeof(resp->headers[0].value)) {
		return (CX_ENOMEM);
	}
	strcpy(resp->headers[resp->n_headers].name, name);
	strcpy(resp->headers[resp->n_headers].value, value);
	resp->n_headers++;
	return (CX_OK);
}

/* Sets status and a copy of `body` (len bytes) with `ctype`. */
static inline cx_err
cx_http_resp_set(cx_http_resp *resp, uint16_t status, const char *ctype,
    const void *body, size_t len)
{
	char *copy = (char *) malloc(len + 1);
	if (copy == NULL) {
		return (CX_ENOMEM);
	}
	if (len > 0) {
		memcpy(copy, body, len);
	}
	copy[len] = '\0';
	free(resp->body);
	resp->body = copy;
	resp->body_len = len;
	resp->status = status;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s", ctype);
	return (CX_OK);
}

#ifdef __cplusplus
}
#endif
#endif
