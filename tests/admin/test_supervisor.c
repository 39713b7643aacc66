/*
 * test_supervisor.c - crash/restart/backoff/stop behaviour of
 * supervisor.c against the super_helper program (argv[1]).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "supervisor.h"

static const char *helper;
static char dir[64];
static char marker[128];

#define MAX_EVENTS 64

/* Everything the callbacks saw; they run on the supervisor thread. */
static struct {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int exits;
	int spawns;
	pid_t pids[MAX_EVENTS];
	int status[MAX_EVENTS];
	int delay[MAX_EVENTS];
	unsigned restarts[MAX_EVENTS];
} ev = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, { 0 },
	{ 0 }, { 0 }, { 0 } };

static void
on_exit_cb(void *arg, pid_t pid, int status, int restart_in_ms,
    unsigned restarts)
{
	(void)arg;
	pthread_mutex_lock(&ev.mtx);
	if (ev.exits < MAX_EVENTS) {
		ev.pids[ev.exits] = pid;
		ev.status[ev.exits] = status;
		ev.delay[ev.exits] = restart_in_ms;
		ev.restarts[ev.exits] = restarts;
	}
	ev.exits++;
	pthread_cond_broadcast(&ev.cv);
	pthread_mutex_unlock(&ev.mtx);
}

static void
on_spawn_cb(void *arg, pid_t pid)
{
	(void)arg;
	(void)pid;
	pthread_mutex_lock(&ev.mtx);
	ev.spawns++;
	pthread_cond_broadcast(&ev.cv);
	pthread_mutex_unlock(&ev.mtx);
}

/* Waits (up to 10 s) until at least n exits were reported. */
static int
wait_exits(int n)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&ev.mtx);
	while (ev.exits < n) {
		if (pthread_cond_timedwait(&ev.cv, &ev.mtx, &until) ==
		    ETIMEDOUT) {
			break;
		}
	}
	int got = ev.exits;
	pthread_mutex_unlock(&ev.mtx);
	return (got);
}

static int
wait_file(const char *path)
{
	struct stat st;
	for (int i = 0; i < 1000; i++) {
		if (stat(path, &st) == 0) {
			return (0);
		}
		usleep(10 * 1000);
	}
	return (-1);
}

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static int
setup(void **state)
{
	(void)state;
	pthread_mutex_lock(&ev.mtx);
	ev.exits = 0;
	ev.spawns = 0;
	pthread_mutex_unlock(&ev.mtx);
	snprintf(dir, sizeof(dir), "/tmp/cxsup.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return (-1);
	}
	snprintf(marker, sizeof(marker), "%s/ready", dir);
	return (0);
}

static int
teardown(void **state)
{
	(void)state;
	(void)unlink(marker);
	return (rmdir(dir));
}

static cxi_super *
start(const char *const *argv, int min, int max, int stable)
{
	cxi_super_opts o = {
		.argv = argv,
		.backoff_min_ms = min,
		.backoff_max_ms = max,
		.stable_ms = stable,
		.on_exit = on_exit_cb,
		.on_spawn = on_spawn_cb,
		.arg = NULL,
	};
	cxi_super *s = NULL;
	assert_int_equal(cxi_super_start(&s, &o), 0);
	assert_non_null(s);
	return (s);
}

static void
test_crash_backoff(void **state)
{
	(void)state;
	const char *argv[] = { helper, "abort", NULL };
	cxi_super *s = start(argv, 20, 80, 10000);
	assert_true(wait_exits(5) >= 5);
	cxi_super_stop(s, 1000);

	pthread_mutex_lock(&ev.mtx);
	static const int want[] = { 20, 40, 80, 80, 80 };
	for (int i = 0; i < 5; i++) {
		assert_true(ev.pids[i] > 0);
		assert_true(WIFSIGNALED(ev.status[i]));
		assert_int_equal(WTERMSIG(ev.status[i]), SIGABRT);
		/* The last one may have raced with stop. */
		if (ev.delay[i] != -1) {
			assert_int_equal(ev.delay[i], want[i]);
		}
		assert_int_equal(ev.restarts[i], (unsigned)i);
		if (i > 0) {
			assert_true(ev.pids[i] != ev.pids[i - 1]);
		}
	}
	assert_true(ev.spawns >= 5);
	pthread_mutex_unlock(&ev.mtx);
}

