/*
 * daemon_int.h - callixod's state, shared by the files that make up the
 * daemon: daemon.c (start, the signal loop, shutdown), daemon_config.c
 * (loading, checking and reloading the config) and daemon_admin.c (the
 * admin commands and the storage hook).
 */
#ifndef CXI_DAEMON_INT_H
#define CXI_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "admin.h"
#include "api.h"
#include "bus.h"
#include "calling.h"
#include "config.h"
#include "http.h"
#include "loader.h"
#include "manager.h"
#include "masterkey.h"

typedef struct job {
	const char *cmd;
	const json_t *args;
	json_t *reply;
	bool done;
} job;

typedef struct cxd {
	char *config_path;
	cxi_config *cfg;
	cxi_module_cache *cache;
	cxi_bus *bus;
	cxi_http *http;
	cxi_manager *mgr;
	cxi_admin *admin;
	cxi_api *api;     /* /v1, after the manager's first apply */
	cxi_calling *calling; /* campaigns and calls, after the API */
	pthread_t main_thread;
	time_t started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	job *pending; /* one admin job at a time: the admin socket is serial */
	bool stopping; /* refuse new jobs: the main loop no longer runs them */
	bool migrate_auto;
	_Atomic bool schema_pending; /* manual mode, migrations not applied */
	uint8_t master_key[CXI_MASTER_KEY_BYTES];
	char master_key_id[9];
} cxd;

void cxi_d_print_errors(const cxi_errlist *errs, bool to_log);
json_t *cxi_d_errors_json(const cxi_errlist *errs);
/* Loads a config, validating plugin settings against their schemas;
 * strict makes an unloadable plugin a config error (check-config). */
cxi_config *cxi_d_load_with(const char *path, cxi_module_cache **cache,
    cxi_errlist *errs, bool strict);
cxi_config *cxi_d_load(const char *path, cxi_module_cache **cache,
    cxi_errlist *errs);
void cxi_d_log_report(const char *what, const cxi_apply_report *r);
/* Re-reads the config; applies it whole or not at all. */
json_t *cxi_d_reload(cxd *d);
void cxi_d_update_ready(cxd *d);
int cxi_d_on_storage(void *arg, const cxi_db *db, char *why, size_t whylen);
json_t *cxi_d_admin_handle(void *arg, const char *cmd, const json_t *args);
/* Runs an admin job handed to the main thread, if one is pending. */
void cxi_d_run_pending(cxd *d);

#endif
