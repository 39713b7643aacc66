/*
 * dialer_int.h - what the dialer's files share (dialer.c: the thread,
 * the worker pool and SQL helpers; dialer_dispatch.c: picking and
 * placing; dialer_reconcile.c: lookups; dialer_settle.c: settling, the
 * circuit breaker, cancellation and completion).
 */
#ifndef CXI_DIALER_INT_H
#define CXI_DIALER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "campaign_conf.h"
#include "dialer.h"
#include "store.h"

/* Call statuses of the core's own, before the provider has the call. */
#define DL_DISPATCHING "dispatching"
#define DL_UNKNOWN "unknown"
/* SQL lists. A live call is never settled, so queries for live calls
 * also say settled_at IS NULL: the partial index calls_unsettled
 * (migration 0005) then serves them. */
#define DL_LIVE_SQL \
	"('dispatching', 'unknown', 'queued', 'ringing', 'in_progress')"
#define DL_TERMINAL_SQL \
	"('completed', 'busy', 'no_answer', 'failed', 'canceled')"
/* Every status a call can have (so the index's first column is used). */
#define DL_ANY_SQL \
	"('dispatching', 'unknown', 'queued', 'ringing', 'in_progress', " \
	"'completed', 'busy', 'no_answer', 'failed', 'canceled')"

#define DL_POLICY_DEADLINE_MS 2000
#define DL_BACKOFF_MIN_MS 1000
#define DL_BACKOFF_MAX_MS (5 * 60 * 1000)
#define DL_PICK_MAX 200

/* One place_call to send. */
typedef struct dl_job {
	struct dl_job *next;
	char call_id[64], account[64], campaign[64], provider[65];
	double cps;      /* the campaign's calls per second */
	json_t *req;     /* the CX_SVC_CALL_PLACE body (may hold
	                  * credentials: never logged) */
} dl_job;

struct cxi_dialer {
	cxi_calling *cl;
	cxi_manager *mgr;
	cxi_dialer_conf conf;  /* provider_cps deep-copied */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;     /* the tick thread waits here */
	pthread_cond_t wcv;    /* workers wait here */
	bool stop, kicked, wstop;
	bool reconciled;       /* the start-up reconcile ran */
	pthread_t *workers;
	int n_workers;
	dl_job *head, *tail;
	int queued, busy;
	/* Under mu: call id -> {"at": ms, "tries": n} for calls waiting on
	 * a retry of place or lookup; "inflight" ids queued or being sent;
	 * pace key ("c:<campaign>", "p:<provider>") -> next send ms. */
	json_t *track, *inflight, *pace;
	/* Tick thread only: live calls of cancelled campaigns already
	 * hung up; round-robin index of from_numbers per campaign. */
	json_t *hungup, *rr;
};

int64_t dl_now(void);

/* Storage for one piece of work: hold + connection. False when no
 * storage runs (nothing held). */
bool dl_conn(cxi_dialer *d, cxi_db *db, cxi_dbc *c);
void dl_release(cxi_dialer *d, cxi_dbc *c);
/* One statement on a fresh connection; rows (may be NULL) as JSON. */
cx_err dl_query(cxi_dialer *d, const char *sql, const cx_db_value *p,
    size_t n, json_t **rows);
cx_err dl_exec(cxi_dialer *d, const char *sql, const cx_db_value *p,
    size_t n, int64_t *changes);

/* track (under mu). */
int64_t dl_track_at(cxi_dialer *d, const char *call_id, int *tries);
void dl_track_set(cxi_dialer *d, const char *call_id, int64_t at,
    int tries);
void dl_track_clear(cxi_dialer *d, const char *call_id);
bool dl_inflight(cxi_dialer *d, const char *call_id);

/* The account's vault entry for `provider` (credential name NULL:
 * "default") as a new object, or NULL when there is none. */
json_t *dl_credentials(cxi_dialer *d, const char *account,
    const char *provider, const char *name);
/* The campaign row's config, parsed complete; CX_EINVAL with why. */
cx_err dl_campaign_conf(const json_t *campaign, cxi_campaign_conf *cc,
    char *why, size_t whylen);

/* dialer_dispatch.c */
/* A lead row's template variables: metadata columns, name, phone. */
json_t *dl_lead_vars(const json_t *lead);
/* Builds the place request for a call row (to_number, from_number,
 * variables, id) of a campaign; credentials (may be NULL) borrowed. */
json_t *dl_place_request(const cxi_campaign_conf *cc, const json_t *call,
    const json_t *creds);
/* Queues a job for the workers (steals job). */
void dl_enqueue(cxi_dialer *d, dl_job *job);
/* Builds and queues the place of an existing 'dispatching' row. */
void dl_requeue(cxi_dialer *d, const json_t *call, const json_t *campaign);
void dl_dispatch_new(cxi_dialer *d, int64_t now);
void dl_redispatch(cxi_dialer *d, int64_t now);
void *dl_worker(void *arg);
/* dialer.dispatch_backoff doubled per try, at most DL_BACKOFF_MAX_MS. */
int64_t dl_backoff_ms(const cxi_dialer *d, int tries);

/* dialer_reconcile.c */
void dl_reconcile_startup(cxi_dialer *d);
void dl_reconcile(cxi_dialer *d, int64_t now, bool startup);

/* dialer_settle.c */
/* The outcome a terminal status implies when the provider gave none. */
const char *dl_status_outcome(const char *status);
bool dl_status_terminal(const char *status);
void dl_settle(cxi_dialer *d, int64_t now);
void dl_cancel_sweep(cxi_dialer *d, int64_t now);
void dl_complete_sweep(cxi_dialer *d, int64_t now);

#endif
