/*
 * api.h - the core's JSON API under /v1: accounts and cookie sessions
 * (shared reference security.md, S-*, A-*, X-1, Z-1, H-*).
 *
 * Routes run on the HTTP worker pool (cxi_http_api_route_add). Password
 * hashing runs on a bounded cxi_hashpool; storage is borrowed from the
 * manager per call, so the API starts after the manager's first apply and
 * answers 503 while no storage driver runs.
 */
#ifndef CXI_API_H
#define CXI_API_H

#include <stddef.h>
#include <callixo/error.h>
#include "config.h"
#include "http.h"
#include "manager.h"

typedef struct cxi_api cxi_api;

/* Loads the common-password list, starts the hashing pool, makes the
 * dummy hash used for unknown emails and registers the /v1 routes. The
 * auth settings are copied from cfg (a reload does not change them).
 * Returns a cx_err with `why` set. */
cx_err cxi_api_start(cxi_api **out, cxi_http *http, cxi_manager *mgr,
    const cxi_config *cfg, char *why, size_t whylen);
/* Drops the routes (waiting for running handlers), then frees. Call it
 * before the manager goes. NULL is fine. */
void cxi_api_stop(cxi_api *a);
/* Re-encrypts every stored credential under the first vault key, keeping
 * each token's timestamp (MultiFernet.rotate). *rotated and *failed
 * (tokens no key opens) are counts; never logs a secret. */
cx_err cxi_api_vault_rotate(cxi_api *a, size_t *rotated, size_t *failed,
    char *why, size_t whylen);

/* Hands the API the calling runtime (NULL to withdraw it). */
struct cxi_calling;
void cxi_api_set_calling(cxi_api *a, struct cxi_calling *c);

/* The credential vault for the rest of the core (api_vault.c). Seal
 * makes a Fernet token of a string under the newest vault key; unseal
 * opens one (*plain malloc'd: wipe it, then free). credentials gives the
 * fields of the account's vault entry for a provider (name NULL:
 * "default") as a new JSON object, CX_ENOENT when there is none. */
cx_err cxi_api_vault_seal(cxi_api *a, const char *plain, char **token);
cx_err cxi_api_vault_unseal(cxi_api *a, const char *token, char **plain);
cx_err cxi_api_vault_credentials(cxi_api *a, const cxi_db *db,
    const char *account, const char *provider, const char *name,
    json_t **fields);

#endif
