/*
 * http_dispatch.c - /webhooks/ requests: routing, body, worker pool.
 *
 * nng calls cxi_http_webhook_cb on its I/O threads, which must never block
 * on a plugin. The callback only routes, checks limits and copies what
 * the plugin will see into a job; the body is read with our own aio (so
 * its size is checked before anything is allocated, and a slow sender
 * hits a deadline); then a worker runs the plugin handler and completes
 * nng's aio. A timer answers 504 if the handler overruns; whoever claims
 * `answered` first completes the aio, the other side only cleans up, so
 * the late result is dropped without touching freed nng state.
 *
 * Request headers: nng 1.5.2 has no API to enumerate the headers of a
 * request (only nng_http_req_get_header by name), so handlers see the
 * fixed list in `hdr_names` below when present. Wildcards such as "Dg-*"
 * cannot be honoured; add a name here when a provider needs one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

static const char *const hdr_names[] = {
	"Content-Type",
	"Content-Length",
	"User-Agent",
	"Host",
	"Accept",
	"Authorization",
	"Cookie",
	"Origin",
	"Referer",
	"X-Forwarded-For",
	"X-Forwarded-Proto",
	"X-Forwarded-Host",
	"X-Real-IP",
	"X-Request-Id",
	"Idempotency-Key",
	"Range",
	"X-Twilio-Signature",
	"X-Retell-Signature",
	"Dg-Token",
	"Stripe-Signature",
	"X-Hub-Signature-256",
};
#define N_HDRS (sizeof(hdr_names) / sizeof(hdr_names[0]))

struct cxi_job {
	cxi_job *next;
	cxi_http *h;
	nng_aio *aio;    /* nng's; completed exactly once, by the claimant */
	nng_aio *rdaio;  /* body read, NULL without a body */
	nng_aio *timer;  /* handler deadline, NULL without a timeout */
	nng_aio *rdtimer; /* body deadline, NULL without body or timeout */
	cxi_route *route;
	cxi_http_stat *stat;
	pthread_mutex_t mtx;
	bool answered;
	bool reading;    /* body read in progress */
	int rderr;       /* body read failed with this nng error */
	cx_http_req req; /* everything points into strs/hdrs/body */
	cx_http_header hdrs[N_HDRS];
	char *strs;
	uint8_t *body;
};

/* Only plain decimal: "+5", " 5" or "5x" are refused, as is overflow. */
static bool
parse_length(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (*s == '\0') {
		return (false);
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10) {
			return (false);
		}
		v = v * 10 + (uint64_t) (*s - '0');
	}
	*out = v;
	return (true);
}

static bool
claim(cxi_job *j)
{
	bool mine;
	pthread_mutex_lock(&j->mtx);
	mine = !j->answered;
	j->answered = true;
	pthread_mutex_unlock(&j->mtx);
	return (mine);
}

static void
inflight_done(cxi_http *h)
{
	pthread_mutex_lock(&h->mtx);
	if (--h->inflight == 0) {
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mtx);
}

static void
job_free(cxi_job *j)
{
	/* Stopping waits for a callback still returning on nng's threads;
	 * we are on a worker, so this cannot deadlock. */
	if (j->timer != NULL) {
		nng_aio_stop(j->timer);
		nng_aio_free(j->timer);
	}
	if (j->rdtimer != NULL) {
		nng_aio_stop(j->rdtimer);
		nng_aio_free(j->rdtimer);
	}
	if (j->rdaio != NULL) {
		nng_aio_stop(j->rdaio);
		nng_aio_free(j->rdaio);
	}
	cxi_routes_release(&j->h->routes, j->route);
	inflight_done(j->h);
	pthread_mutex_destroy(&j->mtx);
	free(j->strs);
	free(j->body);
	free(j);
}

