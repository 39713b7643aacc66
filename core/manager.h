/*
 * manager.h - plugin instances and their lifecycle.
 *
 * The manager owns every running instance, in start order. Applying a
 * config diffs it against what runs: new instances are loaded and started,
 * removed or disabled ones are stopped (reverse order) and unloaded,
 * changed ones are reconfigured or restarted. All lifecycle calls come
 * from one thread (the daemon's main loop); the instance table is also
 * read by the admin and metrics threads under the manager's lock.
 */
#ifndef CXI_MANAGER_H
#define CXI_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "bus.h"
#include "config.h"
#include "http.h"
#include "store.h"
#include <callixo/blob.h>
#include <callixo/session.h>

typedef struct cxi_manager cxi_manager;

typedef struct cxi_manager_opts {
	cxi_bus *bus;
	const char *bus_ns;
	cxi_http *http;        /* NULL in the test kit without HTTP */
	const char *data_dir;
	const char *ipc_dir;   /* bus ipc endpoints, for isolated plugins */
	const char *plugin_host; /* path of callixo-plugin-host */
	int hello_timeout_ms;  /* wait for an isolated plugin to come up */
	/* Run when a storage driver has started, before anything uses it
	 * (the daemon checks and applies migrations). Nonzero with why
	 * set fails the instance. May be NULL. */
	int (*on_storage)(void *arg, const cxi_db *db, char *why,
	    size_t whylen);
	void *hook_arg;
} cxi_manager_opts;

/* What one apply did, for the reload log line and callixoctl. */
typedef struct cxi_apply_report {
	json_t *started, *stopped, *reconfigured, *restarted, *failed;
} cxi_apply_report;

int cxi_manager_new(cxi_manager **out, const cxi_manager_opts *opts);
/* Stops everything (reverse start order) and frees. */
void cxi_manager_free(cxi_manager *m);

/* Makes the running set match cfg. Returns 0, or -1 when a required
 * plugin could not start (its log line is already written; the caller
 * decides whether that is fatal). `report` may be NULL. */
int cxi_manager_apply(cxi_manager *m, const cxi_config *cfg,
    cxi_apply_report *report);
void cxi_apply_report_init(cxi_apply_report *r);
void cxi_apply_report_clear(cxi_apply_report *r);
json_t *cxi_apply_report_json(const cxi_apply_report *r);

/* Runtime enable/disable (not saved to the config). */
int cxi_manager_set_enabled(cxi_manager *m, const cxi_config *cfg,
    const char *name, bool enabled, char *why, size_t whylen);

/* Stops every instance in reverse start order. */
void cxi_manager_stop_all(cxi_manager *m);

/* Array of {name, kind, version, state, isolation, required, error, pid,
 * restarts}. */
json_t *cxi_manager_list(cxi_manager *m);
/* Every required plugin is running. */
bool cxi_manager_ready(cxi_manager *m);
/* Some enabled plugin is not running. */
bool cxi_manager_degraded(cxi_manager *m);
/* Appends Prometheus lines for plugin states. */
void cxi_manager_metrics(void *m, char **buf, size_t *len, size_t *cap);

/* Asks every policy module; required policy plugins that stay silent
 * count as deny. */
cx_verdict cxi_manager_survey(cxi_manager *m, const char *type,
    const char *account, json_t *data, int deadline_ms, char *reason,
    size_t reason_len);

/* Borrows the running storage driver (or blob driver) for the length
 * of one piece of work; release with cxi_manager_unhold. False (and
 * nothing held) when none is running. */
bool cxi_manager_db_hold(cxi_manager *m, cxi_db *out);
bool cxi_manager_blob_hold(cxi_manager *m, const cx_blob_ops **ops,
    void **state);
bool cxi_manager_session_hold(cxi_manager *m, const cx_session_ops **ops,
    void **state);
void cxi_manager_unhold(cxi_manager *m);

/* In-process instances that answer policy surveys. */
size_t cxi_manager_policy_answerers(cxi_manager *m);

/* Publishes an event as the core; steals data. */
void cxi_manager_publish(cxi_manager *m, const char *type, json_t *data);

/* Serves the core's own bus service ("core"): isolated plugins announce
 * themselves here. */
cx_err cxi_manager_core_service(void *m, const cx_msg *req, json_t **reply);
/* Routes requests of `type` sent to the core's service (callixo/
 * telephony.h: call.event, call.recording, ...) to fn. Register before
 * plugins start; a second registration of a type replaces the first.
 * Type "*" catches every type without a route of its own (the test kit
 * standing in for the core). */
#define CXI_MANAGER_ROUTES_MAX 16
cx_err cxi_manager_core_route(cxi_manager *m, const char *type,
    cx_service_fn fn, void *arg);
/* A request from the core to a plugin's service (cxi_bus_call). */
cx_err cxi_manager_call(cxi_manager *m, const char *service,
    const char *type, const char *account, json_t *data, int timeout_ms,
    json_t **reply);
/* Whether instance `name` runs and is of `kind`; data_dir (may be NULL)
 * gets its directory. */
bool cxi_manager_running(cxi_manager *m, const char *name,
    cx_plugin_kind kind, char *data_dir, size_t dlen);
/* The first running instance of `kind`, in start order. */
bool cxi_manager_first_of_kind(cxi_manager *m, cx_plugin_kind kind,
    char *name, size_t len);

#endif
