/*
 * api_keys.c - API keys: POST/GET /v1/api-keys, DELETE /v1/api-keys/{id},
 * and the Bearer half of the auth middleware (security.md Z-2).
 *
 * A key is "cx_" + 43 base64url characters of 256 random bits. It is shown
 * once, at creation; the database keeps only its SHA-256 (hex), which is
 * enough because the key is random and long (no slow hash needed), and a
 * short prefix so people can tell their keys apart.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api_int.h"
#include "log.h"
#include "repo.h"

#define KEY_TAG "cx_"
#define KEY_RAND_BYTES 32
/* base64url without padding of 32 bytes. */
#define KEY_B64_LEN 43
#define KEY_LEN (sizeof(KEY_TAG) - 1 + KEY_B64_LEN)
#define KEY_PREFIX_LEN 8
#define KEYS_PATH "/v1/api-keys/"

/* Hex SHA-256 of the whole key text, as stored in key_hash. */
static void
key_hash(const char *key, size_t len, char out[2 * crypto_hash_sha256_BYTES + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *) key, len);
	sodium_bin2hex(out, 2 * crypto_hash_sha256_BYTES + 1, h, sizeof(h));
}

/* "Bearer cx_..." with exactly the shape we issue; NULL otherwise, so
 * garbage never reaches the database. */
static const char *
bearer_key(const cx_http_req *req)
{
	const char *h = cx_http_req_header(req, "Authorization");
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		return (NULL);
	}
	h += 7;
	while (*h == ' ') {
		h++;
	}
	return (h);
}

