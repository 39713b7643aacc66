/*
 * test_http.c - the HTTP front door against a real listener.
 *
 * Every test starts its own server on 127.0.0.1 port 0 and talks to it
 * with libcurl (raw sockets where curl is too polite: slow bodies,
 * traversal paths).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "http.h"

typedef struct reply {
	long status;
	char body[16384];
	size_t len;
	char hdrs[4096];
	size_t hlen;
	char ctype[128];
} reply;

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	reply *r = arg;
	size_t l = sz * n;
	if (r->len + l < sizeof(r->body)) {
		memcpy(r->body + r->len, p, l);
		r->len += l;
		r->body[r->len] = '\0';
	}
	return (l);
}

static size_t
on_hdr(char *p, size_t sz, size_t n, void *arg)
{
	reply *r = arg;
	size_t l = sz * n;
	if (r->hlen + l < sizeof(r->hdrs)) {
		memcpy(r->hdrs + r->hlen, p, l);
		r->hlen += l;
		r->hdrs[r->hlen] = '\0';
	}
	return (l);
}

/* Performs one request; returns the CURLcode. */
static int
req(const char *method, const char *base, const char *path, const char *body,
    size_t blen, const char *const *hdrs, reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	char url[2048];
	char *ct = NULL;
	int rv;

	memset(r, 0, sizeof(*r));
	assert_non_null(c);
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_hdr);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	}
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) blen);
	}
	/* curl adds "Expect: 100-continue" to bigger bodies; nng does not
	 * answer it, which would only add a 1 s stall. */
	hl = curl_slist_append(hl, "Expect:");
	for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL; i++) {
		hl = curl_slist_append(hl, hdrs[i]);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	rv = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL) {
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
	}
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return (rv);
}

static void
get(const char *base, const char *path, reply *r)
{
	assert_int_equal(req("GET", base, path, NULL, 0, NULL, r), CURLE_OK);
}

static long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* ---- fixture ---- */

typedef struct fx {
	cxi_http *h;
	const char *url;
	atomic_int started;  /* slow handler entered */
	atomic_int finished; /* slow handler returned */
	atomic_int calls;
	int sleep_ms;
} fx;

static fx *
fx_start(size_t max_body, int timeout_ms)
{
	fx *f = calloc(1, sizeof(*f));
	cxi_http_opts o = {
		.listen = "http://127.0.0.1:0",
		.max_body = max_body,
		.request_timeout_ms = timeout_ms,
		.workers = 4,
	};
	char why[256] = "";
	assert_non_null(f);
	assert_int_equal(cxi_http_start(&f->h, &o, why, sizeof(why)), CX_OK);
	f->url = cxi_http_url(f->h);
	assert_non_null(strstr(f->url, "http://127.0.0.1:"));
	assert_string_not_equal(f->url, "http://127.0.0.1:0");
	return (f);
}

static void
fx_stop(fx *f)
{
	cxi_http_stop(f->h);
	free(f);
}

/* Echoes what the handler saw, as text: "m=..;sub=..;q=..;sig=..;b=..". */
static cx_err
echo_fn(void *arg, const cx_http_req *rq, cx_http_resp *rs)
{
	fx *f = arg;
	char buf[8192];
	const char *sig = cx_http_req_header(rq, "x-twilio-signature");
	const char *ct = cx_http_req_header(rq, "Content-Type");
	int n;

	atomic_fetch_add(&f->calls, 1);
	n = snprintf(buf, sizeof(buf), "m=%s;path=%s;sub=%s;q=%s;sig=%s;ct=%s;b=%.*s",
	    rq->method, rq->path, rq->subpath, rq->query, sig ? sig : "-",
	    ct ? ct : "-", (int) rq->body_len, (const char *) rq->body);
	if (cx_http_resp_header(rs, "X-Echo", "1") != CX_OK) {
		return (CX_EINTERNAL);
	}
	return (cx_http_resp_set(rs, 201, "text/plain", buf, (size_t) n));
}

static cx_err
slow_fn(void *arg, const cx_http_req *rq, cx_http_resp *rs)
{
	fx *f = arg;
	(void) rq;
	atomic_store(&f->started, 1);
	sleep_ms(f->sleep_ms);
	atomic_store(&f->finished, 1);
	return (cx_http_resp_set(rs, 200, "application/json", "{}", 2));
}

