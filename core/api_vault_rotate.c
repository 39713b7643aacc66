/*
 * api_vault_rotate.c - `callixoctl vault rotate` (api.h): re-encrypts
 * every vault-sealed secret under the first vault key, keeping each
 * token's timestamp (MultiFernet.rotate). Sealed secrets live in
 * credentials.secret_enc (provider credentials) and
 * webhook_endpoints.secret_enc (customer webhook signing secrets).
 */
#include <stdio.h>
#include <stdlib.h>

#include "api_int.h"
#include "log.h"
#include "repo.h"

typedef struct sealed_col {
	const char *what;  /* for log lines */
	const char *select;
	const char *update; /* $1 new token, $2 id, $3 old token */
	const cxi_entity *ent;
} sealed_col;

static const sealed_col sealed[] = {
    {"credential", "SELECT id, secret_enc FROM credentials ORDER BY id",
        "UPDATE credentials SET secret_enc = $1 WHERE id = $2 AND "
        "secret_enc = $3", &cxi_ent_credential},
    {"webhook endpoint", "SELECT id, secret_enc FROM webhook_endpoints "
                         "ORDER BY id",
        "UPDATE webhook_endpoints SET secret_enc = $1 WHERE id = $2 AND "
        "secret_enc = $3", &cxi_ent_webhook_endpoint},
};

static cx_err
rotate_col(cxi_api *a, cxi_dbc *c, const sealed_col *sc, size_t *rotated,
    size_t *failed, char *why, size_t whylen)
{
	cx_db_rows *rows = NULL;
	cx_err rv = cxi_db_exec(c, sc->select, NULL, 0, &rows, NULL);
	size_t n = rv == CX_OK ? cxi_db_rows_count(c, rows) : 0;
	for (size_t i = 0; rv == CX_OK && i < n; i++) {
		const char *id = cxi_db_text(c, rows, i, 0);
		const char *tok = cxi_db_text(c, rows, i, 1);
		char *out = NULL, fwhy[128] = "";
		if (id == NULL || tok == NULL ||
		    cxi_multifernet_rotate(a->vault, a->n_vault, tok, NULL,
		        &out, fwhy, sizeof(fwhy)) != CX_OK) {
			/* Left as it is: a later rotate with the missing
			 * key can still save it. fwhy never holds key
			 * material or plaintext. */
			cxi_warn("vault", "%s %s: no vault key opens it (%s); "
			    "left unchanged", sc->what, id != NULL ? id : "?",
			    fwhy);
			(*failed)++;
			continue;
		}
		/* Compare-and-set: a write in between wins, and is already
		 * under the first key. */
		cx_db_value p[] = {CX_DB_V_TEXT(out), CX_DB_V_TEXT(id),
		    CX_DB_V_TEXT(tok)};
		int64_t ch = 0;
		rv = cxi_db_exec(c, sc->update, p, 3, NULL, &ch);
		free(out);
		*rotated += rv == CX_OK && ch > 0;
	}
	if (rv != CX_OK) {
		rv = cxi_repo_dberr(c, sc->ent, rv, why, whylen);
	}
	cxi_db_rows_free(c, rows);
	return (rv);
}

cx_err
cxi_api_vault_rotate(cxi_api *a, size_t *rotated, size_t *failed,
    char *why, size_t whylen)
{
	cxi_db db;
	cxi_dbc c;
	*rotated = *failed = 0;
	if (!cxi_manager_db_hold(a->mgr, &db)) {
		snprintf(why, whylen, "no storage plugin is running");
		return (CX_ECLOSED);
	}
	cx_err rv = cxi_db_acquire(&db, 10000, &c);
	if (rv != CX_OK) {
		cxi_manager_unhold(a->mgr);
		snprintf(why, whylen, "storage is busy: %s", cx_strerror(rv));
		return (rv);
	}
	for (size_t i = 0; rv == CX_OK && i < sizeof(sealed) / sizeof(*sealed);
	     i++) {
		rv = rotate_col(a, &c, &sealed[i], rotated, failed, why,
		    whylen);
	}
	cxi_db_release(&c);
	cxi_manager_unhold(a->mgr);
	if (rv == CX_OK) {
		cxi_info("vault", "rotated %zu secrets (credentials and webhook "
		    "signing secrets) to the first of %zu vault keys (%zu "
		    "unreadable)", *rotated, a->n_vault, *failed);
	}
	return (rv);
}
