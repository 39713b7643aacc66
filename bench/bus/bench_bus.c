/*
 * bench_bus.c - throughput and latency of the Callixo bus, next to bare
 * nng sockets doing the same work, in one run on one machine.
 *
 *   events/s: publisher -> broker (PULL->PUB) -> one subscriber. The
 *             publisher stays at most WINDOW events ahead of what the
 *             subscriber has received, because PUB drops for a slow
 *             subscriber and we measure delivery, not loss.
 *   req/rep:  one caller, sequential calls, round trip per call; median
 *             and 99th percentile in microseconds.
 * "raw" is the same topology with bare sockets: PUSH->PULL->PUB->SUB
 * with the broker's kind of aio forwarder, and REQ/REP with no envelope,
 * no JSON and no contexts. Usage: bench_bus [events] [calls]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bus.h"

#define WINDOW 256
#define PAYLOAD 100

static double
now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3);
}

static void
die(const char *what, int rv)
{
	fprintf(stderr, "bench_bus: %s: %d\n", what, rv);
	exit(1);
}

#define CHECK(expr)                                                     \
	do {                                                            \
		int rv_ = (expr);                                       \
		if (rv_ != 0) {                                         \
			die(#expr, rv_);                                \
		}                                                       \
	} while (0)

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;
	return (x < y ? -1 : x > y);
}

typedef struct lat {
	double median;
	double p99;
} lat;

static lat
lat_of(double *v, int n)
{
	lat l;
	qsort(v, (size_t) n, sizeof(*v), cmp_double);
	l.median = v[n / 2];
	l.p99 = v[(int) ((double) n * 0.99)];
	return (l);
}

/* Waits until *got reaches want, or gives up after 10 s of silence. */
static int
await(atomic_int *got, int want)
{
	double last = now_us();
	int seen = atomic_load(got);
	while (seen < want) {
		int g = atomic_load(got);
		if (g != seen) {
			seen = g;
			last = now_us();
		} else if (now_us() - last > 10e6) {
			return (-1);
		}
		sched_yield();
	}
	return (0);
}

/* ---- the bus ---- */

static atomic_int bus_got;

static void
bus_on_event(void *arg, const cx_msg *ev)
{
	(void) arg;
	(void) ev;
	atomic_fetch_add(&bus_got, 1);
}

static cx_err
bus_echo(void *arg, const cx_msg *req, json_t **reply)
{
	(void) arg;
	*reply = json_deep_copy(req->data);
	return (CX_OK);
}

static json_t *
payload(void)
{
	static char s[PAYLOAD + 1];
	memset(s, 'x', PAYLOAD);
	return (json_pack("{s:s}", "p", s));
}

static double
bus_events(const char *ns, const char *dir, int n)
{
	cxi_bus *bus;
	cxi_bus_client *pub, *sub;

	CHECK(cxi_bus_open(&bus, ns, dir));
	CHECK(cxi_bus_client_open(&pub, "pub", ns, dir));
	CHECK(cxi_bus_client_open(&sub, "sub", ns, dir));
	CHECK(cxi_bus_subscribe(sub, "bench.event", bus_on_event, NULL));
	atomic_store(&bus_got, 0);
	double t0 = now_us();
	for (int i = 0; i < n; i++) {
		while (i - atomic_load(&bus_got) >= WINDOW) {
			sched_yield();
		}
		CHECK(cxi_bus_publish(pub, "bench.event", NULL, payload()));
	}
	if (await(&bus_got, n) != 0) {
		fprintf(stderr, "bus events: only %d of %d arrived\n",
		    atomic_load(&bus_got), n);
	}
	double secs = (now_us() - t0) / 1e6;
	cxi_bus_client_close(sub);
	cxi_bus_client_close(pub);
	cxi_bus_close(bus);
	return (atomic_load(&bus_got) / secs);
}