static cx_err
fail_fn(void *arg, const cx_http_req *rq, cx_http_resp *rs)
{
	(void) arg;
	(void) rq;
	(void) rs;
	return (CX_EIO);
}

typedef struct bg {
	pthread_t t;
	const char *url;
	const char *path;
	reply r;
	int rv;
} bg;

static void *
bg_main(void *arg)
{
	bg *b = arg;
	b->rv = req("POST", b->url, b->path, "x", 1, NULL, &b->r);
	return (NULL);
}

static void
bg_start(bg *b, const char *url, const char *path)
{
	memset(b, 0, sizeof(*b));
	b->url = url;
	b->path = path;
	assert_int_equal(pthread_create(&b->t, NULL, bg_main, b), 0);
}

static void
wait_started(fx *f)
{
	long t0 = now_ms();
	while (!atomic_load(&f->started)) {
		assert_true(now_ms() - t0 < 5000);
		sleep_ms(2);
	}
}

/* ---- tests ---- */

static void
test_healthz(void **state)
{
	(void) state;
	fx *f = fx_start(0, 0);
	reply r;
	get(f->url, "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"ok\"}");
	assert_string_equal(r.ctype, "application/json");
	/* HEAD is served by the GET handler, without a body. */
	assert_int_equal(req("HEAD", f->url, "/healthz", NULL, 0, NULL, &r),
	    CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	/* Other methods: 405 JSON with Allow. */
	assert_int_equal(req("POST", f->url, "/healthz", "x", 1, NULL, &r),
	    CURLE_OK);
	assert_int_equal(r.status, 405);
	assert_non_null(strstr(r.hdrs, "Allow: GET, HEAD"));
	assert_non_null(strstr(r.body, "\"code\":\"method_not_allowed\""));
	fx_stop(f);
}

static void
test_readyz(void **state)
{
	(void) state;
	fx *f = fx_start(0, 0);
	reply r;
	get(f->url, "/readyz", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "{\"status\":\"starting\"}");
	cxi_http_set_ready(f->h, true);
	get(f->url, "/readyz", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"ready\"}");
	cxi_http_set_ready(f->h, false);
	get(f->url, "/readyz", &r);
	assert_int_equal(r.status, 503);
	cxi_http_set_ready(f->h, true);
	assert_int_equal(cxi_http_drain(f->h, 100), 0);
	get(f->url, "/readyz", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "{\"status\":\"draining\"}");
	/* Draining is final. */
	cxi_http_set_ready(f->h, true);
	get(f->url, "/readyz", &r);
	assert_int_equal(r.status, 503);
	/* Liveness is unaffected by draining. */
	get(f->url, "/healthz", &r);
	assert_int_equal(r.status, 200);
	fx_stop(f);
}

static void
extra_metrics(void *arg, char **buf, size_t *len, size_t *cap)
{
	(void) arg;
	assert_int_equal(cxi_http_buf_printf(buf, len, cap,
	                     "callixo_test_extra %d\n", 42),
	    CX_OK);
}

static void
test_metrics(void **state)
{
	(void) state;
	fx *f = fx_start(0, 0);
	reply r;
	const char *pb = "a";

	assert_int_equal(cxi_http_route_add(f->h, "echo", "POST", "/status",
	                     echo_fn, f),
	    CX_OK);
	for (int i = 0; i < 3; i++) {
		get(f->url, "/healthz", &r);
	}
	get(f->url, "/readyz", &r);
	assert_int_equal(req("DELETE", f->url, "/readyz", NULL, 0, NULL, &r),
	    CURLE_OK);
	assert_int_equal(r.status, 405);
	get(f->url, "/nope", &r);
	get(f->url, "/webhooks/nobody/x", &r);
	assert_int_equal(req("POST", f->url, "/webhooks/echo/status", pb, 1,
	                     NULL, &r),
	    CURLE_OK);
	assert_int_equal(req("POST", f->url, "/webhooks/echo/status?id=7", pb,
	                     1, NULL, &r),
	    CURLE_OK);
	assert_int_equal(req("GET", f->url, "/webhooks/echo/status", NULL, 0,
	                     NULL, &r),
	    CURLE_OK);
	cxi_http_metric_add(f->h, "twilio", "calls_total", 5);
	cxi_http_metric_add(f->h, "twilio", "calls_total", 2);
	cxi_http_metric_add(f->h, "retell", "calls_total", 1);
	cxi_http_metric_add(f->h, "twilio", "bad name", 1); /* ignored */
	cxi_http_set_metrics(f->h, extra_metrics, NULL);

	get(f->url, "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.ctype, "text/plain; version=0.0.4"));
	assert_non_null(strstr(r.body, "\ncallixo_uptime_seconds "));
	assert_non_null(strstr(r.body,
	    "callixo_http_requests_total{route=\"/healthz\",code=\"200\"} 3\n"));
	assert_non_null(strstr(r.body,
	    "callixo_http_requests_total{route=\"/readyz\",code=\"503\"} 1\n"));
	assert_non_null(strstr(r.body,
	    "callixo_http_requests_total{route=\"/readyz\",code=\"405\"} 1\n"));
	assert_non_null(strstr(r.body,
	    "callixo_http_requests_total{route=\"unmatched\",code=\"404\"} 2\n"));
	/* The template, never the raw path (query or not). */
	assert_non_null(strstr(r.body,
	    "callixo_http_requests_total{route=\"/webhooks/echo/status\","
	    "code=\"201\"} 2\n"));
	assert_non_null(strstr(r.body,
	    "callixo_http_requests_total{route=\"/webhooks/echo/status\","
	    "code=\"405\"} 1\n"));
	assert_null(strstr(r.body, "id=7"));
	assert_null(strstr(r.body, "/nope"));
	assert_non_null(strstr(r.body,
	    "callixo_http_requests_total{route=\"/metrics\",code=\"200\"} 1\n"));
	assert_non_null(strstr(r.body,
	    "# TYPE callixo_plugin_calls_total counter\n"
	    "callixo_plugin_calls_total{plugin=\"twilio\"} 7\n"
	    "callixo_plugin_calls_total{plugin=\"retell\"} 1\n"));
	assert_null(strstr(r.body, "bad name"));
	assert_non_null(strstr(r.body, "callixo_test_extra 42\n"));
	fx_stop(f);
}

static void
test_dispatch(void **state)
{
	(void) state;
	fx *f = fx_start(0, 0);
	reply r;
	const char *hdrs[] = { "X-Twilio-Signature: abc=",
		"Content-Type: application/x-www-form-urlencoded", NULL };
	const char *body = "CallSid=CA1&CallStatus=completed";

	assert_int_equal(cxi_http_route_add(f->h, "echo", "POST", "/status",
	                     echo_fn, f),
	    CX_OK);
	assert_int_equal(req("POST", f->url, "/webhooks/echo/status?a=1&b=%20",
	                     body, strlen(body), hdrs, &r),
	    CURLE_OK);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.ctype, "text/plain");
	assert_non_null(strstr(r.hdrs, "X-Echo: 1"));
	assert_string_equal(r.body,
	    "m=POST;path=/webhooks/echo/status;sub=/status;q=a=1&b=%20;"
	    "sig=abc=;ct=application/x-www-form-urlencoded;"
	    "b=CallSid=CA1&CallStatus=completed");
	/* Percent-encoded path bytes are decoded before matching. */
	assert_int_equal(req("POST", f->url, "/webhooks/echo/stat%75s", "", 0,
	                     NULL, &r),
	    CURLE_OK);
	assert_int_equal(r.status, 201);
	assert_non_null(strstr(r.body, "sub=/status;q=;sig=-"));
	fx_stop(f);
}

static void
test_subtree(void **state)
{
	(void) state;
	fx *f = fx_start(0, 0);
	reply r;

	assert_int_equal(cxi_http_route_add(f->h, "echo", "GET", "/events/",
	                     echo_fn, f),
	    CX_OK);
	assert_int_equal(cxi_http_route_add(f->h, "echo", "GET", "/events/x",
	                     slow_fn, f),
	    CX_OK);
	get(f->url, "/webhooks/echo/events/a/b", &r);
	assert_int_equal(r.status, 201);
	assert_non_null(strstr(r.body, "sub=/events/a/b;"));
	get(f->url, "/webhooks/echo/events/", &r);
	assert_int_equal(r.status, 201);
	get(f->url, "/webhooks/echo/events", &r);
	assert_int_equal(r.status, 201);
	get(f->url, "/webhooks/echo/eventsx", &r);
	assert_int_equal(r.status, 404);
	/* The most specific route wins over the subtree. */
	get(f->url, "/webhooks/echo/events/x", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{}");
	fx_stop(f);
}

/* The core's own API under /v1 uses the same table, pool and limits,
 * under an owner no plugin can be named. */
static void
test_api_routes(void **state)
{
	(void) state;
	fx *f = fx_start(0, 0);
	reply r;

	assert_int_equal(cxi_http_api_route_add(f->h, "GET", "/me", echo_fn,
	                     f),
	    CX_OK);
	assert_int_equal(cxi_http_api_route_add(f->h, "GET", "/calls/",
	                     echo_fn, f),
	    CX_OK);
	get(f->url, "/v1/me?x=1", &r);
	assert_int_equal(r.status, 201);
	assert_non_null(strstr(r.body, "path=/v1/me;sub=/me;q=x=1;"));
	get(f->url, "/v1/calls/call_123", &r);
	assert_int_equal(r.status, 201);
	assert_non_null(strstr(r.body, "sub=/calls/call_123;"));
	get(f->url, "/v1/nope", &r);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body, "\"not_found\""));
	assert_int_equal(req("POST", f->url, "/v1/me", "{}", 2, NULL, &r),
	    CURLE_OK);
	assert_int_equal(r.status, 405);
	get(f->url, "/v1x", &r);
	assert_int_equal(r.status, 404);
	/* No plugin can claim the API's owner, and /webhooks stays apart. */
	assert_int_not_equal(cxi_http_route_add(f->h, "@v1", "GET", "/x",
	                         echo_fn, f),
	    CX_OK);
	get(f->url, "/webhooks/v1/me", &r);
	assert_int_equal(r.status, 404);
	get(f->url, "/metrics", &r);
	assert_non_null(strstr(r.body, "route=\"/v1/me\""));
	cxi_http_api_routes_drop(f->h);
	get(f->url, "/v1/me", &r);
	assert_int_equal(r.status, 404);
	fx_stop(f);
}

