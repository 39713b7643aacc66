/*
 * super_helper.c - a misbehaving child for the supervisor tests.
 *
 *   super_helper abort            crash at once (SIGABRT)
 *   super_helper sleep-abort MS   run MS milliseconds, then crash
 *   super_helper ignore-term FILE ignore SIGTERM, create FILE, wait
 *   super_helper check-clean FILE if signals are at their defaults
 *                                 (mask empty) and no descriptor but
 *                                 stdio was inherited, create FILE and
 *                                 wait; otherwise exit 5, 6 or 7
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void
touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(path);
		exit(3);
	}
	close(fd);
}

int
main(int argc, char **argv)
{
	/* Crashing on purpose; a core file per run would be noise. */
	struct rlimit nocore = { 0, 0 };
	(void)setrlimit(RLIMIT_CORE, &nocore);
	if (argc >= 2 && strcmp(argv[1], "abort") == 0) {
		abort();
	}
	if (argc >= 3 && strcmp(argv[1], "sleep-abort") == 0) {
		usleep((useconds_t)atoi(argv[2]) * 1000);
		abort();
	}
	if (argc >= 3 && strcmp(argv[1], "ignore-term") == 0) {
		signal(SIGTERM, SIG_IGN);
		touch(argv[2]);
		for (;;) {
			pause();
		}
	}
	if (argc >= 3 && strcmp(argv[1], "check-clean") == 0) {
		sigset_t cur;
		if (sigprocmask(SIG_SETMASK, NULL, &cur) != 0) {
			return (4);
		}
		for (int sig = 1; sig < 32; sig++) {
			if (sigismember(&cur, sig)) {
				return (5);
			}
		}
		/* Only signals the daemon plays with: the sanitizer runtime
		 * installs its own SIGSEGV/SIGBUS/SIGFPE handlers here. */
		static const int sigs[] = { SIGTERM, SIGHUP, SIGINT, SIGPIPE,
			SIGUSR1, SIGUSR2, SIGCHLD };
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
			struct sigaction sa;
			if (sigaction(sigs[i], NULL, &sa) != 0 ||
			    sa.sa_handler != SIG_DFL) {
				return (6);
			}
		}
		/* Nothing but stdio may be inherited from the daemon. */
		for (int fd = 3; fd < 1024; fd++) {
			if (fcntl(fd, F_GETFD) != -1) {
				return (7);
			}
		}
		touch(argv[2]);
		for (;;) {
			pause();
		}
	}
	fprintf(stderr, "super_helper: bad arguments\n");
	return (2);
}
