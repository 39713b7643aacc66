/*
 * sbx_call.h - one simulated call in flight, shared by the scheduler
 * (sbx_sim.c), the request handlers (sbx_control.c) and the event
 * builder (sbx_event.c).
 */
#ifndef SBX_CALL_H
#define SBX_CALL_H

#include "sbx.h"

typedef struct sbx_call sbx_call;

struct sbx_call {
	char call_id[SBX_ID_MAX];
	char pcid[SBX_ID_MAX];
	char *account;   /* the place request's account, or NULL */
	json_t *script;  /* answered / voicemail: what was said */
	sbx_plan plan;
	sbx_outcome outcome; /* plan.outcome, or canceled after a hangup */
	const char *reason;  /* disconnection_reason */
	sbx_step steps[SBX_MAX_STEPS];
	int nsteps;
	int next;            /* index of the next step to deliver */
	int32_t seq_base;    /* seq of steps[i] is seq_base + i + 1 */
	int64_t placed_wall; /* wall ms of the place request */
	int speed;
	int64_t talk_ms;     /* answered -> end, shortened by a hangup */
	bool cut;            /* ended by a hangup request */
	bool recovery;       /* re-sent after a restart: no artifacts */
	int64_t cap_ms;      /* recording cap */
	int64_t seed;
	int64_t price_per_minute;
	char currency[8];
	size_t rec;          /* index of its journal record */

	/* Scheduling, under the simulation's lock. */
	int attempts;        /* failed deliveries of steps[next] */
	uint64_t gen;        /* heap entries of older generations are stale */
	int heap_refs;       /* heap entries pointing here */
	bool busy, queued, done;
	sbx_call *qnext;
	sbx_call *lprev, *lnext; /* live list */
};

/* The simulation's state (sbx_sim.c runs it, sbx_control.c answers the
 * core's requests against it). */
typedef struct hent {
	int64_t due;
	uint64_t gen;
	sbx_call *c;
} hent;

struct sbx_sim {
	const cx_host *h;
	sbx_journal *j;
	char recdir[4096];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sbx_config cfg;
	sbx_rng place_rng; /* fail_place / timeout_place draws */
	hent *heap;
	size_t hn, hcap;
	sbx_call *qhead, *qtail;
	sbx_call *live;
	size_t nlive;
	pthread_t *threads;
	int nthreads;
	bool stopping;
	cx_timer_id tick;
};


/* Under s->mu: */
void sbx_live_add(sbx_sim *s, sbx_call *c);
/* Queues c's next step for delivery at wall time due. */
void sbx_schedule(sbx_sim *s, sbx_call *c, int64_t due);
void sbx_call_free(sbx_call *c);

/* Wall time of step i. */
int64_t sbx_call_wall(const sbx_call *c, int i);
/* The request of steps[next] as call.event data (or call.recording data
 * when that step is the recording; then *type says so). */
json_t *sbx_event_build(const cx_host *h, const sbx_call *c,
    const char *recdir, const char **type);
/* <recdir>/<pcid>.wav */
void sbx_recording_path(const char *recdir, const sbx_call *c, char *buf,
    size_t len);

#endif