static void
test_errors(void **state)
{
	(void) state;
	fx *f = fx_start(0, 0);
	reply r;

	assert_int_equal(cxi_http_route_add(f->h, "echo", "POST", "/status",
	                     echo_fn, f),
	    CX_OK);
	assert_int_equal(cxi_http_route_add(f->h, "echo", "PUT", "/status",
	                     echo_fn, f),
	    CX_OK);
	get(f->url, "/webhooks/echo/nope", &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.ctype, "application/json");
	assert_string_equal(r.body, "{\"error\":{\"code\":\"not_found\","
	                            "\"message\":\"no route for GET "
	                            "/webhooks/echo/nope\"}}");
	get(f->url, "/x", &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "{\"error\":{\"code\":\"not_found\","
	                            "\"message\":\"no route for GET /x\"}}");
	get(f->url, "/webhooks/", &r);
	assert_int_equal(r.status, 404);
	get(f->url, "/webhooks/echo/status", &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.ctype, "application/json");
	assert_non_null(strstr(r.hdrs, "Allow: POST, PUT\r\n"));
	assert_non_null(strstr(r.body, "\"code\":\"method_not_allowed\""));

	/* Traversal and odd paths, raw and encoded. */
	const char *bad[] = { "/webhooks/echo/../echo/status",
		"/webhooks/echo/%2e%2e/status", "/webhooks/echo/%2E./status",
		"/webhooks/echo//status", "/webhooks/echo/a%2fb",
		/* Not "%00": nng 1.5.2 itself reads past the end of its copy of
		 * such a path before any handler runs (heap over-read seen
		 * with valgrind, and heap corruption in some runs); see
		 * docs/architecture.md, "Known limits of nng 1.5.2". */
		"/webhooks/echo/%zz",
		"/webhooks/echo/./status", "/webhooks/echo/a%5cb", NULL };
	for (int i = 0; bad[i] != NULL; i++) {
		assert_int_equal(req("POST", f->url, bad[i], "", 0, NULL, &r),
		    CURLE_OK);
		if (r.status != 400) {
			fail_msg("%s: status %ld", bad[i], r.status);
		}
		assert_non_null(strstr(r.body, "\"code\":\"bad_path\""));
	}

	/* A failing handler gives 500 JSON. */
	assert_int_equal(cxi_http_route_add(f->h, "echo", "POST", "/fail",
	                     fail_fn, f),
	    CX_OK);
	assert_int_equal(req("POST", f->url, "/webhooks/echo/fail", "", 0,
	                     NULL, &r),
	    CURLE_OK);
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(r.body, "\"code\":\"handler_error\""));

	/* Registration is validated. */
	assert_int_equal(cxi_http_route_add(f->h, "echo", "POST", "/status",
	                     echo_fn, f),
	    CX_EEXIST);
	assert_int_equal(cxi_http_route_add(f->h, "ec/ho", "POST", "/a",
	                     echo_fn, f),
	    CX_EINVAL);
	assert_int_equal(cxi_http_route_add(f->h, "echo", "post", "/a",
	                     echo_fn, f),
	    CX_EINVAL);
	assert_int_equal(cxi_http_route_add(f->h, "echo", "POST", "a",
	                     echo_fn, f),
	    CX_EINVAL);
	assert_int_equal(cxi_http_route_add(f->h, "echo", "POST", "/a/../b",
	                     echo_fn, f),
	    CX_EINVAL);
	assert_int_equal(cxi_http_route_add(f->h, "echo", "POST", "/a%20",
	                     echo_fn, f),
	    CX_EINVAL);
	assert_int_equal(cxi_http_route_add(f->h, "echo", "POST", "/a", NULL,
	                     f),
	    CX_EINVAL);
	fx_stop(f);
}

