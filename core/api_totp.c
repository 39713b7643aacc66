/*
 * api_totp.c - the TOTP second factor over /v1 (security.md A-8):
 * POST /v1/me/totp/enroll, /confirm and /disable, and the check that
 * POST /v1/login makes once the password is right.
 *
 * Staff must use TOTP: their accounts are made by the CLI with a
 * pending secret, and their first login enrols it, since a staff member
 * without a second factor has no session in which to enrol one.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account_mfa.h"
#include "api_int.h"
#include "log.h"

#define CODE_MAX 64

json_t *
cxi_api_session_account(cxi_actx *c)
{
	cxi_db db;
	json_t *row = NULL;
	if (!cxi_api_db(c, &db)) {
		return (NULL);
	}
	cx_err rv = cxi_repo_get(&db, &cxi_ent_account, NULL, c->sess.account,
	    &row);
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_OK && json_is_null(json_object_get(row, "closed_at"))) {
		return (row);
	}
	json_decref(row);
	if (rv == CX_OK || rv == CX_ENOENT) {
		cxi_api_error(c, 401, "unauthenticated", "the account is no "
		    "longer active");
	} else {
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
	}
	return (NULL);
}

/* The MFA state of `id`; false with 503 set. */
static bool
mfa_of(cxi_actx *c, const char *id, cxi_mfa *m)
{
	cxi_db db;
	if (!cxi_api_db(c, &db)) {
		return (false);
	}
	cx_err rv = cxi_mfa_get(&db, id, m);
	cxi_manager_unhold(c->api->mgr);
	if (rv != CX_OK) {
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
		return (false);
	}
	return (true);
}

/* The recovery codes, shown once, as a JSON array; wipes `codes`. */
static json_t *
codes_json(cxi_recovery_codes *codes)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < CXI_RECOVERY_COUNT; i++) {
		if (json_array_append_new(a, json_string(codes->code[i])) !=
		    0) {
			json_decref(a);
			a = NULL;
		}
	}
	sodium_memzero(codes, sizeof(*codes));
	return (a);
}

/* Enables the pending secret with `code`: the answer's recovery codes,
 * or NULL with the error set. */
static json_t *
enable(cxi_actx *c, const char *id, const char *code)
{
	cxi_db db;
	cxi_recovery_codes codes;
	if (!cxi_api_db(c, &db)) {
		return (NULL);
	}
	cx_err rv = cxi_mfa_enable(&db, id, code, &codes);
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_OK) {
		json_t *a = codes_json(&codes);
		if (a == NULL) {
			cxi_api_error(c, 500, "internal", "out of memory");
		}
		cxi_api_log(c, "totp_enable", "succeeded", id, NULL);
		return (a);
	}
	if (rv == CX_ENOENT) {
		cxi_api_error(c, 409, "totp_not_enrolled", "start with POST "
		    "/v1/me/totp/enroll");
	} else if (rv == CX_EEXIST) {
		cxi_api_error(c, 409, "totp_already_enabled", "TOTP is "
		    "already enabled");
	} else if (rv == CX_EDENIED || rv == CX_EINVAL) {
		cxi_api_log(c, "totp_enable", "invalid_code", id, NULL);
		cxi_api_error(c, 400, "invalid_code", "the code is wrong or "
		    "was already used");
	} else {
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
	}
	return (NULL);
}

/* ---- POST /v1/me/totp/enroll ---- */

static void
totp_enroll(cxi_actx *c)
{
	char b32[CXI_TOTP_B32_LEN + 1];
	char *uri = NULL;
	cxi_mfa m;
	cxi_db db;

	if (!cxi_api_auth(c) || !cxi_api_no_body(c)) {
		return;
	}
	json_t *row = cxi_api_session_account(c);
	if (row == NULL || !mfa_of(c, c->sess.account, &m)) {
		json_decref(row);
		return;
	}
	if (m.enabled) {
		cxi_api_error(c, 409, "totp_already_enabled", "disable TOTP "
		    "before enrolling a new authenticator");
		goto done;
	}
	if (cxi_mfa_new_secret(json_string_value(json_object_get(row,
	        "email")), b32, &uri) != CX_OK) {
		cxi_api_error(c, 500, "internal", "no secret could be made");
		goto done;
	}
	if (!cxi_api_db(c, &db)) {
		goto done;
	}
	cx_err rv = cxi_mfa_set_pending(&db, c->sess.account, b32);
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_EEXIST) {
		cxi_api_error(c, 409, "totp_already_enabled", "TOTP is "
		    "already enabled");
	} else if (rv != CX_OK) {
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
	} else {
		cxi_api_log(c, "totp_enroll", "pending", c->sess.account,
		    NULL);
		cxi_api_reply(c, 200, json_pack("{s:s, s:s}", "otpauth_uri",
		    uri, "secret", b32));
	}
