/*
 * http.h - the HTTP front door (nng's HTTP server).
 *
 * The core serves /healthz, /readyz and /metrics itself; plugins register
 * routes under /webhooks/<plugin>/ through the host table. Plugin routes
 * live in one table behind a single tree handler, so adding and removing
 * them on reload never touches the listener. Plugin handlers run on a
 * worker pool, never on nng's I/O threads. Errors are JSON:
 *   {"error":{"code":"not_found","message":"..."}}
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
	size_t max_body;      /* bytes; larger bodies get 413 */
	int request_timeout_ms;
	int workers;          /* plugin handler threads */
} cxi_http_opts;

/* Appends Prometheus text for the core's own metrics (plugin states, bus
 * counters) to the /metrics body. */
typedef void (*cxi_metrics_fn)(void *arg, char **buf, size_t *len,
    size_t *cap);

int cxi_http_start(cxi_http **out, const cxi_http_opts *opts, char *why,
    size_t whylen);
/* Stops the listener and frees (after cxi_http_drain). */
void cxi_http_stop(cxi_http *h);
/* The URL actually bound (port resolved when 0 was asked). */
const char *cxi_http_url(const cxi_http *h);

void cxi_http_set_ready(cxi_http *h, bool ready);
void cxi_http_set_metrics(cxi_http *h, cxi_metrics_fn fn, void *arg);
/* New requests get 503 from now on; waits up to timeout_ms for requests
 * in flight. Returns the number still running at the deadline. */
int cxi_http_drain(cxi_http *h, int timeout_ms);

/* Registers METHOD /webhooks/<plugin><subpath>. A subpath ending in "/"
 * matches the whole subtree. */
int cxi_http_route_add(cxi_http *h, const char *plugin, const char *method,
    const char *subpath, cx_http_fn fn, void *arg);
/* Removes every route of `plugin`, waiting for its running handlers. */
void cxi_http_routes_drop(cxi_http *h, const char *plugin);

/* Counts plugin metrics, shown as callixo_plugin_<m>{plugin="..."}. */
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
