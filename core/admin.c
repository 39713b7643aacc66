/*
 * admin.c - the admin socket (daemon side) and its client (callixoctl).
 *
 * The daemon side is a REP socket answered by one thread: commands are
 * rare and the handler serialises them anyway, so a plain blocking loop
 * is simpler and easier to reason about than an aio state machine.
 */
#include "admin.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#ifndef CX_VERSION
#error "CX_VERSION must be defined by the build"
#endif

/* A request is a short JSON object; anything bigger is a mistake or an
 * attack, and nng drops it before it is ever buffered whole. */
#define ADMIN_MAX_REQUEST (64 * 1024)
/* Idle time after which the loop checks its own listener is healthy. */
#define ADMIN_WATCHDOG_MS 2000

struct cxi_admin {
	nng_socket sock;
	pthread_t thread;
	cxi_admin_fn fn;
	void *arg;
	char *path;
	char *url;
	nng_listener l;
	pthread_mutex_t mtx; /* guards pipes_added */
	pthread_cond_t cv;
	unsigned long pipes_added;
	int listening;
	int abandoned; /* path taken over by another process */
	int sync_init;
	/* Identity of the socket file we created, so stop never removes a
	 * file a later daemon put in its place. */
	dev_t dev;
	ino_t ino;
	int have_ino;
};

static void
send_reply(nng_socket s, json_t *reply)
{
	char *text = NULL;
	if (reply != NULL) {
		text = json_dumps(reply, JSON_COMPACT);
		json_decref(reply);
	}
	/* A reply must always go out, or the REQ side waits for nothing
	 * until its timeout; fall back to a constant. */
	static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\"}";
	const char *out = text != NULL ? text : oom;
	(void)nng_send(s, (void *)out, strlen(out), 0);
	free(text);
}

static void admin_watchdog(cxi_admin *a);

static void *
admin_loop(void *p)
{
	cxi_admin *a = p;
	for (;;) {
		char *buf = NULL;
		size_t len = 0;
		int rv = nng_recv(a->sock, &buf, &len, NNG_FLAG_ALLOC);
		if (rv == NNG_ECLOSED) {
			break;
		}
		if (rv == NNG_ETIMEDOUT) {
			admin_watchdog(a);
			continue;
		}
		if (rv != 0) {
			/* Transient (out of memory, an oversized message
			 * dropped): keep serving, but do not spin on an
			 * error that repeats. */
			usleep(10 * 1000);
			continue;
		}
		json_t *reply = cxi_admin_dispatch(buf, len, a->fn, a->arg);
		nng_free(buf, len);
		send_reply(a->sock, reply);
	}
	return (NULL);
}

/* Fills a sockaddr_un for `path`; -1 when it does not fit. */
static int
unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(sa->sun_path)) {
		return (-1);
	}
	memcpy(sa->sun_path, path, n);
	return (0);
}

/* Completes the SP handshake on a connected probe before it is closed.
 * nng 1.5.2 (Debian 12) has a bug (nanomsg/nng#1518, fixed upstream in
 * #1519) where a peer disconnecting during negotiation leaves the
 * listener accepting nothing ever again: a bare connect-and-close probe
 * would wedge the very daemon it found. So the probe introduces itself
 * as a REQ peer and waits for the listener's header, after which its
 * close is an ordinary pipe close. Bounded by a timeout so a foreign,
 * silent listener cannot hang the check. */
static int
sp_handshake(int fd)
{
	/* "\0SP\0", protocol 0x30 (req0) big-endian, two reserved bytes. */
	static const unsigned char hdr[8] = { 0, 'S', 'P', 0, 0x00, 0x30, 0,
		0 };
	if (send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL) != (ssize_t)sizeof(hdr)) {
		return (0);
	}
	unsigned char peer[8];
	size_t got = 0;
	while (got < sizeof(peer)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int rv = poll(&pfd, 1, 1000);
		if (rv < 0 && errno == EINTR) {
			continue;
		}
		if (rv <= 0) {
			return (0);
		}
		ssize_t n = recv(fd, peer + got, sizeof(peer) - got, 0);
		if (n <= 0) {
			return (0);
		}
		got += (size_t)n;
	}
	return (memcmp(peer, hdr, 4) == 0);
}

