/*
 * sbx.h - the sandbox telephony plugin: a provider simulated in process.
 *
 * The sandbox speaks exactly the telephony contract (callixo/telephony.h):
 * it takes CX_SVC_CALL_PLACE / _LOOKUP / _HANGUP, and reports every step
 * of a simulated call back to the core as call.event (and call.recording)
 * requests, retried with backoff like a provider's webhooks. Nothing in
 * the core knows it is not a real provider.
 *
 * Files:
 *   sbx_plugin.c   descriptor, settings schema, lifecycle, service requests
 *   sbx_config.c   settings -> sbx_config (and the cross-field checks)
 *   sbx_request.c  validation of a place request, as a provider would
 *   sbx_plan.c     seeded randomness and the timeline of one call
 *   sbx_script.c   transcript, summary, sentiment and analysis values
 *   sbx_wav.c      the generated recording (RIFF/PCM 8 kHz mono 16-bit)
 *   sbx_journal.c  the call journal in data_dir (lookups after a restart)
 *   sbx_sim.c      scheduler, workers, event delivery, hangup, recovery
 */
#ifndef SBX_H
#define SBX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <callixo/callixo.h>
#include <callixo/telephony.h>

#define SBX_ID_MAX 80  /* call_id and provider_call_id, with the NUL */
#define SBX_NUM_MAX 20 /* "+" and up to 15 digits, with the NUL */

typedef enum sbx_outcome {
	SBX_ANSWERED = 0,
	SBX_VOICEMAIL,
	SBX_BUSY,
	SBX_NO_ANSWER,
	SBX_FAILED,
	SBX_N_OUTCOMES,
	SBX_CANCELED = SBX_N_OUTCOMES /* only by hangup, never drawn */
} sbx_outcome;

typedef enum sbx_status {
	SBX_ST_QUEUED = 0,
	SBX_ST_RINGING,
	SBX_ST_IN_PROGRESS,
	SBX_ST_COMPLETED,
	SBX_ST_BUSY,
	SBX_ST_NO_ANSWER,
	SBX_ST_FAILED,
	SBX_ST_CANCELED,
	SBX_ST_RECORDING, /* not a status: the call.recording after the end */
	SBX_ST_COUNT
} sbx_status;

extern const char *const sbx_outcome_names[SBX_N_OUTCOMES + 1];
extern const char *const sbx_status_names[SBX_ST_COUNT];
bool sbx_status_live(sbx_status s);
int sbx_status_parse(const char *s);  /* -1 when unknown */
int sbx_outcome_parse(const char *s); /* -1 when unknown */

/* ---- settings (sbx_config.c) ---- */

typedef struct sbx_config {
	int64_t seed;
	int weights[SBX_N_OUTCOMES];
	int64_t dial_min, dial_max;   /* queued -> ringing, call ms */
	int64_t ring_min, ring_max;   /* ringing -> answered */
	int64_t talk_min, talk_max;   /* answered -> hang up */
	int64_t no_answer_after;      /* ringing -> no_answer */
	int speed;                    /* wall time = call time / speed */
	int64_t place_latency;        /* wall ms before the place reply */
	int recording_seconds;        /* cap of the generated WAV */
	int fail_place;               /* % of places refused 429 / 5xx */
	int timeout_place;            /* % of places created, reply lost */
	int64_t price_per_minute;     /* micros, per started minute */
	char currency[8];
	int event_retries;            /* deliveries after the first */
	int64_t retry_backoff;        /* first retry delay, doubled */
	int64_t retry_backoff_max;
	int64_t event_timeout;        /* wait for the core's answer */
	int workers;
	int64_t journal_max_age;      /* finished calls kept this long */
} sbx_config;

extern const cx_setting sbx_settings[];
bool sbx_config_parse(const json_t *s, sbx_config *c, char *err,
    size_t errlen);
cx_err sbx_validate(const json_t *s, char *err, size_t errlen);

/* ---- place requests (sbx_request.c) ---- */

bool sbx_e164_ok(const char *s);
/* Checks a CX_SVC_CALL_PLACE request as a provider's API would. On
 * failure writes a message for the dialer into err and returns false. */
bool sbx_request_check(const json_t *req, char *err, size_t errlen);

/* ---- randomness and timeline (sbx_plan.c) ---- */

typedef struct sbx_rng {
	uint64_t s;
} sbx_rng;

#define SBX_TAG_AUDIO 0x617564696fULL

/* A stream determined by the seed, the call id and a purpose tag. */
sbx_rng sbx_rng_for(int64_t seed, const char *call_id, uint64_t tag);
uint64_t sbx_rng_next(sbx_rng *r);
/* Uniform in [lo, hi] (lo when hi <= lo). */
int64_t sbx_rng_range(sbx_rng *r, int64_t lo, int64_t hi);
sbx_outcome sbx_pick_outcome(const int weights[SBX_N_OUTCOMES],
    int64_t seed, const char *call_id);

typedef struct sbx_step {
	sbx_status status;
	int64_t at; /* call ms since the place request */
} sbx_step;

#define SBX_MAX_STEPS 6

