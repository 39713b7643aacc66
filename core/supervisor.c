/*
 * supervisor.c - one thread per supervised child: spawn, reap, back off,
 * respawn.
 *
 * The child is waited for with waitid(WNOWAIT) first and reaped only
 * after its pid has been cleared under the lock. cxi_super_stop signals
 * the pid under the same lock, so it can only ever hit our own child
 * (alive or a zombie), never a recycled pid belonging to someone else.
 *
 * Callers must not set SIGCHLD to SIG_IGN: the kernel would then reap
 * children itself and waitid would fail with ECHILD.
 */
#include "supervisor.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct cxi_super {
	char **argv;
	int backoff_min_ms;
	int backoff_max_ms;
	int stable_ms;
	cxi_super_fn on_exit;
	cxi_super_spawn_fn on_spawn;
	void *arg;

	pthread_t thread;
	pthread_mutex_t mtx;
	pthread_cond_t cv; /* CLOCK_MONOTONIC; signalled on stop and exit */
	pid_t pid;         /* 0 when no child is running */
	unsigned restarts;
	int stopping;
};

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static struct timespec
deadline(int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return (ts);
}

/* Runs in the forked child, so only async-signal-safe calls: the parent
 * is multithreaded and any lock another thread held is gone for good. */
static void __attribute__((noreturn))
child_exec(char *const *argv)
{
	/* The daemon blocks its termination signals to sigwait() on them
	 * and may install handlers; the child starts from a clean slate so
	 * SIGTERM from the supervisor actually terminates it. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP) {
			(void)sigaction(sig, &dfl, NULL);
		}
	}
	sigset_t none;
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	/* Only stdio crosses over. An inherited listening socket (the
	 * admin socket, a bus endpoint) would otherwise outlive a crashed
	 * daemon in its plugin hosts and make the restarted daemon think
	 * the old one is still there. Old kernels lack close_range; the
	 * descriptors are then merely inherited, as before. */
	(void)close_range(3, ~0U, 0);

	execv(argv[0], argv);

	/* stderr is inherited precisely so this reaches the daemon's log. */
	static const char msg1[] = "callixo supervisor: cannot execute ";
	static const char msg2[] = "\n";
	(void)!write(STDERR_FILENO, msg1, sizeof(msg1) - 1);
	(void)!write(STDERR_FILENO, argv[0], strlen(argv[0]));
	(void)!write(STDERR_FILENO, msg2, sizeof(msg2) - 1);
	_exit(127);
}

/* Waits for the current child to exit, clears s->pid, then reaps.
 * Returns the wait status. */
static int
wait_child(cxi_super *s, pid_t pid)
{
	siginfo_t si;
	int rv;
	do {
		memset(&si, 0, sizeof(si));
		rv = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT);
	} while (rv < 0 && errno == EINTR);

	pthread_mutex_lock(&s->mtx);
	s->pid = 0;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);

	int status = 0;
	pid_t r;
	do {
		r = waitpid(pid, &status, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		/* Someone else reaped it (SIGCHLD ignored, or a stray
		 * waitpid(-1)): report what waitid saw, if anything. */
		if (rv == 0 && si.si_code == CLD_EXITED) {
			status = (si.si_status & 0xff) << 8;
		} else if (rv == 0) {
			status = si.si_status & 0x7f;
		} else {
			status = 127 << 8;
		}
	}
	return (status);
}

static void *
super_loop(void *p)
{
	cxi_super *s = p;
	int backoff = 0; /* 0: no quick crash yet */

	for (;;) {
		pthread_mutex_lock(&s->mtx);
		if (s->stopping) {
			pthread_mutex_unlock(&s->mtx);
			break;
		}
		/* Fork under the lock so stop sees either no child or a
		 * recorded pid, never a child it does not know about. */
		pid_t pid = fork();
		if (pid == 0) {
			child_exec(s->argv);
		}
		int fork_err = errno;
		if (pid > 0) {
			s->pid = pid;
		}
		pthread_mutex_unlock(&s->mtx);

		int64_t started = now_ms();
		int status;
		if (pid > 0) {
			if (s->on_spawn != NULL) {
				s->on_spawn(s->arg, pid);
			}
			status = wait_child(s, pid);
		} else {
			/* fork failed (EAGAIN, ENOMEM): back off like a
			 * crash; on_exit gets pid -1 and the errno. */
			status = fork_err;
		}

		int64_t up = now_ms() - started;
		int delay;
		if (up >= s->stable_ms) {
			/* A stable run resets the doubling: the next quick
			 * crash starts from the minimum again. */
			backoff = 0;
			delay = s->backoff_min_ms;
		} else {
			backoff = backoff == 0 ? s->backoff_min_ms :
			    backoff > s->backoff_max_ms / 2 ? s->backoff_max_ms :
			    backoff * 2;
			delay = backoff;
		}

		pthread_mutex_lock(&s->mtx);
		int stopping = s->stopping;
		unsigned restarts = s->restarts;
		pthread_mutex_unlock(&s->mtx);
		if (s->on_exit != NULL) {
			s->on_exit(s->arg, pid > 0 ? pid : -1, status,
			    stopping ? -1 : delay, restarts);
		}
		if (stopping) {
			break;
		}

		struct timespec until = deadline(delay);
		pthread_mutex_lock(&s->mtx);
		while (!s->stopping) {
			int rv = pthread_cond_timedwait(&s->cv, &s->mtx, &until);
			if (rv == ETIMEDOUT) {
				break;
			}
		}
		if (!s->stopping) {
			s->restarts++;
		}
		pthread_mutex_unlock(&s->mtx);
	}
	return (NULL);
}

