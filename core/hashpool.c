/*
 * hashpool.c - fixed threads over a bounded ring of jobs.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "hashpool.h"

#define HASHPOOL_MAX_WORKERS 64

typedef struct job {
	cxi_hashpool_fn fn;
	void *arg;
} job;

struct cxi_hashpool {
	pthread_mutex_t mtx;
	pthread_cond_t work;    /* a job was queued, or stopping */
	pthread_cond_t done;    /* a synchronous job finished */
	job *ring;
	size_t cap, head, len;
	size_t active, max_active;
	bool stopping;
	pthread_t *threads;
	size_t nthreads;        /* started, for the join */
};

static void *
worker(void *arg)
{
	cxi_hashpool *p = arg;
	pthread_mutex_lock(&p->mtx);
	for (;;) {
		while (p->len == 0 && !p->stopping) {
			pthread_cond_wait(&p->work, &p->mtx);
		}
		/* Drain before stopping: a queued job may be someone's
		 * callback that must report. */
		if (p->len == 0) {
			break;
		}
		job j = p->ring[p->head];
		p->head = (p->head + 1) % p->cap;
		p->len--;
		if (++p->active > p->max_active) {
			p->max_active = p->active;
		}
		pthread_mutex_unlock(&p->mtx);
		j.fn(j.arg);
		pthread_mutex_lock(&p->mtx);
		p->active--;
	}
	pthread_mutex_unlock(&p->mtx);
	return (NULL);
}

static void
stop_and_join(cxi_hashpool *p)
{
	pthread_mutex_lock(&p->mtx);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mtx);
	for (size_t i = 0; i < p->nthreads; i++) {
		pthread_join(p->threads[i], NULL);
	}
}

cx_err
cxi_hashpool_new(size_t workers, size_t queue_max, cxi_hashpool **out)
{
	*out = NULL;
	if (workers < 1 || workers > HASHPOOL_MAX_WORKERS || queue_max < 1) {
		return (CX_EINVAL);
	}
	cxi_hashpool *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return (CX_ENOMEM);
	}
	if (pthread_mutex_init(&p->mtx, NULL) != 0) {
		free(p);
		return (CX_ENOMEM);
	}
	if (pthread_cond_init(&p->work, NULL) != 0) {
		pthread_mutex_destroy(&p->mtx);
		free(p);
		return (CX_ENOMEM);
	}
	if (pthread_cond_init(&p->done, NULL) != 0) {
		pthread_cond_destroy(&p->work);
		pthread_mutex_destroy(&p->mtx);
		free(p);
		return (CX_ENOMEM);
	}
	p->cap = queue_max;
	p->ring = calloc(queue_max, sizeof(*p->ring));
	p->threads = calloc(workers, sizeof(*p->threads));
	if (p->ring == NULL || p->threads == NULL) {
		cxi_hashpool_free(p);
		return (CX_ENOMEM);
	}
	for (; p->nthreads < workers; p->nthreads++) {
		if (pthread_create(&p->threads[p->nthreads], NULL, worker,
		    p) != 0) {
			cxi_hashpool_free(p);
			return (CX_ENOMEM);
		}
	}
	*out = p;
	return (CX_OK);
}

void
cxi_hashpool_free(cxi_hashpool *p)
{
	if (p == NULL) {
		return;
	}
	stop_and_join(p);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mtx);
	free(p->threads);
	free(p->ring);
	free(p);
}

/* Caller holds the lock. */
static cx_err
enqueue(cxi_hashpool *p, cxi_hashpool_fn fn, void *arg)
{
	if (p->stopping) {
		return (CX_ECLOSED);
	}
	if (p->len == p->cap) {
		return (CX_EBUSY);
	}
	p->ring[(p->head + p->len) % p->cap] = (job) { fn, arg };
	p->len++;
	pthread_cond_signal(&p->work);
	return (CX_OK);
}

cx_err
cxi_hashpool_submit(cxi_hashpool *p, cxi_hashpool_fn fn, void *arg)
{
	pthread_mutex_lock(&p->mtx);
	cx_err rv = enqueue(p, fn, arg);
	pthread_mutex_unlock(&p->mtx);
	return (rv);
}

/* The synchronous wrapper: runs the caller's job, then flags it done
 * under the pool lock so the waiter cannot miss the signal. */
typedef struct sync_job {
	cxi_hashpool *pool;
	cxi_hashpool_fn fn;
	void *arg;
	bool finished;
} sync_job;

static void
run_sync(void *arg)
{
	sync_job *s = arg;
	s->fn(s->arg);
	pthread_mutex_lock(&s->pool->mtx);
	s->finished = true;
	pthread_cond_broadcast(&s->pool->done);
	pthread_mutex_unlock(&s->pool->mtx);
}

cx_err
cxi_hashpool_run(cxi_hashpool *p, cxi_hashpool_fn fn, void *arg)
{
	sync_job s = { p, fn, arg, false };
	pthread_mutex_lock(&p->mtx);
	cx_err rv = enqueue(p, run_sync, &s);
	while (rv == CX_OK && !s.finished) {
		pthread_cond_wait(&p->done, &p->mtx);
	}
	pthread_mutex_unlock(&p->mtx);
	return (rv);
}

void
cxi_hashpool_stats(cxi_hashpool *p, size_t *active, size_t *max_active)
{
	pthread_mutex_lock(&p->mtx);
	if (active != NULL) {
		*active = p->active;
	}
	if (max_active != NULL) {
		*max_active = p->max_active;
	}
	pthread_mutex_unlock(&p->mtx);
}
