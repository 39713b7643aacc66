/*
 * twilio.h - internals shared by the Twilio telephony plugin's files.
 *
 * twilio_plugin.c  settings, init/fini, the service dispatch
 * twilio_http.c    one REST request through libcurl, error mapping,
 *                  credentials (request, vault via the core, settings)
 * twilio_rest.c    place, lookup and hang up calls
 * twilio_event.c   callback form -> call.event (pure; fuzzed)
 * twilio_webhook.c the status and recording webhooks
 * twilio_rec.c     the durable queue of recordings to download
 * twilio_form.c    form bodies and X-Twilio-Signature (pure; fuzzed)
 */
#ifndef TWILIO_PLUGIN_H
#define TWILIO_PLUGIN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <callixo/callixo.h>
#include <callixo/telephony.h>

#include "twilio_form.h"

typedef struct twilio_rec twilio_rec;

/* Who answered each recent call (AMD), for a final status callback that
 * does not repeat AnsweredBy. A ring: old entries are overwritten. */
#define TWILIO_AMD_MEMORY 512
typedef struct twilio_amd {
	char call_sid[40];
	char answered_by[24];
} twilio_amd;

typedef struct twilio {
	const cx_host *host;
	/* Settings; fixed after init (a change restarts the instance). */
	char *account_sid;  /* platform default, may be NULL */
	char *auth_token;   /* secret: never logged */
	char *api_base;     /* no trailing '/' */
	char *public_url;   /* no trailing '/' */
	long http_timeout_ms;
	char machine_detection[24];
	bool delete_recordings;
	bool mp3;
	long retry_backoff_ms;
	int max_attempts;
	bool curl_inited;
	twilio_rec *rec;
	pthread_mutex_t amd_mu;
	bool amd_mu_ok;
	twilio_amd amd[TWILIO_AMD_MEMORY];
	size_t amd_next;
} twilio;

/* Account credentials for one request; wiped after use. */
typedef struct twilio_creds {
	char sid[72];
	char token[136]; /* secret */
} twilio_creds;

void twilio_creds_wipe(twilio_creds *c);
/* From a request's "credentials" object when present, else the
 * settings. CX_EINVAL (with a message in *reply) when neither has both
 * fields or the SID is not plain alphanumerics. */
cx_err twilio_creds_from(const twilio *t, const json_t *data,
    twilio_creds *c, json_t **reply);
/* The credentials call `call_id` was placed with, asked from the core
 * (CX_SVC_CALL_CREDENTIALS); the settings when the core has none. */
cx_err twilio_creds_for_call(const twilio *t, const char *call_id,
    twilio_creds *c);

typedef struct twilio_resp {
	long status;   /* HTTP status, 0 when no answer came */
	int curl_code; /* CURLcode */
	char *body;    /* NUL-terminated, may be NULL */
	size_t len;
} twilio_resp;

/* One request with Basic auth. `form` (may be NULL) is sent as the
 * form-encoded body; with `sink` the response body goes there instead
 * of into r->body. Returns CX_OK when an HTTP answer arrived (whatever
 * its status). */
cx_err twilio_http(const twilio *t, const twilio_creds *c,
    const char *method, const char *url, const char *form, long timeout_ms,
    FILE *sink, twilio_resp *r);
void twilio_resp_free(twilio_resp *r);
/* Maps a failed request (no answer, or a non-2xx status) to the
 * contract's error and a {"message":"twilio <code>: <message>"} reply. */
cx_err twilio_http_error(const twilio *t, const char *op,
    const twilio_resp *r, cx_err transport, json_t **reply);

cx_err twilio_place(twilio *t, const json_t *data, json_t **reply);
cx_err twilio_lookup(twilio *t, const json_t *data, json_t **reply);
cx_err twilio_hangup(twilio *t, const json_t *data, json_t **reply);

/* CallStatus -> CX_CALL_*, or NULL for a value we do not know. */
const char *twilio_status_map(const char *st);

/* Parses an RFC 2822 date ("Tue, 24 Nov 2026 10:00:00 +0000") into
 * Unix milliseconds; false when empty or malformed. */
bool twilio_rfc2822_ms(const char *s, int64_t *ms);

/* What twilio_event_build found in a callback. */
typedef enum twilio_ev_kind {
	TWILIO_EV_BAD = -1,     /* malformed: answer 400 with err */
	TWILIO_EV_IGNORE = 0,   /* valid but nothing to store */
	TWILIO_EV_STATUS = 1,
	TWILIO_EV_RECORDING = 2,
} twilio_ev_kind;

/* Builds the call.event payload for a verified status (`recording`
 * false) or recording callback. `call_id` may be NULL; `answered_by`
 * (may be NULL) stands in for a missing AnsweredBy parameter. */
twilio_ev_kind twilio_event_build(const twilio_form *f, bool recording,
    const char *provider, const char *call_id, const char *answered_by,
    json_t **event, char *err, size_t errlen);

cx_err twilio_webhook_register(twilio *t);

cx_err twilio_rec_start(twilio *t);
/* Stops the worker (no call into the core after it returns); queued
 * work stays in the file. twilio_rec_stop also frees the queue. */
void twilio_rec_halt(twilio *t);
void twilio_rec_stop(twilio *t);
/* Queues a verified, stored recording callback for download. */
cx_err twilio_rec_add(twilio *t, const twilio_form *f, const char *call_id);

#endif
