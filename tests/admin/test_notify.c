/*
 * test_notify.c - sd_notify datagrams to a filesystem and an abstract
 * AF_UNIX socket, and the no-op/error cases.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "notify.h"

/* Binds a datagram socket at `name` ('@' = abstract) with a receive
 * timeout so a missing datagram fails the test instead of hanging. */
static int
bind_dgram(const char *name)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t n = strlen(name);
	assert_true(n < sizeof(sa.sun_path));
	memcpy(sa.sun_path, name, n);
	socklen_t len = sizeof(sa);
	if (name[0] == '@') {
		sa.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	struct timeval tv = { 2, 0 };
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	return (fd);
}

static void
expect_dgram(int fd, const char *want)
{
	char buf[512];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void
test_path_socket(void **state)
{
	(void)state;
	char dir[] = "/tmp/cxntf.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/notify", dir);
	int fd = bind_dgram(path);
	assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);

	assert_int_equal(cxi_notify("READY=1"), 0);
	expect_dgram(fd, "READY=1");
	assert_int_equal(cxi_notify("STATUS=2 plugins running\nRELOADING=1"),
	    0);
	expect_dgram(fd, "STATUS=2 plugins running\nRELOADING=1");

	close(fd);
	/* Nobody listening any more: a send error, reported. */
	assert_int_equal(cxi_notify("STOPPING=1"), -1);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
}

static void
test_abstract_socket(void **state)
{
	(void)state;
	char name[64];
	snprintf(name, sizeof(name), "@callixo-test-notify-%ld",
	    (long)getpid());
	int fd = bind_dgram(name);
	assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
	assert_int_equal(cxi_notify("READY=1"), 0);
	expect_dgram(fd, "READY=1");
	close(fd);
	assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
}

static void
test_unset_and_invalid(void **state)
{
	(void)state;
	assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
	assert_int_equal(cxi_notify("READY=1"), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", "", 1), 0);
	assert_int_equal(cxi_notify("READY=1"), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", "relative/path", 1), 0);
	assert_int_equal(cxi_notify("READY=1"), -1);
	assert_int_equal(errno, EINVAL);
	char longp[200];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(setenv("NOTIFY_SOCKET", longp, 1), 0);
	assert_int_equal(cxi_notify("READY=1"), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_socket),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_unset_and_invalid),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
