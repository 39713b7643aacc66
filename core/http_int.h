/*
 * http_int.h - shared internals of the HTTP front door.
 *
 * http.c owns the listener, the core routes and /metrics; http_routes.c
 * owns path normalisation and the plugin route table (no nng in it, so the
 * fuzz target exercises it alone); http_dispatch.c owns the /webhooks/
 * tree handler, the worker pool and the per-request timeout.
 */
#ifndef CXI_HTTP_INT_H
#define CXI_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "http.h"

/* Longest request path we route; longer ones get 414. Webhook paths are
 * short, and a bound keeps every copy on the stack. */
#define CXI_HTTP_MAX_PATH 1024
/* Owner of the core's /v1 routes in the route table. */
#define CXI_HTTP_API_OWNER "@v1"
#define CXI_HTTP_MAX_STATUS 600

/* Request counts for one route template, by status code. One array slot
 * per code keeps counting a single atomic add with no lookup. Stats are
 * never freed before the server, so a route dropped on plugin reload
 * keeps its counters (Prometheus counters must not go backwards). */
typedef struct cxi_http_stat {
	struct cxi_http_stat *next;
	char *route;
	atomic_uint_fast64_t codes[CXI_HTTP_MAX_STATUS];
} cxi_http_stat;

/* ---- route table (http_routes.c) ---- */

typedef struct cxi_route {
	struct cxi_route *next;
	char *plugin;
	char *method;
	char *subpath;  /* as registered, e.g. "/status" or "/events/" */
	size_t sublen;
	bool tree;      /* subpath ends in '/': matches the subtree */
	cx_http_fn fn;
	void *arg;
	cxi_http_stat *stat;
	size_t max_body;  /* 0: the server's limit */
	unsigned running; /* handlers using fn/arg; under cxi_routes.mtx */
} cxi_route;

typedef struct cxi_routes {
	pthread_rwlock_t lock; /* the list */
	pthread_mutex_t mtx;   /* running counts */
	pthread_cond_t cv;     /* a running count reached zero */
	cxi_route *head;
} cxi_routes;

typedef enum cxi_match {
	CXI_MATCH_FOUND = 0,
	CXI_MATCH_NO_PATH,
	CXI_MATCH_NO_METHOD,
} cxi_match;

int cxi_routes_init(cxi_routes *rt);
/* Frees every route; nothing may be running. */
void cxi_routes_fini(cxi_routes *rt);
/* Returns a cx_err. */
int cxi_routes_add(cxi_routes *rt, const char *plugin, const char *method,
    const char *subpath, cx_http_fn fn, void *arg, cxi_http_stat *stat);
/* On CXI_MATCH_FOUND the route is acquired (its plugin cannot be dropped
 * until cxi_routes_release). On CXI_MATCH_NO_METHOD, `allow` receives the
 * comma separated methods the path does accept and *stat the template's
 * counters. */
cxi_match cxi_routes_match(cxi_routes *rt, const char *plugin,
    const char *method, const char *subpath, cxi_route **out, char *allow,
    size_t allowlen, cxi_http_stat **stat);
void cxi_routes_release(cxi_routes *rt, cxi_route *r);
/* Sets the body limit of one registered route; CX_ENOENT when absent. */
int cxi_routes_set_max_body(cxi_routes *rt, const char *plugin,
    const char *method, const char *subpath, size_t max_body);
/* Unlinks the plugin's routes, waits until none is running, frees them.
 * Returns how many routes were removed. */
size_t cxi_routes_drop(cxi_routes *rt, const char *plugin);
/* Calls fn for every route in registration order, under the read lock
 * (fn must not add or drop routes). Returns 0, or fn's first non-zero
 * return, which stops the walk. */
int cxi_routes_each(cxi_routes *rt, cxi_http_route_fn fn, void *arg);

