/*
 * api_leads.c - POST/GET /v1/leads and GET/PATCH/DELETE /v1/leads/{id}.
 *
 * A lead's phone is normalized to E.164 (default country: the request's
 * default_country, else leads.default_country) and is its identity in
 * the account: it cannot change, and a second lead with the same number
 * is 409. Its time zone is the one given (a tz database name) or the
 * one its number's prefix maps to. Another account's lead is 404.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_int.h"
#include "leads.h"
#include "log.h"
#include "phone.h"

#define LEADS_PATH "/v1/leads/"
/* A lead's body: metadata may be up to 64 KiB of JSON. */
#define LEAD_BODY_MAX (CXI_REPO_JSON_MAX + 16 * 1024)

int
cxi_api_leads_qparam(cxi_actx *c, const char *key, char *out, size_t outsz)
{
	int r = cxi_api_qparam(c->req->query, key, out, outsz);
	if (r < 0) {
		cxi_api_error(c, 400, "invalid_query", "query parameter %s is "
		    "malformed or too long", key);
	}
	return (r);
}

json_t *
cxi_api_lead_view(const json_t *row)
{
	static const char *const shown[] = {"id", "campaign_id", "phone_e164",
	    "name", "timezone", "tags", "metadata", "status", "attempts",
	    "next_attempt_at", "last_outcome", "status_reason", "created_at",
	    "updated_at", NULL};
	return (cxi_api_pick(row, shown));
}

/* The JSON object body with only `allowed` keys; false with the error
 * set. */