static lat
bus_calls(const char *ns, const char *dir, int n)
{
	cxi_bus *bus;
	cxi_bus_client *srv, *cli;
	double *v = calloc((size_t) n, sizeof(double));
	json_t *rep;

	if (v == NULL) {
		die("calloc", -1);
	}
	CHECK(cxi_bus_open(&bus, ns, dir));
	/* With an ipc dir the server is an "isolated plugin" and the caller
	 * the core: inproc is refused, the call goes over ipc. */
	CHECK(cxi_bus_client_open(&srv, "echo", ns, dir));
	CHECK(cxi_bus_client_open(&cli, "core", ns, NULL));
	if (dir != NULL) {
		CHECK(cxi_bus_client_set_ipc_dir(cli, dir));
	}
	CHECK(cxi_bus_serve(srv, bus_echo, NULL));
	for (int i = 0; i < n / 10 + 1; i++) {
		CHECK(cxi_bus_call(cli, "echo", "bench.echo", NULL, payload(),
		    5000, &rep));
		json_decref(rep);
	}
	for (int i = 0; i < n; i++) {
		double t0 = now_us();
		CHECK(cxi_bus_call(cli, "echo", "bench.echo", NULL, payload(),
		    5000, &rep));
		v[i] = now_us() - t0;
		json_decref(rep);
	}
	cxi_bus_client_close(cli);
	cxi_bus_client_close(srv);
	cxi_bus_close(bus);
	lat l = lat_of(v, n);
	free(v);
	return (l);
}

/* ---- raw nng ---- */

static atomic_int raw_got;

/* The same aio-chain forwarder as the broker, so that the comparison
 * measures the envelope, JSON and dispatch, not a different forwarder. */
typedef struct fwd {
	nng_socket from;
	nng_socket to;
	nng_aio *aio;
} fwd;

static void
raw_forward_cb(void *arg)
{
	fwd *f = arg;
	nng_msg *m;

	if (nng_aio_result(f->aio) != 0) {
		return;
	}
	m = nng_aio_get_msg(f->aio);
	if (nng_sendmsg(f->to, m, NNG_FLAG_NONBLOCK) != 0) {
		nng_msg_free(m);
	}
	nng_recv_aio(f->from, f->aio);
}

static void *
raw_count(void *arg)
{
	nng_socket *s = arg;
	nng_msg *m;
	while (nng_recvmsg(*s, &m, 0) == 0) {
		atomic_fetch_add(&raw_got, 1);
		nng_msg_free(m);
	}
	return (NULL);
}

static void
raw_urls(const char *dir, const char *name, char *buf, size_t len)
{
	if (dir != NULL) {
		snprintf(buf, len, "ipc://%s/raw-%s.sock", dir, name);
	} else {
		snprintf(buf, len, "inproc://raw-%s", name);
	}
}

static double
raw_events(const char *dir, int n)
{
	nng_socket push, pull, pub, sub;
	pthread_t tc;
	char u1[256], u2[256], body[PAYLOAD + 16];
	fwd f;

	raw_urls(dir, "publish", u1, sizeof(u1));
	raw_urls(dir, "events", u2, sizeof(u2));
	CHECK(nng_pull0_open(&pull));
	CHECK(nng_pub0_open(&pub));
	CHECK(nng_push0_open(&push));
	CHECK(nng_sub0_open(&sub));
	/* The bus's queue sizes, so both sides buffer alike. */
	CHECK(nng_socket_set_int(push, NNG_OPT_SENDBUF, 1024));
	CHECK(nng_socket_set_int(pub, NNG_OPT_SENDBUF, 1024));
	CHECK(nng_socket_set_int(sub, NNG_OPT_RECVBUF, 1024));
	CHECK(nng_listen(pull, u1, NULL, 0));
	CHECK(nng_listen(pub, u2, NULL, 0));
	CHECK(nng_dial(push, u1, NULL, 0));
	CHECK(nng_dial(sub, u2, NULL, 0));
	CHECK(nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "bench.event", 12));
	f.from = pull;
	f.to = pub;
	CHECK(nng_aio_alloc(&f.aio, raw_forward_cb, &f));
	nng_recv_aio(pull, f.aio);
	CHECK(pthread_create(&tc, NULL, raw_count, &sub));
	/* Same sync the bus does: wait until a message gets through. */
	atomic_store(&raw_got, 0);
	memcpy(body, "bench.event", 12);
	memset(body + 12, 'x', PAYLOAD);
	while (atomic_load(&raw_got) == 0) {
		CHECK(nng_send(push, body, sizeof(body), 0));
		usleep(1000);
	}
	usleep(10000);
	atomic_store(&raw_got, 0);
	double t0 = now_us();
	for (int i = 0; i < n; i++) {
		while (i - atomic_load(&raw_got) >= WINDOW) {
			sched_yield();
		}
		CHECK(nng_send(push, body, sizeof(body), 0));
	}
	if (await(&raw_got, n) != 0) {
		fprintf(stderr, "raw events: only %d of %d arrived\n",
		    atomic_load(&raw_got), n);
	}
	double secs = (now_us() - t0) / 1e6;
	nng_aio_stop(f.aio);
	nng_close(push);
	nng_close(pull);
	nng_close(pub);
	nng_close(sub);
	nng_aio_free(f.aio);
	pthread_join(tc, NULL);
	return (atomic_load(&raw_got) / secs);
}

