/*
 * callevents_int.h - what the call events files share (callevents.h):
 * the runtime's state, the state machine of a call (callstate.c), the
 * finishing rules (callfinish.c), recordings (recordings.c) and the
 * transcription worker (transcribe.c).
 */
#ifndef CXI_CALLEVENTS_INT_H
#define CXI_CALLEVENTS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <callixo/telephony.h>
#include <callixo/transcription.h>

#include "callevents.h"
#include "repo.h"

/* Transcription attempts before a call is given up on (EIO / EBUSY /
 * ETIMEDOUT), and the backoff between them (doubling from BASE). */
#define CE_TRANSCRIBE_TRIES 6
#define CE_TRANSCRIBE_BACKOFF_MS 5000LL
/* A provider event that matches no call for this long is closed with
 * an error instead of being retried forever. */
#define CE_ORPHAN_MS (24LL * 3600 * 1000)
#define CE_BACKOFF_SLOTS 64

typedef struct ce_backoff {
	char call[64];
	int tries;
	int64_t next_ms;
} ce_backoff;

struct cxi_callevents {
	cxi_calling *cl;
	cxi_manager *mgr;
	/* Serializes every change to a calls row: a read-modify-write in a
	 * transaction is then safe on any backend's isolation level. */
	pthread_mutex_t apply;
	pthread_mutex_t mu; /* guards the fields below */
	pthread_cond_t cv;
	bool stopping;
	bool kicked;        /* the sweeper should run now */
	bool tkicked;       /* the transcription worker should look now */
	pthread_t sweeper, transcriber;
	bool sweeper_up, transcriber_up;
	bool owns_slot;
	ce_backoff back[CE_BACKOFF_SLOTS]; /* transcription retries */
};

/* What a change asks for once its transaction has committed: bus
 * events to publish ([type, data] pairs) and a transcription look. */
typedef struct ce_after {
	json_t *publish;
	bool transcribe;
} ce_after;

void ce_after_init(ce_after *a);
/* Publishes and kicks; frees. */
void ce_after_flush(cxi_callevents *ev, ce_after *a);

/* 0 queued, 1 ringing, 2 in_progress, 3 terminal; -1 unknown. */
int ce_status_rank(const char *s);
bool ce_in(const char *s, const char *const *set);

/* The call an event names: by call_id (and the same provider), else by
 * provider + provider_call_id. CX_ENOENT when there is none yet;
 * CX_EDENIED when the ids point at a call of another provider or
 * disagree with each other. */
cx_err ce_find_call_c(cxi_dbc *c, const char *provider, const char *call_id,
    const char *provider_call_id, json_t **row);

/* Applies a validated call.event to `call` (its current row) inside the
 * caller's transaction, then runs the finishing rules. */
cx_err ce_apply_c(cxi_callevents *ev, cxi_dbc *c, const json_t *call,
    const json_t *event, ce_after *after, char *why, size_t whylen);

/* Updates a call with `sys` (stolen), then queues what the change
 * means (call.started, call.analyzed, call.completed). */
cx_err ce_update_c(cxi_callevents *ev, cxi_dbc *c, const json_t *old,
    json_t *sys, ce_after *after, char *why, size_t whylen);
/* The finishing rules on the current row: sets artifacts_due_at when a
 * terminal call has none, and sends call.completed once every expected
 * artifact is there or the deadline passed. */
cx_err ce_finish_c(cxi_callevents *ev, cxi_dbc *c, const json_t *call,
    ce_after *after, char *why, size_t whylen);

/* The sweeper's passes (callevents.c). */
void ce_sweep_events(cxi_callevents *ev, const cxi_db *db);
void ce_sweep_deadlines(cxi_callevents *ev, const cxi_db *db);

/* call.recording (recordings.c). */
cx_err ce_recording(void *arg, const cx_msg *req, json_t **reply);
/* The transcription worker (transcribe.c). */
void *ce_transcriber(void *arg);

/* {"message": why} as a reply. */
json_t *ce_msg(const char *why);

#endif
