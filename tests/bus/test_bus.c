/*
 * test_bus.c - the bus: envelope codec, events, services, policy surveys,
 * ipc transport and shutdown. Each test uses its own namespace so that
 * brokers never meet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "bus.h"

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0) {
	}
}

static const char *
new_ns(void)
{
	static char buf[32];
	static int n;
	snprintf(buf, sizeof(buf), "t%d-%d", (int) getpid(), ++n);
	return (buf);
}

/* ---- envelope ---- */

static void
test_env_roundtrip(void **state)
{
	(void) state;
	json_t *env = cxi_env_new("call.completed", "acc_1",
	    json_pack("{s:i}", "n", 7));
	assert_non_null(env);
	char *buf;
	size_t len;
	assert_int_equal(cxi_env_encode(env, &buf, &len), 0);
	assert_string_equal(buf, "call.completed");
	assert_int_equal(buf[14], '\0');

	char why[128];
	json_t *back = cxi_env_decode(buf, len, why, sizeof(why));
	assert_non_null(back);
	assert_true(json_equal(env, back));
	cx_msg m;
	assert_int_equal(cxi_env_view(back, &m), 0);
	assert_string_equal(m.type, "call.completed");
	assert_string_equal(m.account, "acc_1");
	assert_int_equal(strlen(m.id), 32);
	assert_int_equal(strspn(m.id, "0123456789abcdef"), 32);
	assert_int_equal(json_integer_value(json_object_get(m.data, "n")), 7);
	int64_t wall = (int64_t) time(NULL) * 1000;
	assert_true(m.time_ms > wall - 5000 && m.time_ms < wall + 5000);
	free(buf);
	json_decref(back);

	/* Account null, data defaulted, ids differ. */
	json_t *e2 = cxi_env_new("x", NULL, NULL);
	assert_non_null(e2);
	assert_true(json_is_null(json_object_get(e2, "account")));
	assert_true(json_is_object(json_object_get(e2, "data")));
	assert_string_not_equal(json_string_value(json_object_get(e2, "id")),
	    json_string_value(json_object_get(env, "id")));
	assert_int_equal(cxi_env_view(e2, &m), 0);
	assert_null(m.account);
	json_decref(e2);
	json_decref(env);

	/* Bad types and data are refused at construction. */
	assert_null(cxi_env_new("", NULL, NULL));
	assert_null(cxi_env_new("a b", NULL, NULL));
	assert_null(cxi_env_new("x", NULL, json_array()));
}

static void
expect_reject(const char *wire, size_t len, const char *reason)
{
	char why[160] = "";
	json_t *e = cxi_env_decode(wire, len, why, sizeof(why));
	if (e != NULL || strstr(why, reason) == NULL) {
		print_error("input %.*s: got \"%s\", want \"%s\"\n", (int) len,
		    wire, why, reason);
	}
	assert_null(e);
	assert_non_null(strstr(why, reason));
}

#define REJECT(lit, reason) expect_reject(lit, sizeof(lit) - 1, reason)
#define T "\"time\":\"2026-01-02T03:04:05.678Z\""
#define I "\"id\":\"0123456789abcdef0123456789abcdef\""

