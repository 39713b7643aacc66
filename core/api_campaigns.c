/*
 * api_campaigns.c - /v1/campaigns: create, list, read, change and
 * delete campaigns, and the routing of /v1/campaigns/{id}/... to the
 * actions in api_campaign_ops.c.
 *
 * A campaign's config is checked by campaign_conf.c on every write (a
 * draft may be incomplete) and may change only while the campaign is a
 * draft or paused: a running dialer never sees its rules move.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_campaigns.h"
#include "calling.h"
#include "campaign_conf.h"
#include "dialer.h"
#include "log.h"
#include "repo.h"

#define QVAL_MAX 256

json_t *
cxi_campaign_view(const json_t *row)
{
	static const char *const shown[] = {"id", "name", "status",
	    "status_reason", "config", "started_at", "ended_at", "created_at",
	    "updated_at", NULL};
	return (cxi_api_pick(row, shown));
}

void
cxi_api_dialer_kick(cxi_actx *c)
{
	cxi_calling *cl = atomic_load(&c->api->calling);
	if (cl != NULL) {
		cxi_dialer_kick(cl->dialer);
	}
}

json_t *
cxi_api_campaign_get(cxi_actx *c, const cxi_db *db, const char *id)
{
	json_t *row = NULL;
	cx_err rv = cxi_repo_get(db, &cxi_ent_campaign, c->sess.account, id,
	    &row);
	if (rv == CX_ENOENT) {
		cxi_api_error(c, 404, "not_found", "no such campaign");
		return (NULL);
	}
	if (rv != CX_OK) {
		cxi_api_error(c, 503, "unavailable", "the campaign cannot be "
		    "read right now");
		return (NULL);
	}
	return (row);
}

static bool
config_ok(cxi_actx *c, const json_t *cfg)
{
	cxi_campaign_conf cc;
	char why[256] = "";
	if (cxi_campaign_conf_parse(cfg, false, &cc, why, sizeof(why)) !=
	    CX_OK) {
		cxi_api_error(c, 400, "invalid_config", "%s", why[0] ? why :
		                                              "invalid config");
		return (false);
	}
	cxi_campaign_conf_free(&cc);
	return (true);
}

static bool
name_ok(cxi_actx *c, const char *name)
{
	if (name != NULL && name[strspn(name, " \t")] == '\0') {
		cxi_api_error(c, 400, "invalid_field", "name must not be "
		    "empty");
		return (false);
	}
	return (true);
}

/* ---- POST /v1/campaigns ---- */

static void
campaigns_create(cxi_actx *c)
{
	static const cxi_afield f[] = {
	    {"name", CXI_AF_STR, true, CXI_API_NAME_MAX},
	    {"config", CXI_AF_OBJECT, false, 0},
	    CXI_AF_END};
	char why[256] = "";
	if (!cxi_api_auth(c) || !cxi_api_body(c, f) ||
	    !name_ok(c, cxi_api_str(c, "name"))) {
		return;
	}
	json_t *cfg = json_object_get(c->body, "config");
	if (!config_ok(c, cfg)) {
		return;
	}
	json_t *fields = json_pack("{s:s, s:O}", "name", cxi_api_str(c,
	    "name"), "config", cfg != NULL ? cfg : json_object());
	if (cfg == NULL && fields != NULL) {
		json_decref(json_object_get(fields, "config"));
	}
	json_t *row = NULL;
	cxi_db db;
	if (fields == NULL) {
		cxi_api_error(c, 500, "internal", "out of memory");
		return;
	}
	if (!cxi_api_db(c, &db)) {
		json_decref(fields);
		return;
	}
	cx_err rv = cxi_repo_create(&db, &cxi_ent_campaign, c->sess.account,
	    fields, &row, why, sizeof(why));
	cxi_manager_unhold(c->api->mgr);
	json_decref(fields);
	if (rv == CX_EINVAL) {
		cxi_api_error(c, 400, "invalid_field", "%s", why);
	} else if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "the campaign could not be "
		    "stored");
	} else {
		cxi_api_reply(c, 201, cxi_campaign_view(row));
	}
	json_decref(row);
}

