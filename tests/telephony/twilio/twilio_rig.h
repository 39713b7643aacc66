/*
 * twilio_rig.h - the pieces around the Twilio plugin under test: the
 * fake Twilio's control endpoints, the npm `twilio` oracle, a stand-in
 * for the core's call.* handlers, and delivery of callbacks to the
 * plugin's webhook routes (playing the TLS-terminating proxy between
 * public_url and the daemon).
 */
#ifndef TWILIO_RIG_H
#define TWILIO_RIG_H

#include <pthread.h>
#include <stdbool.h>
#include <jansson.h>
#include <callixo/testkit.h>

#define RIG_PUBLIC_URL "https://hooks.example.test"

/* The core's side, as the plugin sees it through the bus. */
typedef struct rig_core {
	pthread_mutex_t mu;
	json_t *events;     /* every call.event received, in order */
	json_t *ids;        /* event_id -> stored payload (dedup) */
	json_t *recordings; /* call.recording requests + what was read */
	json_t *vault;      /* call_id -> credentials object */
	int fail_events;    /* answer CX_EIO to the next n call.event */
	int cred_asks;
} rig_core;

extern const char *rig_plugin;

const char *rig_env(const char *name);

/* A kit with the plugin loaded (settings: YAML) and the core stand-in. */
cx_testkit *rig_kit(const char *yaml, rig_core *core);
void rig_core_init(rig_core *c);
void rig_core_free(rig_core *c);
/* The default settings, plus `extra` YAML lines. */
char *rig_yaml(const char *extra);

/* Fake Twilio: GET (body NULL) or POST JSON to a control path. */
json_t *rig_fake(const char *method, const char *path, const char *json);
/* The last create's params as an array of [name, value]. */
json_t *rig_last_create(void);
/* All values of `name` in [[name, value], ...]. */
json_t *rig_values(const json_t *pairs, const char *name);
/* The prepared callbacks of one call, in Twilio's order. */
json_t *rig_outbox_for(const char *call_sid);

/* Runs the oracle on one request object or an array of them. */
json_t *rig_oracle(json_t *req);
/* validateRequest() for one outbox entry. */
bool rig_oracle_valid(const json_t *entry, const char *token);

/* Delivers a callback: url must start with RIG_PUBLIC_URL. Returns the
 * HTTP status; *resp_body (if not NULL) gets the body. */
int rig_deliver(cx_testkit *tk, const char *url, const char *body,
    const char *signature, char **resp_body);
int rig_deliver_entry(cx_testkit *tk, const json_t *entry);

/* Events stored for one provider call id (new reference). */
json_t *rig_events_for(rig_core *c, const char *call_sid);
/* Waits up to ms for a call.recording of call_sid; new ref or NULL. */
json_t *rig_wait_recording(rig_core *c, const char *call_sid, int ms);

void rig_sleep_ms(int ms);

#endif
