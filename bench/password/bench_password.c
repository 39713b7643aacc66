/*
 * bench_password.c - argon2id hashing throughput through the hashing
 * pool (H-4): how many logins per second a given worker count sustains.
 *
 *   bench_password [workers] [hashes] [t] [m_mib]
 *
 * Defaults: 2 workers, 40 hashes, t=2, m=64 MiB (the H-1 defaults). All
 * hashes are queued at once and the wall time until the last completes
 * is measured, so the figure is the pool's saturated throughput.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hashpool.h"
#include "password.h"

typedef struct shared {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	size_t done, failed;
	cxi_pwparams p;
} shared;

typedef struct job {
	shared *s;
	char pw[32];
} job;

static void
hash_one(void *arg)
{
	job *j = arg;
	char h[CXI_PASSWORD_HASH_MAX];
	cx_err rv = cxi_password_hash(&j->s->p, j->pw, strlen(j->pw), h,
	    NULL, 0);
	pthread_mutex_lock(&j->s->mtx);
	j->s->done++;
	j->s->failed += rv != CX_OK;
	pthread_cond_signal(&j->s->cv);
	pthread_mutex_unlock(&j->s->mtx);
}

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double) ts.tv_sec + (double) ts.tv_nsec / 1e9);
}

static size_t
arg(int argc, char **argv, int i, size_t def)
{
	if (argc <= i) {
		return (def);
	}
	char *end;
	unsigned long v = strtoul(argv[i], &end, 10);
	if (*end != '\0' || v == 0) {
		fprintf(stderr, "bad argument: %s\n", argv[i]);
		exit(2);
	}
	return (v);
}

int
main(int argc, char **argv)
{
	size_t workers = arg(argc, argv, 1, 2);
	size_t n = arg(argc, argv, 2, 40);
	shared s = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
	    0, { arg(argc, argv, 3, 2), arg(argc, argv, 4, 64) << 20,
	    false } };
	char why[256];
	if (cxi_pwparams_check(&s.p, why, sizeof(why)) != CX_OK) {
		fprintf(stderr, "%s\n", why);
		return (2);
	}
	job *jobs = calloc(n, sizeof(*jobs));
	cxi_hashpool *pool;
	if (jobs == NULL || cxi_hashpool_new(workers, n, &pool) != CX_OK) {
		fprintf(stderr, "cannot start the pool\n");
		free(jobs);
		return (1);
	}
	double t0 = now();
	for (size_t i = 0; i < n; i++) {
		jobs[i].s = &s;
		snprintf(jobs[i].pw, sizeof(jobs[i].pw), "bench password %zu",
		    i);
		if (cxi_hashpool_submit(pool, hash_one, &jobs[i]) != CX_OK) {
			fprintf(stderr, "submit failed\n");
			abort();
		}
	}
	pthread_mutex_lock(&s.mtx);
	while (s.done < n) {
		pthread_cond_wait(&s.cv, &s.mtx);
	}
	pthread_mutex_unlock(&s.mtx);
	double el = now() - t0;
	cxi_hashpool_free(pool);
	free(jobs);
	printf("| %zu | %llu | %zu | %zu | %.2f | %.1f | %.1f |\n", workers,
	    s.p.opslimit, s.p.memlimit >> 20, n, el, (double) n / el,
	    el * 1000.0 * (double) workers / (double) n);
	return (s.failed == 0 ? 0 : 1);
}
