/*
 * calling.h - the core's calling runtime: what runs campaigns once the
 * plugins and the API are up. It ties together
 *   - callevents.c: the core service's call.event / call.recording /
 *     call.credentials handlers, recordings into the blob store,
 *     transcription requests and the finishing of a call's artifacts;
 *   - outhooks.c: customer webhook deliveries with retries;
 *   - dialer.c: picking due leads and placing calls.
 * Each part has its own start/stop; cxi_calling_start runs them in that
 * order (the dialer last, once events can be received) and stop runs
 * them in reverse.
 */
#ifndef CXI_CALLING_H
#define CXI_CALLING_H

#include <stdint.h>
#include <jansson.h>
#include <callixo/error.h>

#include "api.h"
#include "config.h"
#include "http.h"
#include "manager.h"
#include "masterkey.h"
#include "outhooks.h"

typedef struct cxi_callevents cxi_callevents;
typedef struct cxi_dialer cxi_dialer;

typedef struct cxi_calling {
	cxi_manager *mgr;
	cxi_http *http;
	cxi_api *api;        /* the vault (cxi_api_vault_*) */
	char *data_dir;
	uint8_t master_key[CXI_MASTER_KEY_BYTES];
	char master_key_id[9];
	cxi_callevents *events;
	cxi_outhooks *hooks;
	cxi_outhooks_conf hooks_conf; /* from the webhooks: section */
	cxi_dialer *dialer;
	cxi_dialer_conf dialer_conf; /* dialer: of the config at start
	                              * (provider_cps owned) */
} cxi_calling;

cx_err cxi_calling_start(cxi_calling **out, cxi_manager *mgr,
    cxi_http *http, cxi_api *api, const cxi_config *cfg,
    const uint8_t master_key[CXI_MASTER_KEY_BYTES],
    const char *master_key_id, char *why, size_t whylen);
void cxi_calling_stop(cxi_calling *c);

#endif