/* Probes the socket file: 0 nothing listens (absent or stale file),
 * 1 something accepted the connection but did not answer as an SP peer,
 * 2 a working SP listener answered, -1 unexpected error (errno set). A
 * raw connect is used rather than an nng dial so a foreign listener that
 * never speaks SP cannot make the check hang. */
static int
probe_socket(const char *path)
{
	struct sockaddr_un sa;
	if (unix_addr(path, &sa) != 0) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return (-1);
	}
	int rv = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int err = errno;
	if (rv == 0) {
		int answered = sp_handshake(fd);
		close(fd);
		return (answered ? 2 : 1);
	}
	close(fd);
	if (err == ECONNREFUSED || err == ENOENT) {
		return (0);
	}
	errno = err;
	return (-1);
}

/* Creates and starts the listener; records the socket file's identity. */
static int
admin_listen(cxi_admin *a)
{
	int rv;
	if ((rv = nng_listener_create(&a->l, a->sock, a->url)) != 0) {
		return (rv);
	}
	if ((rv = nng_listener_set_int(a->l, NNG_OPT_IPC_PERMISSIONS,
	    0600)) != 0 || (rv = nng_listener_start(a->l, 0)) != 0) {
		nng_listener_close(a->l);
		return (rv);
	}
	struct stat st;
	a->have_ino = 0;
	if (lstat(a->path, &st) == 0) {
		a->dev = st.st_dev;
		a->ino = st.st_ino;
		a->have_ino = 1;
	}
	a->listening = 1;
	return (0);
}

/* Removes the socket file if it is still the one we created. */
static void
admin_unlink(cxi_admin *a)
{
	struct stat st;
	if (a->have_ino && lstat(a->path, &st) == 0 && st.st_dev == a->dev &&
	    st.st_ino == a->ino) {
		(void)unlink(a->path);
	}
	a->have_ino = 0;
}

/* Counts pipes the socket takes on, for the watchdog. */
static void
pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)ev;
	cxi_admin *a = arg;
	pthread_mutex_lock(&a->mtx);
	a->pipes_added++;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mtx);
}

/* Whether a fresh connection gets all the way to the socket. In the
 * nng#1518 wedge the transport still completes handshakes but never
 * hands the pipe over, so only the pipe event tells. */
static int
listener_accepts(cxi_admin *a)
{
	pthread_mutex_lock(&a->mtx);
	unsigned long before = a->pipes_added;
	pthread_mutex_unlock(&a->mtx);
	if (probe_socket(a->path) != 2) {
		return (0);
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&a->mtx);
	while (a->pipes_added == before) {
		if (pthread_cond_timedwait(&a->cv, &a->mtx, &until) ==
		    ETIMEDOUT) {
			break;
		}
	}
	int ok = a->pipes_added != before;
	pthread_mutex_unlock(&a->mtx);
	return (ok);
}

/* Runs when the socket has been idle for a while: if our own listener
 * no longer takes connections (the nng#1518 wedge, caused by any local
 * client disconnecting mid-negotiation) or its file was removed, replace
 * it, so the admin socket heals itself instead of staying dead until
 * the daemon restarts. */
static void
admin_watchdog(cxi_admin *a)
{
	if (a->abandoned) {
		return;
	}
	struct stat st;
	if (a->listening) {
		int missing = lstat(a->path, &st) != 0;
		if (!missing && (!a->have_ino || st.st_dev != a->dev ||
		    st.st_ino != a->ino)) {
			/* Another process owns that path now. Closing our
			 * listener would make nng unlink the path, i.e. the
			 * other process's socket, so leave everything be. */
			a->abandoned = 1;
			return;
		}
		if (!missing && listener_accepts(a)) {
			return;
		}
		nng_listener_close(a->l);
		a->listening = 0;
		/* nng removes the ipc file itself when a listener closes
		 * (synchronously in Debian's 1.5.2-2, which backports
		 * synchronous endpoint close; builds without that patch do
		 * it later). Wait for that removal so it cannot take the
		 * new listener's file with it. */
		for (int i = 0; i < 100 && a->have_ino; i++) {
			if (lstat(a->path, &st) != 0 || st.st_dev != a->dev ||
			    st.st_ino != a->ino) {
				a->have_ino = 0;
				break;
			}
			usleep(10 * 1000);
		}
		admin_unlink(a);
	}
	/* On failure (e.g. socket closing) the next idle period retries,
	 * unless another process has taken the path meanwhile. */
	if (lstat(a->path, &st) == 0) {
		return;
	}
	(void)admin_listen(a);
}

