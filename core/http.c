/*
 * http.c - the HTTP front door: listener, core routes, lifecycle.
 *
 * The probes (/healthz, /readyz) are answered right on nng's callback
 * thread with static bodies and one atomic add, because load balancers
 * hit them constantly and they must stay close to a bare nng handler.
 * Plugin routes go through http_dispatch.c instead.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "http_int.h"

#include <nng/supplemental/tls/tls.h>

#define JSON_CT "application/json"

/* ---- core routes ---- */

static void
reply_static(nng_aio *aio, cxi_http_stat *st, uint16_t status,
    const char *ctype, const char *body)
{
	nng_http_res *res;

	/* set_data does not copy: the body is a string literal. */
	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	if ((status != 200 && nng_http_res_set_status(res, status) != 0) ||
	    nng_http_res_set_header(res, "Content-Type", ctype) != 0 ||
	    nng_http_res_set_data(res, body, strlen(body)) != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	cxi_http_count(st, status);
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static cxi_http *
handler_owner(nng_aio *aio)
{
	return (nng_http_handler_get_data(nng_aio_get_input(aio, 1)));
}

static void
healthz_cb(nng_aio *aio)
{
	cxi_http *h = handler_owner(aio);
	reply_static(aio, h->st_healthz, 200, JSON_CT, "{\"status\":\"ok\"}");
}

static void
readyz_cb(nng_aio *aio)
{
	cxi_http *h = handler_owner(aio);
	switch (atomic_load(&h->state)) {
	case CXI_HTTP_READY:
		reply_static(aio, h->st_readyz, 200, JSON_CT,
		    "{\"status\":\"ready\"}");
		break;
	case CXI_HTTP_DRAINING:
		reply_static(aio, h->st_readyz, 503, JSON_CT,
		    "{\"status\":\"draining\"}");
		break;
	default:
		reply_static(aio, h->st_readyz, 503, JSON_CT,
		    "{\"status\":\"starting\"}");
		break;
	}
}


/* Anything no other handler took. Answering here instead of letting nng
 * send its own 404/405 gives JSON with the right Content-Type and lets us
 * count the request as route="unmatched". */
static void
fallback_cb(nng_aio *aio)
{
	cxi_http *h = handler_owner(aio);
	nng_http_req *req = nng_aio_get_input(aio, 0);
	const char *method = nng_http_req_get_method(req);
	const char *query;
	char path[CXI_HTTP_MAX_PATH], msg[CXI_HTTP_MAX_PATH + 64];
	bool close = cxi_http_unread_body(req);
	int st;

	st = cxi_http_path_split(nng_http_req_get_uri(req), path,
	    sizeof(path), &query);
	if (st != 0) {
		cxi_http_reply_error(aio, h->st_unmatched, (uint16_t) st,
		    st == 414 ? "uri_too_long" : "bad_path",
		    "request path refused", close, NULL, NULL);
		return;
	}
	/* nng only maps HEAD onto a GET handler when no catch-all takes the
	 * request, and ours always does: do the mapping here. */
	if (strcmp(method, "HEAD") == 0) {
		if (strcmp(path, "/healthz") == 0) {
			healthz_cb(aio);
			return;
		}
		if (strcmp(path, "/readyz") == 0) {
			readyz_cb(aio);
			return;
		}
		if (strcmp(path, "/metrics") == 0) {
			cxi_http_metrics_cb(aio);
			return;
		}
	}
	cxi_http_stat *core = strcmp(path, "/healthz") == 0 ? h->st_healthz :
	    strcmp(path, "/readyz") == 0                    ? h->st_readyz :
	    strcmp(path, "/metrics") == 0                   ? h->st_metrics :
	                                                      NULL;
	if (core != NULL) {
		/* The path is a known template, so count it there. */
		snprintf(msg, sizeof(msg), "%s not allowed on %s", method,
		    path);
		cxi_http_reply_error(aio, core, 405,
		    "method_not_allowed", msg, close, "Allow", "GET, HEAD");
		return;
	}
	snprintf(msg, sizeof(msg), "no route for %s %s", method, path);
	cxi_http_reply_error(
	    aio, h->st_unmatched, 404, "not_found", msg, close, NULL, NULL);
}

/* ---- lifecycle ---- */

static const struct {
	uint16_t code;
	const char *json;
} error_pages[] = {
	{ 400, "{\"error\":{\"code\":\"bad_request\",\"message\":\"malformed request, bad Content-Length or body over the limit\"}}" },
	{ 404, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such route\"}}" },
	{ 405, "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"method not allowed\"}}" },
	{ 408, "{\"error\":{\"code\":\"timeout\",\"message\":\"request timed out\"}}" },
	{ 413, "{\"error\":{\"code\":\"too_large\",\"message\":\"request body too large\"}}" },
	{ 414, "{\"error\":{\"code\":\"uri_too_long\",\"message\":\"request target too long\"}}" },
	{ 431, "{\"error\":{\"code\":\"headers_too_large\",\"message\":\"request headers too large\"}}" },
	{ 500, "{\"error\":{\"code\":\"internal\",\"message\":\"internal server error\"}}" },
	{ 503, "{\"error\":{\"code\":\"unavailable\",\"message\":\"service unavailable\"}}" },
	{ 505, "{\"error\":{\"code\":\"http_version\",\"message\":\"HTTP version not supported\"}}" },
};

static int
read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL) {
		return (errno);
	}
	for (;;) {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return (ENOMEM);
			}
			buf = nb;
			cap += 65536;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0) {
			break;
		}
	}
	int err = ferror(f) ? EIO : 0;
	fclose(f);
	if (err != 0) {
		free(buf);
		return (err);
	}
	buf[len] = '\0';
	*out = buf;
	return (0);
}

