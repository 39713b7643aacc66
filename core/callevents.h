/*
 * callevents.h - the core side of what happens to a call once it is
 * placed (sdk/include/callixo/telephony.h, transcription.h):
 *   - the "core" service's call.event, call.recording and
 *     call.credentials handlers: every provider fact is validated, then
 *     stored durably (provider_events, then the calls row, in one
 *     transaction) before the plugin gets its answer;
 *   - recordings streamed from a plugin's data dir into the encrypted
 *     blob store, and read back for the API;
 *   - transcription requests for answered calls that have a recording
 *     but no transcript;
 *   - the finishing of a call: call.started / call.analyzed /
 *     call.completed queued for the customer's webhooks exactly once,
 *     call.completed only when every artifact it should carry is there
 *     or its deadline (artifacts_due_at) has passed.
 * All of it is driven from the database (a sweeper thread re-reads what
 * is pending), so a restart loses nothing.
 */
#ifndef CXI_CALLEVENTS_H
#define CXI_CALLEVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <callixo/error.h>

#include "blobcrypt.h"
#include "calling.h"

/* How long a finished call waits for its artifacts by default; a
 * campaign may set config.artifacts_wait_s (1 s .. 24 h). */
#define CXI_ARTIFACTS_WAIT_MS (10 * 60 * 1000LL)
/* Recordings larger than this are refused. */
#define CXI_RECORDING_MAX_BYTES (512LL * 1024 * 1024)

cx_err cxi_callevents_start(cxi_callevents **out, cxi_calling *cl,
    char *why, size_t whylen);
void cxi_callevents_stop(cxi_callevents *ev);
/* Wakes the sweeper and the transcription worker now (tests, and after
 * a change they should look at). NULL is fine. */
void cxi_callevents_kick(cxi_callevents *ev);
/* Runs one sweep on the calling thread: pending provider events,
 * artifact deadlines. For tests; the thread does the same every second. */
void cxi_callevents_sweep(cxi_callevents *ev);

/* Checks a call.event payload completely; CX_EINVAL with why naming the
 * first bad field. Pure: no storage, no bus (fuzzed). */
cx_err cxi_callevent_validate(const json_t *data, char *why, size_t whylen);

/* The call as GET /v1/calls/{id} shows it (and webhooks carry it). */
json_t *cxi_call_view(const json_t *row);

/* Reading a stored recording: holds the storage and blob drivers until
 * cxi_callrec_close. CX_ECLOSED when either driver does not run. */
typedef struct cxi_callrec cxi_callrec;
cx_err cxi_callrec_open(cxi_calling *cl, const char *key, cxi_callrec **out,
    char *why, size_t whylen);
/* Verified plaintext; *got = 0 at the verified end. */
cx_err cxi_callrec_read(cxi_callrec *r, void *buf, size_t cap, size_t *got,
    char *why, size_t whylen);
void cxi_callrec_close(cxi_callrec *r);

#endif