static void
timer_cb(void *arg)
{
	cxi_job *j = arg;
	char msg[96];

	if (nng_aio_result(j->timer) != 0) {
		return; /* cancelled: the worker answered in time */
	}
	if (!claim(j)) {
		return;
	}
	snprintf(msg, sizeof(msg), "handler did not answer within %d ms",
	    j->h->timeout_ms);
	cxi_http_reply_error(j->aio, j->stat, 504, "timeout", msg, false,
	    NULL, NULL);
}

/* A sender too slow with its body gets 408 and the connection closes
 * (the response carries "Connection: close"), which also aborts our
 * pending read. Cancelling the read instead would make nng close the
 * connection before any answer could be written. */
static void
rdtimer_cb(void *arg)
{
	cxi_job *j = arg;
	bool mine;

	if (nng_aio_result(j->rdtimer) != 0) {
		return;
	}
	pthread_mutex_lock(&j->mtx);
	mine = j->reading && !j->answered;
	if (mine) {
		j->answered = true;
	}
	pthread_mutex_unlock(&j->mtx);
	if (mine) {
		cxi_http_reply_error(j->aio, j->stat, 408, "timeout",
		    "request body not received in time", true, NULL, NULL);
	}
}

static void
enqueue(cxi_job *j)
{
	cxi_http *h = j->h;

	/* The deadline covers queueing too: a client does not care whether
	 * its handler was slow or waited for a free worker. */
	if (j->rderr == 0 && h->timeout_ms > 0 &&
	    nng_aio_alloc(&j->timer, timer_cb, j) == 0) {
		nng_sleep_aio(h->timeout_ms, j->timer);
	}
	pthread_mutex_lock(&h->q_mtx);
	if (h->q_tail != NULL) {
		h->q_tail->next = j;
	} else {
		h->q_head = j;
	}
	h->q_tail = j;
	pthread_cond_signal(&h->q_cv);
	pthread_mutex_unlock(&h->q_mtx);
}

static void
body_done(void *arg)
{
	cxi_job *j = arg;
	int rv = nng_aio_result(j->rdaio);

	if (rv == 0 && nng_aio_count(j->rdaio) != j->req.body_len) {
		rv = NNG_ECLOSED;
	}
	pthread_mutex_lock(&j->mtx);
	j->reading = false;
	pthread_mutex_unlock(&j->mtx);
	if (j->rdtimer != NULL) {
		nng_aio_cancel(j->rdtimer); /* never blocks; freed by the worker */
	}
	j->rderr = rv;
	enqueue(j);
}

/* Header names and values a plugin may set: tokens, and no CR/LF, which
 * would let a handler split the response. */
static bool
hdr_ok(const char *name, size_t nmax, const char *value, size_t vmax)
{
	if (memchr(name, '\0', nmax) == NULL ||
	    memchr(value, '\0', vmax) == NULL || name[0] == '\0') {
		return (false);
	}
	for (const char *s = name; *s != '\0'; s++) {
		if (*s <= ' ' || *s >= 0x7f || strchr("()<>@,;:\\\"/[]?={}",
		                                   *s) != NULL) {
			return (false);
		}
	}
	for (const char *s = value; *s != '\0'; s++) {
		if ((*s < ' ' && *s != '\t') || *s == 0x7f) {
			return (false);
		}
	}
	/* nng owns framing. */
	return (strcasecmp(name, "Content-Length") != 0 &&
	    strcasecmp(name, "Transfer-Encoding") != 0 &&
	    strcasecmp(name, "Connection") != 0 &&
	    strcasecmp(name, "Content-Type") != 0);
}

