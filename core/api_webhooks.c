/*
 * api_webhooks.c - customer webhook endpoints:
 *   POST   /v1/webhooks                        register (secret shown once)
 *   GET    /v1/webhooks                        list
 *   GET    /v1/webhooks/{id}                   one
 *   PATCH  /v1/webhooks/{id}                   url, events, description, active
 *   DELETE /v1/webhooks/{id}                   with its deliveries
 *   POST   /v1/webhooks/{id}/rotate-secret     a new secret, shown once
 *   POST   /v1/webhooks/{id}/test              queue a "ping" event
 *   GET    /v1/webhooks/{id}/deliveries        (api_webhook_deliveries.c)
 *
 * The signing secret is stored sealed by the vault and is never logged
 * or shown again. URLs pass the SSRF check (outhooks_ssrf.c), with DNS,
 * on every write. Another account's ids are 404.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "calling.h"
#include "log.h"
#include "outhooks.h"
#include "repo.h"

#define HOOKS_PATH "/v1/webhooks/"
/* Endpoints per account: enough for every real use, a bound on how many
 * copies of each event one account can make us send. */
#define ENDPOINTS_MAX 20
#define DESC_MAX 500

static const char *const event_names[] = {CXI_HOOK_CALL_STARTED,
    CXI_HOOK_CALL_COMPLETED, CXI_HOOK_CALL_ANALYZED, NULL};

struct cxi_calling *
cxi_api_hooks_runtime(cxi_actx *c)
{
	struct cxi_calling *cl = atomic_load(&c->api->calling);
	if (cl == NULL) {
		cxi_api_error(c, 503, "unavailable", "the calling runtime is "
		    "not running yet");
	}
	return (cl);
}

static json_t *
endpoint_view(const json_t *row)
{
	static const char *const shown[] = {"id", "url", "events",
	    "description", "active", "created_at", "updated_at", NULL};
	return (cxi_api_pick(row, shown));
}

/* "{id}" and the action after it ("" when none) of /v1/webhooks/{id}[/x].
 * False when the path has another shape. */
static bool
split_path(const char *path, const char *base, char *id, size_t idlen,
    const char **action)
{
	size_t bl = strlen(base);
	if (strncmp(path, base, bl) != 0) {
		return (false);
	}
	path += bl;
	size_t n = strcspn(path, "/");
	if (n == 0 || n >= idlen) {
		return (false);
	}
	memcpy(id, path, n);
	id[n] = '\0';
	*action = path[n] == '/' ? path + n + 1 : "";
	return (path[n] == '\0' || strchr(*action, '/') == NULL);
}

/* events: a non-empty list of distinct known names; absent on create
 * means all of them. A new array in *out, or false with 400 set. */
static bool
events_ok(cxi_actx *c, json_t **out)
{
	json_t *ev = json_object_get(c->body, "events");
	if (ev == NULL) {
		*out = json_array();
		for (size_t i = 0; *out != NULL && event_names[i] != NULL; i++) {
			json_array_append_new(*out, json_string(event_names[i]));
		}
		return (*out != NULL);
	}
	if (json_array_size(ev) == 0) {
		cxi_api_error(c, 400, "invalid_field", "events must name at "
		    "least one of call.started, call.completed, call.analyzed");
		return (false);
	}
	size_t i, k;
	json_t *v;
	json_array_foreach (ev, i, v) {
		const char *s = json_string_value(v);
		bool known = false;
		for (k = 0; s != NULL && event_names[k] != NULL; k++) {
			known |= strcmp(s, event_names[k]) == 0;
		}
		for (k = 0; known && k < i; k++) {
			known = strcmp(s, json_string_value(json_array_get(ev,
			                      k))) != 0;
		}
		if (!known) {
			cxi_api_error(c, 400, "invalid_field", "events[%zu] must "
			    "be one of call.started, call.completed, "
			    "call.analyzed, each named once", i);
			return (false);
		}
	}
	*out = json_incref(ev);
	return (true);
}

static bool
url_ok(cxi_actx *c, struct cxi_calling *cl, const char *url)
{
	char why[200];
	if (!cxi_outhooks_url_ok(&cl->hooks_conf, url, true, why,
	        sizeof(why))) {
		cxi_api_error(c, 400, "invalid_url", "%s", why);
		return (false);
	}
	return (true);
}