static bool
key_shape_ok(const char *k)
{
	size_t n = strcspn(k, " \t");
	if (n != KEY_LEN || k[n] != '\0' ||
	    strncmp(k, KEY_TAG, sizeof(KEY_TAG) - 1) != 0) {
		return (false);
	}
	for (size_t i = sizeof(KEY_TAG) - 1; i < n; i++) {
		char ch = k[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		        (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')) {
			return (false);
		}
	}
	return (true);
}

bool
cxi_api_has_bearer(cxi_actx *c)
{
	return (bearer_key(c->req) != NULL);
}

/* The live, non-closed account's key, or 401/403/503 set. */
bool
cxi_api_key_auth(cxi_actx *c)
{
	char hash[2 * crypto_hash_sha256_BYTES + 1];
	const char *k = bearer_key(c->req);
	if (k == NULL || !key_shape_ok(k)) {
		cxi_api_error(c, 401, "unauthenticated", "the API key is not "
		    "valid");
		return (false);
	}
	key_hash(k, KEY_LEN, hash);
	cxi_db db;
	if (!cxi_api_db(c, &db)) {
		return (false);
	}
	json_t *row = NULL, *acct = NULL;
	cx_err rv = cxi_api_key_get_by_hash(&db, hash, &row);
	const char *acc = json_string_value(json_object_get(row, "account_id"));
	if (rv == CX_OK && acc != NULL) {
		rv = cxi_repo_get(&db, &cxi_ent_account, NULL, acc, &acct);
		if (rv == CX_OK &&
		    !json_is_null(json_object_get(acct, "closed_at"))) {
			rv = CX_ENOENT;
		}
	}
	bool ok = false;
	const char *id = json_string_value(json_object_get(row, "id"));
	const char *scope = json_string_value(json_object_get(row, "scope"));
	if (rv == CX_ENOENT || (rv == CX_OK && (acc == NULL || id == NULL ||
	                                           scope == NULL))) {
		/* Unknown and revoked keys look the same to the caller. */
		cxi_api_log(c, "api_key", "refused", NULL, NULL);
		cxi_api_error(c, 401, "unauthenticated", "the API key is not "
		    "valid or was revoked");
	} else if (rv != CX_OK) {
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
	} else if (strcmp(scope, "read") == 0 &&
	    strcmp(c->req->method, "GET") != 0 &&
	    strcmp(c->req->method, "HEAD") != 0) {
		cxi_api_error(c, 403, "insufficient_scope", "this API key may "
		    "only read (GET)");
	} else if (strlen(acc) >= sizeof(c->sess.account)) {
		cxi_api_error(c, 500, "internal", "account id too long");
	} else {
		/* last_used_at is informational: a failed write must not
		 * fail the request. */
		if (cxi_repo_set(&db, &cxi_ent_api_key, NULL, id,
		        json_pack("{s:I}", "last_used_at",
		            (json_int_t) cxi_repo_now_ms())) != CX_OK) {
			cxi_warn("api", "cannot record the use of API key %s",
			    id);
		}
		snprintf(c->sess.account, sizeof(c->sess.account), "%s", acc);
		c->sess.data = NULL;
		c->via_key = true;
		c->authed = true;
		ok = true;
	}
	cxi_manager_unhold(c->api->mgr);
	json_decref(acct);
	json_decref(row);
	return (ok);
}

json_t *
cxi_api_pick(const json_t *row, const char *const *shown)
{
	json_t *v = json_object();
	for (size_t i = 0; v != NULL && shown[i] != NULL; i++) {
		json_t *x = json_object_get(row, shown[i]);
		if (json_object_set(v, shown[i], x != NULL ? x : json_null()) !=
		    0) {
			json_decref(v);
			return (NULL);
		}
	}
	return (v);
}

/* The key as the API shows it: never the hash. */
static json_t *
key_view(const json_t *row)
{
	static const char *const shown[] = {"id", "name", "prefix", "scope",
	    "created_at", "last_used_at", NULL};
	return (cxi_api_pick(row, shown));
}

/* Managing keys takes a browser session: a leaked key must not be able
 * to mint more keys or hide itself by revoking others. The same holds
 * for logout-all and the password change (api_accounts.c, api_me.c). */
bool
cxi_api_session_only(cxi_actx *c)
{
	if (c->via_key) {
		cxi_api_error(c, 403, "session_required", "this needs a "
		    "logged-in session, not an API key");
		return (false);
	}
	return (true);
}

/* ---- POST /v1/api-keys ---- */

static void
keys_create(cxi_actx *c)
{
	static const cxi_afield f[] = {
	    {"name", CXI_AF_STR, true, CXI_API_NAME_MAX},
	    {"scope", CXI_AF_STR, true, 8},
	    CXI_AF_END};
	unsigned char rnd[KEY_RAND_BYTES];
	char key[KEY_LEN + 1], hash[2 * crypto_hash_sha256_BYTES + 1];
	char prefix[KEY_PREFIX_LEN + 1], why[256] = "";

	if (!cxi_api_auth(c) || !cxi_api_session_only(c) || !cxi_api_body(c, f)) {
		return;
	}
	const char *name = cxi_api_str(c, "name");
	const char *scope = cxi_api_str(c, "scope");
	if (name[strspn(name, " \t")] == '\0') {
		cxi_api_error(c, 400, "invalid_field", "name must not be "
		    "empty");
		return;
	}
	if (strcmp(scope, "read") != 0 && strcmp(scope, "write") != 0) {
		cxi_api_error(c, 400, "invalid_field", "scope must be \"read\" "
		    "or \"write\"");
		return;
	}
	randombytes_buf(rnd, sizeof(rnd));
	memcpy(key, KEY_TAG, sizeof(KEY_TAG) - 1);
	sodium_bin2base64(key + sizeof(KEY_TAG) - 1, KEY_B64_LEN + 1, rnd,
	    sizeof(rnd), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(rnd, sizeof(rnd));
	key_hash(key, KEY_LEN, hash);
	snprintf(prefix, sizeof(prefix), "%s", key + sizeof(KEY_TAG) - 1);

	json_t *fields = json_pack("{s:s, s:s, s:s, s:s}", "name", name,
	    "scope", scope, "key_hash", hash, "prefix", prefix);
	json_t *row = NULL, *out = NULL;
	cxi_db db;
	if (fields == NULL) {
		cxi_api_error(c, 500, "internal", "out of memory");
		goto done;
	}
	if (!cxi_api_db(c, &db)) {
		goto done;
	}
	cx_err rv = cxi_repo_create(&db, &cxi_ent_api_key, c->sess.account,
	    fields, &row, why, sizeof(why));
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_EINVAL) {
		cxi_api_error(c, 400, "invalid_field", "%s", why);
		goto done;
	}
	if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "the key could not be stored");
		goto done;
	}
	out = key_view(row);
	if (out == NULL || json_object_set_new(out, "key",
	                       json_string(key)) != 0) {
		cxi_api_error(c, 500, "internal", "out of memory");
		goto done;
	}
	cxi_api_log(c, "api_key_create", "succeeded", c->sess.account,
	    json_string_value(json_object_get(row, "id")));
	cxi_api_reply(c, 201, out);
	out = NULL;
done:
	sodium_memzero(key, sizeof(key));
	json_decref(out);
	json_decref(row);
	json_decref(fields);
}

/* ---- GET /v1/api-keys ---- */