static void
test_too_large(void **state)
{
	(void) state;
	fx *f = fx_start(1024, 0);
	reply r;
	char big[2048];

	memset(big, 'a', sizeof(big));
	assert_int_equal(cxi_http_route_add(f->h, "echo", "POST", "/status",
	                     echo_fn, f),
	    CX_OK);
	assert_int_equal(req("POST", f->url, "/webhooks/echo/status", big,
	                     sizeof(big), NULL, &r),
	    CURLE_OK);
	assert_int_equal(r.status, 413);
	assert_string_equal(r.ctype, "application/json");
	assert_non_null(strstr(r.body, "\"code\":\"too_large\""));
	assert_int_equal(atomic_load(&f->calls), 0);
	/* Exactly at the limit is fine. */
	assert_int_equal(req("POST", f->url, "/webhooks/echo/status", big,
	                     1024, NULL, &r),
	    CURLE_OK);
	assert_int_equal(r.status, 201);
	assert_int_equal(atomic_load(&f->calls), 1);
	fx_stop(f);
}

static void
test_timeout(void **state)
{
	(void) state;
	fx *f = fx_start(0, 300);
	reply r;
	long t0;

	f->sleep_ms = 1200;
	assert_int_equal(cxi_http_route_add(f->h, "slow", "POST", "/",
	                     slow_fn, f),
	    CX_OK);
	t0 = now_ms();
	assert_int_equal(req("POST", f->url, "/webhooks/slow/", "x", 1, NULL,
	                     &r),
	    CURLE_OK);
	assert_int_equal(r.status, 504);
	assert_true(now_ms() - t0 < 1100);
	assert_string_equal(r.ctype, "application/json");
	assert_non_null(strstr(r.body, "\"code\":\"timeout\""));
	assert_int_equal(atomic_load(&f->finished), 0);
	/* The server keeps serving while the late handler runs. */
	get(f->url, "/healthz", &r);
	assert_int_equal(r.status, 200);
	/* Stop waits for the handler; its result is discarded. */
	fx_stop(f);
}