done:
	sodium_memzero(b32, sizeof(b32));
	free(uri);
	sodium_memzero(&m, sizeof(m));
	json_decref(row);
}

/* ---- POST /v1/me/totp/confirm ---- */

static void
totp_confirm(cxi_actx *c)
{
	static const cxi_afield f[] = {
	    {"code", CXI_AF_STR, true, CODE_MAX},
	    CXI_AF_END};
	if (!cxi_api_auth(c) || !cxi_api_body(c, f)) {
		return;
	}
	json_t *codes = enable(c, c->sess.account, cxi_api_str(c, "code"));
	if (codes != NULL) {
		cxi_api_reply(c, 200, json_pack("{s:s, s:o}", "status",
		    "enabled", "recovery_codes", codes));
	}
}

/* ---- POST /v1/me/totp/disable ---- */

static void
totp_disable(cxi_actx *c)
{
	static const cxi_afield f[] = {
	    {"current_password", CXI_AF_STR, true, CXI_PASSWORD_MAX_BYTES},
	    {"code", CXI_AF_STR, true, CODE_MAX},
	    CXI_AF_END};
	cxi_mfa m;
	cxi_db db;
	bool up;

	if (!cxi_api_auth(c) || !cxi_api_body(c, f)) {
		return;
	}
	json_t *row = cxi_api_session_account(c);
	if (row == NULL || !mfa_of(c, c->sess.account, &m)) {
		json_decref(row);
		return;
	}
	const char *role = json_string_value(json_object_get(row, "role"));
	if (role != NULL && strcmp(role, "staff") == 0) {
		cxi_api_error(c, 403, "mfa_required_for_staff", "staff "
		    "accounts cannot turn TOTP off");
		goto done;
	}
	if (!m.enabled) {
		cxi_api_error(c, 409, "totp_not_enabled", "TOTP is not "
		    "enabled");
		goto done;
	}
	/* S-9: removing a factor needs both the password and the factor. */
	cx_err rv = cxi_api_verify(c->api,
	    json_string_value(json_object_get(row, "password_hash")),
	    cxi_api_str(c, "current_password"),
	    cxi_api_len(c, "current_password"), &up);
	if (rv == CX_EBUSY || rv == CX_ECLOSED) {
		cxi_api_error(c, 503, "busy", "the server is busy; try again");
		goto done;
	}
	if (rv != CX_OK) {
		cxi_api_log(c, "totp_disable", "bad_password", c->sess.account,
		    NULL);
		cxi_api_error(c, 403, "invalid_credentials", "the current "
		    "password is wrong");
		goto done;
	}
	if (!cxi_api_db(c, &db)) {
		goto done;
	}
	rv = cxi_mfa_use_code(&db, c->sess.account, &m, cxi_api_str(c,
	    "code"));
	if (rv == CX_OK) {
		rv = cxi_mfa_clear(&db, c->sess.account);
	} else if (rv == CX_EINVAL) {
		rv = CX_EDENIED;
	}
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_EDENIED) {
		cxi_api_log(c, "totp_disable", "invalid_code", c->sess.account,
		    NULL);
		cxi_api_error(c, 400, "invalid_code", "the code is wrong or "
		    "was already used");
	} else if (rv != CX_OK) {
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
	} else {
		cxi_api_log(c, "totp_disable", "succeeded", c->sess.account,
		    NULL);
		cxi_api_reply(c, 200, json_pack("{s:s}", "status",
		    "disabled"));
	}
done:
	sodium_memzero(&m, sizeof(m));
	json_decref(row);
}