static int
tls_setup(cxi_http *h, const cxi_http_opts *o, char *why, size_t whylen)
{
	nng_tls_config *cfg;
	char *cert = NULL, *key = NULL;
	int rv;

	if (o->tls_cert == NULL || o->tls_key == NULL) {
		snprintf(why, whylen, "listen %s: https needs tls_cert and "
		    "tls_key", o->listen);
		return (CX_ECONFIG);
	}
	if ((rv = read_file(o->tls_cert, &cert)) != 0) {
		snprintf(why, whylen, "listen %s: tls_cert %s: %s", o->listen,
		    o->tls_cert, strerror(rv));
		return (CX_ECONFIG);
	}
	if ((rv = read_file(o->tls_key, &key)) != 0) {
		snprintf(why, whylen, "listen %s: tls_key %s: %s", o->listen,
		    o->tls_key, strerror(rv));
		free(cert);
		return (CX_ECONFIG);
	}
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) != 0) {
		snprintf(why, whylen, "listen %s: tls: %s", o->listen,
		    nng_strerror(rv));
		free(cert);
		free(key);
		return (CX_EIO);
	}
	rv = nng_tls_config_own_cert(cfg, cert, key, NULL);
	/* The key was in memory only for this call. */
	memset(key, 0, strlen(key));
	free(key);
	free(cert);
	if (rv != 0) {
		snprintf(why, whylen, "listen %s: tls_cert %s / tls_key %s: %s",
		    o->listen, o->tls_cert, o->tls_key, nng_strerror(rv));
		nng_tls_config_free(cfg);
		return (CX_ECONFIG);
	}
	rv = nng_http_server_set_tls(h->server, cfg);
	nng_tls_config_free(cfg); /* the server holds its own reference */
	if (rv != 0) {
		snprintf(why, whylen, "listen %s: tls: %s", o->listen,
		    nng_strerror(rv));
		return (CX_EIO);
	}
	return (CX_OK);
}

static int
add_handler(cxi_http *h, const char *uri, void (*cb)(nng_aio *),
    const char *method, bool tree, bool body, size_t max)
{
	nng_http_handler *hd;
	int rv;

	if ((rv = nng_http_handler_alloc(&hd, uri, cb)) != 0) {
		return (rv);
	}
	if ((rv = nng_http_handler_set_method(hd, method)) != 0 ||
	    (tree && (rv = nng_http_handler_set_tree(hd)) != 0) ||
	    (rv = nng_http_handler_collect_body(hd, body, max)) != 0 ||
	    (rv = nng_http_handler_set_data(hd, h, NULL)) != 0 ||
	    (rv = nng_http_server_add_handler(h->server, hd)) != 0) {
		nng_http_handler_free(hd);
		return (rv);
	}
	return (0);
}

/* nng's messages are capitalised sentences; ours continue a phrase. */
static void
why_nng(char *why, size_t whylen, const char *what, int rv)
{
	const char *s = nng_strerror(rv);
	snprintf(why, whylen, "%s: %c%s", what, tolower((unsigned char) s[0]),
	    s + 1);
}