typedef struct dropper {
	fx *f;
	atomic_int done;
	int finished_at_return;
} dropper;

static void *
drop_main(void *arg)
{
	dropper *d = arg;
	cxi_http_routes_drop(d->f->h, "slow");
	d->finished_at_return = atomic_load(&d->f->finished);
	atomic_store(&d->done, 1);
	return (NULL);
}

static void
test_drop_waits(void **state)
{
	(void) state;
	fx *f = fx_start(0, 5000);
	dropper d = { .f = f };
	pthread_t t;
	bg b;
	reply r;

	f->sleep_ms = 400;
	assert_int_equal(cxi_http_route_add(f->h, "slow", "POST", "/run",
	                     slow_fn, f),
	    CX_OK);
	assert_int_equal(cxi_http_route_add(f->h, "echo", "POST", "/status",
	                     echo_fn, f),
	    CX_OK);
	bg_start(&b, f->url, "/webhooks/slow/run");
	wait_started(f);
	atomic_init(&d.done, 0);
	assert_int_equal(pthread_create(&t, NULL, drop_main, &d), 0);
	sleep_ms(100);
	/* Still blocked: the handler is sleeping. */
	assert_int_equal(atomic_load(&d.done), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(d.finished_at_return, 1);
	assert_int_equal(pthread_join(b.t, NULL), 0);
	assert_int_equal(b.rv, CURLE_OK);
	assert_int_equal(b.r.status, 200);
	/* Gone now; other plugins unaffected. */
	assert_int_equal(req("POST", f->url, "/webhooks/slow/run", "x", 1,
	                     NULL, &r),
	    CURLE_OK);
	assert_int_equal(r.status, 404);
	assert_int_equal(req("POST", f->url, "/webhooks/echo/status", "x", 1,
	                     NULL, &r),
	    CURLE_OK);
	assert_int_equal(r.status, 201);
	/* And the plugin can register again (reload). */
	assert_int_equal(cxi_http_route_add(f->h, "slow", "POST", "/run",
	                     echo_fn, f),
	    CX_OK);
	fx_stop(f);
}

static void
test_drain(void **state)
{
	(void) state;
	fx *f = fx_start(0, 5000);
	bg b;
	reply r;

	f->sleep_ms = 400;
	assert_int_equal(cxi_http_route_add(f->h, "slow", "POST", "/run",
	                     slow_fn, f),
	    CX_OK);
	assert_int_equal(cxi_http_route_add(f->h, "echo", "POST", "/status",
	                     echo_fn, f),
	    CX_OK);
	cxi_http_set_ready(f->h, true);
	bg_start(&b, f->url, "/webhooks/slow/run");
	wait_started(f);
	/* A short drain reports the request still running... */
	assert_int_equal(cxi_http_drain(f->h, 50), 1);
	/* ...new ones are refused meanwhile... */
	assert_int_equal(req("POST", f->url, "/webhooks/echo/status", "x", 1,
	                     NULL, &r),
	    CURLE_OK);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.ctype, "application/json");
	assert_non_null(strstr(r.body, "\"code\":\"draining\""));
	get(f->url, "/readyz", &r);
	assert_int_equal(r.status, 503);
	/* ...and a patient one waits for it to finish. */
	assert_int_equal(cxi_http_drain(f->h, 5000), 0);
	assert_int_equal(atomic_load(&f->finished), 1);
	assert_int_equal(pthread_join(b.t, NULL), 0);
	assert_int_equal(b.r.status, 200);
	fx_stop(f);
}

