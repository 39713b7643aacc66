/*
 * outhooks_int.h - what the sender's files share (outhooks.c: claiming,
 * threads, lifecycle; outhooks_attempt.c: one attempt and its record).
 */
#ifndef CXI_OUTHOOKS_INT_H
#define CXI_OUTHOOKS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "calling.h"
#include "outhooks.h"

#define CXI_OUTHOOKS_ID_MAX 64

/* One claimed delivery: its claim is next_attempt_at == lease. */
typedef struct cxi_outhooks_job {
	struct cxi_outhooks_job *next;
	char id[CXI_OUTHOOKS_ID_MAX];
	char endpoint[CXI_OUTHOOKS_ID_MAX];
	int64_t lease;
} cxi_outhooks_job;

struct cxi_outhooks {
	cxi_calling *cl;
	cxi_outhooks_conf cf;
	pthread_mutex_t mu;
	pthread_cond_t wake; /* the scheduler */
	pthread_cond_t work; /* the workers */
	bool stopping, kicked;
	cxi_outhooks_job *head, *tail;
	size_t inflight;     /* queued + being sent; <= cf.workers */
	char (*busy)[CXI_OUTHOOKS_ID_MAX]; /* their endpoints, cf.workers slots */
	pthread_t sched;
	bool sched_started;
	pthread_t *workers;
	int n_workers;
};

/* Loads the delivery (if the claim is still ours), signs and POSTs it,
 * and records the attempt with the next state. */
void cxi_outhooks_run_job(cxi_outhooks *h, const cxi_outhooks_job *j);

#endif