/* A fresh secret, sealed into *enc (malloc'd); false with 500 set. */
static bool
new_secret(cxi_actx *c, char secret[CXI_OUTHOOKS_SECRET_LEN + 1],
    char **enc)
{
	cxi_outhooks_new_secret(secret);
	if (cxi_api_vault_seal(c->api, secret, enc) != CX_OK) {
		sodium_memzero(secret, CXI_OUTHOOKS_SECRET_LEN + 1);
		cxi_api_error(c, 500, "internal", "the signing secret could "
		    "not be sealed");
		return (false);
	}
	return (true);
}

static cx_err
count_endpoints(const cxi_db *db, const char *account, int64_t *n)
{
	cxi_dbc c;
	cx_db_rows *rows = NULL;
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv != CX_OK) {
		return (rv);
	}
	cx_db_value p[] = {CX_DB_V_TEXT(account)};
	rv = cxi_db_exec(&c, "SELECT COUNT(*) FROM webhook_endpoints WHERE "
	                     "account_id = $1", p, 1, &rows, NULL);
	*n = rv == CX_OK ? cxi_db_int(&c, rows, 0, 0, 0) : 0;
	cxi_db_rows_free(&c, rows);
	cxi_db_release(&c);
	return (rv);
}

/* ---- POST /v1/webhooks ---- */

static const cxi_afield endpoint_fields[] = {
    {"url", CXI_AF_STR, false, 2048},
    {"events", CXI_AF_ARRAY, false, 0},
    {"description", CXI_AF_STR_NULL, false, DESC_MAX},
    {"active", CXI_AF_BOOL, false, 0},
    CXI_AF_END};

static void
hooks_create(cxi_actx *c)
{
	char secret[CXI_OUTHOOKS_SECRET_LEN + 1], why[256] = "";
	char *enc = NULL;
	json_t *events = NULL, *fields = NULL, *row = NULL, *out = NULL;
	struct cxi_calling *cl;
	if (!cxi_api_auth(c) || !cxi_api_body(c, endpoint_fields) ||
	    (cl = cxi_api_hooks_runtime(c)) == NULL) {
		return;
	}
	const char *url = cxi_api_str(c, "url");
	if (url == NULL) {
		cxi_api_error(c, 400, "missing_field", "missing field 'url'");
		return;
	}
	if (!url_ok(c, cl, url) || !events_ok(c, &events)) {
		return;
	}
	if (!new_secret(c, secret, &enc)) {
		json_decref(events);
		return;
	}
	fields = json_deep_copy(c->body);
	if (fields == NULL || json_object_set(fields, "events", events) != 0) {
		cxi_api_error(c, 500, "internal", "out of memory");
		goto done;
	}
	json_t *sys = json_pack("{s:s}", "secret_enc", enc);
	cxi_db db;
	if (sys == NULL || !cxi_api_db(c, &db)) {
		if (sys == NULL) {
			cxi_api_error(c, 500, "internal", "out of memory");
		}
		json_decref(sys);
		goto done;
	}
	int64_t n = 0;
	cx_err rv = count_endpoints(&db, c->sess.account, &n);
	if (rv == CX_OK && n >= ENDPOINTS_MAX) {
		rv = CX_EDENIED;
	}
	cxi_dbc dc;
	if (rv == CX_OK && (rv = cxi_db_acquire(&db, 10000, &dc)) == CX_OK) {
		rv = cxi_repo_insert_c(&dc, &cxi_ent_webhook_endpoint,
		    c->sess.account, fields, sys, &row, why, sizeof(why));
		cxi_db_release(&dc);
	}
	cxi_manager_unhold(c->api->mgr);
	json_decref(sys);
	if (rv == CX_EDENIED) {
		cxi_api_error(c, 409, "limit_reached", "an account may have at "
		    "most %d webhook endpoints", ENDPOINTS_MAX);
	} else if (rv == CX_EINVAL) {
		cxi_api_error(c, 400, "invalid_field", "%s", why);
	} else if (rv != CX_OK || (out = endpoint_view(row)) == NULL ||
	    json_object_set_new(out, "secret", json_string(secret)) != 0) {
		cxi_api_error(c, 500, "internal", "the endpoint could not be "
		    "stored");
	} else {
		cxi_info("webhooks", "endpoint %s registered by account %s",
		    json_string_value(json_object_get(row, "id")),
		    c->sess.account);
		cxi_api_reply(c, 201, out);
		out = NULL;
	}
done:
	sodium_memzero(secret, sizeof(secret));
	free(enc);
	json_decref(out);
	json_decref(row);
	json_decref(fields);
	json_decref(events);
}

/* ---- GET /v1/webhooks ---- */