static void
free_argv(char **argv)
{
	if (argv == NULL) {
		return;
	}
	for (char **a = argv; *a != NULL; a++) {
		free(*a);
	}
	free(argv);
}

int
cxi_super_start(cxi_super **out, const cxi_super_opts *opts)
{
	*out = NULL;
	if (opts == NULL || opts->argv == NULL || opts->argv[0] == NULL ||
	    opts->backoff_min_ms <= 0 ||
	    opts->backoff_max_ms < opts->backoff_min_ms ||
	    opts->stable_ms < 0) {
		errno = EINVAL;
		return (-1);
	}
	cxi_super *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return (-1);
	}
	/* Own copy of argv: the child must not read memory the caller may
	 * free, and copying after fork would not be async-signal-safe. */
	size_t n = 0;
	while (opts->argv[n] != NULL) {
		n++;
	}
	s->argv = calloc(n + 1, sizeof(char *));
	if (s->argv == NULL) {
		free(s);
		return (-1);
	}
	for (size_t i = 0; i < n; i++) {
		if ((s->argv[i] = strdup(opts->argv[i])) == NULL) {
			free_argv(s->argv);
			free(s);
			return (-1);
		}
	}
	s->backoff_min_ms = opts->backoff_min_ms;
	s->backoff_max_ms = opts->backoff_max_ms;
	s->stable_ms = opts->stable_ms;
	s->on_exit = opts->on_exit;
	s->on_spawn = opts->on_spawn;
	s->arg = opts->arg;

	pthread_condattr_t ca;
	int rv = pthread_condattr_init(&ca);
	if (rv == 0) {
		rv = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (rv == 0) {
			rv = pthread_cond_init(&s->cv, &ca);
		}
		pthread_condattr_destroy(&ca);
	}
	if (rv != 0) {
		free_argv(s->argv);
		free(s);
		errno = rv;
		return (-1);
	}
	if ((rv = pthread_mutex_init(&s->mtx, NULL)) != 0) {
		pthread_cond_destroy(&s->cv);
		free_argv(s->argv);
		free(s);
		errno = rv;
		return (-1);
	}
	if ((rv = pthread_create(&s->thread, NULL, super_loop, s)) != 0) {
		pthread_mutex_destroy(&s->mtx);
		pthread_cond_destroy(&s->cv);
		free_argv(s->argv);
		free(s);
		errno = rv;
		return (-1);
	}
	*out = s;
	return (0);
}

void
cxi_super_stop(cxi_super *s, int grace_ms)
{
	if (s == NULL) {
		return;
	}
	pthread_mutex_lock(&s->mtx);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cv);
	if (s->pid > 0) {
		(void)kill(s->pid, SIGTERM);
		struct timespec until = deadline(grace_ms > 0 ? grace_ms : 0);
		while (s->pid > 0) {
			if (pthread_cond_timedwait(&s->cv, &s->mtx, &until) ==
			    ETIMEDOUT) {
				break;
			}
		}
		/* Still the same unreaped child (pid is cleared before the
		 * reap), so this cannot hit a recycled pid. */
		if (s->pid > 0) {
			(void)kill(s->pid, SIGKILL);
		}
	}
	pthread_mutex_unlock(&s->mtx);
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->mtx);
	pthread_cond_destroy(&s->cv);
	free_argv(s->argv);
	free(s);
}

pid_t
cxi_super_pid(cxi_super *s)
{
	pthread_mutex_lock(&s->mtx);
	pid_t p = s->pid;
	pthread_mutex_unlock(&s->mtx);
	return (p);
}

unsigned
cxi_super_restarts(cxi_super *s)
{
	pthread_mutex_lock(&s->mtx);
	unsigned r = s->restarts;
	pthread_mutex_unlock(&s->mtx);
	return (r);
}
