/*
 * bus_int.h - helpers shared by the bus broker and the bus client only.
 *
 * Addresses: inproc://callixo<ns>/<name> in process, and
 * ipc://<dir>/<name>.sock across processes (services use "svc-<name>"
 * for the ipc file because a slash would need a subdirectory).
 */
#ifndef CXI_BUS_INT_H
#define CXI_BUS_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <nng/nng.h>
#include <callixo/error.h>
#include <callixo/bus.h>

/* Longest request type cxi_bus_call accepts: its ".reply" must still fit
 * the envelope limit of CXI_ENV_TYPE_MAX. */
#define CXI_ENV_TYPE_MAX 128
#define CXI_BUS_REPLY_SUFFIX ".reply"
#define CXI_BUS_ANSWER_SUFFIX ".answer"
/* Internal event that proves the PUB->SUB path of one client works. It is
 * never delivered to subscribers, "*" included. */
#define CXI_BUS_SYNC_TYPE "cx.bus.sync"

int cxi_bus_url_inproc(char *buf, size_t len, const char *ns,
    const char *name);
int cxi_bus_url_ipc(char *buf, size_t len, const char *dir,
    const char *name);
/* Listens on url; ipc listeners get mode 0600 before they bind. */
int cxi_bus_listen(nng_socket s, const char *url);
cx_err cxi_bus_err(int nng_rv);
/* Service and plugin names become part of a URL and a file name. */
int cxi_bus_name_ok(const char *name);
/* Monotonic milliseconds, for deadlines. */
int64_t cxi_bus_now_ms(void);

/* ---- the client, shared by bus_client.c, bus_service.c, bus_policy.c */

#define CXI_BUS_SVC_WORKERS 8
#define CXI_BUS_POLICY_WORKERS 4
/* How long subscribe/answer_policy wait for their first connection. */
#define CXI_BUS_CONNECT_MS 2000

typedef struct bus_sub {
	char *prefix;     /* what nng matches: "type\0", "pfx." or "" */
	size_t plen;
	int exact;        /* 1: type must equal prefix (without the NUL) */
	cx_event_fn fn;
	void *arg;
} bus_sub;

typedef struct bus_target bus_target;
typedef struct cxi_bus_client cxi_bus_client;

/* A call in flight, so that close can abort its aio. */
typedef struct bus_call_rec {
	nng_aio *aio;
	struct bus_call_rec *next;
} bus_call_rec;

/* One thread bound to one nng context: it receives, runs plugin code
 * and answers. Plugin code runs on our threads, never on nng's task
 * threads, so a handler that blocks (or calls another service) cannot
 * starve nng of the threads it needs to deliver that very reply. */
/* Builds the answer to one received message (NULL: send nothing). */
typedef json_t *(*bus_handle_fn)(cxi_bus_client *c, nng_msg *m);

typedef struct bus_worker {
	cxi_bus_client *c;
	bus_handle_fn handle;
	nng_ctx ctx;
	nng_aio *aio;
	pthread_t thr;
	int started;
} bus_worker;

struct cxi_bus_client {
	char *name;
	char *ns;
	char *ipc_dir;     /* set: we live in a plugin host, ipc only */
	char *svc_ipc_dir; /* in-process client: broker's ipc dir, or NULL */
	/* Serializes set-up and tear-down (subscribe's first connection,
	 * serve, answer_policy, quiesce, close). Never held by a callback. */
	pthread_mutex_t ctl;
	/* Guards the fields below; held only briefly, never around nng
	 * calls that wait or around plugin callbacks. */
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int closing;

	nng_socket push;

	/* events */
	int sub_open;
	nng_socket sub;
	pthread_t sub_thr;
	bus_sub *subs;
	size_t n_subs;
	size_t cap_subs;
	char sync_id[72];
	int sync_seen;

	/* services */
	int svc_open;
	nng_socket rep;
	cx_service_fn svc_fn;
	void *svc_arg;
	bus_worker svc_w[CXI_BUS_SVC_WORKERS];

	/* policy */
	int pol_open;
	nng_socket resp;
	cx_policy_fn pol_fn;
	void *pol_arg;
	int pol_pipes;
	bus_worker pol_w[CXI_BUS_POLICY_WORKERS];

	/* calls */
	bus_target *targets;
	int calls;
	bus_call_rec *inflight;
};

/* nng 1.5 has no nng_ctx_sendmsg/recvmsg: these wait on a caller's aio
 * (timeout as set on it). Send frees m on failure. */
int cxi_bus_ctx_sendmsg(nng_ctx ctx, nng_aio *aio, nng_msg *m);
int cxi_bus_ctx_recvmsg(nng_ctx ctx, nng_aio *aio, nng_msg **m);
/* Sends an already built envelope on a socket or context. */
cx_err cxi_bus_send_env(nng_socket s, const json_t *env);
cx_err cxi_bus_ctx_send_env(nng_ctx ctx, nng_aio *aio, const json_t *env);
/* Starts n workers on contexts of s: each receives a message, answers
 * it with handle(), and sends the answer back on its context. */
int cxi_bus_workers_start(bus_worker *w, size_t n, cxi_bus_client *c,
    nng_socket s, bus_handle_fn handle);
/* Stops the workers' aios (their pending and future operations fail with
 * NNG_ECANCELED, which ends their loops) and joins them. Call before the
 * socket is closed: nng 1.5 can panic when a socket closes under a
 * context operation in flight on another thread. */
void cxi_bus_workers_join(bus_worker *w, size_t n);

void cxi_bus_svc_stop(cxi_bus_client *c);
void cxi_bus_pol_stop(cxi_bus_client *c);
/* Closes every cached REQ socket and waits for calls in flight. */
void cxi_bus_calls_close(cxi_bus_client *c);

#endif