static void
http_free(cxi_http *h)
{
	while (h->stats != NULL) {
		cxi_http_stat *st = h->stats;
		h->stats = st->next;
		free(st->route);
		free(st);
	}
	while (h->pmetrics != NULL) {
		cxi_pmetric *m = h->pmetrics;
		h->pmetrics = m->next;
		free(m->plugin);
		free(m->name);
		free(m);
	}
	cxi_routes_fini(&h->routes);
	pthread_mutex_destroy(&h->mtx);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->stats_mtx);
	pthread_mutex_destroy(&h->pm_mtx);
	pthread_mutex_destroy(&h->mfn_mtx);
	free(h);
}

int
cxi_http_start(cxi_http **out, const cxi_http_opts *opts, char *why,
    size_t whylen)
{
	cxi_http *h;
	nng_url *url = NULL;
	nng_sockaddr sa;
	pthread_condattr_t ca;
	int rv;

	*out = NULL;
	if (opts == NULL || opts->listen == NULL) {
		snprintf(why, whylen, "listen: no address given");
		return (CX_EINVAL);
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(why, whylen, "listen %s: out of memory",
		    opts->listen);
		return (CX_ENOMEM);
	}
	/* Static initialisers cannot fail, unlike pthread_mutex_init. */
	h->mtx = (pthread_mutex_t) PTHREAD_MUTEX_INITIALIZER;
	h->stats_mtx = (pthread_mutex_t) PTHREAD_MUTEX_INITIALIZER;
	h->pm_mtx = (pthread_mutex_t) PTHREAD_MUTEX_INITIALIZER;
	h->mfn_mtx = (pthread_mutex_t) PTHREAD_MUTEX_INITIALIZER;
	/* Drain waits on a monotonic deadline: wall-clock steps must not
	 * stretch or cut a shutdown. */
	if (pthread_condattr_init(&ca) != 0) {
		free(h);
		snprintf(why, whylen, "listen %s: out of resources",
		    opts->listen);
		return (CX_ENOMEM);
	}
	rv = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rv == 0) {
		rv = pthread_cond_init(&h->cv, &ca);
	}
	pthread_condattr_destroy(&ca);
	if (rv != 0) {
		free(h);
		snprintf(why, whylen, "listen %s: out of resources",
		    opts->listen);
		return (CX_ENOMEM);
	}
	if (cxi_routes_init(&h->routes) != CX_OK) {
		pthread_cond_destroy(&h->cv);
		free(h);
		snprintf(why, whylen, "listen %s: out of resources",
		    opts->listen);
		return (CX_ENOMEM);
	}
	atomic_init(&h->state, CXI_HTTP_STARTING);
	clock_gettime(CLOCK_MONOTONIC, &h->t0);
	h->max_body = opts->max_body > 0 ? opts->max_body : 1024 * 1024;
	h->timeout_ms = opts->request_timeout_ms != 0 ?
	    opts->request_timeout_ms : 30000;

	if ((h->st_healthz = cxi_http_stat_get(h, "/healthz")) == NULL ||
	    (h->st_readyz = cxi_http_stat_get(h, "/readyz")) == NULL ||
	    (h->st_metrics = cxi_http_stat_get(h, "/metrics")) == NULL ||
	    (h->st_unmatched = cxi_http_stat_get(h, "unmatched")) == NULL) {
		snprintf(why, whylen, "listen %s: out of memory",
		    opts->listen);
		http_free(h);
		return (CX_ENOMEM);
	}

	if ((rv = nng_url_parse(&url, opts->listen)) != 0) {
		snprintf(why, whylen, "listen %s: not a valid URL",
		    opts->listen);
		http_free(h);
		return (CX_ECONFIG);
	}
	bool tls = strcmp(url->u_scheme, "https") == 0;
	if (!tls && strcmp(url->u_scheme, "http") != 0) {
		snprintf(why, whylen, "listen %s: scheme must be http or "
		    "https", opts->listen);
		nng_url_free(url);
		http_free(h);
		return (CX_ECONFIG);
	}
	if ((rv = nng_http_server_hold(&h->server, url)) != 0) {
		char what[300];
		snprintf(what, sizeof(what), "listen %s", opts->listen);
		why_nng(why, whylen, what, rv);
		nng_url_free(url);
		http_free(h);
		return (CX_EIO);
	}
	if (tls && (rv = tls_setup(h, opts, why, whylen)) != CX_OK) {
		goto fail;
	}
	for (size_t i = 0; i < sizeof(error_pages) / sizeof(error_pages[0]);
	     i++) {
		if ((rv = nng_http_server_set_error_page(h->server,
		         error_pages[i].code, error_pages[i].json)) != 0) {
			why_nng(why, whylen, "http error pages", rv);
			rv = CX_ENOMEM;
			goto fail;
		}
	}
	/* Probes never carry a body; a small cap makes nng refuse one. */
	if ((rv = add_handler(h, "/healthz", healthz_cb, "GET", false, true,
	         1024)) != 0 ||
	    (rv = add_handler(h, "/readyz", readyz_cb, "GET", false, true,
	         1024)) != 0 ||
	    (rv = add_handler(h, "/metrics", cxi_http_metrics_cb, "GET", false, true,
	         1024)) != 0 ||
	    (rv = add_handler(h, "/webhooks", cxi_http_webhook_cb, NULL, true,
	         false, 0)) != 0 ||
	    (rv = add_handler(h, "/v1", cxi_http_webhook_cb, NULL, true, false,
	         0)) != 0 ||
	    (rv = add_handler(h, "/", fallback_cb, NULL, true, false, 0)) !=
	        0) {
		if (rv == NNG_EADDRINUSE) {
			/* nng shares one server per host:port in a process. */
			snprintf(why, whylen, "listen %s: already served by "
			    "another HTTP server in this process",
			    opts->listen);
		} else {
			char what[300];
			snprintf(what, sizeof(what), "listen %s", opts->listen);
			why_nng(why, whylen, what, rv);
		}
		rv = CX_EIO;
		goto fail;
	}
	if ((rv = cxi_http_workers_start(h,
	         opts->workers > 0 ? opts->workers : 4)) != CX_OK) {
		snprintf(why, whylen, "listen %s: cannot start workers",
		    opts->listen);
		goto fail;
	}
	if ((rv = nng_http_server_start(h->server)) != 0) {
		char what[300];
		snprintf(what, sizeof(what), "listen %s", opts->listen);
		why_nng(why, whylen, what, rv);
		cxi_http_workers_stop(h);
		rv = CX_EIO;
		goto fail;
	}
	h->started = true;
	if ((rv = nng_http_server_get_addr(h->server, &sa)) != 0) {
		why_nng(why, whylen, "listen: bound address", rv);
		cxi_http_stop(h);
		nng_url_free(url);
		return (CX_EIO);
	}
	/* Keep the configured host (a name stays a name), with the port the
	 * kernel actually gave us. */
	unsigned port = 0;
	if (sa.s_family == NNG_AF_INET) {
		port = ntohs(sa.s_in.sa_port);
	} else if (sa.s_family == NNG_AF_INET6) {
		port = ntohs(sa.s_in6.sa_port);
	}
	snprintf(h->url, sizeof(h->url),
	    strchr(url->u_hostname, ':') ? "%s://[%s]:%u" : "%s://%s:%u",
	    url->u_scheme, url->u_hostname, port);
	nng_url_free(url);
	*out = h;
	return (CX_OK);

