/*
 * bus_client.c - one participant of the bus: publishing, subscriptions,
 * and the life cycle (open, quiesce, close). Services are in
 * bus_service.c, policy answers in bus_policy.c.
 *
 * A client has at most one SUB socket for all its subscriptions: each
 * received event is decoded once and handed to every matching callback,
 * on one dispatch thread of ours (callbacks may block or make calls
 * without starving nng's own threads).
 *
 * PUB/SUB only delivers to subscribers whose pipe is connected at both
 * ends, so the first subscribe proves the whole path works before it
 * returns: it publishes a private "cx.bus.sync" event carrying a fresh id
 * until its own SUB socket receives it back. After that, any event
 * published after subscribe returned reaches the callback (unless a full
 * queue drops it: events are best effort).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/pubsub0/sub.h>

#include "bus.h"
#include "bus_int.h"

/* Queue sizes: a short burst waits instead of being dropped. */
#define BUS_PUSH_SENDBUF 1024
#define BUS_SUB_RECVBUF 1024
/* A publish blocks at most this long for the broker to take it. */
#define BUS_PUBLISH_TIMEOUT_MS 1000
#define BUS_SYNC_RESEND_MS 20

static int
bus_client_url(const cxi_bus_client *c, char *buf, size_t len,
    const char *name)
{
	if (c->ipc_dir != NULL) {
		return (cxi_bus_url_ipc(buf, len, c->ipc_dir, name));
	}
	return (cxi_bus_url_inproc(buf, len, c->ns, name));
}

/* Dials without waiting: the broker may come up after us, and nng keeps
 * redialing in the background. */
static int
bus_client_dial(const cxi_bus_client *c, nng_socket s, const char *name)
{
	char url[512];

	if (bus_client_url(c, url, sizeof(url), name) != 0) {
		return (NNG_EINVAL);
	}
	return (nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK));
}

static void
bus_client_free(cxi_bus_client *c)
{
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mtx);
	pthread_mutex_destroy(&c->ctl);
	free(c->name);
	free(c->ns);
	free(c->ipc_dir);
	free(c->svc_ipc_dir);
	free(c);
}

int
cxi_bus_client_open(cxi_bus_client **out, const char *name, const char *ns,
    const char *ipc_dir)
{
	cxi_bus_client *c;
	int rv;

	if (out == NULL || !cxi_bus_name_ok(name)) {
		return (CX_EINVAL);
	}
	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return (CX_ENOMEM);
	}
	if (pthread_mutex_init(&c->ctl, NULL) != 0) {
		free(c);
		return (CX_ENOMEM);
	}
	if (pthread_mutex_init(&c->mtx, NULL) != 0) {
		pthread_mutex_destroy(&c->ctl);
		free(c);
		return (CX_ENOMEM);
	}
	if (pthread_cond_init(&c->cv, NULL) != 0) {
		pthread_mutex_destroy(&c->mtx);
		pthread_mutex_destroy(&c->ctl);
		free(c);
		return (CX_ENOMEM);
	}
	if ((c->name = strdup(name)) == NULL ||
	    (c->ns = strdup(ns != NULL ? ns : "")) == NULL ||
	    (ipc_dir != NULL && (c->ipc_dir = strdup(ipc_dir)) == NULL)) {
		bus_client_free(c);
		return (CX_ENOMEM);
	}
	if ((rv = nng_push0_open(&c->push)) != 0) {
		bus_client_free(c);
		return (cxi_bus_err(rv));
	}
	if ((rv = nng_socket_set_int(c->push, NNG_OPT_SENDBUF,
	         BUS_PUSH_SENDBUF)) != 0 ||
	    (rv = nng_socket_set_ms(c->push, NNG_OPT_SENDTIMEO,
	         BUS_PUBLISH_TIMEOUT_MS)) != 0 ||
	    (rv = bus_client_dial(c, c->push, "publish")) != 0) {
		nng_close(c->push);
		bus_client_free(c);
		return (cxi_bus_err(rv));
	}
	*out = c;
	return (CX_OK);
}

int
cxi_bus_client_set_ipc_dir(cxi_bus_client *c, const char *ipc_dir)
{
	char *dup = NULL;

	if (c->ipc_dir != NULL) {
		/* A plugin-host client already talks ipc only. */
		return (CX_EINVAL);
	}
	if (ipc_dir != NULL && (dup = strdup(ipc_dir)) == NULL) {
		return (CX_ENOMEM);
	}
	pthread_mutex_lock(&c->ctl);
	if (c->svc_open) {
		pthread_mutex_unlock(&c->ctl);
		free(dup);
		return (CX_EBUSY);
	}
	pthread_mutex_lock(&c->mtx);
	free(c->svc_ipc_dir);
	c->svc_ipc_dir = dup;
	pthread_mutex_unlock(&c->mtx);
	pthread_mutex_unlock(&c->ctl);
	return (CX_OK);
}

