/*
 * api_webhook_deliveries.c - what happened to customer webhook events:
 *   GET  /v1/webhooks/{id}/deliveries[?state=&cursor=&limit=]
 *   GET  /v1/webhook-deliveries/{id}           with every attempt
 *   POST /v1/webhook-deliveries/{id}/resend    send it again
 *
 * A resend puts a delivered or failed delivery back to pending, due
 * now: the sender makes a new attempt with the same stored payload
 * (same event id, so a receiver that already has it can drop it). Its
 * retries still end max_age after the delivery was first queued, so an
 * old delivery gets exactly one more attempt per resend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "calling.h"
#include "log.h"
#include "outhooks.h"
#include "repo.h"

#define DELIV_PATH "/v1/webhook-deliveries/"
#define PAGE_MAX 200
#define ATTEMPTS_MAX 500
#define QVAL_MAX 512

json_t *
cxi_api_delivery_view(const json_t *row, bool with_payload)
{
	static const char *const shown[] = {"id", "endpoint_id", "event_type",
	    "event_id", "call_id", "state", "attempts", "next_attempt_at",
	    "last_status", "last_error", "created_at", "updated_at",
	    "delivered_at", NULL};
	json_t *v = cxi_api_pick(row, shown);
	const char *p = json_string_value(json_object_get(row, "payload"));
	if (v != NULL && with_payload && p != NULL) {
		/* Stored by us as compact JSON, so it parses; the raw text
		 * is what was signed and sent. */
		json_t *pj = json_loads(p, 0, NULL);
		json_object_set_new(v, "payload", pj != NULL ? pj : json_null());
	}
	return (v);
}

static void
deliv_not_found(cxi_actx *c)
{
	cxi_api_error(c, 404, "not_found", "no such webhook delivery");
}

/* ---- GET /v1/webhooks/{id}/deliveries ---- */

static bool
list_query(cxi_actx *c, char *state, size_t slen, char *cursor,
    size_t clen, bool *has_cursor, int *limit)
{
	char lim[16];
	int rs = cxi_api_qparam(c->req->query, "state", state, slen);
	int rc = cxi_api_qparam(c->req->query, "cursor", cursor, clen);
	int rl = cxi_api_qparam(c->req->query, "limit", lim, sizeof(lim));
	char *end = NULL;
	long v = rl == 1 ? strtol(lim, &end, 10) : 50;
	if (rs < 0 || rc < 0 || rl < 0 || (rl == 1 && (*end != '\0' ||
	                                                 v < 1 || v > PAGE_MAX))) {
		cxi_api_error(c, 400, "invalid_query", "state, cursor or limit "
		    "(1..%d) is malformed", PAGE_MAX);
		return (false);
	}
	if (rs == 1 && strcmp(state, "pending") != 0 &&
	    strcmp(state, "delivered") != 0 && strcmp(state, "failed") != 0) {
		cxi_api_error(c, 400, "invalid_query", "state must be pending, "
		    "delivered or failed");
		return (false);
	}
	if (rs != 1) {
		state[0] = '\0';
	}
	*has_cursor = rc == 1;
	*limit = (int) v;
	return (true);
}

void
cxi_api_endpoint_deliveries(cxi_actx *c, const char *endpoint_id)
{
	char state[16], cursor[QVAL_MAX], why[256] = "";
	bool has_cursor;
	int limit;
	cxi_db db;
	json_t *ep = NULL, *page = NULL;
	if (!cxi_api_no_body(c) || !list_query(c, state, sizeof(state), cursor,
	                               sizeof(cursor), &has_cursor, &limit)) {
		return;
	}
	json_t *filters = json_pack("{s:s}", "endpoint_id", endpoint_id);
	if (filters == NULL || (state[0] != '\0' &&
	                           json_object_set_new(filters, "state",
	                               json_string(state)) != 0)) {
		json_decref(filters);
		cxi_api_error(c, 500, "internal", "out of memory");
		return;
	}
	if (!cxi_api_db(c, &db)) {
		json_decref(filters);
		return;
	}
	cx_err rv = cxi_repo_get(&db, &cxi_ent_webhook_endpoint,
	    c->sess.account, endpoint_id, &ep);
	if (rv == CX_OK) {
		rv = cxi_repo_list(&db, &cxi_ent_webhook_delivery,
		    c->sess.account, filters, has_cursor ? cursor : NULL, limit,
		    &page, why, sizeof(why));
	}
	cxi_manager_unhold(c->api->mgr);
	json_decref(filters);
	json_decref(ep);
	if (rv == CX_ENOENT) {
		cxi_api_error(c, 404, "not_found", "no such webhook endpoint");
	} else if (rv == CX_EINVAL) {
		cxi_api_error(c, 400, "invalid_query", "the cursor is not "
		    "valid");
	} else if (rv != CX_OK) {
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
	} else {
		json_t *items = json_array(), *r;
		size_t i;
		json_array_foreach (json_object_get(page, "items"), i, r) {
			json_array_append_new(items,
			    cxi_api_delivery_view(r, false));
		}
		json_object_set_new(page, "items", items);
		cxi_api_reply(c, 200, page);
		page = NULL;
	}
	json_decref(page);
}

