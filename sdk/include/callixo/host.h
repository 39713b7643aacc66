/*
 * callixo/host.h - the services the core gives a plugin.
 *
 * `init` receives a `const cx_host *`. It is the plugin's only way into the
 * core: plugins never link core symbols (they build with --no-undefined
 * against the SDK headers alone). Members are message-shaped, with no
 * pointers into core state, so the same table works when the plugin runs
 * in a separate `callixo-plugin-host` process.
 *
 * The table is versioned: it starts with its own size and ABI numbers, and
 * members are only ever appended. Test for a member added after 1.0 with
 * CX_HOST_HAS(h, member) before calling it.
 *
 * Every member takes the host pointer first and is safe to call from any
 * thread once `init` has been entered, until `fini` returns.
 */
#ifndef CALLIXO_HOST_H
#define CALLIXO_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <callixo/bus.h>
#include <callixo/error.h>
#include <callixo/http.h>
#include <callixo/version.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cx_log_level {
	CX_LOG_DEBUG = 0,
	CX_LOG_INFO = 1,
	CX_LOG_WARN = 2,
	CX_LOG_ERROR = 3,
} cx_log_level;

/* Timer ids are one-field structs so they cannot be mixed with counts. */
typedef struct cx_timer_id {
	uint64_t v;
} cx_timer_id;

typedef void (*cx_timer_fn)(void *arg);

typedef struct cx_host cx_host;

struct cx_host {
	uint32_t size;      /* sizeof(cx_host) of the core that built it */
	uint16_t abi_major; /* the core's ABI */
	uint16_t abi_minor;
	void *ctx;          /* core-private; do not touch */

	/* The plugin instance name from the config, e.g. "twilio". */
	const char *name;
	/* A directory the plugin may own: <data_dir>/plugins/<name>, created
	 * before init. */
	const char *data_dir;

	/* One structured log line, tagged plugin=<name>. Never pass a secret. */
	void (*log)(const cx_host *h, cx_log_level lvl, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

	/* Publishes an event of `type` (the topic). `data` is stolen (even on
	 * error); NULL means {}. `account` may be NULL. */
	cx_err (*publish)(const cx_host *h, const char *type,
	    const char *account, json_t *data);

	/* Subscribes to events whose type equals `topic`, or starts with it
	 * when it ends in ".*" ("call.*"), or to all events with "*". Dropped
	 * automatically at stop. */
	cx_err (*subscribe)(const cx_host *h, const char *topic, cx_event_fn fn,
	    void *arg);

	/* Sends a request of `type` to the plugin instance named `service` and
	 * waits up to timeout_ms for the answer. `data` is stolen. On CX_OK,
	 * *reply is a new reference the caller must json_decref. A remote
	 * error comes back as its code, with *reply (if not NULL) holding
	 * {"message": ...}. */
	cx_err (*call)(const cx_host *h, const char *service, const char *type,
	    const char *account, json_t *data, int timeout_ms, json_t **reply);

	/* Answers requests addressed to this plugin's name. One handler per
	 * plugin; requests arrive concurrently. */
	cx_err (*serve)(const cx_host *h, cx_service_fn fn, void *arg);

	/* Answers the core's policy surveys (policy plugins). */
	cx_err (*answer_policy)(const cx_host *h, cx_policy_fn fn, void *arg);

	/* Runs fn after delay_ms, then every period_ms if period_ms > 0.
	 * Timers are cancelled automatically at stop. */
	cx_err (*timer_add)(const cx_host *h, int64_t delay_ms,
	    int64_t period_ms, cx_timer_fn fn, void *arg, cx_timer_id *id);
	void (*timer_cancel)(const cx_host *h, cx_timer_id id);

	/* Serves `method` requests to /webhooks/<name><subpath>. A subpath
	 * ending in "/" matches everything below it. Register in init. */
	cx_err (*http_route)(const cx_host *h, const char *method,
	    const char *subpath, cx_http_fn fn, void *arg);

	/* Adds delta to a counter exported at /metrics as
	 * callixo_plugin_<metric>{plugin="<name>"}. */
	void (*metric_add)(const cx_host *h, const char *metric, int64_t delta);
};

/* True when the host table has member `m` (it may be older than the SDK
 * the plugin was built with). */
#define CX_HOST_HAS(h, m)                                                 \
	((h)->size >= offsetof(cx_host, m) + sizeof((h)->m) && (h)->m != NULL)

#ifdef __cplusplus
}
#endif
#endif
