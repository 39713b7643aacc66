/*
 * api_leads_import.c - POST /v1/leads/import (a CSV body) and
 * GET /v1/leads/imports/{id}.
 *
 * The HTTP server reads a request body whole before any handler runs,
 * so the upload's raw bytes are in memory once (this route alone may be
 * up to leads.import_max_bytes). Rows are then streamed: a body up to
 * leads.import_sync_max_bytes is imported in the request and answered
 * 200 with the counts; a larger one is written to a private file and
 * answered 202 with a job that the worker imports (leads.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_int.h"
#include "leads.h"
#include "log.h"
#include "phone.h"

#define JOBS_PATH "/v1/leads/imports/"

static json_t *
job_view(const json_t *row)
{
	static const char *const shown[] = {"id", "campaign_id", "state",
	    "default_country", "rows_total", "imported", "skipped", "invalid",
	    "errors", "error", "created_at", "updated_at", "finished_at",
	    NULL};
	return (cxi_api_pick(row, shown));
}

static bool
csv_type(const char *ct)
{
	return (ct != NULL && strncasecmp(ct, "text/csv", 8) == 0 &&
	    (ct[8] == '\0' || ct[8] == ';' || ct[8] == ' '));
}

/* In the request: the whole body through the importer. The import is
 * recorded as a job too (done or failed at once), so every import has
 * an entry to look up later. */
static void
import_sync(cxi_actx *c, const cxi_db *db, const char *campaign,
    const char *dc)
{
	char why[256] = "";
	json_t *row = NULL, *f = json_pack("{s:s?, s:s}", "campaign_id",
	    campaign, "default_country", dc);
	cx_err rv = f != NULL ? cxi_repo_create(db, &cxi_ent_import_job,
	    c->sess.account, f, &row, why, sizeof(why)) : CX_ENOMEM;
	json_decref(f);
	const char *id = json_string_value(json_object_get(row, "id"));
	if (rv != CX_OK || id == NULL) {
		cxi_warn("api", "cannot record a lead import: %s", why);
		cxi_api_error(c, 503, "unavailable", "the import could not be "
		    "recorded");
		json_decref(row);
		return;
	}
	cxi_csv_dbsink sink = {db, c->sess.account, campaign, 0};
	cxi_csv_opts o = {.default_region = dc,
	    .zones = cxi_leads_zones(c->api->leads),
	    .sink = cxi_csvimp_db_sink, .sink_arg = &sink};
	cxi_csvimp *im = cxi_csvimp_new(&o);
	if (im == NULL) {
		cxi_api_error(c, 500, "internal", "out of memory");
		json_decref(row);
		return;
	}
	rv = cxi_csvimp_feed(im, c->req->body, c->req->body_len);
	if (rv == CX_OK) {
		rv = cxi_csvimp_finish(im);
	}
	const cxi_csv_counts *n = cxi_csvimp_counts(im);
	int64_t now = cxi_repo_now_ms();
	json_t *sys = json_pack("{s:s, s:s?, s:I, s:I, s:I, s:I, s:O, s:I, "
	    "s:I}", "state", rv == CX_OK ? "done" : "failed", "error",
	    cxi_csvimp_fatal(im), "rows_total", (json_int_t) n->rows_total,
	    "imported", (json_int_t) n->imported, "skipped",
	    (json_int_t) n->skipped, "invalid", (json_int_t) n->invalid,
	    "errors", cxi_csvimp_errors(im), "updated_at", (json_int_t) now,
	    "finished_at", (json_int_t) now);
	if (sys == NULL || cxi_repo_set(db, &cxi_ent_import_job, NULL, id,
	                       sys) != CX_OK) {
		cxi_warn("api", "import %s: cannot record its result", id);
	}
	if (rv == CX_EINVAL) {
		cxi_api_error(c, 400, "invalid_csv", "%s", cxi_csvimp_fatal(im));
	} else if (rv != CX_OK) {
		cxi_warn("api", "lead import %s failed: %s", id,
		    cxi_csvimp_fatal(im));
		cxi_api_error(c, 503, "unavailable", "the leads could not be "
		    "stored; rows counted as imported so far stay");
	} else {
		cxi_api_reply(c, 200, json_pack("{s:s, s:I, s:I, s:I, s:I, "
		    "s:O}", "job_id", id, "rows_total",
		    (json_int_t) n->rows_total, "imported",
		    (json_int_t) n->imported, "skipped",
		    (json_int_t) n->skipped, "invalid",
		    (json_int_t) n->invalid, "errors",
		    cxi_csvimp_errors(im)));
	}
	cxi_csvimp_free(im);
	json_decref(row);
}