/* Splits a raw request target into a normalised, percent-decoded path
 * (written to `path`) and the raw query string (pointer into `uri`, ""
 * when absent). Returns 0, or the HTTP status to refuse with: 400 for
 * traversal, empty segments, bad escapes or control bytes, 414 when too
 * long. */
int cxi_http_path_split(const char *uri, char *path, size_t pathlen,
    const char **query);
/* Splits a normalised "/webhooks/<plugin>/<rest>" path: copies the plugin
 * name and points *subpath at "/<rest>" (or "/" when empty). Returns false
 * when the path is not under a plugin. */
bool cxi_http_webhook_split(const char *path, char *plugin, size_t pluginlen,
    const char **subpath);
/* True for a plugin instance name we accept in a URL. */
bool cxi_http_name_ok(const char *name);
/* True when cxi_routes_add would accept these (checked before the route's
 * metric template is created, so bad input leaves no counters behind). */
bool cxi_routes_valid(const char *plugin, const char *method,
    const char *subpath);

/* ---- the server (http.c, http_reply.c) ---- */

typedef struct cxi_job cxi_job;

typedef struct cxi_pmetric {
	struct cxi_pmetric *next;
	char *plugin;
	char *name;
	atomic_int_fast64_t value;
} cxi_pmetric;

enum { CXI_HTTP_STARTING = 0, CXI_HTTP_READY = 1, CXI_HTTP_DRAINING = 2 };

struct cxi_http {
	nng_http_server *server;
	bool started;
	char url[300];
	size_t max_body;
	int timeout_ms;
	struct timespec t0;
	atomic_int state;

	/* Plugin requests in flight, for drain. */
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	unsigned inflight;
	bool draining;

	pthread_mutex_t stats_mtx;
	cxi_http_stat *stats;
	cxi_http_stat *st_healthz, *st_readyz, *st_metrics, *st_unmatched;

	pthread_mutex_t pm_mtx;
	cxi_pmetric *pmetrics;

	pthread_mutex_t mfn_mtx;
	cxi_metrics_fn mfn;
	void *mfn_arg;

	cxi_routes routes;

	/* Worker pool (http_dispatch.c). */
	pthread_mutex_t q_mtx;
	pthread_cond_t q_cv;
	cxi_job *q_head, *q_tail;
	bool q_stop;
	pthread_t *threads;
	int nthreads;
};

void cxi_http_count(cxi_http_stat *st, uint16_t status);
/* Finds or creates the counters for a route template; NULL on ENOMEM. */
cxi_http_stat *cxi_http_stat_get(cxi_http *h, const char *route);
/* Escapes `src` for a JSON string into dst (always terminated). */
void cxi_json_escape(char *dst, size_t dstlen, const char *src);
/* Allocates a response; `body` is copied. NULL on ENOMEM. */
nng_http_res *cxi_http_res_new(uint16_t status, const char *ctype,
    const void *body, size_t len);
/* Answers `aio` with the JSON error body, counts it in `st` (may be NULL).
 * `close` adds "Connection: close" (used when an unread request body is
 * still on the wire). `hname`/`hval` add one header when not NULL. */
void cxi_http_reply_error(nng_aio *aio, cxi_http_stat *st, uint16_t status,
    const char *code, const char *message, bool close, const char *hname,
    const char *hval);

/* A request body nng did not read (we ask it not to on the catch-all and
 * webhook handlers) would be parsed as the next request: such responses
 * must close the connection. */
bool cxi_http_unread_body(nng_http_req *req);

/* ---- metrics (http_metrics.c) ---- */

/* The nng handler for GET /metrics. */
void cxi_http_metrics_cb(nng_aio *aio);

/* ---- dispatch (http_dispatch.c) ---- */

int cxi_http_workers_start(cxi_http *h, int n);
/* Runs what is queued, then joins the workers. */
void cxi_http_workers_stop(cxi_http *h);
/* The nng tree handler for /webhooks/. */
void cxi_http_webhook_cb(nng_aio *aio);

#endif