static void
hooks_list(cxi_actx *c)
{
	cxi_api_list_reply(c, &cxi_ent_webhook_endpoint, endpoint_view);
}

/* ---- /v1/webhooks/{id}: GET, PATCH, DELETE ---- */

static void
not_found(cxi_actx *c)
{
	cxi_api_error(c, 404, "not_found", "no such webhook endpoint");
}

static void
hook_get(cxi_actx *c, const char *id)
{
	cxi_db db;
	json_t *row = NULL;
	if (!cxi_api_no_body(c) || !cxi_api_db(c, &db)) {
		return;
	}
	cx_err rv = cxi_repo_get(&db, &cxi_ent_webhook_endpoint,
	    c->sess.account, id, &row);
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_ENOENT) {
		not_found(c);
	} else if (rv != CX_OK) {
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
	} else {
		cxi_api_reply(c, 200, endpoint_view(row));
	}
	json_decref(row);
}

static void
hook_patch(cxi_actx *c, const char *id)
{
	char why[256] = "";
	json_t *fields = NULL, *events = NULL, *row = NULL;
	struct cxi_calling *cl;
	if (!cxi_api_body(c, endpoint_fields) ||
	    (cl = cxi_api_hooks_runtime(c)) == NULL) {
		return;
	}
	const char *url = cxi_api_str(c, "url");
	if (url != NULL && !url_ok(c, cl, url)) {
		return;
	}
	if (json_object_get(c->body, "events") != NULL &&
	    !events_ok(c, &events)) {
		return;
	}
	cxi_db db;
	if ((fields = json_deep_copy(c->body)) == NULL) {
		cxi_api_error(c, 500, "internal", "out of memory");
		goto done;
	}
	if (!cxi_api_db(c, &db)) {
		goto done;
	}
	cx_err rv = cxi_repo_update(&db, &cxi_ent_webhook_endpoint,
	    c->sess.account, id, fields, &row, why, sizeof(why));
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_ENOENT) {
		not_found(c);
	} else if (rv == CX_EINVAL) {
		cxi_api_error(c, 400, "invalid_field", "%s", why);
	} else if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "the endpoint could not be "
		    "updated");
	} else {
		/* Re-enabled: its paused deliveries are due again. */
		cxi_outhooks_kick(cl->hooks);
		cxi_api_reply(c, 200, endpoint_view(row));
	}
done:
	json_decref(row);
	json_decref(fields);
	json_decref(events);
}

static void
hook_delete(cxi_actx *c, const char *id)
{
	cxi_db db;
	if (!cxi_api_no_body(c) || !cxi_api_db(c, &db)) {
		return;
	}
	cx_err rv = cxi_repo_delete(&db, &cxi_ent_webhook_endpoint,
	    c->sess.account, id);
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_ENOENT) {
		not_found(c);
	} else if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "the endpoint could not be "
		    "deleted");
	} else {
		cxi_info("webhooks", "endpoint %s deleted by account %s", id,
		    c->sess.account);
		cxi_api_reply(c, 200, json_pack("{s:s, s:s}", "id", id,
		    "status", "deleted"));
	}
}

/* ---- POST /v1/webhooks/{id}/rotate-secret ---- */

static void
hook_rotate(cxi_actx *c, const char *id)
{
	char secret[CXI_OUTHOOKS_SECRET_LEN + 1];
	char *enc = NULL;
	cxi_db db;
	json_t *row = NULL, *out = NULL;
	if (!cxi_api_no_body(c) || !new_secret(c, secret, &enc)) {
		return;
	}
	if (!cxi_api_db(c, &db)) {
		goto done;
	}
	cx_err rv = cxi_repo_set(&db, &cxi_ent_webhook_endpoint,
	    c->sess.account, id, json_pack("{s:s}", "secret_enc", enc));
	if (rv == CX_OK) {
		rv = cxi_repo_get(&db, &cxi_ent_webhook_endpoint,
		    c->sess.account, id, &row);
	}
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_ENOENT) {
		not_found(c);
	} else if (rv != CX_OK || (out = endpoint_view(row)) == NULL ||
	    json_object_set_new(out, "secret", json_string(secret)) != 0) {
		cxi_api_error(c, 500, "internal", "the secret could not be "
		    "replaced");
	} else {
		cxi_info("webhooks", "endpoint %s: signing secret rotated by "
		    "account %s", id, c->sess.account);
		cxi_api_reply(c, 200, out);
		out = NULL;
	}
done:
	sodium_memzero(secret, sizeof(secret));
	free(enc);
	json_decref(out);
	json_decref(row);
}