/* ---- GET /v1/webhook-deliveries/{id} ---- */

static json_t *
attempt_view(const json_t *row)
{
	static const char *const shown[] = {"id", "at", "status_code", "error",
	    "duration_ms", NULL};
	return (cxi_api_pick(row, shown));
}

static cx_err
attempts_of(const cxi_db *db, const char *account, const char *id,
    json_t *out)
{
	char why[128];
	json_t *page = NULL, *r;
	json_t *f = json_pack("{s:s}", "delivery_id", id);
	if (f == NULL) {
		return (CX_ENOMEM);
	}
	cx_err rv = cxi_repo_list(db, &cxi_ent_webhook_attempt, account, f,
	    NULL, ATTEMPTS_MAX, &page, why, sizeof(why));
	json_decref(f);
	size_t i;
	json_array_foreach (json_object_get(page, "items"), i, r) {
		if (json_array_append_new(out, attempt_view(r)) != 0) {
			rv = CX_ENOMEM;
			break;
		}
	}
	json_decref(page);
	return (rv);
}

static void
deliv_get(cxi_actx *c, const char *id)
{
	cxi_db db;
	json_t *row = NULL, *att = json_array(), *out = NULL;
	if (att == NULL || !cxi_api_no_body(c) || !cxi_api_db(c, &db)) {
		json_decref(att);
		return;
	}
	cx_err rv = cxi_repo_get(&db, &cxi_ent_webhook_delivery,
	    c->sess.account, id, &row);
	if (rv == CX_OK) {
		rv = attempts_of(&db, c->sess.account, id, att);
	}
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_ENOENT) {
		deliv_not_found(c);
	} else if (rv != CX_OK || (out = cxi_api_delivery_view(row,
	                               true)) == NULL) {
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
	} else {
		json_object_set(out, "attempt_log", att);
		cxi_api_reply(c, 200, out);
	}
	json_decref(att);
	json_decref(row);
}

/* ---- POST /v1/webhook-deliveries/{id}/resend ---- */

static void
deliv_resend(cxi_actx *c, const char *id)
{
	struct cxi_calling *cl;
	cxi_db db;
	json_t *row = NULL;
	if (!cxi_api_no_body(c) || (cl = cxi_api_hooks_runtime(c)) == NULL ||
	    !cxi_api_db(c, &db)) {
		return;
	}
	int64_t now = cxi_repo_now_ms(), ch = 0;
	cx_db_value p[] = {CX_DB_V_INT(now), CX_DB_V_TEXT(id),
	    CX_DB_V_TEXT(c->sess.account)};
	/* Only a finished delivery: a pending one is already going out,
	 * and moving its next_attempt_at would break a worker's claim. */
	cx_err rv = cxi_repo_exec(&db, &cxi_ent_webhook_delivery,
	    "UPDATE webhook_deliveries SET state = 'pending', "
	    "next_attempt_at = $1, updated_at = $1 WHERE id = $2 AND "
	    "account_id = $3 AND state IN ('delivered', 'failed')", p, 3, &ch,
	    NULL, 0);
	if (rv == CX_OK) {
		rv = cxi_repo_get(&db, &cxi_ent_webhook_delivery,
		    c->sess.account, id, &row);
	}
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_ENOENT) {
		deliv_not_found(c);
	} else if (rv != CX_OK) {
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
	} else if (ch == 0) {
		cxi_api_error(c, 409, "delivery_pending", "the delivery is "
		    "still pending; it can be resent once delivered or failed");
	} else {
		cxi_info("webhooks", "delivery %s resent by account %s", id,
		    c->sess.account);
		cxi_outhooks_kick(cl->hooks);
		cxi_api_reply(c, 202, cxi_api_delivery_view(row, false));
	}
	json_decref(row);
}

static void
deliv_item(cxi_actx *c)
{
	char id[65];
	if (!cxi_api_auth(c)) {
		return;
	}
	const char *rest = strncmp(c->req->path, DELIV_PATH,
	                       strlen(DELIV_PATH)) == 0 ?
	    c->req->path + strlen(DELIV_PATH) : "";
	size_t n = strcspn(rest, "/");
	if (n == 0 || n >= sizeof(id)) {
		deliv_not_found(c);
		return;
	}
	memcpy(id, rest, n);
	id[n] = '\0';
	const char *action = rest + n;
	if (strcmp(c->req->method, "GET") == 0 && action[0] == '\0') {
		deliv_get(c, id);
	} else if (strcmp(c->req->method, "POST") == 0 &&
	    strcmp(action, "/resend") == 0) {
		deliv_resend(c, id);
	} else {
		deliv_not_found(c);
	}
}

CXI_API_HANDLER(h_deliv_item, deliv_item)

cx_err
cxi_api_webhook_deliveries_routes(cxi_api *a)
{
	cx_err rv = cxi_http_api_route_add(a->http, "GET",
	    "/webhook-deliveries/", h_deliv_item, a);
	if (rv == CX_OK) {
		rv = cxi_http_api_route_add(a->http, "POST",
		    "/webhook-deliveries/", h_deliv_item, a);
	}
	return (rv);
}
