/*
 * host.c - the services a plugin instance reaches through cx_host.
 *
 * Timers ride on nng's sleep aios so plugins need no threads of their
 * own. A timer cancelled from inside its own callback is only flagged:
 * nng forbids stopping an aio from its callback, so the aio is released
 * when the instance quiesces.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "host.h"
#include "log.h"

typedef struct timer {
	cxi_hostctx *hc;
	uint64_t id;
	nng_aio *aio;
	int64_t period_ms;
	cx_timer_fn fn;
	void *arg;
	_Atomic bool cancelled;
	struct timer *next;
} timer;

struct cxi_hostctx {
	cx_host table; /* first: the host pointer is the context pointer */
	char *name;
	char *data_dir;
	cxi_bus_client *bus;
	cxi_host_sinks sinks;
	pthread_mutex_t mu;
	timer *timers;
	uint64_t next_timer;
	bool quiesced;
	_Atomic bool answers_policy;
};

static cxi_hostctx *
ctx_of(const cx_host *h)
{
	return ((cxi_hostctx *) h->ctx);
}

static void
host_log(const cx_host *h, cx_log_level lvl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cxi_logv(lvl, "plugin", h->name, fmt, ap);
	va_end(ap);
}

static cx_err
host_publish(const cx_host *h, const char *type, const char *account,
    json_t *data)
{
	return (cxi_bus_publish(ctx_of(h)->bus, type, account, data));
}

static cx_err
host_subscribe(const cx_host *h, const char *topic, cx_event_fn fn, void *arg)
{
	return (cxi_bus_subscribe(ctx_of(h)->bus, topic, fn, arg));
}

static cx_err
host_call(const cx_host *h, const char *service, const char *type,
    const char *account, json_t *data, int timeout_ms, json_t **reply)
{
	return (cxi_bus_call(ctx_of(h)->bus, service, type, account, data,
	    timeout_ms, reply));
}

static cx_err
host_serve(const cx_host *h, cx_service_fn fn, void *arg)
{
	return (cxi_bus_serve(ctx_of(h)->bus, fn, arg));
}

static cx_err
host_answer_policy(const cx_host *h, cx_policy_fn fn, void *arg)
{
	cx_err rv = cxi_bus_answer_policy(ctx_of(h)->bus, fn, arg);
	if (rv == CX_OK) {
		ctx_of(h)->answers_policy = true;
	}
	return (rv);
}

static void
timer_fire(void *arg)
{
	timer *t = arg;
	if (nng_aio_result(t->aio) != 0 || t->cancelled) {
		return;
	}
	t->fn(t->arg);
	if (t->period_ms > 0 && !t->cancelled) {
		nng_sleep_aio((nng_duration) t->period_ms, t->aio);
	}
}

static cx_err
host_timer_add(const cx_host *h, int64_t delay_ms, int64_t period_ms,
    cx_timer_fn fn, void *arg, cx_timer_id *id)
{
	cxi_hostctx *hc = ctx_of(h);
	if (fn == NULL || delay_ms < 0 || period_ms < 0 ||
	    delay_ms > INT32_MAX || period_ms > INT32_MAX) {
		return (CX_EINVAL);
	}
	timer *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		return (CX_ENOMEM);
	}
	t->hc = hc;
	t->period_ms = period_ms;
	t->fn = fn;
	t->arg = arg;
	if (nng_aio_alloc(&t->aio, timer_fire, t) != 0) {
		free(t);
		return (CX_ENOMEM);
	}
	pthread_mutex_lock(&hc->mu);
	if (hc->quiesced) {
		pthread_mutex_unlock(&hc->mu);
		nng_aio_free(t->aio);
		free(t);
		return (CX_ECLOSED);
	}
	t->id = ++hc->next_timer;
	t->next = hc->timers;
	hc->timers = t;
	if (id != NULL) {
		id->v = t->id;
	}
	nng_sleep_aio((nng_duration) delay_ms, t->aio);
	pthread_mutex_unlock(&hc->mu);
	return (CX_OK);
}