fail:
	nng_http_server_release(h->server);
	nng_url_free(url);
	http_free(h);
	return (rv);
}

void
cxi_http_stop(cxi_http *h)
{
	if (h == NULL) {
		return;
	}
	if (h->started) {
		/* Closes every connection and waits until each pending
		 * handler aio completed, which needs the workers alive. */
		nng_http_server_stop(h->server);
		/* A connection can be gone while our body read's completion
		 * is still on its way to enqueue a job: wait until every
		 * job has been run and freed before the workers go. */
		pthread_mutex_lock(&h->mtx);
		while (h->inflight > 0) {
			pthread_cond_wait(&h->cv, &h->mtx);
		}
		pthread_mutex_unlock(&h->mtx);
		cxi_http_workers_stop(h);
	}
	nng_http_server_release(h->server);
	http_free(h);
}

const char *
cxi_http_url(const cxi_http *h)
{
	return (h->url);
}

void
cxi_http_set_ready(cxi_http *h, bool ready)
{
	int cur = atomic_load(&h->state);
	/* Once draining, readiness never comes back. */
	while (cur != CXI_HTTP_DRAINING &&
	    !atomic_compare_exchange_weak(&h->state, &cur,
	        ready ? CXI_HTTP_READY : CXI_HTTP_STARTING)) {
	}
}


