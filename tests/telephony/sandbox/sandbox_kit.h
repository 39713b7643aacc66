/*
 * sandbox_kit.h - test kit helpers shared by the sandbox tests: load the
 * plugin with a fake core, place calls, look them up, hang them up.
 */
#ifndef SANDBOX_KIT_H
#define SANDBOX_KIT_H

#include <callixo/testkit.h>

#include "fake_core.h"

#define T_MS 2000
/* Fast calls: a call lasts at most ~150 ms of wall time. */
#define FAST "speed: 1000\nplace_latency: 0ms\nretry_backoff: 10ms\n" \
             "retry_backoff_max: 40ms\n"

extern const char *plugin_path;

/* Loads and starts the plugin with settings yaml, f as the core. */
cx_testkit *kit(const char *yaml, fake_core *f);
/* A full place request for call_id to +1415555<n+1>, plus extra fields
 * (", \"k\":v") that override earlier ones. Caller frees. */
char *place_json(const char *call_id, int n, const char *extra);
/* Places it (must succeed); returns the provider call id (caller
 * frees). */
char *place(cx_testkit *tk, const char *call_id, int n, const char *extra);
json_t *lookup(cx_testkit *tk, const char *data);
cx_err hangup(cx_testkit *tk, const char *data, json_t **reply);
/* The string at o.k, or "". */
const char *s_of(const json_t *o, const char *k);

#endif