static void
host_timer_cancel(const cx_host *h, cx_timer_id id)
{
	cxi_hostctx *hc = ctx_of(h);
	pthread_mutex_lock(&hc->mu);
	for (timer *t = hc->timers; t != NULL; t = t->next) {
		if (t->id == id.v) {
			t->cancelled = true;
			nng_aio_cancel(t->aio);
			break;
		}
	}
	pthread_mutex_unlock(&hc->mu);
}

static cx_err
host_http_route(const cx_host *h, const char *method, const char *subpath,
    cx_http_fn fn, void *arg)
{
	cxi_hostctx *hc = ctx_of(h);
	if (method == NULL || subpath == NULL || subpath[0] != '/' ||
	    fn == NULL) {
		return (CX_EINVAL);
	}
	if (hc->sinks.route_add == NULL) {
		return (CX_ENOTSUP);
	}
	int rv = hc->sinks.route_add(hc->sinks.arg, hc->name, method, subpath,
	    fn, arg);
	return (rv == 0 ? CX_OK : rv == EEXIST ? CX_EEXIST : CX_EINVAL);
}

static void
host_metric_add(const cx_host *h, const char *metric, int64_t delta)
{
	cxi_hostctx *hc = ctx_of(h);
	if (hc->sinks.metric_add != NULL && metric != NULL) {
		hc->sinks.metric_add(hc->sinks.arg, hc->name, metric, delta);
	}
}

int
cxi_hostctx_new(cxi_hostctx **out, const char *name, const char *data_dir,
    cxi_bus_client *bus, const cxi_host_sinks *sinks)
{
	cxi_hostctx *hc = calloc(1, sizeof(*hc));
	if (hc == NULL) {
		return (ENOMEM);
	}
	if ((hc->name = strdup(name)) == NULL ||
	    (hc->data_dir = strdup(data_dir)) == NULL) {
		free(hc->name);
		free(hc);
		return (ENOMEM);
	}
	pthread_mutex_init(&hc->mu, NULL);
	hc->bus = bus;
	if (sinks != NULL) {
		hc->sinks = *sinks;
	}
	cx_host *t = &hc->table;
	t->size = sizeof(cx_host);
	t->abi_major = CX_ABI_MAJOR;
	t->abi_minor = CX_ABI_MINOR;
	t->ctx = hc;
	t->name = hc->name;
	t->data_dir = hc->data_dir;
	t->log = host_log;
	t->publish = host_publish;
	t->subscribe = host_subscribe;
	t->call = host_call;
	t->serve = host_serve;
	t->answer_policy = host_answer_policy;
	t->timer_add = host_timer_add;
	t->timer_cancel = host_timer_cancel;
	t->http_route = host_http_route;
	t->metric_add = host_metric_add;
	*out = hc;
	return (0);
}

const cx_host *
cxi_hostctx_table(const cxi_hostctx *hc)
{
	return (&hc->table);
}

void
cxi_hostctx_quiesce(cxi_hostctx *hc)
{
	pthread_mutex_lock(&hc->mu);
	hc->quiesced = true;
	timer *list = hc->timers;
	hc->timers = NULL;
	pthread_mutex_unlock(&hc->mu);
	while (list != NULL) {
		timer *next = list->next;
		list->cancelled = true;
		/* Waits for a callback in progress, then releases. */
		nng_aio_free(list->aio);
		free(list);
		list = next;
	}
}

void
cxi_hostctx_free(cxi_hostctx *hc)
{
	if (hc == NULL) {
		return;
	}
	cxi_hostctx_quiesce(hc);
	pthread_mutex_destroy(&hc->mu);
	free(hc->name);
	free(hc->data_dir);
	free(hc);
}

bool
cxi_hostctx_answers_policy(const cxi_hostctx *hc)
{
	return (hc->answers_policy);
}
