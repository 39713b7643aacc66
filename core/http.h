/*
 * http.h - the HTTP front door (nng's HTTP server).
 *
 * The core serves /healthz, /readyz and /metrics itself; plugins register
 * routes under /webhooks/<plugin>/ through the host table. Plugin routes
 * live in one table behind a single tree handler, so adding and removing
 * them on reload never touches the listener. Plugin handlers run on a
 * worker pool, never on nng's I/O threads. Errors are JSON:
 *   {"error":{"code":"not_found","message":"..."}}
 *
 * Paths are percent-decoded and must be in normal form: "." / ".."
 * segments, empty segments ("//"), encoded '/', '\\' or NUL, and control
 * bytes get 400 before any routing; longer than 1 KiB gets 414.
 *
 * Limits of nng 1.5.2 (the Debian 12 package) and how we live with them:
 * - Request headers cannot be enumerated; plugin handlers see a fixed
 *   list looked up by name (see hdr_names in http_dispatch.c: Content-Type,
 *   Content-Length, User-Agent, Host, Accept, Authorization, Cookie,
 *   Origin, Referer, X-Forwarded-For/-Proto/-Host, X-Real-IP,
 *   X-Request-Id, Idempotency-Key, X-Twilio-Signature,
 *   X-Retell-Signature, Dg-Token, Stripe-Signature, X-Hub-Signature-256).
 *   Prefix families such as "Dg-*" cannot be offered.
 * - No read timeout while the request line and headers arrive: a client
 *   trickling headers holds a connection (and nng has no connection
 *   limit). Put a proxy in front when exposed to the internet. The body
 *   of a /webhooks/ request is read by us with a request_timeout_ms
 *   deadline (408, connection closed).
 * - Chunked request bodies are not decoded: /webhooks/ answers 411.
 *   "Expect: 100-continue" is not answered; clients send the body after
 *   their own wait (curl: 1 s).
 * - Errors nng produces itself (400 for a malformed request or a body
 *   over 1 KiB on the probes, 505) carry our JSON body, but nng labels
 *   them "text/html". Everything else (404, 405, 408, 411, 413, 414,
 *   500, 503, 504) is ours, with "application/json".
 * - nng shares one server per host:port in a process; two cxi_http on the
 *   same fixed address fail with "already served" (port 0 is fine).
 */
#ifndef CXI_HTTP_H
#define CXI_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <callixo/http.h>
#include "errlist.h"

typedef struct cxi_http cxi_http;

typedef struct cxi_http_opts {
	const char *listen;   /* http://127.0.0.1:8080 or https://... */
	const char *tls_cert; /* PEM file paths, for https:// */
	const char *tls_key;
	size_t max_body;      /* bytes; larger bodies get 413; 0: 1 MiB */
	int request_timeout_ms; /* body read, and handler (queue + run);
	                         * past it 408 / 504. 0: 30 s, <0: none */
	int workers;          /* plugin handler threads; <=0: 4 */
} cxi_http_opts;

/* Appends Prometheus text for the core's own metrics (plugin states, bus
 * counters) to the /metrics body. */
typedef void (*cxi_metrics_fn)(void *arg, char **buf, size_t *len,
    size_t *cap);

/* Returns a cx_err; on failure `why` says what, e.g.
 * "listen http://127.0.0.1:8080: address in use". */
int cxi_http_start(cxi_http **out, const cxi_http_opts *opts, char *why,
    size_t whylen);
/* Stops the listener and frees (after cxi_http_drain). Waits for plugin
 * handlers still running, including ones whose client already got 504. */
void cxi_http_stop(cxi_http *h);
/* The URL actually bound (port resolved when 0 was asked). */
const char *cxi_http_url(const cxi_http *h);

void cxi_http_set_ready(cxi_http *h, bool ready);
void cxi_http_set_metrics(cxi_http *h, cxi_metrics_fn fn, void *arg);
/* New plugin requests get 503 from now on (and /readyz says draining,
 * for good); waits up to timeout_ms for plugin requests in flight.
 * Returns the number still running at the deadline. */
int cxi_http_drain(cxi_http *h, int timeout_ms);

/* Registers METHOD /webhooks/<plugin><subpath>. A subpath ending in "/"
 * matches the whole subtree (and the path without the slash); the most
 * specific route wins. plugin: [A-Za-z0-9_.-]{1,64}; method: upper-case
 * token, matched exactly; subpath: normal form, no '%' or '?'. Returns
 * CX_OK, CX_EINVAL, CX_EEXIST or CX_ENOMEM. */
int cxi_http_route_add(cxi_http *h, const char *plugin, const char *method,
    const char *subpath, cx_http_fn fn, void *arg);
/* Registers one of the core's own API routes: METHOD /v1<path>, served
 * by the same worker pool, limits and JSON errors as plugin routes. A
 * path ending in "/" matches the whole subtree (e.g. "/calls/" for
 * /v1/calls/{id}). */
int cxi_http_api_route_add(cxi_http *h, const char *method, const char *path,
    cx_http_fn fn, void *arg);
/* The same with its own body limit instead of max_body (uploads). The
 * body is still read whole before the handler runs; the read deadline
 * grows by one second per MiB above 1 MiB. */
int cxi_http_api_route_add_max(cxi_http *h, const char *method,
    const char *path, cx_http_fn fn, void *arg, size_t max_body);
/* Removes every /v1 route, waiting for running handlers. */
void cxi_http_api_routes_drop(cxi_http *h);

/* One served route: owner is "core" (the probes and /metrics), "@v1"
 * (the API) or a plugin name; path is the full request path template,
 * e.g. "/v1/me" or "/webhooks/twilio/status" ("/x/" serves the subtree).
 * A non-zero return stops the walk. */
typedef int (*cxi_http_route_fn)(void *arg, const char *owner,
    const char *method, const char *path);
/* Walks every route the server answers: the core's fixed ones, then the
 * route table (what `callixoctl routes` shows, so tests can hold the
 * OpenAPI document to what is really served). Returns 0, CX_EINTERNAL
 * when the table cannot be locked, or fn's first non-zero return. */
int cxi_http_routes_list(cxi_http *h, cxi_http_route_fn fn, void *arg);

/* Removes every route of `plugin`, waiting for its running and queued
 * handlers, so the plugin can be unloaded right after. Must not be
 * called from one of that plugin's handlers (it would wait for itself). */
void cxi_http_routes_drop(cxi_http *h, const char *plugin);

/* Counts plugin metrics, shown as callixo_plugin_<m>{plugin="..."}.
 * Counters: negative deltas and names outside [A-Za-z0-9_] are ignored. */
void cxi_http_metric_add(cxi_http *h, const char *plugin, const char *m,
    int64_t delta);

/* Appends printf-formatted text to a growable buffer, as cxi_metrics_fn
 * callbacks do; *buf may be NULL with *cap 0. Returns a cx_err. */
int cxi_http_buf_printf(char **buf, size_t *len, size_t *cap,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Writes the standard JSON error body into resp. */
void cxi_http_error(cx_http_resp *resp, uint16_t status, const char *code,
    const char *message);

#endif
