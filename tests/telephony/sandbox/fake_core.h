/*
 * fake_core.h - stands in for the core's call.event / call.recording
 * handlers (cx_testkit_serve(tk, "core", ...)) and records what the
 * sandbox sends, so the tests can check it as the core would see it.
 */
#ifndef FAKE_CORE_H
#define FAKE_CORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <callixo/testkit.h>

typedef struct fake_core {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	json_t *events;   /* call.event data acknowledged, in arrival order */
	json_t *attempts; /* event_id of every call.event, failed or not */
	json_t *recs;     /* call.recording: data + "wav" (parsed header) */
	json_t *seen;     /* event_id -> true */
	int fail_first;   /* answer CX_EIO to this many requests first */
	int failed;
} fake_core;

void fake_init(fake_core *f);
void fake_free(fake_core *f);
cx_err fake_serve(void *arg, const cx_msg *req, json_t **reply);

/* The events of one call (a new array, arrival order). */
json_t *fake_events_of(fake_core *f, const char *call_id);
/* Terminal event of the call, or NULL (a new reference). */
json_t *fake_terminal(fake_core *f, const char *call_id);
/* Waits until every call in ids (array of call_id strings) has its
 * terminal event and, when it asked for one, its recording. */
bool fake_wait_done(fake_core *f, const json_t *ids, int timeout_ms);
bool fake_wait_event(fake_core *f, const char *call_id,
    const char *status, int timeout_ms);
json_t *fake_recording_of(fake_core *f, const char *pcid);

/* Parses a WAV file: {"ok", "format", "channels", "rate", "bits",
 * "data_bytes", "file_bytes", "rms"} (see fake_core.c). */
json_t *wav_inspect(const char *path);

void sleep_ms(long ms);

#endif