#define CONC_THREADS 8
#define CONC_REQS 25

typedef struct conc {
	pthread_t t;
	const char *url;
	int id;
	int ok;
} conc;

static void *
conc_main(void *arg)
{
	conc *c = arg;
	reply *r = malloc(sizeof(*r));
	if (r == NULL) {
		return (NULL);
	}
	for (int i = 0; i < CONC_REQS; i++) {
		char path[128], body[64], want[512];
		snprintf(path, sizeof(path), "/webhooks/echo/c/%d?i=%d", c->id,
		    i);
		snprintf(body, sizeof(body), "body-%d-%d", c->id, i);
		if (req("POST", c->url, path, body, strlen(body), NULL, r) !=
		    CURLE_OK) {
			continue;
		}
		snprintf(want, sizeof(want),
		    "m=POST;path=/webhooks/echo/c/%d;sub=/c/%d;q=i=%d;sig=-;"
		    "ct=application/x-www-form-urlencoded;b=%s",
		    c->id, c->id, i, body);
		if (r->status == 201 && strcmp(r->body, want) == 0) {
			c->ok++;
		}
	}
	free(r);
	return (NULL);
}

static void
test_concurrency(void **state)
{
	(void) state;
	fx *f = fx_start(0, 5000);
	conc c[CONC_THREADS];

	assert_int_equal(cxi_http_route_add(f->h, "echo", "POST", "/c/",
	                     echo_fn, f),
	    CX_OK);
	for (int i = 0; i < CONC_THREADS; i++) {
		c[i] = (conc) { .url = f->url, .id = i };
		assert_int_equal(pthread_create(&c[i].t, NULL, conc_main, &c[i]),
		    0);
	}
	for (int i = 0; i < CONC_THREADS; i++) {
		assert_int_equal(pthread_join(c[i].t, NULL), 0);
		assert_int_equal(c[i].ok, CONC_REQS);
	}
	assert_int_equal(atomic_load(&f->calls), CONC_THREADS * CONC_REQS);
	fx_stop(f);
}