static bool
lead_body(cxi_actx *c, const char *const *allowed)
{
	const cx_http_req *req = c->req;
	const char *ct = cx_http_req_header(req, "Content-Type");
	json_error_t jerr;
	if (req->body_len > LEAD_BODY_MAX) {
		cxi_api_error(c, 413, "body_too_large", "the request body is "
		    "larger than %d bytes", LEAD_BODY_MAX);
		return (false);
	}
	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
	    (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
		cxi_api_error(c, 415, "unsupported_media_type", "the request "
		    "body must be JSON with Content-Type: application/json");
		return (false);
	}
	c->body = req->body_len > 0 ? json_loadb((const char *) req->body,
	    req->body_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (!json_is_object(c->body)) {
		cxi_api_error(c, 400, "invalid_json", "a JSON object is "
		    "expected as the request body");
		return (false);
	}
	const char *k;
	json_t *v;
	json_object_foreach (c->body, k, v) {
		size_t i = 0;
		while (allowed[i] != NULL && strcmp(allowed[i], k) != 0) {
			i++;
		}
		if (allowed[i] == NULL) {
			cxi_api_error(c, 400, "unknown_field", "unknown field "
			    "'%s'", k);
			return (false);
		}
	}
	return (true);
}

/* Checks and converts the writable fields of a body into `f` (repo
 * column names). false with 400 set. */
static bool
lead_fields(cxi_actx *c, json_t *f, bool create)
{
	static const char *const strs[] = {"name", "timezone", "campaign_id",
	    "status", NULL};
	for (size_t i = 0; strs[i] != NULL; i++) {
		json_t *v = json_object_get(c->body, strs[i]);
		if (v != NULL && !json_is_string(v) && !json_is_null(v)) {
			cxi_api_error(c, 400, "invalid_field", "%s must be a "
			    "string or null", strs[i]);
			return (false);
		}
		if (v != NULL && json_object_set(f, strs[i], v) != 0) {
			return (false);
		}
	}
	const char *tz = json_string_value(json_object_get(f, "timezone"));
	if (tz != NULL && tz[0] == '\0') {
		json_object_set_new(f, "timezone", json_null());
	} else if (tz != NULL && !cxi_tz_exists(tz)) {
		cxi_api_error(c, 400, "invalid_field", "timezone '%.64s' is not "
		    "an IANA time zone", tz);
		return (false);
	}
	json_t *st = json_object_get(f, "status");
	if (st != NULL && (json_is_null(st) ||
	                      (strcmp(json_string_value(st), "new") != 0 &&
	                          strcmp(json_string_value(st), "stopped") !=
	                              0))) {
		cxi_api_error(c, 400, "invalid_field", "status may only be set "
		    "to \"new\" (dial it again) or \"stopped\" (never dial)");
		return (false);
	}
	if (create && st == NULL) {
		json_object_set_new(f, "status", json_string("new"));
	}
	json_t *tags = json_object_get(c->body, "tags");
	if (tags != NULL) {
		char why[200];
		json_t *norm = cxi_lead_tags_norm(tags, why, sizeof(why));
		if (norm == NULL) {
			cxi_api_error(c, 400, "invalid_field", "%s", why);
			return (false);
		}
		json_object_set_new(f, "tags", norm);
	}
	json_t *meta = json_object_get(c->body, "metadata");
	if (meta != NULL && !json_is_object(meta)) {
		cxi_api_error(c, 400, "invalid_field", "metadata must be a JSON "
		    "object");
		return (false);
	}
	if (meta != NULL) {
		json_object_set(f, "metadata", meta);
	}
	return (true);
}

static void
repo_fail(cxi_actx *c, cx_err rv, const char *why)
{
	if (rv == CX_EEXIST) {
		cxi_api_error(c, 409, "duplicate", "a lead with this phone "
		    "number already exists");
	} else if (rv == CX_EINVAL) {
		cxi_api_error(c, 400, "invalid_field", "%s", why);
	} else if (rv == CX_ENOENT) {
		cxi_api_error(c, 404, "not_found", "no such lead");
	} else {
		cxi_api_error(c, 500, "internal", "the lead could not be "
		    "stored");
	}
}

/* ---- POST /v1/leads ---- */

static void
leads_create(cxi_actx *c)
{
	static const char *const allowed[] = {"phone", "name", "timezone",
	    "tags", "metadata", "campaign_id", "default_country", "status",
	    NULL};
	char e164[CXI_E164_MAX], region[3], why[256] = "";
	if (!cxi_api_auth(c) || !lead_body(c, allowed)) {
		return;
	}
	const char *phone = cxi_api_str(c, "phone");
	json_t *dcv = json_object_get(c->body, "default_country");
	const char *dc = json_string_value(dcv);
	if (phone == NULL) {
		cxi_api_error(c, 400, "invalid_field", "phone is required (a "
		    "string)");
		return;
	}
	if (dcv != NULL && (dc == NULL || !cxi_phone_region_ok(dc))) {
		cxi_api_error(c, 400, "invalid_field", "default_country must "
		    "be an ISO 3166 alpha-2 code such as US or DE");
		return;
	}
	if (dc == NULL) {
		dc = cxi_leads_default_country(c->api->leads);
	}
	if (cxi_phone_normalize(phone, dc, e164, sizeof(e164), region, why,
	        sizeof(why)) != 0) {
		cxi_api_error(c, 400, "invalid_phone", "phone: %s", why);
		return;
	}
	json_t *f = json_pack("{s:s}", "phone_e164", e164), *row = NULL;
	if (f == NULL || !lead_fields(c, f, true)) {
		if (f == NULL) {
			cxi_api_error(c, 500, "internal", "out of memory");
		}
		json_decref(f);
		return;
	}
	if (json_object_get(f, "timezone") == NULL ||
	    json_is_null(json_object_get(f, "timezone"))) {
		const char *z = cxi_phonezones_lookup(
		    cxi_leads_zones(c->api->leads), e164);
		json_object_set_new(f, "timezone", z != NULL ? json_string(z) :
		    json_null());
	}
	cxi_db db;
	if (!cxi_api_db(c, &db)) {
		json_decref(f);
		return;
	}
	cx_err rv = cxi_repo_create(&db, &cxi_ent_lead, c->sess.account, f,
	    &row, why, sizeof(why));
	cxi_manager_unhold(c->api->mgr);
	if (rv != CX_OK) {
		repo_fail(c, rv, why);
	} else {
		cxi_api_reply(c, 201, cxi_api_lead_view(row));
	}
	json_decref(row);
	json_decref(f);
}

/* ---- GET /v1/leads ---- */

static void
leads_list(cxi_actx *c)
{
	char cmp[72], st[40], tag[200], cur[200], lim[12], why[256] = "";
	if (!cxi_api_auth(c) || !cxi_api_no_body(c)) {
		return;
	}
	int rc = cxi_api_leads_qparam(c, "campaign_id", cmp, sizeof(cmp));
	int rs = rc < 0 ? -1 : cxi_api_leads_qparam(c, "status", st,
	    sizeof(st));
	int rt = rs < 0 ? -1 : cxi_api_leads_qparam(c, "tag", tag,
	    sizeof(tag));
	int ru = rt < 0 ? -1 : cxi_api_leads_qparam(c, "cursor", cur,
	    sizeof(cur));
	int rl = ru < 0 ? -1 : cxi_api_leads_qparam(c, "limit", lim,
	    sizeof(lim));
	if (rl < 0) {
		return;
	}
	long limit = 50;
	if (rl == 1) {
		char *end;
		limit = strtol(lim, &end, 10);
		if (*end != '\0' || limit < 1 || limit > CXI_REPO_LIST_MAX) {
			cxi_api_error(c, 400, "invalid_query", "limit must be 1 "
			    "to %d", CXI_REPO_LIST_MAX);
			return;
		}
	}
	cxi_db db;
	if (!cxi_api_db(c, &db)) {
		return;
	}
	json_t *page = NULL;
	cx_err rv = cxi_lead_list(&db, c->sess.account, rc == 1 ? cmp : NULL,
	    rs == 1 ? st : NULL, rt == 1 ? tag : NULL, ru == 1 ? cur : NULL,
	    (int) limit, &page, why, sizeof(why));
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_EINVAL) {
		cxi_api_error(c, 400, "invalid_query", "%s", why);
		return;
	}
	if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "the leads could not be read");
		return;
	}
	json_t *items = json_array(), *it;
	size_t i;
	json_array_foreach (json_object_get(page, "items"), i, it) {
		json_array_append_new(items, cxi_api_lead_view(it));
	}
	json_object_set_new(page, "items", items);
	cxi_api_reply(c, 200, page);
}