cx_err
cxi_bus_publish(cxi_bus_client *c, const char *type, const char *account,
    json_t *data)
{
	json_t *env;
	cx_err e;

	if (c == NULL || type == NULL) {
		json_decref(data);
		return (CX_EINVAL);
	}
	if ((env = cxi_env_new(type, account, data)) == NULL) {
		return (CX_EINVAL);
	}
	e = cxi_bus_send_env(c->push, env);
	json_decref(env);
	return (e);
}

/* ---- subscriptions ---- */

static int
bus_sub_matches(const bus_sub *s, const char *type)
{
	if (s->exact) {
		return (strcmp(type, s->prefix) == 0);
	}
	return (strncmp(type, s->prefix, s->plen) == 0);
}

static void
bus_sub_dispatch(cxi_bus_client *c, const json_t *env)
{
	cx_msg ev;
	bus_sub *hit;
	size_t n = 0;

	if (cxi_env_view(env, &ev) != 0) {
		return;
	}
	if (strcmp(ev.type, CXI_BUS_SYNC_TYPE) == 0) {
		pthread_mutex_lock(&c->mtx);
		if (strcmp(ev.id, c->sync_id) == 0) {
			c->sync_seen = 1;
			pthread_cond_broadcast(&c->cv);
		}
		pthread_mutex_unlock(&c->mtx);
		return;
	}
	/* Copy the matches so callbacks run unlocked: they may subscribe. */
	pthread_mutex_lock(&c->mtx);
	hit = calloc(c->n_subs > 0 ? c->n_subs : 1, sizeof(*hit));
	for (size_t i = 0; hit != NULL && i < c->n_subs; i++) {
		if (bus_sub_matches(&c->subs[i], ev.type)) {
			hit[n++] = c->subs[i];
		}
	}
	pthread_mutex_unlock(&c->mtx);
	for (size_t i = 0; i < n; i++) {
		hit[i].fn(hit[i].arg, &ev);
	}
	free(hit);
}

static void *
bus_sub_thread(void *arg)
{
	cxi_bus_client *c = arg;
	nng_msg *m;
	json_t *env;
	int rv;

	for (;;) {
		if ((rv = nng_recvmsg(c->sub, &m, 0)) != 0) {
			if (rv == NNG_ECLOSED) {
				break;
			}
			continue;
		}
		/* A malformed event is dropped: it has no owner to answer. */
		env = cxi_env_decode(nng_msg_body(m), nng_msg_len(m), NULL, 0);
		nng_msg_free(m);
		if (env != NULL) {
			bus_sub_dispatch(c, env);
			json_decref(env);
		}
	}
	return (NULL);
}

/* Publishes our sync event until it comes back through the broker. */
static cx_err
bus_sub_sync(cxi_bus_client *c)
{
	int64_t deadline = cxi_bus_now_ms() + CXI_BUS_CONNECT_MS;
	json_t *env;
	cx_err e;

	if ((env = cxi_env_new(CXI_BUS_SYNC_TYPE, NULL, NULL)) == NULL) {
		return (CX_ENOMEM);
	}
	pthread_mutex_lock(&c->mtx);
	snprintf(c->sync_id, sizeof(c->sync_id), "%s",
	    json_string_value(json_object_get(env, "id")));
	c->sync_seen = 0;
	pthread_mutex_unlock(&c->mtx);
	for (;;) {
		struct timespec ts;
		int64_t now = cxi_bus_now_ms();

		if (now >= deadline) {
			e = CX_ETIMEDOUT;
			break;
		}
		if ((e = cxi_bus_send_env(c->push, env)) != CX_OK &&
		    e != CX_ETIMEDOUT) {
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += BUS_SYNC_RESEND_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&c->mtx);
		while (!c->sync_seen &&
		    pthread_cond_timedwait(&c->cv, &c->mtx, &ts) == 0) {
		}
		int seen = c->sync_seen;
		pthread_mutex_unlock(&c->mtx);
		if (seen) {
			e = CX_OK;
			break;
		}
	}
	json_decref(env);
	return (e);
}

static void
bus_sub_stop(cxi_bus_client *c)
{
	if (!c->sub_open) {
		return;
	}
	pthread_mutex_lock(&c->mtx);
	c->sub_open = 0;
	pthread_mutex_unlock(&c->mtx);
	/* Closing ends the dispatch thread's receive; joining waits for a
	 * callback that is running, so none runs after we return. */
	nng_close(c->sub);
	pthread_join(c->sub_thr, NULL);
	pthread_mutex_lock(&c->mtx);
	for (size_t i = 0; i < c->n_subs; i++) {
		free(c->subs[i].prefix);
	}
	free(c->subs);
	c->subs = NULL;
	c->n_subs = c->cap_subs = 0;
	pthread_mutex_unlock(&c->mtx);
}