int
cxi_admin_start(cxi_admin **out, const char *socket_path, cxi_admin_fn fn,
    void *arg, char *why, size_t whylen)
{
	*out = NULL;
	struct sockaddr_un sa;
	if (socket_path == NULL || fn == NULL ||
	    unix_addr(socket_path, &sa) != 0) {
		snprintf(why, whylen, "admin socket path \"%s\" is empty or "
		    "longer than %zu bytes", socket_path ? socket_path : "",
		    sizeof(sa.sun_path) - 1);
		return (-1);
	}

	struct stat st;
	if (lstat(socket_path, &st) == 0) {
		/* Never delete something that is not a socket: a typo in
		 * the config must not cost the operator a file. */
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, whylen, "admin socket %s exists and is "
			    "not a socket", socket_path);
			return (-1);
		}
		int live = probe_socket(socket_path);
		if (live > 0) {
			snprintf(why, whylen, "admin socket %s in use by a "
			    "running daemon", socket_path);
			return (-1);
		}
		if (live < 0) {
			snprintf(why, whylen, "admin socket %s: %s",
			    socket_path, strerror(errno));
			return (-1);
		}
		if (unlink(socket_path) != 0 && errno != ENOENT) {
			snprintf(why, whylen, "cannot remove stale admin "
			    "socket %s: %s", socket_path, strerror(errno));
			return (-1);
		}
	} else if (errno != ENOENT) {
		snprintf(why, whylen, "admin socket %s: %s", socket_path,
		    strerror(errno));
		return (-1);
	}

	cxi_admin *a = calloc(1, sizeof(*a));
	if (a == NULL || (a->path = strdup(socket_path)) == NULL ||
	    asprintf(&a->url, "ipc://%s", socket_path) < 0) {
		if (a != NULL) {
			a->url = NULL;
		}
		snprintf(why, whylen, "out of memory");
		goto fail_mem;
	}
	a->fn = fn;
	a->arg = arg;
	int rv = pthread_mutex_init(&a->mtx, NULL);
	if (rv != 0) {
		snprintf(why, whylen, "admin: %s", strerror(rv));
		goto fail_mem;
	}
	if ((rv = pthread_cond_init(&a->cv, NULL)) != 0) {
		pthread_mutex_destroy(&a->mtx);
		snprintf(why, whylen, "admin: %s", strerror(rv));
		goto fail_mem;
	}
	a->sync_init = 1;

	rv = nng_rep0_open(&a->sock);
	if (rv != 0) {
		snprintf(why, whylen, "admin socket: %s", nng_strerror(rv));
		goto fail_mem;
	}
	if ((rv = nng_pipe_notify(a->sock, NNG_PIPE_EV_ADD_PRE, pipe_added,
	    a)) != 0 ||
	    (rv = nng_socket_set_size(a->sock, NNG_OPT_RECVMAXSZ,
	    ADMIN_MAX_REQUEST)) != 0 ||
	    (rv = nng_socket_set_ms(a->sock, NNG_OPT_RECVTIMEO,
	    ADMIN_WATCHDOG_MS)) != 0 ||
	    (rv = admin_listen(a)) != 0) {
		snprintf(why, whylen, "cannot listen on admin socket %s: %s",
		    socket_path, nng_strerror(rv));
		goto fail_sock;
	}
	if ((rv = pthread_create(&a->thread, NULL, admin_loop, a)) != 0) {
		snprintf(why, whylen, "admin thread: %s", strerror(rv));
		goto fail_sock;
	}
	*out = a;
	return (0);

fail_sock:
	nng_close(a->sock);
	admin_unlink(a);
fail_mem:
	if (a != NULL) {
		if (a->sync_init) {
			pthread_cond_destroy(&a->cv);
			pthread_mutex_destroy(&a->mtx);
		}
		free(a->url);
		free(a->path);
		free(a);
	}
	return (-1);
}

void
cxi_admin_stop(cxi_admin *a)
{
	if (a == NULL) {
		return;
	}
	/* Closing wakes the blocked nng_recv with NNG_ECLOSED. */
	nng_close(a->sock);
	pthread_join(a->thread, NULL);
	admin_unlink(a);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mtx);
	free(a->url);
	free(a->path);
	free(a);
}
