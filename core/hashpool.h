/*
 * hashpool.h - a bounded pool of threads for password hashing (H-4).
 *
 * argon2id takes ~100 ms and m bytes of memory per hash, so hashing must
 * not run on HTTP threads, and the number of hashes in flight must be
 * bounded: memory is at most workers x m. Jobs wait in a bounded FIFO;
 * when it is full a submit fails with CX_EBUSY at once (the caller
 * answers 503 rather than queueing without limit).
 *
 * A job is fn(arg), run on a pool thread. cxi_hashpool_submit returns
 * immediately (fn is the callback: it reports the result itself);
 * cxi_hashpool_run waits until fn has run. All calls are thread safe.
 */
#ifndef CXI_HASHPOOL_H
#define CXI_HASHPOOL_H

#include <stddef.h>
#include <callixo/error.h>

typedef struct cxi_hashpool cxi_hashpool;
typedef void (*cxi_hashpool_fn)(void *arg);

/* workers: 1..64 threads; queue_max: jobs that may wait (>= 1). */
cx_err cxi_hashpool_new(size_t workers, size_t queue_max,
    cxi_hashpool **out);
/* Runs the jobs already queued, then stops and joins the threads. */
void cxi_hashpool_free(cxi_hashpool *pool);

/* CX_EBUSY when the queue is full, CX_ECLOSED while shutting down. */
cx_err cxi_hashpool_submit(cxi_hashpool *pool, cxi_hashpool_fn fn,
    void *arg);
/* Queues fn(arg) and waits for it to finish on a pool thread. Never
 * call it from a job: with every worker waiting, nothing would run. */
cx_err cxi_hashpool_run(cxi_hashpool *pool, cxi_hashpool_fn fn, void *arg);

/* Jobs running right now, and the most ever running at once. */
void cxi_hashpool_stats(cxi_hashpool *pool, size_t *active,
    size_t *max_active);

#endif