static nng_http_res *
to_nng(cx_http_resp *r)
{
	nng_http_res *res;
	const char *ct;

	if (memchr(r->content_type, '\0', sizeof(r->content_type)) == NULL ||
	    r->content_type[0] == '\0' ||
	    strpbrk(r->content_type, "\r\n") != NULL) {
		ct = "application/octet-stream";
	} else {
		ct = r->content_type;
	}
	if ((res = cxi_http_res_new(r->status, ct, r->body,
	         r->body != NULL ? r->body_len : 0)) == NULL) {
		return (NULL);
	}
	for (size_t i = 0; i < r->n_headers && i < CX_HTTP_MAX_RESP_HEADERS;
	     i++) {
		if (hdr_ok(r->headers[i].name, sizeof(r->headers[i].name),
		        r->headers[i].value, sizeof(r->headers[i].value)) &&
		    nng_http_res_add_header(res, r->headers[i].name,
		        r->headers[i].value) != 0) {
			nng_http_res_free(res);
			return (NULL);
		}
	}
	return (res);
}

static void
run_job(cxi_job *j)
{
	cx_http_resp resp;
	nng_http_res *res;
	cx_err err;
	bool skip;

	if (j->rderr != 0) {
		/* The client went away mid-body (or the 408 already went
		 * out and closed the connection). */
		if (claim(j)) {
			nng_aio_finish(j->aio, j->rderr);
		}
		return;
	}
	pthread_mutex_lock(&j->mtx);
	skip = j->answered; /* timed out while queued */
	pthread_mutex_unlock(&j->mtx);
	if (skip) {
		return;
	}

	memset(&resp, 0, sizeof(resp));
	resp.status = 200;
	snprintf(resp.content_type, sizeof(resp.content_type),
	    "application/json");
	err = j->route->fn(j->route->arg, &j->req, &resp);
	if (err != CX_OK) {
		char msg[128];
		snprintf(msg, sizeof(msg), "plugin handler failed: %s",
		    cx_strerror(err));
		cxi_http_error(&resp, 500, "handler_error", msg);
	} else if (resp.status < 100 || resp.status > 599) {
		cxi_http_error(&resp, 500, "handler_error",
		    "plugin handler returned an invalid status");
	}
	res = to_nng(&resp);
	free(resp.body);
	if (!claim(j)) {
		if (res != NULL) {
			nng_http_res_free(res);
		}
		return;
	}
	if (res == NULL) {
		cxi_http_reply_error(j->aio, j->stat, 500, "internal",
		    "out of memory", false, NULL, NULL);
		return;
	}
	cxi_http_count(j->stat, resp.status);
	nng_aio_set_output(j->aio, 0, res);
	nng_aio_finish(j->aio, 0);
}

static void *
worker_main(void *arg)
{
	cxi_http *h = arg;

	for (;;) {
		cxi_job *j;
		pthread_mutex_lock(&h->q_mtx);
		while (h->q_head == NULL && !h->q_stop) {
			pthread_cond_wait(&h->q_cv, &h->q_mtx);
		}
		if ((j = h->q_head) == NULL) {
			pthread_mutex_unlock(&h->q_mtx);
			return (NULL);
		}
		if ((h->q_head = j->next) == NULL) {
			h->q_tail = NULL;
		}
		pthread_mutex_unlock(&h->q_mtx);
		run_job(j);
		job_free(j);
	}
}

int
cxi_http_workers_start(cxi_http *h, int n)
{
	if (pthread_mutex_init(&h->q_mtx, NULL) != 0) {
		return (CX_ENOMEM);
	}
	if (pthread_cond_init(&h->q_cv, NULL) != 0) {
		pthread_mutex_destroy(&h->q_mtx);
		return (CX_ENOMEM);
	}
	if ((h->threads = calloc((size_t) n, sizeof(pthread_t))) == NULL) {
		pthread_cond_destroy(&h->q_cv);
		pthread_mutex_destroy(&h->q_mtx);
		return (CX_ENOMEM);
	}
	for (h->nthreads = 0; h->nthreads < n; h->nthreads++) {
		if (pthread_create(&h->threads[h->nthreads], NULL, worker_main,
		        h) != 0) {
			cxi_http_workers_stop(h);
			return (CX_ENOMEM);
		}
	}
	return (CX_OK);
}

