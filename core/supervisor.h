/*
 * supervisor.h - run and babysit one child process.
 *
 * Process-isolated plugins run in callixo-plugin-host children. A crash
 * there must never take the core down: the supervisor reaps the child,
 * reports it, and starts it again after a backoff that doubles on every
 * quick crash (reset once the child has stayed up for a while).
 */
#ifndef CXI_SUPERVISOR_H
#define CXI_SUPERVISOR_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct cxi_super cxi_super;

/* Called from the supervisor's thread after every exit of the child:
 * `status` is the waitpid status; `restart_in_ms` is the delay before the
 * next start, or -1 when no restart follows (stopping). */
typedef void (*cxi_super_fn)(void *arg, pid_t pid, int status,
    int restart_in_ms, unsigned restarts);
/* Called after each successful spawn. */
typedef void (*cxi_super_spawn_fn)(void *arg, pid_t pid);

typedef struct cxi_super_opts {
	const char *const *argv; /* argv[0] is the executable path */
	int backoff_min_ms;      /* first restart delay (e.g. 200) */
	int backoff_max_ms;      /* cap (e.g. 30000) */
	int stable_ms;           /* uptime that resets the backoff */
	cxi_super_fn on_exit;
	cxi_super_spawn_fn on_spawn;
	void *arg;
} cxi_super_opts;

int cxi_super_start(cxi_super **out, const cxi_super_opts *opts);
/* SIGTERM, wait up to grace_ms, then SIGKILL; no restart; frees. */
void cxi_super_stop(cxi_super *s, int grace_ms);
pid_t cxi_super_pid(cxi_super *s);
unsigned cxi_super_restarts(cxi_super *s);

#endif