typedef struct sbx_plan {
	sbx_outcome outcome;
	sbx_step steps[SBX_MAX_STEPS];
	int nsteps;
	int64_t answered_at; /* call ms, -1 when never answered */
	int64_t talk_ms;     /* answered -> end */
	const char *reason;  /* disconnection_reason */
} sbx_plan;

/* The whole life of one call, from the settings and its request. The
 * script (sbx_script) decides how long a voicemail lasts. */
void sbx_plan_make(const sbx_config *c, const char *call_id,
    const json_t *req, int64_t voicemail_ms, sbx_plan *p);

/* ---- script (sbx_script.c) ---- */

/* The conversation of a call that was answered (outcome answered or
 * voicemail): {"utterances":[...], "summary", "sentiment", "success",
 * "analysis"} laid out over talk_ms (0: its natural length). */
json_t *sbx_script_make(const json_t *req, sbx_outcome outcome,
    int64_t seed, const char *call_id, int64_t talk_ms);
/* Natural length of the script in call ms. */
int64_t sbx_script_length(const json_t *script);
/* Cuts the script at talk_ms (a hangup) and builds the event's
 * transcript {"text", "utterances"}; also sets "summary" etc. into ev. */
void sbx_script_finish(const json_t *script, int64_t talk_ms, bool cut,
    json_t *ev);

/* ---- recording (sbx_wav.c) ---- */

/* Writes a WAV of min(talk_ms, cap_ms) following the utterances of the
 * script (voices for agent and user, a beep before a voicemail message)
 * to path (via a temporary file). Returns 0 or an errno. */
int sbx_wav_write(const char *path, const json_t *script, int64_t talk_ms,
    int64_t cap_ms, uint64_t seed);

/* ---- journal (sbx_journal.c) ---- */

typedef struct sbx_record {
	char call_id[SBX_ID_MAX];
	char pcid[SBX_ID_MAX];
	char to[SBX_NUM_MAX], from[SBX_NUM_MAX];
	int64_t created_ms;
	int64_t updated_ms;
	int8_t status;  /* sbx_status of the last step handed to delivery */
	int8_t outcome; /* sbx_outcome, -1 while live */
	int32_t seq;    /* seq of that step */
	int32_t acked;  /* highest seq the core acknowledged */
} sbx_record;

typedef struct sbx_journal sbx_journal;

/* Opens <dir>/journal.jsonl: reads it (the last line of a call wins),
 * drops finished calls older than max_age_ms, rewrites it compactly and
 * keeps it open for appending. */
cx_err sbx_journal_open(const char *dir, int64_t now_ms, int64_t max_age_ms,
    sbx_journal **out, char *err, size_t errlen);
void sbx_journal_close(sbx_journal *j);
/* Parses one journal line; false when it is not a record. */
bool sbx_journal_parse(const char *line, size_t len, sbx_record *r);
/* Stores r (new or changed) and appends it; returns its index. */
cx_err sbx_journal_put(sbx_journal *j, const sbx_record *r, size_t *idx);
size_t sbx_journal_count(const sbx_journal *j);
sbx_record *sbx_journal_at(sbx_journal *j, size_t idx);
/* Newest record for the provider call id / call id, or NULL. */
sbx_record *sbx_journal_by_pcid(sbx_journal *j, const char *pcid);
sbx_record *sbx_journal_by_call(sbx_journal *j, const char *call_id);
/* Newest record to/from created at or after since_ms, or NULL. */
sbx_record *sbx_journal_find(sbx_journal *j, const char *to,
    const char *from, int64_t since_ms);

/* ---- the simulation (sbx_sim.c) ---- */

typedef struct sbx_sim sbx_sim;

cx_err sbx_sim_new(const cx_host *h, sbx_journal *j, const sbx_config *cfg,
    sbx_sim **out);
/* New settings (reload): they apply to calls placed from now on, and to
 * retries. */
void sbx_sim_config(sbx_sim *s, const sbx_config *cfg);
/* Queues what a restart left unfinished in the journal: a call still
 * live is reported failed (disconnection_reason "sandbox_restarted"), a
 * final event the core may not have received is sent again. */
void sbx_sim_recover(sbx_sim *s);
cx_err sbx_sim_start(sbx_sim *s);
void sbx_sim_stop(sbx_sim *s);
void sbx_sim_free(sbx_sim *s);
/* Starts the simulation of an accepted call; req is borrowed. May fail
 * as the settings ask (fail_place: CX_EBUSY / CX_EIO, timeout_place:
 * CX_ETIMEDOUT with the call created). */
cx_err sbx_sim_place(sbx_sim *s, const char *account, const json_t *req,
    char *pcid, size_t pcidlen);
/* Ends a live call now; CX_ENOENT when the sandbox never placed it. */
cx_err sbx_sim_hangup(sbx_sim *s, const char *call_id, const char *pcid,
    const char **status);
/* Lookup under the simulation's lock: fills r, true when found. */
bool sbx_sim_lookup(sbx_sim *s, const char *call_id, const char *pcid,
    const char *to, const char *from, int64_t since_ms, sbx_record *r);

int64_t sbx_now_ms(void);

#endif