void
cxi_http_workers_stop(cxi_http *h)
{
	pthread_mutex_lock(&h->q_mtx);
	h->q_stop = true;
	pthread_cond_broadcast(&h->q_cv);
	pthread_mutex_unlock(&h->q_mtx);
	for (int i = 0; i < h->nthreads; i++) {
		pthread_join(h->threads[i], NULL);
	}
	free(h->threads);
	h->threads = NULL;
	h->nthreads = 0;
	pthread_cond_destroy(&h->q_cv);
	pthread_mutex_destroy(&h->q_mtx);
}

/* Copies what the handler sees, so it stays valid after nng reuses the
 * request for the next one (it does, as soon as a 504 went out). */
static cxi_job *
job_new(cxi_http *h, nng_http_req *req, const char *path,
    const char *subpath, const char *query)
{
	const char *method = nng_http_req_get_method(req);
	const char *vals[N_HDRS];
	size_t total, n = 0;
	cxi_job *j;
	char *p;

	total = strlen(method) + strlen(path) + strlen(query) + 3;
	for (size_t i = 0; i < N_HDRS; i++) {
		if ((vals[i] = nng_http_req_get_header(req, hdr_names[i])) !=
		    NULL) {
			total += strlen(vals[i]) + 1;
		}
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		return (NULL);
	}
	if ((j->strs = malloc(total)) == NULL ||
	    pthread_mutex_init(&j->mtx, NULL) != 0) {
		free(j->strs);
		free(j);
		return (NULL);
	}
	p = j->strs;
#define PUT(dst, src)                         \
	do {                                  \
		size_t l_ = strlen(src) + 1;  \
		memcpy(p, (src), l_);         \
		(dst) = p;                    \
		p += l_;                      \
	} while (0)
	PUT(j->req.method, method);
	PUT(j->req.path, path);
	j->req.subpath = j->req.path + (subpath - path);
	PUT(j->req.query, query);
	for (size_t i = 0; i < N_HDRS; i++) {
		if (vals[i] != NULL) {
			j->hdrs[n].name = hdr_names[i];
			PUT(j->hdrs[n].value, vals[i]);
			n++;
		}
	}
#undef PUT
	j->req.headers = j->hdrs;
	j->req.n_headers = n;
	j->h = h;
	return (j);
}