int
cxi_http_drain(cxi_http *h, int timeout_ms)
{
	struct timespec dl;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	if (timeout_ms > 0) {
		dl.tv_sec += timeout_ms / 1000;
		dl.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&h->mtx);
	h->draining = true;
	atomic_store(&h->state, CXI_HTTP_DRAINING);
	while (h->inflight > 0 && timeout_ms > 0) {
		if (pthread_cond_timedwait(&h->cv, &h->mtx, &dl) == ETIMEDOUT) {
			break;
		}
	}
	n = (int) h->inflight;
	pthread_mutex_unlock(&h->mtx);
	return (n);
}

int
cxi_http_route_add(cxi_http *h, const char *plugin, const char *method,
    const char *subpath, cx_http_fn fn, void *arg)
{
	char tmpl[CXI_HTTP_MAX_PATH + 80];
	cxi_http_stat *st;

	/* A plugin name, never the API's reserved owner. */
	if (fn == NULL || !cxi_http_name_ok(plugin) ||
	    !cxi_routes_valid(plugin, method, subpath)) {
		return (CX_EINVAL);
	}
	snprintf(tmpl, sizeof(tmpl), "/webhooks/%s%s", plugin, subpath);
	if ((st = cxi_http_stat_get(h, tmpl)) == NULL) {
		return (CX_ENOMEM);
	}
	return (cxi_routes_add(&h->routes, plugin, method, subpath, fn, arg,
	    st));
}

int
cxi_http_api_route_add(cxi_http *h, const char *method, const char *path,
    cx_http_fn fn, void *arg)
{
	char tmpl[CXI_HTTP_MAX_PATH + 8];
	cxi_http_stat *st;

	if (fn == NULL ||
	    !cxi_routes_valid(CXI_HTTP_API_OWNER, method, path)) {
		return (CX_EINVAL);
	}
	snprintf(tmpl, sizeof(tmpl), "/v1%s", path);
	if ((st = cxi_http_stat_get(h, tmpl)) == NULL) {
		return (CX_ENOMEM);
	}
	return (cxi_routes_add(&h->routes, CXI_HTTP_API_OWNER, method, path, fn,
	    arg, st));
}

int
cxi_http_api_route_add_max(cxi_http *h, const char *method, const char *path,
    cx_http_fn fn, void *arg, size_t max_body)
{
	int rv = cxi_http_api_route_add(h, method, path, fn, arg);
	if (rv == CX_OK) {
		rv = cxi_routes_set_max_body(&h->routes, CXI_HTTP_API_OWNER,
		    method, path, max_body);
	}
	return (rv);
}

void
cxi_http_api_routes_drop(cxi_http *h)
{
	(void) cxi_routes_drop(&h->routes, CXI_HTTP_API_OWNER);
}

void
cxi_http_routes_drop(cxi_http *h, const char *plugin)
{
	(void) cxi_routes_drop(&h->routes, plugin);
}


typedef struct route_walk {
	cxi_http_route_fn fn;
	void *arg;
} route_walk;

/* Table entries hold the subpath; callers want what a client sends. */
static int
route_full(void *arg, const char *owner, const char *method,
    const char *subpath)
{
	route_walk *w = arg;
	char path[CXI_HTTP_MAX_PATH + 80];
	if (strcmp(owner, CXI_HTTP_API_OWNER) == 0) {
		snprintf(path, sizeof(path), "/v1%s", subpath);
	} else {
		snprintf(path, sizeof(path), "/webhooks/%s%s", owner, subpath);
	}
	return (w->fn(w->arg, owner, method, path));
}

int
cxi_http_routes_list(cxi_http *h, cxi_http_route_fn fn, void *arg)
{
	/* Registered with nng directly in cxi_http_start, not in the table. */
	static const char *const fixed[] = {"/healthz", "/readyz", "/metrics"};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		int rv = fn(arg, "core", "GET", fixed[i]);
		if (rv != 0) {
			return (rv);
		}
	}
	route_walk w = {fn, arg};
	return (cxi_routes_each(&h->routes, route_full, &w));
}
