/*
 * dialer_rig.h - a real callixod core in process for the dialer tests:
 * the daemon's config parser, plugin manager (SQLite storage and the
 * faketel telephony plugin, loaded as .so files), migrations, HTTP
 * server with the /v1 API, vault and the calling runtime with its
 * dialer. Everything but the provider is the production code.
 */
#ifndef DIALER_RIG_H
#define DIALER_RIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "api.h"
#include "bus.h"
#include "calling.h"
#include "config.h"
#include "http.h"
#include "loader.h"
#include "manager.h"

typedef struct rig {
	char dir[PATH_MAX];
	char ns[64];
	cxi_config *cfg;
	cxi_module_cache *cache;
	cxi_bus *bus;
	cxi_http *http;
	cxi_manager *mgr;
	cxi_api *api;
	cxi_calling *cl;
	char account[64];
	char key[64]; /* an API key of the account ("Bearer ...") */
} rig;

/* Paths of the plugins, from argv (set by main), and the storage
 * plugin's settings (one line, e.g. "dsn: postgresql://..."; NULL for
 * SQLite's "file: callixo.db"). */
extern const char *rig_storage_so, *rig_faketel_so, *rig_storage_settings;

/* `dialer` is the body of the dialer: section (YAML, two-space
 * indented lines). Fails the test on error. */
void rig_up(rig *r, const char *dialer);
void rig_down(rig *r);
/* cmocka teardown: takes down the case's rig when the case failed
 * before its own rig_down, so the next case starts clean. */
int rig_teardown(void **state);

/* SQL on the rig's storage: rows as JSON, or one integer. */
json_t *rig_q(rig *r, const char *sql, const cx_db_value *p, size_t n);
int64_t rig_int(rig *r, const char *sql, const cx_db_value *p, size_t n);
void rig_exec(rig *r, const char *sql, const cx_db_value *p, size_t n);

/* A lead of the account; returns its id (static buffer per call
 * site: copy it). */
void rig_lead(rig *r, const char *campaign, const char *phone,
    const char *tz, char *id, size_t idlen);
/* /v1 request with the account's API key; body may be NULL. Returns
 * the parsed reply (or NULL) and the status. */
json_t *rig_api(rig *r, const char *method, const char *path,
    const char *body, int *status);
/* Creates a campaign with `config` (JSON text) through the API, attaches
 * `n` new leads (phones +1555000<base+i>) and starts it. */
void rig_campaign(rig *r, const char *config, int n, int base, char *id,
    size_t idlen);
/* A request to the fake provider; returns its reply. */
json_t *rig_fake(rig *r, const char *type, json_t *data);
/* The fake's event log, filtered by op ("place", ...) or NULL. */
json_t *rig_fake_events(rig *r, const char *op);

/* Waits (polling every 20 ms) until cond(r, arg) or timeout. */
bool rig_wait(rig *r, bool (*cond)(rig *, void *), void *arg,
    int timeout_ms);
int64_t rig_now(void);
void rig_sleep(int ms);

#endif