void
cxi_http_webhook_cb(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	cxi_http *h = nng_http_handler_get_data(nng_aio_get_input(aio, 1));
	nng_http_conn *conn = nng_aio_get_input(aio, 2);
	const char *method = nng_http_req_get_method(req);
	const char *query, *sub, *cl;
	char path[CXI_HTTP_MAX_PATH], plugin[72], allow[128];
	char msg[CXI_HTTP_MAX_PATH + 64];
	bool close = cxi_http_unread_body(req);
	cxi_route *route;
	cxi_http_stat *stat;
	uint64_t len = 0;
	cxi_job *j;
	int st;

	st = cxi_http_path_split(nng_http_req_get_uri(req), path,
	    sizeof(path), &query);
	if (st != 0) {
		cxi_http_reply_error(aio, h->st_unmatched, (uint16_t) st,
		    st == 414 ? "uri_too_long" : "bad_path",
		    "request path refused", close, NULL, NULL);
		return;
	}
	snprintf(msg, sizeof(msg), "no route for %s %s", method, path);
	if (!cxi_http_webhook_split(path, plugin, sizeof(plugin), &sub)) {
		cxi_http_reply_error(aio, h->st_unmatched, 404, "not_found",
		    msg, close, NULL, NULL);
		return;
	}
	switch (cxi_routes_match(&h->routes, plugin, method, sub, &route,
	    allow, sizeof(allow), &stat)) {
	case CXI_MATCH_FOUND:
		break;
	case CXI_MATCH_NO_METHOD:
		snprintf(msg, sizeof(msg), "%s not allowed on %s", method,
		    path);
		cxi_http_reply_error(aio, stat, 405, "method_not_allowed", msg,
		    close, "Allow", allow);
		return;
	default:
		cxi_http_reply_error(aio, h->st_unmatched, 404, "not_found",
		    msg, close, NULL, NULL);
		return;
	}

	/* nng 1.5.2 reads no chunked request bodies; refuse them rather
	 * than hand the plugin an empty body. */
	if (nng_http_req_get_header(req, "Transfer-Encoding") != NULL) {
		cxi_routes_release(&h->routes, route);
		cxi_http_reply_error(aio, stat, 411, "length_required",
		    "chunked request bodies are not supported", true, NULL,
		    NULL);
		return;
	}
	if ((cl = nng_http_req_get_header(req, "Content-Length")) != NULL &&
	    !parse_length(cl, &len)) {
		cxi_routes_release(&h->routes, route);
		cxi_http_reply_error(aio, stat, 400, "bad_request",
		    "invalid Content-Length", true, NULL, NULL);
		return;
	}
	size_t limit = route->max_body > 0 ? route->max_body : h->max_body;
	if (len > limit) {
		cxi_routes_release(&h->routes, route);
		snprintf(msg, sizeof(msg), "body of %llu bytes exceeds the "
		    "limit of %zu", (unsigned long long) len, limit);
		cxi_http_reply_error(
		    aio, stat, 413, "too_large", msg, true, NULL, NULL);
		return;
	}

	/* Counted before the draining check, under the same lock, so a
	 * drain either refuses this request or waits for it. */
	pthread_mutex_lock(&h->mtx);
	if (h->draining) {
		pthread_mutex_unlock(&h->mtx);
		cxi_routes_release(&h->routes, route);
		cxi_http_reply_error(aio, stat, 503, "draining",
		    "server is shutting down", close, "Retry-After", "1");
		return;
	}
	h->inflight++;
	pthread_mutex_unlock(&h->mtx);

	if ((j = job_new(h, req, path, sub, query)) == NULL) {
		cxi_routes_release(&h->routes, route);
		inflight_done(h);
		cxi_http_reply_error(aio, stat, 500, "internal",
		    "out of memory", close, NULL, NULL);
		return;
	}
	j->aio = aio;
	j->route = route;
	j->stat = stat;
	if (len == 0) {
		enqueue(j);
		return;
	}
	nng_iov iov;
	if ((j->body = malloc((size_t) len)) == NULL ||
	    nng_aio_alloc(&j->rdaio, body_done, j) != 0) {
		j->rderr = NNG_ENOMEM;
		enqueue(j);
		return;
	}
	j->req.body = j->body;
	j->req.body_len = (size_t) len;
	iov.iov_buf = j->body;
	iov.iov_len = (size_t) len;
	if (nng_aio_set_iov(j->rdaio, 1, &iov) != 0) {
		j->rderr = NNG_ENOMEM;
		enqueue(j);
		return;
	}
	/* nng 1.5.2 has no read timeout of its own: this bounds how long a
	 * slow sender may take over the body. */
	j->reading = true;
	if (h->timeout_ms > 0) {
		if (nng_aio_alloc(&j->rdtimer, rdtimer_cb, j) != 0) {
			j->reading = false;
			j->rderr = NNG_ENOMEM;
			enqueue(j);
			return;
		}
		/* Uploads beyond 1 MiB (routes with a larger limit) get a
		 * second more per MiB: 1 MiB/s is the slowest sender served. */
		uint64_t extra = len > (1u << 20) ? (len >> 20) * 1000 : 0;
		uint64_t ms = (uint64_t) h->timeout_ms + extra;
		nng_sleep_aio(ms > INT32_MAX ? INT32_MAX : (nng_duration) ms,
		    j->rdtimer);
	}
	nng_http_conn_read_all(conn, j->rdaio);
}
