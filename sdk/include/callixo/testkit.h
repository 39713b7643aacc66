/*
 * callixo/testkit.h - test a plugin in process, without the daemon.
 *
 * The test kit is a real Callixo core in miniature: the same loader, the
 * same settings validation and the same nng bus as callixod, on inproc://
 * addresses. An integrator loads their plugin in a unit test, feeds it
 * settings, events, requests, surveys and HTTP requests, and asserts on
 * what it publishes and answers. Link with `pkg-config callixo-testkit`.
 *
 *   cx_testkit *tk;
 *   cx_testkit_new(&tk);
 *   cx_testkit_load(tk, "hello.so", "greeting: hi\n");
 *   cx_testkit_start(tk);
 *   cx_testkit_request(tk, "hello", "hello.greet", "{\"who\":\"ann\"}",
 *       1000, &reply);
 *   cx_testkit_free(tk);
 */
#ifndef CALLIXO_TESTKIT_H
#define CALLIXO_TESTKIT_H

#include <stddef.h>
#include <jansson.h>
#include <callixo/bus.h>
#include <callixo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cx_testkit cx_testkit;

/* A fresh in-process core with its own temporary data directory. */
cx_err cx_testkit_new(cx_testkit **out);
/* Stops and unloads every plugin, removes the data directory. */
void cx_testkit_free(cx_testkit *tk);

/* Loads the plugin at `path` as an instance named after its descriptor
 * and initialises it with `settings_yaml` (a YAML mapping, "" for none),
 * validated exactly as callixod would. On failure cx_testkit_error()
 * tells why, in the daemon's words. */
cx_err cx_testkit_load(cx_testkit *tk, const char *path,
    const char *settings_yaml);
/* The last error message, or "". */
const char *cx_testkit_error(const cx_testkit *tk);
cx_err cx_testkit_start(cx_testkit *tk);
/* Applies new settings as a SIGHUP reload would: reconfigure, or a
 * restart when the plugin has no reconfigure. */
cx_err cx_testkit_reconfigure(cx_testkit *tk, const char *settings_yaml);

/* Publishes an event on the bus, as another plugin would. */
cx_err cx_testkit_publish(cx_testkit *tk, const char *type,
    const char *account, const char *data_json);
/* Waits up to timeout_ms for an event of `type` ("*" for any) published
 * by the plugin, and returns its envelope (caller decrefs). Events are
 * captured from the moment of cx_testkit_new; each is returned once. */
cx_err cx_testkit_wait_event(cx_testkit *tk, const char *type,
    int timeout_ms, json_t **envelope);

/* Sends a service request to the plugin and returns its reply. */
cx_err cx_testkit_request(cx_testkit *tk, const char *type,
    const char *data_json, int timeout_ms, json_t **reply);
/* Asks a policy survey; *verdict gets the combined verdict (deny wins). */
cx_err cx_testkit_survey(cx_testkit *tk, const char *type,
    const char *data_json, int deadline_ms, cx_verdict *verdict);
/* Stands in for a service the plugin calls (e.g. "storage"). For
 * "core" (CX_SVC_CORE) fn answers every request type the core would,
 * e.g. call.event from a telephony plugin. */
cx_err cx_testkit_serve(cx_testkit *tk, const char *service,
    cx_service_fn fn, void *arg);

/* Sends an HTTP request to one of the plugin's routes. `path` is the
 * full path (/webhooks/<name>/...). `headers` is NULL or a NULL-terminated
 * list "Name: value". *body (caller frees) gets the response body. */
cx_err cx_testkit_http(cx_testkit *tk, const char *method, const char *path,
    const char *const *headers, const char *req_body, size_t req_len,
    int *status, char **body, size_t *body_len);

/* Runs the storage driver conformance suite against a storage plugin:
 * the same checks the shipped SQLite and PostgreSQL drivers pass (value
 * types, typed errors, transactions, pool limits, concurrent writers,
 * the driver's migrations). The database `settings_yaml` points at must
 * be empty. Prints one line per check on stderr. Returns the number of
 * failed checks (0: the driver conforms), or -1 when the plugin cannot
 * be loaded. Since ABI 1.0. */
int cx_testkit_storage_conformance(const char *plugin_so,
    const char *settings_yaml);

#ifdef __cplusplus
}
#endif
#endif