/* Raw socket: curl always sends whole bodies. */
static int
raw_connect(const char *url)
{
	const char *p = strrchr(url, ':');
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	sa.sin_port = htons((uint16_t) atoi(p + 1));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	return (fd);
}

static void
raw_exchange(int fd, const char *out, char *in, size_t inlen)
{
	size_t n = 0;
	ssize_t l;
	struct timeval tv = { 5, 0 };
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	                     sizeof(tv)),
	    0);
	assert_int_equal(write(fd, out, strlen(out)), (ssize_t) strlen(out));
	while (n + 1 < inlen && (l = read(fd, in + n, inlen - n - 1)) > 0) {
		n += (size_t) l;
	}
	in[n] = '\0';
}

static void
test_slow_body(void **state)
{
	(void) state;
	fx *f = fx_start(0, 300);
	char in[2048];
	long t0;
	int fd;

	assert_int_equal(cxi_http_route_add(f->h, "echo", "POST", "/status",
	                     echo_fn, f),
	    CX_OK);
	fd = raw_connect(f->url);
	t0 = now_ms();
	raw_exchange(fd,
	    "POST /webhooks/echo/status HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 10\r\n\r\nab",
	    in, sizeof(in));
	close(fd);
	if (strstr(in, "HTTP/1.1 408") == NULL) {
		fail_msg("got: %s", in);
	}
	assert_non_null(strstr(in, "\"code\":\"timeout\""));
	assert_true(now_ms() - t0 < 3000);
	assert_int_equal(atomic_load(&f->calls), 0);

	/* Raw traversal that no client library would send. */
	fd = raw_connect(f->url);
	raw_exchange(fd,
	    "GET /webhooks/echo/../../etc/passwd HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n",
	    in, sizeof(in));
	close(fd);
	assert_non_null(strstr(in, "HTTP/1.1 400"));

	/* Chunked bodies are refused clearly. */
	fd = raw_connect(f->url);
	raw_exchange(fd,
	    "POST /webhooks/echo/status HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
	    in, sizeof(in));
	close(fd);
	assert_non_null(strstr(in, "HTTP/1.1 411"));
	fx_stop(f);
}

/* Handlers finishing right around the deadline: exactly one of the
 * worker and the timer must answer, whichever wins. */
static cx_err
jitter_fn(void *arg, const cx_http_req *rq, cx_http_resp *rs)
{
	(void) arg;
	sleep_ms((long) (rq->body_len % 7) * 5); /* 0..30 ms around 15 */
	return (cx_http_resp_set(rs, 200, "text/plain", "ok", 2));
}

typedef struct storm {
	pthread_t t;
	const char *url;
	int ok, late, bad;
} storm;

static void *
storm_main(void *arg)
{
	storm *s = arg;
	reply *r = malloc(sizeof(*r));
	char body[16] = "0123456789abcde";
	if (r == NULL) {
		return (NULL);
	}
	for (int i = 0; i < 40; i++) {
		if (req("POST", s->url, "/webhooks/j/x", body, (size_t) (i % 15),
		        NULL, r) != CURLE_OK) {
			s->bad++;
		} else if (r->status == 200 && strcmp(r->body, "ok") == 0) {
			s->ok++;
		} else if (r->status == 504) {
			s->late++;
		} else {
			s->bad++;
		}
	}
	free(r);
	return (NULL);
}

static void
test_timeout_race(void **state)
{
	(void) state;
	fx *f = fx_start(0, 15);
	storm s[4];
	int ok = 0, late = 0;

	assert_int_equal(cxi_http_route_add(f->h, "j", "POST", "/x",
	                     jitter_fn, f),
	    CX_OK);
	for (int i = 0; i < 4; i++) {
		s[i] = (storm) { .url = f->url };
		assert_int_equal(pthread_create(&s[i].t, NULL, storm_main, &s[i]),
		    0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(s[i].t, NULL), 0);
		assert_int_equal(s[i].bad, 0);
		ok += s[i].ok;
		late += s[i].late;
	}
	assert_int_equal(ok + late, 160);
	fx_stop(f);
}