/* ---- the second step of POST /v1/login ---- */

/* The login failed at the second factor: 401 `code`, published like a
 * wrong password so a rate limiter counts guesses at codes too. */
static bool
mfa_fail(cxi_actx *c, const char *id, const char *norm, const char *code,
    const char *msg)
{
	cxi_manager_publish(c->api->mgr, "auth.login.failed",
	    json_pack("{s:s, s:s}", "ip", c->ip, "account", norm));
	cxi_api_log(c, "login", code, id, NULL);
	cxi_api_error(c, 401, code, "%s", msg);
	return (false);
}

bool
cxi_api_mfa_login(cxi_actx *c, const json_t *row, json_t **extra)
{
	const char *id = json_string_value(json_object_get(row, "id"));
	const char *norm = json_string_value(json_object_get(row,
	    "email_norm"));
	const char *role = json_string_value(json_object_get(row, "role"));
	const char *totp = cxi_api_str(c, "totp_code");
	const char *rec = cxi_api_str(c, "recovery_code");
	bool staff = role != NULL && strcmp(role, "staff") == 0;
	cxi_mfa m;
	cxi_db db;
	cx_err rv;
	int left = 0;

	*extra = NULL;
	if (norm == NULL) {
		norm = "";
	}
	if (!mfa_of(c, id, &m)) {
		return (false);
	}
	if (!m.enabled) {
		sodium_memzero(&m, sizeof(m));
		if (!staff) {
			return (true);
		}
		/* no staff session without TOTP. The first login with
		 * a code from the secret the CLI printed enrols it. */
		if (totp == NULL) {
			cxi_api_log(c, "login", "mfa_enrollment_required", id,
			    NULL);
			cxi_api_error(c, 403, "mfa_enrollment_required",
			    "staff accounts must sign in with a TOTP code "
			    "from the authenticator set up at creation");
			return (false);
		}
		json_t *codes = enable(c, id, totp);
		if (codes == NULL) {
			return (false);
		}
		*extra = json_pack("{s:o}", "recovery_codes", codes);
		return (*extra != NULL);
	}
	bool ok = false;
	if (totp == NULL && rec == NULL) {
		sodium_memzero(&m, sizeof(m));
		cxi_api_log(c, "login", "mfa_required", id, NULL);
		cxi_api_error(c, 401, "mfa_required", "this account needs a "
		    "totp_code or a recovery_code");
		return (false);
	}
	if (!cxi_api_db(c, &db)) {
		sodium_memzero(&m, sizeof(m));
		return (false);
	}
	rv = totp != NULL ? cxi_mfa_use_code(&db, id, &m, totp) :
	    cxi_mfa_use_recovery(&db, id, &m, rec, &left);
	cxi_manager_unhold(c->api->mgr);
	sodium_memzero(&m, sizeof(m));
	if (rv == CX_OK) {
		ok = true;
		if (totp == NULL) {
			cxi_api_log(c, "login", "recovery_code_used", id, NULL);
			*extra = json_pack("{s:i}", "recovery_codes_left", left);
			ok = *extra != NULL;
			if (!ok) {
				cxi_api_error(c, 500, "internal", "out of "
				    "memory");
			}
		}
	} else if (rv == CX_EDENIED || rv == CX_EINVAL) {
		return (mfa_fail(c, id, norm, "invalid_mfa_code", "the code "
		    "is wrong or was already used"));
	} else {
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
	}
	return (ok);
}

CXI_API_HANDLER(h_totp_enroll, totp_enroll)
CXI_API_HANDLER(h_totp_confirm, totp_confirm)
CXI_API_HANDLER(h_totp_disable, totp_disable)

cx_err
cxi_api_totp_routes(cxi_api *a)
{
	cx_err rv;
	if ((rv = cxi_http_api_route_add(a->http, "POST", "/me/totp/enroll",
	         h_totp_enroll, a)) != CX_OK ||
	    (rv = cxi_http_api_route_add(a->http, "POST", "/me/totp/confirm",
	         h_totp_confirm, a)) != CX_OK) {
		return (rv);
	}
	return (cxi_http_api_route_add(a->http, "POST", "/me/totp/disable",
	    h_totp_disable, a));
}