static void
test_env_rejects(void **state)
{
	(void) state;
	char big[300];

	expect_reject("", 0, "empty message");
	REJECT("abc", "no NUL");
	REJECT("\0{}", "empty type");
	REJECT("a b\0{}", "non-printable");
	REJECT("a\tb\0{}", "non-printable");
	memset(big, 'a', 129);
	memcpy(big + 129, "\0{}", 3);
	expect_reject(big, 132, "longer than 128");
	REJECT("x\0{", "bad JSON");
	REJECT("x\0[]", "not a JSON object");
	REJECT("x\0{\"v\":1,\"v\":1}", "bad JSON");
	REJECT("x\0{\"v\":2,\"type\":\"x\"," I "," T
	       ",\"account\":null,\"data\":{}}",
	    "\"v\" must be 1");
	REJECT("x\0{\"v\":1,\"type\":\"y\"," I "," T
	       ",\"account\":null,\"data\":{}}",
	    "does not match");
	REJECT("x\0{\"v\":1,\"type\":\"x\"," T ",\"account\":null,\"data\":{}}",
	    "\"id\"");
	REJECT("x\0{\"v\":1,\"type\":\"x\"," I
	       ",\"time\":\"yesterday\",\"account\":null,\"data\":{}}",
	    "\"time\"");
	REJECT("x\0{\"v\":1,\"type\":\"x\"," I "," T ",\"account\":5,"
	       "\"data\":{}}",
	    "\"account\"");
	REJECT("x\0{\"v\":1,\"type\":\"x\"," I "," T ",\"data\":{}}",
	    "\"account\"");
	REJECT("x\0{\"v\":1,\"type\":\"x\"," I "," T
	       ",\"account\":null,\"data\":[]}",
	    "\"data\" must be an object");
	REJECT("x\0{\"v\":1,\"type\":\"x\"," I "," T ",\"account\":null}",
	    "\"data\" must be an object");
	REJECT("x\0{\"v\":1,\"type\":\"x\"," I "," T
	       ",\"account\":null,\"ok\":false}",
	    "error reply");
	REJECT("x\0{\"v\":1,\"type\":\"x\"," I "," T
	       ",\"account\":null,\"data\":{}} x",
	    "bad JSON");
}

/* ---- events ---- */

typedef struct counter {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int n;
	int sync_seen;
	char last[64];
} counter;

static void
counter_init(counter *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mtx, NULL);
	pthread_cond_init(&c->cv, NULL);
}

static void
counter_fini(counter *c)
{
	pthread_mutex_destroy(&c->mtx);
	pthread_cond_destroy(&c->cv);
}

static void
on_event(void *arg, const cx_msg *ev)
{
	counter *c = arg;
	pthread_mutex_lock(&c->mtx);
	c->n++;
	if (strncmp(ev->type, "cx.bus.", 7) == 0) {
		c->sync_seen++;
	}
	snprintf(c->last, sizeof(c->last), "%s", ev->type);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mtx);
}

static int
counter_wait(counter *c, int want, int ms)
{
	int64_t end = now_ms() + ms;
	int n;
	for (;;) {
		pthread_mutex_lock(&c->mtx);
		n = c->n;
		pthread_mutex_unlock(&c->mtx);
		if (n >= want || now_ms() > end) {
			return (n);
		}
		sleep_ms(2);
	}
}