/* ---- GET/PATCH/DELETE /v1/leads/{id} ---- */

static void
lead_one(cxi_actx *c)
{
	static const char *const allowed[] = {"name", "timezone", "tags",
	    "metadata", "campaign_id", "status", NULL};
	const char *m = c->req->method;
	bool get = strcmp(m, "GET") == 0, del = strcmp(m, "DELETE") == 0;
	char why[256] = "";
	if (!cxi_api_auth(c)) {
		return;
	}
	if ((get || del) ? !cxi_api_no_body(c) : !lead_body(c, allowed)) {
		return;
	}
	const char *id = cxi_api_path_id(c, LEADS_PATH);
	if (id == NULL) {
		cxi_api_error(c, 404, "not_found", "no such lead");
		return;
	}
	json_t *f = get || del ? NULL : json_object(), *row = NULL;
	if (!get && !del && (f == NULL || !lead_fields(c, f, false))) {
		if (f == NULL) {
			cxi_api_error(c, 500, "internal", "out of memory");
		}
		json_decref(f);
		return;
	}
	cxi_db db;
	if (!cxi_api_db(c, &db)) {
		json_decref(f);
		return;
	}
	cx_err rv;
	if (get) {
		rv = cxi_repo_get(&db, &cxi_ent_lead, c->sess.account, id, &row);
	} else if (del) {
		rv = cxi_repo_delete(&db, &cxi_ent_lead, c->sess.account, id);
	} else {
		rv = cxi_repo_update(&db, &cxi_ent_lead, c->sess.account, id, f,
		    &row, why, sizeof(why));
	}
	cxi_manager_unhold(c->api->mgr);
	if (rv != CX_OK) {
		repo_fail(c, rv, why);
	} else if (del) {
		cxi_api_reply(c, 200, json_pack("{s:s, s:b}", "id", id,
		    "deleted", 1));
	} else {
		cxi_api_reply(c, 200, cxi_api_lead_view(row));
	}
	json_decref(row);
	json_decref(f);
}

CXI_API_HANDLER(h_leads_create, leads_create)
CXI_API_HANDLER(h_leads_list, leads_list)
CXI_API_HANDLER(h_lead_one, lead_one)

cx_err
cxi_api_leads_routes(cxi_api *a)
{
	cx_err rv;
	if ((rv = cxi_http_api_route_add(a->http, "POST", "/leads",
	         h_leads_create, a)) != CX_OK ||
	    (rv = cxi_http_api_route_add(a->http, "GET", "/leads",
	         h_leads_list, a)) != CX_OK ||
	    (rv = cxi_http_api_route_add(a->http, "GET", "/leads/",
	         h_lead_one, a)) != CX_OK ||
	    (rv = cxi_http_api_route_add(a->http, "PATCH", "/leads/",
	         h_lead_one, a)) != CX_OK) {
		return (rv);
	}
	return (cxi_http_api_route_add(a->http, "DELETE", "/leads/",
	    h_lead_one, a));
}