/* ---- GET /v1/campaigns ---- */

static void
campaigns_list(cxi_actx *c)
{
	char status[QVAL_MAX], cursor[QVAL_MAX], lim[16], why[256] = "";
	if (!cxi_api_auth(c) || !cxi_api_no_body(c)) {
		return;
	}
	int rs = cxi_api_qparam(c->req->query, "status", status, sizeof(status));
	int rc = cxi_api_qparam(c->req->query, "cursor", cursor, sizeof(cursor));
	int rl = cxi_api_qparam(c->req->query, "limit", lim, sizeof(lim));
	char *end = NULL;
	long limit = rl == 1 ? strtol(lim, &end, 10) : 50;
	if (rs < 0 || rc < 0 || rl < 0 || (rl == 1 && (*end != '\0' ||
	                                                  limit < 1 ||
	                                                  limit > 200))) {
		cxi_api_error(c, 400, "invalid_query", "status, cursor or limit "
		    "(1 to 200) is malformed");
		return;
	}
	json_t *filters = rs == 1 ? json_pack("{s:s}", "status", status) :
	                            NULL;
	json_t *page = NULL;
	cxi_db db;
	if (!cxi_api_db(c, &db)) {
		json_decref(filters);
		return;
	}
	cx_err rv = cxi_repo_list(&db, &cxi_ent_campaign, c->sess.account,
	    filters, rc == 1 ? cursor : NULL, (int) limit, &page, why,
	    sizeof(why));
	cxi_manager_unhold(c->api->mgr);
	json_decref(filters);
	if (rv == CX_EINVAL) {
		cxi_api_error(c, 400, "invalid_query", "%s", why);
		return;
	}
	if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "the campaigns could not be "
		    "read");
		return;
	}
	json_t *items = json_array();
	size_t i;
	json_t *r;
	json_array_foreach (json_object_get(page, "items"), i, r) {
		json_array_append_new(items, cxi_campaign_view(r));
	}
	json_t *next = json_object_get(page, "next_cursor");
	cxi_api_reply(c, 200, json_pack("{s:o, s:O}", "items", items,
	    "next_cursor", next != NULL ? next : json_null()));
	json_decref(page);
}

/* ---- GET/PATCH/DELETE /v1/campaigns/{id} ---- */

static void
campaign_get(cxi_actx *c, const char *id)
{
	cxi_db db;
	if (!cxi_api_no_body(c) || !cxi_api_db(c, &db)) {
		return;
	}
	json_t *row = cxi_api_campaign_get(c, &db, id);
	cxi_manager_unhold(c->api->mgr);
	if (row != NULL) {
		cxi_api_reply(c, 200, cxi_campaign_view(row));
	}
	json_decref(row);
}

typedef struct patch {
	const char *account, *id;
	json_t *fields, *row;
	bool locked;   /* config change refused by the status */
	char status[16];
	char why[256];
} patch;

/* Read the status and write in one transaction: a campaign started in
 * between cannot get a config it was not started with. */
static cx_err
patch_tx(cxi_dbc *c, void *arg)
{
	patch *p = arg;
	json_t *cur = NULL;
	p->locked = false;
	cx_err rv = cxi_repo_get_c(c, &cxi_ent_campaign, p->account, p->id,
	    &cur);
	if (rv != CX_OK) {
		return (rv);
	}
	const char *st = json_string_value(json_object_get(cur, "status"));
	snprintf(p->status, sizeof(p->status), "%s", st ? st : "?");
	json_decref(cur);
	if (json_object_get(p->fields, "config") != NULL &&
	    strcmp(p->status, "draft") != 0 &&
	    strcmp(p->status, "paused") != 0) {
		p->locked = true;
		return (CX_EDENIED);
	}
	json_decref(p->row);
	p->row = NULL;
	rv = cxi_repo_update_c(c, &cxi_ent_campaign, p->account, p->id,
	    p->fields, NULL, &p->row, p->why, sizeof(p->why));
	if (rv == CX_OK && json_object_get(p->fields, "config") != NULL) {
		/* A new lead waits only for its calling window: with new
		 * windows it is due again at once (the dialer re-checks). */
		cx_db_value q[] = {CX_DB_V_TEXT(p->id), CX_DB_V_TEXT(p->account)};
		rv = cxi_db_exec(c, "UPDATE leads SET next_attempt_at = NULL "
		                    "WHERE campaign_id = $1 AND account_id = $2 "
		                    "AND status = 'new'", q, 2, NULL, NULL);
	}
	return (rv);
}

