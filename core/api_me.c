/*
 * api_me.c - the signed-in account: GET and PATCH /v1/me, POST
 * /v1/me/password (security.md S-8, S-9, A-3, A-4), and GET
 * /v1/accounts/{id}.
 */
#include <stdio.h>
#include <string.h>

#include "api_int.h"
#include "log.h"
#include "repo.h"

/* ---- GET /v1/me, PATCH /v1/me ---- */

static void
me_get(cxi_actx *c)
{
	if (!cxi_api_auth(c)) {
		return;
	}
	json_t *row = cxi_api_session_account(c);
	if (row != NULL) {
		cxi_api_reply(c, 200, cxi_api_account_view(row));
		json_decref(row);
	}
}

/* ---- GET /v1/accounts/{id} ---- */

/* An account by id. Only the caller's own is visible: any other id,
 * taken or not, gets the same 404 as a missing one, so ids cannot be
 * probed and another account's existence never shows (Z-1: 404, not
 * 403). */
static void
account_get(cxi_actx *c)
{
	if (!cxi_api_auth(c)) {
		return;
	}
	/* The route is the "/accounts/" subtree: the id is the rest, one
	 * segment. */
	const char *id = c->req->subpath + strlen("/accounts");
	id += *id == '/';
	if (*id == '\0' || strchr(id, '/') != NULL ||
	    strcmp(id, c->sess.account) != 0) {
		cxi_api_error(c, 404, "not_found", "no such account");
		return;
	}
	json_t *row = cxi_api_session_account(c);
	if (row != NULL) {
		cxi_api_reply(c, 200, cxi_api_account_view(row));
		json_decref(row);
	}
}

/* The current password, for S-9 re-authentication and A-4. */
static bool
reauth(cxi_actx *c, const json_t *row, const char *field)
{
	bool up;
	const char *pw = cxi_api_str(c, field);
	if (pw == NULL) {
		cxi_api_error(c, 403, "reauth_required", "%s is required for "
		    "this change", field);
		return (false);
	}
	cx_err rv = cxi_api_verify(c->api,
	    json_string_value(json_object_get(row, "password_hash")), pw,
	    cxi_api_len(c, field), &up);
	if (rv == CX_EBUSY || rv == CX_ECLOSED) {
		cxi_api_error(c, 503, "busy", "the server is busy; try again");
		return (false);
	}
	if (rv != CX_OK) {
		cxi_api_log(c, "reauth", "failed", c->sess.account, NULL);
		cxi_api_error(c, 403, "invalid_credentials", "the current "
		    "password is wrong");
		return (false);
	}
	return (true);
}

static void
me_patch(cxi_actx *c)
{
	static const cxi_afield f[] = {
	    {"name", CXI_AF_STR, false, CXI_API_NAME_MAX},
	    {"company", CXI_AF_STR_NULL, false, CXI_API_NAME_MAX},
	    {"email", CXI_AF_STR, false, CXI_API_EMAIL_MAX},
	    {"current_password", CXI_AF_STR, false, CXI_PASSWORD_MAX_BYTES},
	    CXI_AF_END};
	static const char *const editable[] = {"name", "company", "email",
	    NULL};
	char norm[CXI_API_EMAIL_MAX + 1], why[256] = "";

	if (!cxi_api_auth(c) || !cxi_api_body(c, f)) {
		return;
	}
	json_t *row = cxi_api_session_account(c), *upd = json_object(), *out = NULL;
	if (row == NULL || upd == NULL) {
		if (row != NULL) {
			cxi_api_error(c, 500, "internal", "out of memory");
		}
		goto done;
	}
	for (size_t i = 0; editable[i] != NULL; i++) {
		json_t *v = json_object_get(c->body, editable[i]);
		if (v != NULL && json_object_set(upd, editable[i], v) != 0) {
			cxi_api_error(c, 500, "internal", "out of memory");
			goto done;
		}
	}
	if (json_object_size(upd) == 0) {
		cxi_api_error(c, 400, "invalid_field", "nothing to change: "
		    "give name, company or email");
		goto done;
	}
	const char *email = cxi_api_str(c, "email");
	if (email != NULL) {
		if (!cxi_api_email_norm(email, norm, sizeof(norm))) {
			cxi_api_error(c, 400, "invalid_field", "email is not "
			    "an email address");
			goto done;
		}
		const char *cur = json_string_value(json_object_get(row,
		    "email_norm"));
		/* S-9: the address that recovers the account changes only
		 * with the password. */
		if ((cur == NULL || strcmp(cur, norm) != 0) &&
		    !reauth(c, row, "current_password")) {
			goto done;
		}
	}
	const char *name = cxi_api_str(c, "name");
	if (name != NULL && name[strspn(name, " \t")] == '\0') {
		cxi_api_error(c, 400, "invalid_field", "name must not be "
		    "empty");
		goto done;
	}
	cxi_db db;
	if (!cxi_api_db(c, &db)) {
		goto done;
	}
	cx_err rv = cxi_repo_update(&db, &cxi_ent_account, c->sess.account,
	    c->sess.account, upd, &out, why, sizeof(why));
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_EEXIST) {
		cxi_api_error(c, 409, "email_taken", "an account with this "
		    "email address already exists");
	} else if (rv == CX_EINVAL) {
		cxi_api_error(c, 400, "invalid_field", "%s", why);
	} else if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "the change could not be "
		    "stored");
	} else {
		cxi_api_log(c, "account_update", "succeeded", c->sess.account,
		    email != NULL ? "email" : NULL);
		cxi_api_reply(c, 200, cxi_api_account_view(out));
	}