/* Called with ctl held. */
static cx_err
bus_sub_start(cxi_bus_client *c)
{
	int rv;
	cx_err e;

	if ((rv = nng_sub0_open(&c->sub)) != 0) {
		return (cxi_bus_err(rv));
	}
	if ((rv = nng_socket_set_int(c->sub, NNG_OPT_RECVBUF,
	         BUS_SUB_RECVBUF)) != 0 ||
	    (rv = nng_socket_set(c->sub, NNG_OPT_SUB_SUBSCRIBE,
	         CXI_BUS_SYNC_TYPE, sizeof(CXI_BUS_SYNC_TYPE))) != 0 ||
	    (rv = bus_client_dial(c, c->sub, "events")) != 0) {
		nng_close(c->sub);
		return (cxi_bus_err(rv));
	}
	if (pthread_create(&c->sub_thr, NULL, bus_sub_thread, c) != 0) {
		nng_close(c->sub);
		return (CX_ENOMEM);
	}
	pthread_mutex_lock(&c->mtx);
	c->sub_open = 1;
	pthread_mutex_unlock(&c->mtx);
	if ((e = bus_sub_sync(c)) != CX_OK) {
		bus_sub_stop(c);
		return (e);
	}
	return (CX_OK);
}

/* Turns a topic into what nng's prefix filter needs. */
static cx_err
bus_sub_parse(const char *topic, bus_sub *s)
{
	size_t n = strlen(topic);
	json_t *probe;

	memset(s, 0, sizeof(*s));
	if (strcmp(topic, "*") == 0) {
		s->prefix = strdup("");
		s->plen = 0;
	} else if (n > 2 && strcmp(topic + n - 2, ".*") == 0) {
		s->prefix = strndup(topic, n - 1);
		s->plen = n - 1;
	} else {
		s->prefix = strdup(topic);
		s->plen = n + 1; /* the NUL ends the wire topic */
		s->exact = 1;
	}
	if (s->prefix == NULL) {
		return (CX_ENOMEM);
	}
	/* The same rules as an envelope type, checked by building one. */
	probe = cxi_env_new(s->prefix[0] != '\0' ? s->prefix : "x", NULL,
	    NULL);
	if (probe == NULL || (!s->exact && strchr(s->prefix, '*') != NULL) ||
	    (s->exact && strchr(topic, '*') != NULL)) {
		json_decref(probe);
		free(s->prefix);
		s->prefix = NULL;
		return (CX_EINVAL);
	}
	json_decref(probe);
	return (CX_OK);
}

cx_err
cxi_bus_subscribe(cxi_bus_client *c, const char *topic, cx_event_fn fn,
    void *arg)
{
	bus_sub s;
	cx_err e;
	int rv, open;

	if (c == NULL || topic == NULL || fn == NULL) {
		return (CX_EINVAL);
	}
	if ((e = bus_sub_parse(topic, &s)) != CX_OK) {
		return (e);
	}
	s.fn = fn;
	s.arg = arg;
	pthread_mutex_lock(&c->mtx);
	open = c->sub_open;
	pthread_mutex_unlock(&c->mtx);
	/* From inside an event callback the socket is open; if quiesce is
	 * tearing it down, waiting for ctl would wait for ourselves. */
	if (!open && pthread_equal(pthread_self(), c->sub_thr)) {
		free(s.prefix);
		return (CX_ECLOSED);
	}
	if (!open) {
		pthread_mutex_lock(&c->ctl);
		e = CX_OK;
		if (c->closing) {
			e = CX_ECLOSED;
		} else if (!c->sub_open) {
			e = bus_sub_start(c);
		}
		pthread_mutex_unlock(&c->ctl);
		if (e != CX_OK) {
			free(s.prefix);
			return (e);
		}
	}
	pthread_mutex_lock(&c->mtx);
	if (!c->sub_open) {
		e = CX_ECLOSED;
	} else if (c->n_subs == c->cap_subs) {
		size_t cap = c->cap_subs ? c->cap_subs * 2 : 8;
		bus_sub *ns = realloc(c->subs, cap * sizeof(*ns));
		if (ns == NULL) {
			e = CX_ENOMEM;
		} else {
			c->subs = ns;
			c->cap_subs = cap;
		}
	}
	if (e == CX_OK) {
		/* Filter first, then list: an event that slips through in
		 * between is simply not matched by the list yet. */
		rv = nng_socket_set(c->sub, NNG_OPT_SUB_SUBSCRIBE, s.prefix,
		    s.plen);
		if (rv != 0) {
			e = cxi_bus_err(rv);
		} else {
			c->subs[c->n_subs++] = s;
		}
	}
	pthread_mutex_unlock(&c->mtx);
	if (e != CX_OK) {
		free(s.prefix);
	}
	return (e);
}

void
cxi_bus_client_quiesce(cxi_bus_client *c)
{
	if (c == NULL) {
		return;
	}
	pthread_mutex_lock(&c->ctl);
	bus_sub_stop(c);
	cxi_bus_svc_stop(c);
	cxi_bus_pol_stop(c);
	pthread_mutex_unlock(&c->ctl);
}

void
cxi_bus_client_close(cxi_bus_client *c)
{
	if (c == NULL) {
		return;
	}
	pthread_mutex_lock(&c->ctl);
	pthread_mutex_lock(&c->mtx);
	c->closing = 1;
	pthread_mutex_unlock(&c->mtx);
	bus_sub_stop(c);
	cxi_bus_svc_stop(c);
	cxi_bus_pol_stop(c);
	cxi_bus_calls_close(c);
	nng_close(c->push);
	pthread_mutex_unlock(&c->ctl);
	bus_client_free(c);
}
