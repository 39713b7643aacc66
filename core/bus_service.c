/*
 * bus_service.c - request/reply between plugins: serving and calling.
 *
 * A serving client listens REP on inproc://callixo<ns>/svc/<name> (and on
 * ipc://<dir>/svc-<name>.sock when it has an ipc directory), with
 * CXI_BUS_SVC_WORKERS contexts, each on its own thread, so that that many
 * requests run at once.
 *
 * A caller keeps one REQ socket per target name and opens one context per
 * call, so calls from many threads share the socket without waiting for
 * each other. REQ resending is off: requests are not assumed idempotent,
 * and the caller's timeout is the only retry policy.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bus.h"
#include "bus_int.h"

/* A cached target with no connection older than this is dialed afresh,
 * so a service that went away gives CX_ENOENT rather than a timeout. */
#define BUS_TARGET_STALE_MS 100

struct bus_target {
	bus_target *next;
	char *name;
	nng_socket req;
	int refs;     /* the cache's own, plus one per call using it */
	int pipes;    /* connected pipes, from nng's pipe notifications */
	int64_t born; /* cxi_bus_now_ms() when dialed */
	pthread_mutex_t *mtx;
};

/* ---- serving ---- */

static json_t *
bus_svc_reply(const char *rtype, const char *account, cx_err err,
    json_t *out)
{
	json_t *env;
	const char *msg;

	if (err == CX_OK) {
		if (out == NULL) {
			out = json_object();
		} else if (!json_is_object(out)) {
			json_decref(out);
			out = NULL;
			err = CX_EINTERNAL;
		}
	}
	if (err == CX_OK) {
		if ((env = cxi_env_new(rtype, account, out)) == NULL ||
		    json_object_set_new(env, "ok", json_true()) != 0) {
			json_decref(env);
			return (NULL);
		}
		return (env);
	}
	if ((int) err <= 0 || err >= CX_ERR_COUNT) {
		err = CX_EINTERNAL;
	}
	msg = json_string_value(json_object_get(out, "message"));
	if ((env = cxi_env_new(rtype, account, NULL)) == NULL ||
	    json_object_del(env, "data") != 0 ||
	    json_object_set_new(env, "ok", json_false()) != 0 ||
	    json_object_set_new(env, "error",
	        json_pack("{s:i, s:s}", "code", (int) err, "message",
	            msg != NULL ? msg : cx_strerror(err))) != 0) {
		json_decref(env);
		env = NULL;
	}
	json_decref(out);
	return (env);
}

static json_t *
bus_svc_handle(cxi_bus_client *c, nng_msg *m)
{
	char why[160], rtype[CXI_ENV_TYPE_MAX + 1];
	json_t *req, *out = NULL, *env;
	cx_msg view;
	cx_err err;

	req = cxi_env_decode(nng_msg_body(m), nng_msg_len(m), why, sizeof(why));
	if (req == NULL || cxi_env_view(req, &view) != 0 ||
	    snprintf(rtype, sizeof(rtype), "%s%s", view.type,
	        CXI_BUS_REPLY_SUFFIX) >= (int) sizeof(rtype)) {
		if (req != NULL) {
			snprintf(why, sizeof(why), "request type too long");
		}
		json_decref(req);
		return (bus_svc_reply("cx.bus.reply", NULL, CX_EPROTO,
		    json_pack("{s:s}", "message", why)));
	}
	err = c->svc_fn(c->svc_arg, &view, &out);
	env = bus_svc_reply(rtype, view.account, err, out);
	json_decref(req);
	return (env);
}

static int
bus_svc_listen(cxi_bus_client *c)
{
	char url[512], file[80];
	const char *dir = c->ipc_dir != NULL ? c->ipc_dir : c->svc_ipc_dir;
	int rv;

	/* A plugin host's inproc space is its own: nobody could dial it. */
	if (c->ipc_dir == NULL) {
		snprintf(file, sizeof(file), "svc/%s", c->name);
		if (cxi_bus_url_inproc(url, sizeof(url), c->ns, file) != 0) {
			return (NNG_EINVAL);
		}
		if ((rv = cxi_bus_listen(c->rep, url)) != 0) {
			return (rv);
		}
	}
	if (dir != NULL) {
		snprintf(file, sizeof(file), "svc-%s", c->name);
		if (cxi_bus_url_ipc(url, sizeof(url), dir, file) != 0) {
			return (NNG_EINVAL);
		}
		if ((rv = cxi_bus_listen(c->rep, url)) != 0) {
			return (rv);
		}
	}
	return (0);
}