static void
test_fanout(void **state)
{
	(void) state;
	const char *ns = new_ns();
	cxi_bus *bus;
	cxi_bus_client *pub, *a, *b, *c;
	counter ca, cb, cc, cb2;
	const int N = 50;

	counter_init(&ca);
	counter_init(&cb);
	counter_init(&cc);
	counter_init(&cb2);
	assert_int_equal(cxi_bus_open(&bus, ns, NULL), CX_OK);
	assert_int_equal(cxi_bus_client_open(&pub, "pub", ns, NULL), CX_OK);
	assert_int_equal(cxi_bus_client_open(&a, "a", ns, NULL), CX_OK);
	assert_int_equal(cxi_bus_client_open(&b, "b", ns, NULL), CX_OK);
	assert_int_equal(cxi_bus_client_open(&c, "c", ns, NULL), CX_OK);
	assert_int_equal(cxi_bus_subscribe(a, "call.completed", on_event, &ca),
	    CX_OK);
	assert_int_equal(cxi_bus_subscribe(b, "call.*", on_event, &cb), CX_OK);
	/* A second subscription on the same client: both callbacks run. */
	assert_int_equal(cxi_bus_subscribe(b, "call.started", on_event, &cb2),
	    CX_OK);
	assert_int_equal(cxi_bus_subscribe(c, "*", on_event, &cc), CX_OK);
	assert_int_equal(cxi_bus_subscribe(c, "bad topic", on_event, &cc),
	    CX_EINVAL);
	assert_int_equal(cxi_bus_subscribe(c, "a*b", on_event, &cc),
	    CX_EINVAL);

	for (int i = 0; i < N; i++) {
		assert_int_equal(cxi_bus_publish(pub, "call.completed", NULL,
		                     json_pack("{s:i}", "i", i)),
		    CX_OK);
		assert_int_equal(
		    cxi_bus_publish(pub, "call.started", "acc", NULL), CX_OK);
		assert_int_equal(
		    cxi_bus_publish(pub, "plugin.started", NULL, NULL), CX_OK);
		/* "call.completedX" must not match the exact topic. */
		assert_int_equal(
		    cxi_bus_publish(pub, "call.completedX", NULL, NULL), CX_OK);
	}
	assert_int_equal(counter_wait(&cc, 4 * N, 5000), 4 * N);
	assert_int_equal(counter_wait(&cb, 3 * N, 5000), 3 * N);
	assert_int_equal(counter_wait(&ca, N, 5000), N);
	assert_int_equal(counter_wait(&cb2, N, 5000), N);
	sleep_ms(50);
	/* Nothing extra, and no internal sync event leaked to "*". */
	assert_int_equal(cc.n, 4 * N);
	assert_int_equal(cc.sync_seen, 0);
	assert_int_equal(ca.n, N);
	assert_string_equal(ca.last, "call.completed");

	cxi_bus_stats st;
	cxi_bus_stats_get(bus, &st);
	assert_true(st.events_in >= (uint64_t) (4 * N));
	assert_true(st.events_out >= (uint64_t) (4 * N));

	/* After quiesce, no more callbacks; publishing still works. */
	cxi_bus_client_quiesce(c);
	assert_int_equal(cxi_bus_publish(pub, "plugin.started", NULL, NULL),
	    CX_OK);
	assert_int_equal(counter_wait(&ca, N + 1, 100), N);
	assert_int_equal(cc.n, 4 * N);
	assert_int_equal(cxi_bus_publish(c, "call.completed", NULL, NULL),
	    CX_OK);
	assert_int_equal(counter_wait(&ca, N + 1, 5000), N + 1);

	cxi_bus_client_close(a);
	cxi_bus_client_close(b);
	cxi_bus_client_close(c);
	cxi_bus_client_close(pub);
	cxi_bus_close(bus);
	counter_fini(&ca);
	counter_fini(&cb);
	counter_fini(&cc);
	counter_fini(&cb2);
}

/* ---- services ---- */

typedef struct svc_state {
	int sleep_ms;
	atomic_int started;
	atomic_int finished;
} svc_state;

static cx_err
echo_handler(void *arg, const cx_msg *req, json_t **reply)
{
	svc_state *s = arg;
	atomic_fetch_add(&s->started, 1);
	if (s->sleep_ms > 0) {
		sleep_ms(s->sleep_ms);
	}
	atomic_fetch_add(&s->finished, 1);
	if (strcmp(req->type, "svc.fail") == 0) {
		*reply = json_pack("{s:s}", "message", "no such account");
		return (CX_EDENIED);
	}
	if (strcmp(req->type, "svc.bare-fail") == 0) {
		return (CX_EBUSY);
	}
	*reply = json_pack("{s:O, s:s?}", "echo", req->data, "account",
	    req->account);
	return (CX_OK);
}

typedef struct caller_arg {
	cxi_bus_client *c;
	const char *service;
	int n;
	int timeout_ms;
	int ok;
	cx_err last;
} caller_arg;

static void *
caller_thread(void *arg)
{
	caller_arg *ca = arg;
	for (int i = 0; i < ca->n; i++) {
		json_t *rep = NULL;
		cx_err e = cxi_bus_call(ca->c, ca->service, "svc.echo", "acc",
		    json_pack("{s:i}", "i", i), ca->timeout_ms, &rep);
		ca->last = e;
		if (e == CX_OK &&
		    json_integer_value(json_object_get(
		        json_object_get(rep, "echo"), "i")) == i) {
			ca->ok++;
		}
		json_decref(rep);
	}
	return (NULL);
}

