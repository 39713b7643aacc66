/*
 * test_hashpool.c - the bounded hashing pool (H-4): N concurrent
 * argon2id hashes all complete, never more than `workers` run at once,
 * a full queue refuses at once, and shutdown drains queued jobs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashpool.h"
#include "password.h"

#define MIB ((size_t) 1 << 20)
#define WORKERS 2
#define CALLERS 8

typedef struct hjob {
	char pw[32];
	char hash[CXI_PASSWORD_HASH_MAX];
	cx_err rv;
} hjob;

static void
hash_job(void *arg)
{
	static const cxi_pwparams p = { 3, 12 * MIB, false };
	hjob *j = arg;
	j->rv = cxi_password_hash(&p, j->pw, strlen(j->pw), j->hash, NULL, 0);
}

typedef struct caller {
	cxi_hashpool *pool;
	hjob job;
	cx_err rv;
} caller;

static void *
call_sync(void *arg)
{
	caller *c = arg;
	c->rv = cxi_hashpool_run(c->pool, hash_job, &c->job);
	return (NULL);
}

static void
test_concurrent_sync(void **state)
{
	(void) state;
	cxi_hashpool *pool;
	assert_int_equal(cxi_hashpool_new(WORKERS, CALLERS, &pool), CX_OK);
	caller c[CALLERS];
	pthread_t th[CALLERS];
	memset(c, 0, sizeof(c));
	for (int i = 0; i < CALLERS; i++) {
		c[i].pool = pool;
		snprintf(c[i].job.pw, sizeof(c[i].job.pw), "password %d", i);
		c[i].job.rv = CX_EINTERNAL;
		assert_int_equal(pthread_create(&th[i], NULL, call_sync, &c[i]),
		    0);
	}
	for (int i = 0; i < CALLERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
	}
	const cxi_pwparams p = { 3, 12 * MIB, false };
	for (int i = 0; i < CALLERS; i++) {
		bool up;
		assert_int_equal(c[i].rv, CX_OK);
		assert_int_equal(c[i].job.rv, CX_OK);
		assert_int_equal(cxi_password_verify(&p, c[i].job.hash,
		    c[i].job.pw, strlen(c[i].job.pw), &up), CX_OK);
	}
	size_t active, max;
	cxi_hashpool_stats(pool, &active, &max);
	assert_int_equal(active, 0);
	/* Bounded: at most WORKERS hashes in memory at once, and with 8
	 * callers on 2 workers both were busy at some point. */
	assert_int_equal(max, WORKERS);
	cxi_hashpool_free(pool);
}

/* A job that blocks until released, to fill the pool on purpose. */
typedef struct gate {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	int open, started, finished;
} gate;

static void
gated(void *arg)
{
	gate *g = arg;
	pthread_mutex_lock(&g->mtx);
	g->started++;
	pthread_cond_broadcast(&g->cv);
	while (!g->open) {
		pthread_cond_wait(&g->cv, &g->mtx);
	}
	g->finished++;
	pthread_mutex_unlock(&g->mtx);
}

static void
test_bounds_and_drain(void **state)
{
	(void) state;
	gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0,
	    0 };
	cxi_hashpool *pool;
	assert_int_equal(cxi_hashpool_new(0, 1, &pool), CX_EINVAL);
	assert_int_equal(cxi_hashpool_new(1, 0, &pool), CX_EINVAL);
	assert_int_equal(cxi_hashpool_new(WORKERS, 3, &pool), CX_OK);
	/* Occupy both workers... */
	assert_int_equal(cxi_hashpool_submit(pool, gated, &g), CX_OK);
	assert_int_equal(cxi_hashpool_submit(pool, gated, &g), CX_OK);
	pthread_mutex_lock(&g.mtx);
	while (g.started < WORKERS) {
		pthread_cond_wait(&g.cv, &g.mtx);
	}
	pthread_mutex_unlock(&g.mtx);
	/* ...then fill the queue: the next submit is refused at once. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cxi_hashpool_submit(pool, gated, &g), CX_OK);
	}
	assert_int_equal(cxi_hashpool_submit(pool, gated, &g), CX_EBUSY);
	size_t active, max;
	cxi_hashpool_stats(pool, &active, &max);
	assert_int_equal(active, WORKERS);
	assert_int_equal(max, WORKERS);
	pthread_mutex_lock(&g.mtx);
	assert_int_equal(g.started, WORKERS);
	g.open = 1;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mtx);
	/* Shutdown runs what was queued before it returns. */
	cxi_hashpool_free(pool);
	assert_int_equal(g.finished, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_sync),
		cmocka_unit_test(test_bounds_and_drain),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