cx_err
cxi_bus_serve(cxi_bus_client *c, cx_service_fn fn, void *arg)
{
	int rv;

	if (c == NULL || fn == NULL) {
		return (CX_EINVAL);
	}
	pthread_mutex_lock(&c->ctl);
	if (c->closing || c->svc_open) {
		pthread_mutex_unlock(&c->ctl);
		return (c->closing ? CX_ECLOSED : CX_EEXIST);
	}
	if ((rv = nng_rep0_open(&c->rep)) != 0) {
		pthread_mutex_unlock(&c->ctl);
		return (cxi_bus_err(rv));
	}
	c->svc_fn = fn;
	c->svc_arg = arg;
	if ((rv = bus_svc_listen(c)) != 0 ||
	    (rv = cxi_bus_workers_start(c->svc_w, CXI_BUS_SVC_WORKERS, c,
	         c->rep, bus_svc_handle)) != 0) {
		cxi_bus_workers_join(c->svc_w, CXI_BUS_SVC_WORKERS);
		nng_close(c->rep);
		pthread_mutex_unlock(&c->ctl);
		return (cxi_bus_err(rv));
	}
	c->svc_open = 1;
	pthread_mutex_unlock(&c->ctl);
	return (CX_OK);
}

/* Called with ctl held. */
void
cxi_bus_svc_stop(cxi_bus_client *c)
{
	if (!c->svc_open) {
		return;
	}
	/* Stopping ends every receive; a handler still running finishes,
	 * its reply fails, and the join waits for it. Only then close. */
	cxi_bus_workers_join(c->svc_w, CXI_BUS_SVC_WORKERS);
	nng_close(c->rep);
	c->svc_open = 0;
}

/* ---- calling ---- */

static void
bus_target_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	bus_target *t = arg;

	(void) p;
	pthread_mutex_lock(t->mtx);
	t->pipes += ev == NNG_PIPE_EV_ADD_POST ? 1 : -1;
	pthread_mutex_unlock(t->mtx);
}

static void
bus_target_free(bus_target *t)
{
	/* Only once no call uses it: see cxi_bus_calls_close. */
	nng_close(t->req);
	free(t->name);
	free(t);
}

static void
bus_target_unref(cxi_bus_client *c, bus_target *t)
{
	int last;

	pthread_mutex_lock(&c->mtx);
	last = --t->refs == 0;
	pthread_mutex_unlock(&c->mtx);
	if (last) {
		bus_target_free(t);
	}
}

static int
bus_target_dial(cxi_bus_client *c, bus_target *t)
{
	char url[512], file[80], dir[256];
	int rv = NNG_ECONNREFUSED;

	/* A copy: cxi_bus_client_set_ipc_dir may replace the string. */
	pthread_mutex_lock(&c->mtx);
	if (c->ipc_dir != NULL) {
		snprintf(dir, sizeof(dir), "%s", c->ipc_dir);
	} else {
		snprintf(dir, sizeof(dir), "%s",
		    c->svc_ipc_dir != NULL ? c->svc_ipc_dir : "");
	}
	pthread_mutex_unlock(&c->mtx);
	/* In process: the service is most likely in process too. Each dial
	 * is synchronous so that "nobody listens" shows at once. */
	if (c->ipc_dir == NULL) {
		snprintf(file, sizeof(file), "svc/%s", t->name);
		if (cxi_bus_url_inproc(url, sizeof(url), c->ns, file) != 0) {
			return (NNG_EINVAL);
		}
		if ((rv = nng_dial(t->req, url, NULL, 0)) == 0) {
			return (0);
		}
	}
	if (dir[0] != '\0' && (rv == NNG_ECONNREFUSED || rv == NNG_ENOENT)) {
		snprintf(file, sizeof(file), "svc-%s", t->name);
		if (cxi_bus_url_ipc(url, sizeof(url), dir, file) != 0) {
			return (NNG_EINVAL);
		}
		rv = nng_dial(t->req, url, NULL, 0);
	}
	return (rv);
}