/* Too large for the request: spool it and queue a job. */
static void
import_async(cxi_actx *c, const cxi_db *db, const char *campaign,
    const char *dc)
{
	char *tmp = NULL, why[256] = "";
	json_t *row = NULL;
	cxi_leads *l = c->api->leads;
	if (cxi_leads_spool(l, c->req->body, c->req->body_len, &tmp) !=
	    CX_OK) {
		cxi_api_error(c, 503, "unavailable", "the upload could not be "
		    "stored");
		return;
	}
	json_t *f = json_pack("{s:s?, s:s}", "campaign_id", campaign,
	    "default_country", dc);
	cx_err rv = f != NULL ? cxi_repo_create(db, &cxi_ent_import_job,
	    c->sess.account, f, &row, why, sizeof(why)) : CX_ENOMEM;
	json_decref(f);
	const char *id = json_string_value(json_object_get(row, "id"));
	if (rv != CX_OK || id == NULL) {
		cxi_warn("api", "cannot queue a lead import: %s", why);
		cxi_api_error(c, 503, "unavailable", "the import could not be "
		    "queued");
		(void) remove(tmp);
	} else if (cxi_leads_enqueue(l, tmp, id) != CX_OK) {
		(void) remove(tmp);
		(void) cxi_repo_set(db, &cxi_ent_import_job, NULL, id,
		    json_pack("{s:s, s:s, s:I}", "state", "failed", "error",
		        "the upload could not be stored", "finished_at",
		        (json_int_t) cxi_repo_now_ms()));
		cxi_api_error(c, 503, "unavailable", "the import could not be "
		    "queued");
	} else {
		cxi_info("api", "lead import %s queued (%zu bytes)", id,
		    c->req->body_len);
		cxi_api_reply(c, 202, json_pack("{s:s, s:o}", "job_id", id,
		    "job", job_view(row)));
	}
	json_decref(row);
	free(tmp);
}

static void
leads_import(cxi_actx *c)
{
	char campaign[72], dc[8];
	if (!cxi_api_auth(c)) {
		return;
	}
	if (!csv_type(cx_http_req_header(c->req, "Content-Type"))) {
		cxi_api_error(c, 415, "unsupported_media_type", "the body must "
		    "be CSV with Content-Type: text/csv");
		return;
	}
	int rc = cxi_api_leads_qparam(c, "campaign_id", campaign,
	    sizeof(campaign));
	int rd = rc < 0 ? -1 : cxi_api_leads_qparam(c, "default_country", dc,
	    sizeof(dc));
	if (rd < 0) {
		return;
	}
	if (rd == 1 && !cxi_phone_region_ok(dc)) {
		cxi_api_error(c, 400, "invalid_query", "default_country must be "
		    "an ISO 3166 alpha-2 code such as US or DE");
		return;
	}
	if (rd == 1) {
		dc[0] = (char) (dc[0] & ~0x20); /* ASCII upper case */
		dc[1] = (char) (dc[1] & ~0x20);
	} else {
		snprintf(dc, sizeof(dc), "%s",
		    cxi_leads_default_country(c->api->leads));
	}
	if (c->req->body_len == 0) {
		cxi_api_error(c, 400, "invalid_csv", "the body is empty: send "
		    "a CSV file with a header row");
		return;
	}
	cxi_db db;
	if (!cxi_api_db(c, &db)) {
		return;
	}
	json_t *cmp = NULL;
	if (rc == 1 && cxi_repo_get(&db, &cxi_ent_campaign, c->sess.account,
	                   campaign, &cmp) != CX_OK) {
		cxi_api_error(c, 404, "not_found", "no such campaign");
	} else if (c->req->body_len <= cxi_leads_sync_max(c->api->leads)) {
		import_sync(c, &db, rc == 1 ? campaign : NULL, dc);
	} else {
		import_async(c, &db, rc == 1 ? campaign : NULL, dc);
	}
	cxi_manager_unhold(c->api->mgr);
	json_decref(cmp);
}

static void
import_get(cxi_actx *c)
{
	if (!cxi_api_auth(c) || !cxi_api_no_body(c)) {
		return;
	}
	const char *id = cxi_api_path_id(c, JOBS_PATH);
	if (id == NULL) {
		cxi_api_error(c, 404, "not_found", "no such import");
		return;
	}
	cxi_db db;
	if (!cxi_api_db(c, &db)) {
		return;
	}
	json_t *row = NULL;
	cx_err rv = cxi_repo_get(&db, &cxi_ent_import_job, c->sess.account,
	    id, &row);
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_ENOENT) {
		cxi_api_error(c, 404, "not_found", "no such import");
	} else if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "the import could not be "
		    "read");
	} else {
		cxi_api_reply(c, 200, job_view(row));
	}
	json_decref(row);
}

CXI_API_HANDLER(h_leads_import, leads_import)
CXI_API_HANDLER(h_import_get, import_get)

cx_err
cxi_api_leads_import_routes(cxi_api *a)
{
	cx_err rv = cxi_http_api_route_add_max(a->http, "POST",
	    "/leads/import", h_leads_import, a,
	    cxi_leads_import_max(a->leads));
	if (rv != CX_OK) {
		return (rv);
	}
	return (cxi_http_api_route_add(a->http, "GET", "/leads/imports/",
	    h_import_get, a));
}