static void
campaign_patch(cxi_actx *c, const char *id)
{
	static const cxi_afield f[] = {
	    {"name", CXI_AF_STR, false, CXI_API_NAME_MAX},
	    {"config", CXI_AF_OBJECT, false, 0},
	    CXI_AF_END};
	if (!cxi_api_body(c, f) || !name_ok(c, cxi_api_str(c, "name"))) {
		return;
	}
	if (json_object_size(c->body) == 0) {
		cxi_api_error(c, 400, "missing_field", "nothing to change: give "
		    "name or config");
		return;
	}
	json_t *cfg = json_object_get(c->body, "config");
	if (cfg != NULL && !config_ok(c, cfg)) {
		return;
	}
	patch p = {.account = c->sess.account, .id = id, .fields = c->body};
	cxi_db db;
	cx_db_error err;
	if (!cxi_api_db(c, &db)) {
		return;
	}
	cx_err rv = cxi_db_tx(&db, 3, patch_tx, &p, &err);
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_ENOENT) {
		cxi_api_error(c, 404, "not_found", "no such campaign");
	} else if (p.locked) {
		cxi_api_error(c, 409, "campaign_not_editable", "the config of a "
		    "%s campaign cannot change (pause it first)", p.status);
	} else if (rv == CX_EINVAL) {
		cxi_api_error(c, 400, "invalid_field", "%s", p.why);
	} else if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "the campaign could not be "
		    "changed");
	} else {
		cxi_api_reply(c, 200, cxi_campaign_view(p.row));
	}
	json_decref(p.row);
}

static void
campaign_delete(cxi_actx *c, const char *id)
{
	cxi_db db;
	if (!cxi_api_no_body(c) || !cxi_api_db(c, &db)) {
		return;
	}
	json_t *row = cxi_api_campaign_get(c, &db, id);
	cx_err rv = CX_OK;
	if (row == NULL) {
		goto out;
	}
	if (strcmp(json_string_value(json_object_get(row, "status")),
	        "running") == 0) {
		cxi_api_error(c, 409, "campaign_running", "a running campaign "
		    "cannot be deleted (pause or cancel it first)");
		goto out;
	}
	/* Calls in flight keep their campaign until they end. */
	cxi_dbc dc;
	cx_db_rows *rows = NULL;
	cx_db_value p[] = {CX_DB_V_TEXT(id)};
	if ((rv = cxi_db_acquire(&db, 10000, &dc)) == CX_OK) {
		rv = cxi_db_exec(&dc, "SELECT COUNT(*) FROM calls WHERE "
		                      "campaign_id = $1 AND settled_at IS NULL",
		    p, 1, &rows, NULL);
		int64_t n = rv == CX_OK ? cxi_db_int(&dc, rows, 0, 0, 0) : 0;
		cxi_db_rows_free(&dc, rows);
		cxi_db_release(&dc);
		if (rv == CX_OK && n > 0) {
			cxi_api_error(c, 409, "calls_in_flight", "the campaign "
			    "has %lld call(s) not yet finished", (long long) n);
			goto out;
		}
	}
	if (rv == CX_OK) {
		rv = cxi_repo_delete(&db, &cxi_ent_campaign, c->sess.account,
		    id);
	}
	if (rv == CX_OK) {
		cxi_api_reply(c, 200, json_pack("{s:s, s:b}", "id", id,
		    "deleted", 1));
	} else if (rv == CX_ENOENT) {
		cxi_api_error(c, 404, "not_found", "no such campaign");
	} else {
		cxi_api_error(c, 500, "internal", "the campaign could not be "
		    "deleted");
	}
out:
	cxi_manager_unhold(c->api->mgr);
	json_decref(row);
}