static void *
raw_echo(void *arg)
{
	nng_socket *s = arg;
	nng_msg *m;
	while (nng_recvmsg(*s, &m, 0) == 0) {
		if (nng_sendmsg(*s, m, 0) != 0) {
			nng_msg_free(m);
		}
	}
	return (NULL);
}

static lat
raw_calls(const char *dir, int n)
{
	nng_socket req, rep;
	pthread_t t;
	char url[256], body[PAYLOAD];
	double *v = calloc((size_t) n, sizeof(double));
	nng_msg *m;

	if (v == NULL) {
		die("calloc", -1);
	}
	memset(body, 'x', sizeof(body));
	raw_urls(dir, "svc", url, sizeof(url));
	CHECK(nng_rep0_open(&rep));
	CHECK(nng_req0_open(&req));
	CHECK(nng_listen(rep, url, NULL, 0));
	CHECK(nng_dial(req, url, NULL, 0));
	CHECK(pthread_create(&t, NULL, raw_echo, &rep));
	for (int i = -(n / 10 + 1); i < n; i++) {
		double t0 = now_us();
		CHECK(nng_msg_alloc(&m, 0));
		CHECK(nng_msg_append(m, body, sizeof(body)));
		CHECK(nng_sendmsg(req, m, 0));
		CHECK(nng_recvmsg(req, &m, 0));
		nng_msg_free(m);
		if (i >= 0) {
			v[i] = now_us() - t0;
		}
	}
	nng_close(req);
	nng_close(rep);
	pthread_join(t, NULL);
	lat l = lat_of(v, n);
	free(v);
	return (l);
}

int
main(int argc, char **argv)
{
	int nev = argc > 1 ? atoi(argv[1]) : 100000;
	int ncall = argc > 2 ? atoi(argv[2]) : 20000;
	char dir[] = "/tmp/cxbench-XXXXXX";

	if (nev <= 0 || ncall <= 0) {
		fprintf(stderr, "usage: bench_bus [events] [calls]\n");
		return (2);
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return (1);
	}
	printf("| transport | measure | callixo bus | raw nng | bus/raw |\n");
	printf("|---|---|---:|---:|---:|\n");
	for (int ipc = 0; ipc < 2; ipc++) {
		const char *d = ipc ? dir : NULL;
		const char *name = ipc ? "ipc" : "inproc";
		double be = bus_events(ipc ? "bench-ev-ipc" : "bench-ev", d,
		    nev);
		double re = raw_events(d, nev);
		lat bl = bus_calls(ipc ? "bench-rr-ipc" : "bench-rr", d, ncall);
		lat rl = raw_calls(d, ncall);
		printf("| %s | events/s (higher is better) | %.0f | %.0f | "
		       "%.2f |\n",
		    name, be, re, be / re);
		printf("| %s | req/rep median µs | %.1f | %.1f | %.2f |\n",
		    name, bl.median, rl.median, bl.median / rl.median);
		printf("| %s | req/rep p99 µs | %.1f | %.1f | %.2f |\n", name,
		    bl.p99, rl.p99, bl.p99 / rl.p99);
		fflush(stdout);
	}
	if (rmdir(dir) != 0) {
		perror(dir);
	}
	return (0);
}