static cx_err
bus_target_new(cxi_bus_client *c, const char *service, bus_target **out)
{
	bus_target *t;
	int rv;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		return (CX_ENOMEM);
	}
	if ((t->name = strdup(service)) == NULL) {
		free(t);
		return (CX_ENOMEM);
	}
	t->mtx = &c->mtx;
	if ((rv = nng_req0_open(&t->req)) != 0) {
		free(t->name);
		free(t);
		return (cxi_bus_err(rv));
	}
	if ((rv = nng_socket_set_ms(t->req, NNG_OPT_REQ_RESENDTIME,
	         NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_pipe_notify(t->req, NNG_PIPE_EV_ADD_POST,
	         bus_target_pipe_cb, t)) != 0 ||
	    (rv = nng_pipe_notify(t->req, NNG_PIPE_EV_REM_POST,
	         bus_target_pipe_cb, t)) != 0 ||
	    (rv = bus_target_dial(c, t)) != 0) {
		bus_target_free(t);
		return (rv == NNG_ECONNREFUSED || rv == NNG_ENOENT
		        ? CX_ENOENT
		        : cxi_bus_err(rv));
	}
	t->born = cxi_bus_now_ms();
	*out = t;
	return (CX_OK);
}

/* Returns a referenced target for `service`, dialing it if needed. */
static cx_err
bus_target_get(cxi_bus_client *c, const char *service, bus_target **out)
{
	bus_target *t, **pp, *stale = NULL, *fresh = NULL;
	cx_err e;

	pthread_mutex_lock(&c->mtx);
	for (pp = &c->targets; (t = *pp) != NULL; pp = &t->next) {
		if (strcmp(t->name, service) != 0) {
			continue;
		}
		if (t->pipes == 0 &&
		    cxi_bus_now_ms() - t->born > BUS_TARGET_STALE_MS) {
			*pp = t->next;
			stale = --t->refs == 0 ? t : NULL;
			t = NULL;
		} else {
			t->refs++;
		}
		break;
	}
	pthread_mutex_unlock(&c->mtx);
	if (stale != NULL) {
		bus_target_free(stale);
	}
	if (t != NULL) {
		*out = t;
		return (CX_OK);
	}
	if ((e = bus_target_new(c, service, &fresh)) != CX_OK) {
		return (e);
	}
	/* Another thread may have dialed the same target meanwhile. */
	pthread_mutex_lock(&c->mtx);
	for (t = c->targets; t != NULL; t = t->next) {
		if (strcmp(t->name, service) == 0) {
			break;
		}
	}
	if (c->closing) {
		pthread_mutex_unlock(&c->mtx);
		bus_target_free(fresh);
		return (CX_ECLOSED);
	}
	if (t == NULL) {
		fresh->refs = 2;
		fresh->next = c->targets;
		c->targets = fresh;
		t = fresh;
		fresh = NULL;
	} else {
		t->refs++;
	}
	pthread_mutex_unlock(&c->mtx);
	if (fresh != NULL) {
		bus_target_free(fresh);
	}
	*out = t;
	return (CX_OK);
}

/* Turns a reply envelope into the caller's result. */
static cx_err
bus_call_result(nng_msg *m, json_t **reply)
{
	json_t *env, *ok, *err;
	json_int_t code;
	cx_err e;

	env = cxi_env_decode(nng_msg_body(m), nng_msg_len(m), NULL, 0);
	if (env == NULL || (ok = json_object_get(env, "ok")) == NULL) {
		json_decref(env);
		return (CX_EPROTO);
	}
	if (json_is_true(ok)) {
		if (reply != NULL) {
			*reply = json_incref(json_object_get(env, "data"));
		}
		json_decref(env);
		return (CX_OK);
	}
	err = json_object_get(env, "error");
	code = json_integer_value(json_object_get(err, "code"));
	e = code > 0 && code < CX_ERR_COUNT ? (cx_err) code : CX_EPROTO;
	if (reply != NULL) {
		*reply = json_pack("{s:O}", "message",
		    json_object_get(err, "message"));
	}
	json_decref(env);
	return (e);
}