/* Clients that give up, and a stop with a body half received and a
 * handler still running: nothing may hang or leak. */
static void
test_client_gone(void **state)
{
	(void) state;
	fx *f = fx_start(0, 5000);
	CURL *c = curl_easy_init();
	char url[256];
	reply r;
	int fd;

	f->sleep_ms = 300;
	assert_int_equal(cxi_http_route_add(f->h, "slow", "POST", "/run",
	                     slow_fn, f),
	    CX_OK);
	assert_non_null(c);
	snprintf(url, sizeof(url), "%s/webhooks/slow/run", f->url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 50L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	assert_int_equal(curl_easy_perform(c), CURLE_OPERATION_TIMEDOUT);
	curl_easy_cleanup(c);
	wait_started(f);
	while (!atomic_load(&f->finished)) {
		sleep_ms(10);
	}
	get(f->url, "/healthz", &r);
	assert_int_equal(r.status, 200);

	/* Half a body on the wire and a handler running, then stop. */
	atomic_store(&f->started, 0);
	atomic_store(&f->finished, 0);
	const char *half = "POST /webhooks/slow/run HTTP/1.1\r\n"
	                   "Host: x\r\nContent-Length: 10\r\n\r\nab";
	fd = raw_connect(f->url);
	assert_int_equal(write(fd, half, strlen(half)), (ssize_t) strlen(half));
	bg b;
	bg_start(&b, f->url, "/webhooks/slow/run");
	wait_started(f);
	long t0 = now_ms();
	fx_stop(f);
	assert_true(now_ms() - t0 < 2000);
	assert_int_equal(pthread_join(b.t, NULL), 0);
	close(fd);
}

static void
test_listen_errors(void **state)
{
	(void) state;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	cxi_http_opts o = { 0 };
	cxi_http *h = NULL;
	char why[256], url[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &sl), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(sa.sin_port));
	o.listen = url;
	assert_int_not_equal(cxi_http_start(&h, &o, why, sizeof(why)), CX_OK);
	assert_null(h);
	char want[128];
	snprintf(want, sizeof(want), "listen %s: address in use", url);
	assert_string_equal(why, want);
	close(fd);

	o.listen = "ftp://127.0.0.1:0";
	assert_int_not_equal(cxi_http_start(&h, &o, why, sizeof(why)), CX_OK);
	assert_non_null(strstr(why, "scheme must be http or https"));
	o.listen = "https://127.0.0.1:0";
	o.tls_cert = "/nonexistent/cert.pem";
	o.tls_key = "/nonexistent/key.pem";
	assert_int_not_equal(cxi_http_start(&h, &o, why, sizeof(why)), CX_OK);
	assert_string_equal(why, "listen https://127.0.0.1:0: tls_cert "
	                         "/nonexistent/cert.pem: No such file or "
	                         "directory");
}

static void
test_https(void **state)
{
	(void) state;
	char dir[] = "/tmp/cxhttpXXXXXX", cmd[1024], cert[256], key[256];
	cxi_http_opts o = { .listen = "https://127.0.0.1:0" };
	cxi_http *h;
	char why[256] = "";
	reply r;

	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd),
	    "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s "
	    "-days 1 -subj /CN=127.0.0.1 >/dev/null 2>&1",
	    key, cert);
	if (system(cmd) != 0) {
		skip();
	}
	o.tls_cert = cert;
	o.tls_key = key;
	if (cxi_http_start(&h, &o, why, sizeof(why)) != CX_OK) {
		fail_msg("https start: %s", why);
	}
	assert_non_null(strstr(cxi_http_url(h), "https://127.0.0.1:"));
	get(cxi_http_url(h), "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"ok\"}");
	cxi_http_stop(h);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthz),
		cmocka_unit_test(test_readyz),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_subtree),
		cmocka_unit_test(test_api_routes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_drop_waits),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_slow_body),
		cmocka_unit_test(test_timeout_race),
		cmocka_unit_test(test_client_gone),
		cmocka_unit_test(test_listen_errors),
		cmocka_unit_test(test_https),
	};
	int rv;
	if (curl_global_init(CURL_GLOBAL_ALL) != 0) {
		return (1);
	}
	rv = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return (rv);
}