/* ---- POST /v1/webhooks/{id}/test ---- */

static void
hook_test(cxi_actx *c, const char *id)
{
	char evt[64], why[256] = "";
	struct cxi_calling *cl;
	cxi_db db;
	json_t *ep = NULL, *row = NULL;
	char *payload = NULL;
	if (!cxi_api_no_body(c) || (cl = cxi_api_hooks_runtime(c)) == NULL ||
	    !cxi_api_db(c, &db)) {
		return;
	}
	cx_err rv = cxi_repo_get(&db, &cxi_ent_webhook_endpoint,
	    c->sess.account, id, &ep);
	bool active = json_is_true(json_object_get(ep, "active"));
	if (rv == CX_OK && active) {
		cxi_repo_new_id("evt_", evt, sizeof(evt));
		json_t *body = json_pack("{s:s, s:s, s:I, s:{s:s, s:s}}", "id",
		    evt, "type", CXI_HOOK_PING, "created",
		    (json_int_t) cxi_repo_now_ms(), "data", "webhook_id", id,
		    "message", "a test event sent from the Callixo API");
		payload = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
		json_t *sys = payload == NULL ? NULL :
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "endpoint_id",
		        id, "event_type", CXI_HOOK_PING, "event_id", evt,
		        "payload", payload, "state", "pending",
		        "next_attempt_at", (json_int_t) cxi_repo_now_ms());
		cxi_dbc dc;
		rv = sys == NULL ? CX_ENOMEM : cxi_db_acquire(&db, 10000, &dc);
		if (rv == CX_OK) {
			rv = cxi_repo_insert_c(&dc, &cxi_ent_webhook_delivery,
			    c->sess.account, NULL, sys, &row, why, sizeof(why));
			cxi_db_release(&dc);
		}
		json_decref(sys);
	}
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_ENOENT) {
		not_found(c);
	} else if (rv == CX_OK && !active) {
		cxi_api_error(c, 409, "endpoint_disabled", "the endpoint is "
		    "disabled; set active to true first");
	} else if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "the test event could not be "
		    "queued");
	} else {
		cxi_outhooks_kick(cl->hooks);
		cxi_api_reply(c, 202, cxi_api_delivery_view(row, false));
	}
	free(payload);
	json_decref(row);
	json_decref(ep);
}

/* ---- dispatch of /v1/webhooks/{id}[/action] ---- */

static void
hooks_item(cxi_actx *c)
{
	char id[65];
	const char *action = NULL;
	/* The subtree route also serves the collection itself. */
	if (strcmp(c->req->path, "/v1/webhooks") == 0) {
		if (strcmp(c->req->method, "POST") == 0) {
			hooks_create(c);
		} else if (strcmp(c->req->method, "GET") == 0) {
			hooks_list(c);
		} else {
			cxi_api_error(c, 404, "not_found", "no such route");
		}
		return;
	}
	if (!cxi_api_auth(c)) {
		return;
	}
	if (!split_path(c->req->path, HOOKS_PATH, id, sizeof(id), &action)) {
		not_found(c);
		return;
	}
	const char *m = c->req->method;
	if (strcmp(m, "GET") == 0 && action[0] == '\0') {
		hook_get(c, id);
	} else if (strcmp(m, "GET") == 0 && strcmp(action, "deliveries") == 0) {
		cxi_api_endpoint_deliveries(c, id);
	} else if (strcmp(m, "PATCH") == 0 && action[0] == '\0') {
		hook_patch(c, id);
	} else if (strcmp(m, "DELETE") == 0 && action[0] == '\0') {
		hook_delete(c, id);
	} else if (strcmp(m, "POST") == 0 &&
	    strcmp(action, "rotate-secret") == 0) {
		hook_rotate(c, id);
	} else if (strcmp(m, "POST") == 0 && strcmp(action, "test") == 0) {
		hook_test(c, id);
	} else {
		not_found(c);
	}
}

CXI_API_HANDLER(h_hooks_item, hooks_item)

/* One subtree route per method: "/webhooks/" serves /v1/webhooks too,
 * and would shadow an exact "/webhooks" route. */
cx_err
cxi_api_webhooks_routes(cxi_api *a)
{
	static const char *const methods[] = {"GET", "POST", "PATCH",
	    "DELETE", NULL};
	cx_err rv = CX_OK;
	for (size_t i = 0; rv == CX_OK && methods[i] != NULL; i++) {
		rv = cxi_http_api_route_add(a->http, methods[i], "/webhooks/",
		    h_hooks_item, a);
	}
	return (rv);
}
