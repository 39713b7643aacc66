/*
 * notify.c - sd_notify without libsystemd.
 *
 * The protocol is one datagram of "KEY=value" lines to the AF_UNIX
 * socket named by $NOTIFY_SOCKET. Only absolute paths and '@' (abstract
 * namespace) are accepted, as systemd's own client does: a relative path
 * would resolve against whatever the working directory happens to be.
 */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
cxi_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (path == NULL || path[0] == '\0') {
		return (0);
	}
	if (state == NULL || (path[0] != '/' && path[0] != '@')) {
		errno = EINVAL;
		return (-1);
	}

	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t n = strlen(path);
	if (n >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	memcpy(sa.sun_path, path, n);
	socklen_t salen;
	if (path[0] == '@') {
		/* Abstract names are not NUL-terminated: the length given to
		 * sendto is what delimits them, so count exactly. */
		sa.sun_path[0] = '\0';
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		salen = (socklen_t)sizeof(sa);
	}

	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return (-1);
	}
	size_t len = strlen(state);
	ssize_t sent;
	do {
		sent = sendto(fd, state, len, MSG_NOSIGNAL,
		    (struct sockaddr *)&sa, salen);
	} while (sent < 0 && errno == EINTR);
	int err = errno;
	close(fd);
	if (sent < 0) {
		errno = err;
		return (-1);
	}
	/* Datagrams are all or nothing; a short count would be a kernel
	 * surprise worth reporting rather than ignoring. */
	if ((size_t)sent != len) {
		errno = EMSGSIZE;
		return (-1);
	}
	return (0);
}