static void
test_calls(void **state)
{
	(void) state;
	const char *ns = new_ns();
	cxi_bus *bus;
	cxi_bus_client *srv, *cli;
	svc_state ss = { .sleep_ms = 2 };
	enum { THREADS = 8, CALLS = 200 };
	pthread_t thr[THREADS];
	caller_arg ca[THREADS];
	json_t *rep;

	assert_int_equal(cxi_bus_open(&bus, ns, NULL), CX_OK);
	assert_int_equal(cxi_bus_client_open(&srv, "echo", ns, NULL), CX_OK);
	assert_int_equal(cxi_bus_client_open(&cli, "cli", ns, NULL), CX_OK);
	assert_int_equal(cxi_bus_serve(srv, echo_handler, &ss), CX_OK);
	assert_int_equal(cxi_bus_serve(srv, echo_handler, &ss), CX_EEXIST);

	/* One call: reply data and account come back. */
	assert_int_equal(cxi_bus_call(cli, "echo", "svc.echo", "acc_9",
	                     json_pack("{s:s}", "k", "v"), 1000, &rep),
	    CX_OK);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(rep, "echo"), "k")),
	    "v");
	assert_string_equal(
	    json_string_value(json_object_get(rep, "account")), "acc_9");
	json_decref(rep);

	/* Concurrency: 8 threads x 200 calls against a 2 ms handler. */
	int64_t t0 = now_ms();
	for (int i = 0; i < THREADS; i++) {
		ca[i] = (caller_arg) { .c = cli, .service = "echo", .n = CALLS,
			.timeout_ms = 5000 };
		assert_int_equal(
		    pthread_create(&thr[i], NULL, caller_thread, &ca[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(thr[i], NULL);
		assert_int_equal(ca[i].ok, CALLS);
	}
	int64_t took = now_ms() - t0;
	int64_t serial = (int64_t) THREADS * CALLS * ss.sleep_ms;
	print_message("      %d calls in %lld ms (serial >= %lld ms)\n",
	    THREADS * CALLS, (long long) took, (long long) serial);
	assert_true(took < serial / 2);

	/* Handler errors keep their code and message. */
	assert_int_equal(cxi_bus_call(cli, "echo", "svc.fail", NULL, NULL,
	                     1000, &rep),
	    CX_EDENIED);
	assert_string_equal(json_string_value(json_object_get(rep, "message")),
	    "no such account");
	json_decref(rep);
	assert_int_equal(cxi_bus_call(cli, "echo", "svc.bare-fail", NULL, NULL,
	                     1000, &rep),
	    CX_EBUSY);
	assert_string_equal(json_string_value(json_object_get(rep, "message")),
	    cx_strerror(CX_EBUSY));
	json_decref(rep);

	/* Unknown service: CX_ENOENT at once, not after the timeout. */
	t0 = now_ms();
	assert_int_equal(cxi_bus_call(cli, "nobody", "svc.echo", NULL, NULL,
	                     5000, &rep),
	    CX_ENOENT);
	assert_null(rep);
	assert_true(now_ms() - t0 < 500);
	assert_int_equal(cxi_bus_call(cli, "bad/name", "svc.echo", NULL, NULL,
	                     5000, &rep),
	    CX_EINVAL);

	/* Timeout. */
	ss.sleep_ms = 1000;
	t0 = now_ms();
	assert_int_equal(cxi_bus_call(cli, "echo", "svc.echo", NULL, NULL, 50,
	                     &rep),
	    CX_ETIMEDOUT);
	took = now_ms() - t0;
	assert_true(took >= 45 && took < 700);
	ss.sleep_ms = 0;

	/* A service that went away is CX_ENOENT again, not a timeout. */
	cxi_bus_client_quiesce(srv);
	sleep_ms(150);
	t0 = now_ms();
	assert_int_equal(cxi_bus_call(cli, "echo", "svc.echo", NULL, NULL,
	                     5000, &rep),
	    CX_ENOENT);
	assert_true(now_ms() - t0 < 500);
	/* ... and serving again after quiesce works. */
	assert_int_equal(cxi_bus_serve(srv, echo_handler, &ss), CX_OK);
	assert_int_equal(cxi_bus_call(cli, "echo", "svc.echo", NULL, NULL,
	                     1000, &rep),
	    CX_OK);
	json_decref(rep);

	cxi_bus_client_close(cli);
	cxi_bus_client_close(srv);
	cxi_bus_close(bus);
}

static void
test_close_inflight(void **state)
{
	(void) state;
	const char *ns = new_ns();
	cxi_bus *bus;
	cxi_bus_client *srv, *cli;
	svc_state ss = { .sleep_ms = 200 };
	pthread_t thr;
	caller_arg ca = { .service = "slow", .n = 1, .timeout_ms = 600 };

	assert_int_equal(cxi_bus_open(&bus, ns, NULL), CX_OK);
	assert_int_equal(cxi_bus_client_open(&srv, "slow", ns, NULL), CX_OK);
	assert_int_equal(cxi_bus_client_open(&cli, "cli", ns, NULL), CX_OK);
	assert_int_equal(cxi_bus_serve(srv, echo_handler, &ss), CX_OK);

	/* The server closes while its handler runs: close waits for the
	 * handler, and the caller gets an error, not a crash. */
	ca.c = cli;
	assert_int_equal(pthread_create(&thr, NULL, caller_thread, &ca), 0);
	while (atomic_load(&ss.started) == 0) {
		sleep_ms(1);
	}
	cxi_bus_client_close(srv);
	assert_int_equal(atomic_load(&ss.finished), atomic_load(&ss.started));
	pthread_join(thr, NULL);
	assert_int_equal(ca.ok, 0);
	assert_int_not_equal(ca.last, CX_OK);

	/* The caller closes while its call waits: the call ends with
	 * CX_ECLOSED and close returns after it. */
	assert_int_equal(cxi_bus_client_open(&srv, "slow", ns, NULL), CX_OK);
	assert_int_equal(cxi_bus_serve(srv, echo_handler, &ss), CX_OK);
	ss.sleep_ms = 500;
	atomic_store(&ss.started, 0);
	atomic_store(&ss.finished, 0);
	ca = (caller_arg) { .c = cli, .service = "slow", .n = 1,
		.timeout_ms = 5000 };
	assert_int_equal(pthread_create(&thr, NULL, caller_thread, &ca), 0);
	while (atomic_load(&ss.started) == 0) {
		sleep_ms(1);
	}
	int64_t t0 = now_ms();
	cxi_bus_client_close(cli);
	assert_true(now_ms() - t0 < 400);
	pthread_join(thr, NULL);
	assert_int_equal(ca.last, CX_ECLOSED);
	cxi_bus_client_close(srv);
	cxi_bus_close(bus);
}

/* ---- policy ---- */

typedef struct pol_state {
	cx_verdict v;
	int sleep_ms;
	const char *why;
} pol_state;

static cx_verdict
on_policy(void *arg, const cx_msg *q, const char **reason)
{
	pol_state *p = arg;
	(void) q;
	if (p->sleep_ms > 0) {
		sleep_ms(p->sleep_ms);
	}
	*reason = p->why;
	return (p->v);
}

static void
wait_respondents(cxi_bus *bus, uint32_t n)
{
	cxi_bus_stats st;
	int64_t end = now_ms() + 2000;
	do {
		cxi_bus_stats_get(bus, &st);
		if (st.respondents == n) {
			return;
		}
		sleep_ms(1);
	} while (now_ms() < end);
	fail_msg("respondents: %u, want %u", st.respondents, n);
}

static cxi_bus_client *
policy_client(const char *name, const char *ns, pol_state *p)
{
	cxi_bus_client *c;
	assert_int_equal(cxi_bus_client_open(&c, name, ns, NULL), CX_OK);
	assert_int_equal(cxi_bus_answer_policy(c, on_policy, p), CX_OK);
	return (c);
}

static void
test_survey(void **state)
{
	(void) state;
	const char *ns = new_ns();
	cxi_bus *bus;
	char why[200];
	size_t n;
	pol_state allow = { CX_POLICY_ALLOW, 0, NULL };
	pol_state abst = { CX_POLICY_ABSTAIN, 0, NULL };
	pol_state deny = { CX_POLICY_DENY, 0, "calling hours" };
	pol_state late = { CX_POLICY_DENY, 600, "too late to matter" };

	assert_int_equal(cxi_bus_open(&bus, ns, NULL), CX_OK);

	/* Nobody to ask: allow, and at once. */
	int64_t t0 = now_ms();
	assert_int_equal(cxi_bus_survey(bus, "policy.call.place", NULL, NULL,
	                     1000, NULL, 0, &n, why, sizeof(why)),
	    CX_POLICY_ALLOW);
	assert_true(now_ms() - t0 < 500);
	assert_int_equal(n, 0);

	cxi_bus_client *pa = policy_client("pa", ns, &allow);
	cxi_bus_client *pb = policy_client("pb", ns, &abst);
	wait_respondents(bus, 2);
	const char *req_pa[] = { "pa" };
	assert_int_equal(cxi_bus_survey(bus, "policy.call.place", "acc",
	                     json_pack("{s:s}", "to", "+33"), 1000, req_pa, 1,
	                     &n, why, sizeof(why)),
	    CX_POLICY_ALLOW);
	assert_int_equal(n, 2);

	cxi_bus_client *pd = policy_client("pd", ns, &deny);
	wait_respondents(bus, 3);
	assert_int_equal(cxi_bus_survey(bus, "policy.call.place", NULL, NULL,
	                     1000, NULL, 0, &n, why, sizeof(why)),
	    CX_POLICY_DENY);
	assert_int_equal(n, 3);
	assert_string_equal(why, "policy pd denied: calling hours");
	cxi_bus_client_close(pd);
	wait_respondents(bus, 2);

	/* A late answer is ignored: not required, so it cannot deny. */
	cxi_bus_client *pl = policy_client("late", ns, &late);
	wait_respondents(bus, 3);
	t0 = now_ms();
	assert_int_equal(cxi_bus_survey(bus, "policy.call.place", NULL, NULL,
	                     100, NULL, 0, &n, why, sizeof(why)),
	    CX_POLICY_ALLOW);
	int64_t took = now_ms() - t0;
	assert_true(took >= 90 && took < 550);
	assert_int_equal(n, 2);
	sleep_ms(600); /* let the late answer arrive and be discarded */

	/* Required and late: deny, naming it. */
	const char *req_late[] = { "pa", "late" };
	assert_int_equal(cxi_bus_survey(bus, "policy.call.place", NULL, NULL,
	                     100, req_late, 2, &n, why, sizeof(why)),
	    CX_POLICY_DENY);
	assert_string_equal(why, "policy late did not answer within 100 ms");
	/* Required but not even connected: same outcome. */
	const char *req_ghost[] = { "ghost" };
	sleep_ms(600);
	cxi_bus_client_close(pl);
	wait_respondents(bus, 2);
	assert_int_equal(cxi_bus_survey(bus, "policy.call.place", NULL, NULL,
	                     100, req_ghost, 1, &n, why, sizeof(why)),
	    CX_POLICY_DENY);
	assert_string_equal(why, "policy ghost did not answer within 100 ms");

	/* Counters: 6 surveys, 3 denied, 2 required modules silent. */
	cxi_bus_stats st;
	cxi_bus_stats_get(bus, &st);
	assert_int_equal(st.surveys, 6);
	assert_int_equal(st.survey_denies, 3);
	assert_int_equal(st.survey_timeouts, 2);

	cxi_bus_client_close(pa);
	cxi_bus_client_close(pb);
	cxi_bus_close(bus);
}

typedef struct survey_arg {
	cxi_bus *bus;
	cx_verdict v;
} survey_arg;

static void *
survey_thread(void *arg)
{
	survey_arg *sa = arg;
	sa->v = cxi_bus_survey(sa->bus, "policy.x", NULL, NULL, 2000, NULL,
	    0, NULL, NULL, 0);
	return (NULL);
}

static void
test_survey_concurrent(void **state)
{
	(void) state;
	const char *ns = new_ns();
	cxi_bus *bus;
	pol_state slow = { CX_POLICY_ALLOW, 200, NULL };
	enum { N = 4 };
	pthread_t thr[N];
	survey_arg sa[N];

	assert_int_equal(cxi_bus_open(&bus, ns, NULL), CX_OK);
	cxi_bus_client *p = policy_client("slow", ns, &slow);
	wait_respondents(bus, 1);
	int64_t t0 = now_ms();
	for (int i = 0; i < N; i++) {
		sa[i] = (survey_arg) { bus, CX_POLICY_DENY };
		assert_int_equal(
		    pthread_create(&thr[i], NULL, survey_thread, &sa[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(thr[i], NULL);
		assert_int_equal(sa[i].v, CX_POLICY_ALLOW);
	}
	/* 4 questions x 200 ms answered by 4 contexts: well under 800. */
	assert_true(now_ms() - t0 < 600);
	cxi_bus_client_close(p);
	cxi_bus_close(bus);
}

/* ---- ipc ---- */

static void
test_ipc(void **state)
{
	(void) state;
	const char *ns = new_ns();
	char dir[] = "/tmp/cxbus-XXXXXX", path[256];
	cxi_bus *bus;
	cxi_bus_client *core, *plug;
	counter cnt;
	svc_state ss = { 0 };
	pol_state deny = { CX_POLICY_DENY, 0, "isolated says no" };
	json_t *rep;
	struct stat stt;
	char why[200];

	counter_init(&cnt);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(cxi_bus_open(&bus, ns, dir), CX_OK);
	assert_string_equal(cxi_bus_ipc_dir(bus), dir);
	snprintf(path, sizeof(path), "%s/publish.sock", dir);
	assert_int_equal(stat(path, &stt), 0);
	assert_int_equal(stt.st_mode & 0777, 0600);

	/* "plug" behaves like a plugin in a plugin host: ipc only. */
	assert_int_equal(cxi_bus_client_open(&plug, "plug", ns, dir), CX_OK);
	assert_int_equal(cxi_bus_client_open(&core, "core", ns, NULL), CX_OK);
	assert_int_equal(cxi_bus_client_set_ipc_dir(core, dir), CX_OK);

	assert_int_equal(cxi_bus_subscribe(plug, "call.*", on_event, &cnt),
	    CX_OK);
	assert_int_equal(cxi_bus_publish(core, "call.completed", NULL, NULL),
	    CX_OK);
	assert_int_equal(counter_wait(&cnt, 1, 5000), 1);

	/* The core calls the isolated plugin over ipc, and back. */
	assert_int_equal(cxi_bus_serve(plug, echo_handler, &ss), CX_OK);
	assert_int_equal(cxi_bus_serve(core, echo_handler, &ss), CX_OK);
	snprintf(path, sizeof(path), "%s/svc-plug.sock", dir);
	assert_int_equal(stat(path, &stt), 0);
	assert_int_equal(stt.st_mode & 0777, 0600);
	assert_int_equal(cxi_bus_call(core, "plug", "svc.echo", NULL,
	                     json_pack("{s:i}", "i", 1), 2000, &rep),
	    CX_OK);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(rep, "echo"), "i")),
	    1);
	json_decref(rep);
	assert_int_equal(cxi_bus_call(plug, "core", "svc.echo", NULL, NULL,
	                     2000, &rep),
	    CX_OK);
	json_decref(rep);
	assert_int_equal(cxi_bus_call(plug, "nobody", "svc.echo", NULL, NULL,
	                     2000, &rep),
	    CX_ENOENT);

	/* Policy over ipc. */
	assert_int_equal(cxi_bus_answer_policy(plug, on_policy, &deny), CX_OK);
	wait_respondents(bus, 1);
	assert_int_equal(cxi_bus_survey(bus, "policy.call.place", NULL, NULL,
	                     1000, NULL, 0, NULL, why, sizeof(why)),
	    CX_POLICY_DENY);
	assert_string_equal(why, "policy plug denied: isolated says no");

	cxi_bus_client_close(plug);
	cxi_bus_client_close(core);
	cxi_bus_close(bus);
	/* nng removes its socket files: the directory is empty again. */
	assert_int_equal(rmdir(dir), 0);
	counter_fini(&cnt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_roundtrip),
		cmocka_unit_test(test_env_rejects),
		cmocka_unit_test(test_fanout),
		cmocka_unit_test(test_calls),
		cmocka_unit_test(test_close_inflight),
		cmocka_unit_test(test_survey),
		cmocka_unit_test(test_survey_concurrent),
		cmocka_unit_test(test_ipc),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