cx_err
cxi_api_list_all(const cxi_db *db, const cxi_entity *ent,
    const char *account, json_t *(*view)(const json_t *), json_t *items)
{
	char why[256];
	char *cursor = NULL;
	json_t *page = NULL;
	cx_err rv;
	/* Every page: an account has few rows, and revoked ones are left
	 * out, so a page of the repository is not a page of ours. */
	do {
		rv = cxi_repo_list(db, ent, account, NULL, cursor,
		    CXI_REPO_LIST_MAX, &page, why, sizeof(why));
		free(cursor);
		cursor = NULL;
		if (rv != CX_OK) {
			break;
		}
		size_t i;
		json_t *r;
		json_array_foreach (json_object_get(page, "items"), i, r) {
			json_t *rev = json_object_get(r, "revoked_at");
			if (rev != NULL && !json_is_null(rev)) {
				continue;
			}
			if (json_array_append_new(items, view(r)) != 0) {
				rv = CX_ENOMEM;
				break;
			}
		}
		const char *next = json_string_value(json_object_get(page,
		    "next_cursor"));
		if (rv == CX_OK && next != NULL &&
		    (cursor = strdup(next)) == NULL) {
			rv = CX_ENOMEM;
		}
		json_decref(page);
		page = NULL;
	} while (rv == CX_OK && cursor != NULL);
	free(cursor);
	return (rv);
}

/* GET on a collection of the account: {"items":[view...]}. */
void
cxi_api_list_reply(cxi_actx *c, const cxi_entity *ent,
    json_t *(*view)(const json_t *))
{
	if (!cxi_api_auth(c) || !cxi_api_no_body(c)) {
		return;
	}
	json_t *items = json_array();
	cxi_db db;
	if (items == NULL) {
		cxi_api_error(c, 500, "internal", "out of memory");
		return;
	}
	if (!cxi_api_db(c, &db)) {
		json_decref(items);
		return;
	}
	cx_err rv = cxi_api_list_all(&db, ent, c->sess.account, view, items);
	cxi_manager_unhold(c->api->mgr);
	if (rv != CX_OK) {
		json_decref(items);
		cxi_api_error(c, 500, "internal", "the %ss could not be read",
		    ent->name);
		return;
	}
	cxi_api_reply(c, 200, json_pack("{s:o}", "items", items));
}

static void
keys_list(cxi_actx *c)
{
	cxi_api_list_reply(c, &cxi_ent_api_key, key_view);
}

/* ---- DELETE /v1/api-keys/{id} ---- */

/* The last path segment below `base`; NULL when there is none or more
 * than one. */
const char *
cxi_api_path_id(cxi_actx *c, const char *base)
{
	size_t bl = strlen(base);
	const char *p = c->req->path;
	if (strncmp(p, base, bl) != 0) {
		return (NULL);
	}
	p += bl;
	size_t n = strlen(p);
	if (n == 0 || n > 64 || strchr(p, '/') != NULL) {
		return (NULL);
	}
	return (p);
}

static void
keys_delete(cxi_actx *c)
{
	if (!cxi_api_auth(c) || !cxi_api_session_only(c) || !cxi_api_no_body(c)) {
		return;
	}
	const char *id = cxi_api_path_id(c, KEYS_PATH);
	if (id == NULL) {
		cxi_api_error(c, 404, "not_found", "no such API key");
		return;
	}
	cxi_db db;
	if (!cxi_api_db(c, &db)) {
		return;
	}
	cx_err rv = cxi_api_key_revoke(&db, c->sess.account, id);
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_ENOENT) {
		/* Another account's key is "not found" too: ids cannot be
		 * probed. */
		cxi_api_error(c, 404, "not_found", "no such API key");
	} else if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "the key could not be "
		    "revoked");
	} else {
		cxi_api_log(c, "api_key_revoke", "succeeded", c->sess.account,
		    id);
		cxi_api_reply(c, 200, json_pack("{s:s, s:s}", "id", id,
		    "status", "revoked"));
	}
}

CXI_API_HANDLER(h_keys_create, keys_create)
CXI_API_HANDLER(h_keys_list, keys_list)
CXI_API_HANDLER(h_keys_delete, keys_delete)

cx_err
cxi_api_keys_routes(cxi_api *a)
{
	cx_err rv;
	if ((rv = cxi_http_api_route_add(a->http, "POST", "/api-keys",
	         h_keys_create, a)) != CX_OK ||
	    (rv = cxi_http_api_route_add(a->http, "GET", "/api-keys",
	         h_keys_list, a)) != CX_OK) {
		return (rv);
	}
	return (cxi_http_api_route_add(a->http, "DELETE", "/api-keys/",
	    h_keys_delete, a));
}