static cx_err
bus_call_run(cxi_bus_client *c, bus_target *t, const json_t *env,
    int timeout_ms, json_t **reply)
{
	bus_call_rec rec, **pp;
	int64_t deadline = cxi_bus_now_ms() + timeout_ms;
	nng_ctx ctx;
	nng_aio *aio;
	nng_msg *m;
	char *buf;
	size_t len;
	int rv;
	cx_err e;

	if (cxi_env_encode(env, &buf, &len) != 0) {
		return (CX_EINVAL);
	}
	if ((rv = nng_msg_alloc(&m, 0)) != 0) {
		free(buf);
		return (cxi_bus_err(rv));
	}
	rv = nng_msg_append(m, buf, len);
	free(buf);
	if (rv != 0 || (rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		nng_msg_free(m);
		return (cxi_bus_err(rv));
	}
	if ((rv = nng_ctx_open(&ctx, t->req)) != 0) {
		nng_msg_free(m);
		nng_aio_free(aio);
		return (cxi_bus_err(rv));
	}
	/* Registered so that close can stop it; close sets `closing` and
	 * stops every registered aio under the same lock. */
	rec.aio = aio;
	pthread_mutex_lock(&c->mtx);
	if (c->closing) {
		pthread_mutex_unlock(&c->mtx);
		nng_msg_free(m);
		nng_ctx_close(ctx);
		nng_aio_free(aio);
		return (CX_ECLOSED);
	}
	rec.next = c->inflight;
	c->inflight = &rec;
	pthread_mutex_unlock(&c->mtx);
	/* One deadline covers both the send and the wait for the reply. */
	nng_aio_set_msg(aio, m);
	nng_aio_set_timeout(aio, timeout_ms);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		/* On failure the request is still ours to free. */
		if ((m = nng_aio_get_msg(aio)) != NULL) {
			nng_msg_free(m);
		}
		e = cxi_bus_err(rv);
		goto out;
	}
	int64_t left = deadline - cxi_bus_now_ms();
	nng_aio_set_timeout(aio, left > 0 ? (nng_duration) left : 1);
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		e = cxi_bus_err(rv);
		goto out;
	}
	m = nng_aio_get_msg(aio);
	e = bus_call_result(m, reply);
	nng_msg_free(m);
out:
	pthread_mutex_lock(&c->mtx);
	for (pp = &c->inflight; *pp != &rec; pp = &(*pp)->next) {
	}
	*pp = rec.next;
	pthread_mutex_unlock(&c->mtx);
	nng_ctx_close(ctx);
	nng_aio_free(aio);
	return (e);
}

cx_err
cxi_bus_call(cxi_bus_client *c, const char *service, const char *type,
    const char *account, json_t *data, int timeout_ms, json_t **reply)
{
	bus_target *t;
	json_t *env;
	cx_err e;

	if (reply != NULL) {
		*reply = NULL;
	}
	if (c == NULL || !cxi_bus_name_ok(service) || type == NULL ||
	    strlen(type) + strlen(CXI_BUS_REPLY_SUFFIX) > CXI_ENV_TYPE_MAX ||
	    timeout_ms <= 0) {
		json_decref(data);
		return (CX_EINVAL);
	}
	if ((env = cxi_env_new(type, account, data)) == NULL) {
		return (CX_EINVAL);
	}
	pthread_mutex_lock(&c->mtx);
	if (c->closing) {
		pthread_mutex_unlock(&c->mtx);
		json_decref(env);
		return (CX_ECLOSED);
	}
	c->calls++;
	pthread_mutex_unlock(&c->mtx);
	if ((e = bus_target_get(c, service, &t)) == CX_OK) {
		e = bus_call_run(c, t, env, timeout_ms, reply);
		bus_target_unref(c, t);
	}
	json_decref(env);
	pthread_mutex_lock(&c->mtx);
	if (--c->calls == 0) {
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mtx);
	return (e);
}

void
cxi_bus_calls_close(cxi_bus_client *c)
{
	bus_target *list, *t;

	/* Abort the calls in flight first and wait for them: closing a REQ
	 * socket under a context operation can panic nng 1.5. nng_aio_stop
	 * also makes the call's next operation fail at once. */
	pthread_mutex_lock(&c->mtx);
	for (bus_call_rec *r = c->inflight; r != NULL; r = r->next) {
		nng_aio_stop(r->aio);
	}
	while (c->calls > 0) {
		pthread_cond_wait(&c->cv, &c->mtx);
	}
	list = c->targets;
	c->targets = NULL;
	pthread_mutex_unlock(&c->mtx);
	while ((t = list) != NULL) {
		list = t->next;
		bus_target_unref(c, t);
	}
}