static void
test_stable_resets_backoff(void **state)
{
	(void)state;
	/* Each run outlives stable_ms, so no doubling ever happens. */
	const char *argv[] = { helper, "sleep-abort", "60", NULL };
	cxi_super *s = start(argv, 15, 1000, 30);
	assert_true(wait_exits(3) >= 3);
	cxi_super_stop(s, 1000);
	pthread_mutex_lock(&ev.mtx);
	for (int i = 0; i < 3; i++) {
		assert_true(WIFSIGNALED(ev.status[i]));
		if (ev.delay[i] != -1) {
			assert_int_equal(ev.delay[i], 15);
		}
	}
	pthread_mutex_unlock(&ev.mtx);
}

static void
test_stop_kills_after_grace(void **state)
{
	(void)state;
	const char *argv[] = { helper, "ignore-term", marker, NULL };
	cxi_super *s = start(argv, 20, 80, 10000);
	assert_int_equal(wait_file(marker), 0);
	pid_t pid = cxi_super_pid(s);
	assert_true(pid > 0);

	int64_t t0 = now_ms();
	cxi_super_stop(s, 300);
	int64_t took = now_ms() - t0;
	assert_true(took >= 290);
	assert_true(took < 5000);

	/* Reaped by the supervisor, killed by SIGKILL, no restart. */
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	pthread_mutex_lock(&ev.mtx);
	assert_int_equal(ev.exits, 1);
	assert_int_equal(ev.spawns, 1);
	assert_true(WIFSIGNALED(ev.status[0]));
	assert_int_equal(WTERMSIG(ev.status[0]), SIGKILL);
	assert_int_equal(ev.delay[0], -1);
	pthread_mutex_unlock(&ev.mtx);
}

static void
test_exec_failure(void **state)
{
	(void)state;
	const char *argv[] = { "/nonexistent/callixo-plugin-host", NULL };
	cxi_super *s = start(argv, 10, 40, 10000);
	assert_true(wait_exits(3) >= 3);
	cxi_super_stop(s, 500);
	pthread_mutex_lock(&ev.mtx);
	for (int i = 0; i < 3; i++) {
		assert_true(WIFEXITED(ev.status[i]));
		assert_int_equal(WEXITSTATUS(ev.status[i]), 127);
	}
	assert_true(ev.delay[0] == 10 || ev.delay[0] == -1);
	pthread_mutex_unlock(&ev.mtx);
}

static void
test_clean_signals_and_term(void **state)
{
	(void)state;
	/* Mimic the daemon: termination signals blocked (for sigwait) and
	 * a handler installed; the child must see neither. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
	/* A descriptor without close-on-exec, like a leaked socket. */
	int leak = dup(STDERR_FILENO);
	assert_true(leak >= 3);
	struct sigaction sa, oldsa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGUSR1, &sa, &oldsa), 0);

	const char *argv[] = { helper, "check-clean", marker, NULL };
	cxi_super *s = start(argv, 20, 80, 10000);
	int ready = wait_file(marker);
	/* A clean child dies of the first SIGTERM, well within grace. */
	int64_t t0 = now_ms();
	cxi_super_stop(s, 5000);
	int64_t took = now_ms() - t0;

	close(leak);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
	assert_int_equal(sigaction(SIGUSR1, &oldsa, NULL), 0);
	pthread_mutex_lock(&ev.mtx);
	if (ready != 0) {
		fail_msg("helper saw a dirty signal or fd state: status %#x",
		    ev.exits > 0 ? ev.status[0] : -1);
	}
	assert_int_equal(ev.exits, 1);
	assert_true(WIFSIGNALED(ev.status[0]));
	assert_int_equal(WTERMSIG(ev.status[0]), SIGTERM);
	pthread_mutex_unlock(&ev.mtx);
	assert_true(took < 4000);
}

static void
test_bad_opts(void **state)
{
	(void)state;
	cxi_super *s = (cxi_super *)&s;
	const char *argv[] = { helper, NULL };
	cxi_super_opts o = { .argv = argv, .backoff_min_ms = 0,
		.backoff_max_ms = 10, .stable_ms = 0 };
	assert_int_equal(cxi_super_start(&s, &o), -1);
	assert_null(s);
	o.backoff_min_ms = 20;
	assert_int_equal(cxi_super_start(&s, &o), -1);
	const char *empty[] = { NULL };
	o.argv = empty;
	o.backoff_max_ms = 40;
	assert_int_equal(cxi_super_start(&s, &o), -1);
	cxi_super_stop(NULL, 0);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SUPER_HELPER\n", argv[0]);
		return (2);
	}
	helper = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crash_backoff, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stable_resets_backoff,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_kills_after_grace,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_failure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_clean_signals_and_term,
		    setup, teardown),
		cmocka_unit_test(test_bad_opts),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