/* ---- routing below /v1/campaigns/ ---- */

/* "/v1/campaigns/<id>[/<action>]": false (404 set) otherwise. */
static bool
split(cxi_actx *c, char *id, size_t idlen, char *action, size_t alen)
{
	const char *p = c->req->path;
	size_t bl = strlen(CAMPAIGNS_PATH);
	if (strncmp(p, CAMPAIGNS_PATH, bl) != 0) {
		goto nf;
	}
	p += bl;
	size_t n = strcspn(p, "/");
	if (n == 0 || n >= idlen) {
		goto nf;
	}
	memcpy(id, p, n);
	id[n] = '\0';
	p += n;
	action[0] = '\0';
	if (*p == '/') {
		p++;
		if (*p == '\0' || strchr(p, '/') != NULL || strlen(p) >= alen) {
			goto nf;
		}
		snprintf(action, alen, "%s", p);
	}
	return (true);
nf:
	cxi_api_error(c, 404, "not_found", "no such resource");
	return (false);
}

/* /v1/campaigns itself: the subtree route serves it too (the longest
 * template wins, so an exact route of the same method would never be
 * chosen). */
static bool
is_collection(cxi_actx *c)
{
	return (strcmp(c->req->path, "/v1/campaigns") == 0);
}

static void
campaigns_get(cxi_actx *c)
{
	char id[65], action[16];
	if (is_collection(c)) {
		campaigns_list(c);
		return;
	}
	if (!cxi_api_auth(c) || !split(c, id, sizeof(id), action,
	                            sizeof(action))) {
		return;
	}
	if (action[0] == '\0') {
		campaign_get(c, id);
	} else if (strcmp(action, "stats") == 0) {
		cxi_api_campaign_stats(c, id);
	} else {
		cxi_api_error(c, 404, "not_found", "no such resource");
	}
}

static void
campaigns_post(cxi_actx *c)
{
	char id[65], action[16];
	if (is_collection(c)) {
		campaigns_create(c);
		return;
	}
	if (!cxi_api_auth(c) || !split(c, id, sizeof(id), action,
	                            sizeof(action))) {
		return;
	}
	if (strcmp(action, "leads") == 0) {
		cxi_api_campaign_leads(c, id);
	} else if (strcmp(action, "start") == 0 ||
	    strcmp(action, "pause") == 0 || strcmp(action, "resume") == 0 ||
	    strcmp(action, "cancel") == 0) {
		cxi_api_campaign_action(c, id, action);
	} else {
		cxi_api_error(c, 404, "not_found", "no such resource");
	}
}

static void
campaigns_one(cxi_actx *c)
{
	char id[65], action[16];
	if (!cxi_api_auth(c) || !split(c, id, sizeof(id), action,
	                            sizeof(action))) {
		return;
	}
	if (action[0] != '\0') {
		cxi_api_error(c, 404, "not_found", "no such resource");
	} else if (strcmp(c->req->method, "PATCH") == 0) {
		campaign_patch(c, id);
	} else {
		campaign_delete(c, id);
	}
}

CXI_API_HANDLER(h_campaigns_get, campaigns_get)
CXI_API_HANDLER(h_campaigns_post, campaigns_post)
CXI_API_HANDLER(h_campaigns_one, campaigns_one)

cx_err
cxi_api_campaigns_routes(cxi_api *a)
{
	cx_err rv;
	if ((rv = cxi_http_api_route_add(a->http, "GET", "/campaigns/",
	         h_campaigns_get, a)) != CX_OK ||
	    (rv = cxi_http_api_route_add(a->http, "POST", "/campaigns/",
	         h_campaigns_post, a)) != CX_OK ||
	    (rv = cxi_http_api_route_add(a->http, "PATCH", "/campaigns/",
	         h_campaigns_one, a)) != CX_OK) {
		return (rv);
	}
	return (cxi_http_api_route_add(a->http, "DELETE", "/campaigns/",
	    h_campaigns_one, a));
}