done:
	json_decref(out);
	json_decref(upd);
	json_decref(row);
}

/* ---- POST /v1/me/password ---- */

static void
me_password(cxi_actx *c)
{
	static const cxi_afield f[] = {
	    {"current_password", CXI_AF_STR, true, CXI_PASSWORD_MAX_BYTES},
	    {"new_password", CXI_AF_STR, true, CXI_PASSWORD_MAX_BYTES},
	    CXI_AF_END};
	char hash[CXI_PASSWORD_HASH_MAX];
	size_t n = 0;

	if (!cxi_api_auth(c) || !cxi_api_session_only(c) ||
	    !cxi_api_body(c, f)) {
		return;
	}
	json_t *row = cxi_api_session_account(c);
	if (row == NULL) {
		return;
	}
	const char *norm = json_string_value(json_object_get(row,
	    "email_norm"));
	const char *company = json_string_value(json_object_get(row,
	    "company"));
	const char *pw = cxi_api_str(c, "new_password");
	size_t pwlen = cxi_api_len(c, "new_password");
	if (!cxi_api_policy(c, "policy.auth.password", c->sess.account,
	        norm) ||
	    !reauth(c, row, "current_password") ||
	    !cxi_api_password_ok(c, pw, pwlen, company, norm != NULL ? norm : "") ||
	    !cxi_api_hash_or_fail(c, pw, pwlen, hash)) {
		json_decref(row);
		return;
	}
	json_decref(row);
	if (cxi_api_store_hash(c, c->sess.account, hash) != CX_OK) {
		cxi_api_error(c, 500, "internal", "the new password could not "
		    "be stored");
		return;
	}
	/* S-8: every session of the account ends, this one included; the
	 * caller gets a fresh one (S-5). */
	if (cxi_sessions_end_account(c->api->sessions, c->sess.account, &n) !=
	    CX_OK) {
		cxi_api_error(c, 503, "unavailable", "sessions are not "
		    "available right now");
		return;
	}
	if (!cxi_api_new_session(c, c->sess.account)) {
		return;
	}
	cxi_api_log(c, "password_change", "succeeded", c->sess.account, NULL);
	cxi_api_reply(c, 200, json_pack("{s:s, s:I}", "status",
	    "password_changed", "sessions_ended", (json_int_t) n));
}

CXI_API_HANDLER(h_me_get, me_get)
CXI_API_HANDLER(h_me_patch, me_patch)
CXI_API_HANDLER(h_me_password, me_password)
CXI_API_HANDLER(h_account_get, account_get)

cx_err
cxi_api_me_routes(cxi_api *a)
{
	cx_err rv;
	if ((rv = cxi_http_api_route_add(a->http, "GET", "/me", h_me_get,
	         a)) != CX_OK ||
	    (rv = cxi_http_api_route_add(a->http, "PATCH", "/me", h_me_patch,
	         a)) != CX_OK ||
	    (rv = cxi_http_api_route_add(a->http, "GET", "/accounts/",
	         h_account_get, a)) != CX_OK) {
		return (rv);
	}
	return (cxi_http_api_route_add(a->http, "POST", "/me/password",
	    h_me_password, a));
}
