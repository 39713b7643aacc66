/*
 * bus_util.c - addresses, listeners and error mapping for the bus.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nng/nng.h>
#include <nng/transport/ipc/ipc.h>

#include "bus.h"
#include "bus_int.h"

int
cxi_bus_url_inproc(char *buf, size_t len, const char *ns, const char *name)
{
	int n = snprintf(buf, len, "inproc://callixo%s/%s", ns, name);
	return (n > 0 && (size_t) n < len ? 0 : -1);
}

int
cxi_bus_url_ipc(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "ipc://%s/%s.sock", dir, name);
	/* sun_path holds 108 bytes including the NUL; nng would refuse a
	 * longer path with a less obvious error. */
	if (n <= 0 || (size_t) n >= len || strlen(buf) - 6 >= 108) {
		return (-1);
	}
	return (0);
}

int
cxi_bus_listen(nng_socket s, const char *url)
{
	nng_listener l;
	int rv;

	if ((rv = nng_listener_create(&l, s, url)) != 0) {
		return (rv);
	}
	/* Only the daemon's user may talk to the bus: a local peer on the
	 * socket could publish events or answer policy as any plugin. */
	if (strncmp(url, "ipc://", 6) == 0 &&
	    (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600)) !=
	        0) {
		nng_listener_close(l);
		return (rv);
	}
	if ((rv = nng_listener_start(l, 0)) != 0) {
		nng_listener_close(l);
		return (rv);
	}
	return (0);
}

cx_err
cxi_bus_err(int rv)
{
	switch (rv) {
	case 0:
		return (CX_OK);
	case NNG_ENOMEM:
		return (CX_ENOMEM);
	case NNG_ETIMEDOUT:
		return (CX_ETIMEDOUT);
	case NNG_ECLOSED:
	case NNG_ECANCELED:
	/* The peer or our own socket went away mid-request. */
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_ECONNABORTED:
		return (CX_ECLOSED);
	case NNG_ECONNREFUSED:
	case NNG_ENOENT:
		return (CX_ENOENT);
	case NNG_EADDRINUSE:
		return (CX_EEXIST);
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
		return (CX_EINVAL);
	case NNG_EAGAIN:
	case NNG_EBUSY:
		return (CX_EBUSY);
	case NNG_EPERM:
		return (CX_EDENIED);
	case NNG_EPROTO:
		return (CX_EPROTO);
	case NNG_ENOTSUP:
		return (CX_ENOTSUP);
	default:
		return (CX_EIO);
	}
}

int
cxi_bus_name_ok(const char *name)
{
	size_t n;

	if (name == NULL || (n = strlen(name)) == 0 || n > 64) {
		return (0);
	}
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		        ch == '.')) {
			return (0);
		}
	}
	/* "." and ".." would escape nothing in "svc-<name>", but keep names
	 * unambiguous anyway. */
	return (name[0] != '.');
}

int64_t
cxi_bus_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static cx_err
bus_env_msg(const json_t *env, nng_msg **out)
{
	char *buf;
	size_t len;
	int rv;

	if (cxi_env_encode(env, &buf, &len) != 0) {
		return (CX_EINVAL);
	}
	if ((rv = nng_msg_alloc(out, 0)) != 0) {
		free(buf);
		return (cxi_bus_err(rv));
	}
	rv = nng_msg_append(*out, buf, len);
	free(buf);
	if (rv != 0) {
		nng_msg_free(*out);
		return (cxi_bus_err(rv));
	}
	return (CX_OK);
}

cx_err
cxi_bus_send_env(nng_socket s, const json_t *env)
{
	nng_msg *m;
	cx_err e;
	int rv;

	if ((e = bus_env_msg(env, &m)) != CX_OK) {
		return (e);
	}
	if ((rv = nng_sendmsg(s, m, 0)) != 0) {
		nng_msg_free(m);
		return (cxi_bus_err(rv));
	}
	return (CX_OK);
}

int
cxi_bus_ctx_sendmsg(nng_ctx ctx, nng_aio *aio, nng_msg *m)
{
	int rv;

	nng_aio_set_msg(aio, m);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		/* A failed send leaves the message with us. */
		if ((m = nng_aio_get_msg(aio)) != NULL) {
			nng_msg_free(m);
		}
		nng_aio_set_msg(aio, NULL);
	}
	return (rv);
}

int
cxi_bus_ctx_recvmsg(nng_ctx ctx, nng_aio *aio, nng_msg **m)
{
	int rv;

	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		return (rv);
	}
	*m = nng_aio_get_msg(aio);
	nng_aio_set_msg(aio, NULL);
	return (0);
}

cx_err
cxi_bus_ctx_send_env(nng_ctx ctx, nng_aio *aio, const json_t *env)
{
	nng_msg *m;
	cx_err e;

	if ((e = bus_env_msg(env, &m)) != CX_OK) {
		return (e);
	}
	return (cxi_bus_err(cxi_bus_ctx_sendmsg(ctx, aio, m)));
}

/* On failure the caller joins the workers already started. */
static void *
bus_worker_main(void *arg)
{
	bus_worker *w = arg;
	nng_msg *m;
	int rv;

	for (;;) {
		if ((rv = cxi_bus_ctx_recvmsg(w->ctx, w->aio, &m)) != 0) {
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
				break;
			}
			continue;
		}
		json_t *ans = w->handle(w->c, m);
		nng_msg_free(m);
		/* Without an answer the peer times out: that is all we can do
		 * when even an error reply cannot be built. A surveyor drops
		 * answers past its deadline; nothing to do about that either. */
		if (ans != NULL) {
			(void) cxi_bus_ctx_send_env(w->ctx, w->aio, ans);
			json_decref(ans);
		}
	}
	return (NULL);
}

int
cxi_bus_workers_start(bus_worker *w, size_t n, cxi_bus_client *c,
    nng_socket s, bus_handle_fn handle)
{
	int rv;

	for (size_t i = 0; i < n; i++) {
		w[i].c = c;
		w[i].handle = handle;
		w[i].started = 0;
		w[i].aio = NULL;
		w[i].ctx = (nng_ctx) NNG_CTX_INITIALIZER;
	}
	for (size_t i = 0; i < n; i++) {
		if ((rv = nng_aio_alloc(&w[i].aio, NULL, NULL)) != 0 ||
		    (rv = nng_ctx_open(&w[i].ctx, s)) != 0) {
			return (rv);
		}
		if (pthread_create(&w[i].thr, NULL, bus_worker_main, &w[i]) != 0) {
			return (NNG_ENOMEM);
		}
		w[i].started = 1;
	}
	return (0);
}

void
cxi_bus_workers_join(bus_worker *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (w[i].aio != NULL) {
			nng_aio_stop(w[i].aio);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (w[i].started) {
			pthread_join(w[i].thr, NULL);
			w[i].started = 0;
		}
		/* No operation is in flight any more: closing is safe. */
		if (nng_ctx_id(w[i].ctx) > 0) {
			nng_ctx_close(w[i].ctx);
			w[i].ctx = (nng_ctx) NNG_CTX_INITIALIZER;
		}
		if (w[i].aio != NULL) {
			nng_aio_free(w[i].aio);
			w[i].aio = NULL;
		}
	}
}
