/*
 * api_accounts.c - /v1 accounts and cookie sessions: signup, login,
 * logout and logout-all (security.md S-5, S-7, S-8, A-1..A-5, H-3, H-6,
 * The signed-in account's own routes are in api_me.c.
 *
 * Policy modules (e.g. a rate limiter) are asked before any password is
 * verified: policy.auth.login / .signup / .password with {ip, account}
 * (account: the normalized email); login outcomes are published as
 * auth.login.failed / auth.login.succeeded with the same fields.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api_int.h"
#include "log.h"
#include "repo.h"

/* Age in whole years on today's UTC date, or -1 for a date that is not
 * a real YYYY-MM-DD day or lies in the future. */
static int
age_of(const char *dob)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31};
	int y, m, d;
	if (strlen(dob) != 10 || dob[4] != '-' || dob[7] != '-') {
		return (-1);
	}
	for (int i = 0; i < 10; i++) {
		if (i != 4 && i != 7 && (dob[i] < '0' || dob[i] > '9')) {
			return (-1);
		}
	}
	if (sscanf(dob, "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12 ||
	    d < 1 || y < 1850) {
		return (-1);
	}
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[m - 1] + (m == 2 && leap ? 1 : 0)) {
		return (-1);
	}
	time_t now = time(NULL);
	struct tm t;
	if (gmtime_r(&now, &t) == NULL) {
		return (-1);
	}
	int ty = t.tm_year + 1900, tmo = t.tm_mon + 1, td = t.tm_mday;
	int age = ty - y - ((tmo < m || (tmo == m && td < d)) ? 1 : 0);
	return (age < 0 || (ty == y && (m > tmo || (m == tmo && d > td))) ?
	    -1 : age);
}

/* ---- POST /v1/signup ---- */

static void
signup(cxi_actx *c)
{
	static const cxi_afield f[] = {
	    {"name", CXI_AF_STR, true, CXI_API_NAME_MAX},
	    {"email", CXI_AF_STR, true, CXI_API_EMAIL_MAX},
	    {"company", CXI_AF_STR_NULL, false, CXI_API_NAME_MAX},
	    {"password", CXI_AF_STR, true, CXI_PASSWORD_MAX_BYTES},
	    {"date_of_birth", CXI_AF_STR, true, 10},
	    {"is_adult", CXI_AF_BOOL, true, 0},
	    CXI_AF_END};
	char norm[CXI_API_EMAIL_MAX + 1], hash[CXI_PASSWORD_HASH_MAX];
	char why[256] = "";

	if (!cxi_api_origin_guard(c) || !cxi_api_body(c, f)) {
		return;
	}
	int age = age_of(cxi_api_str(c, "date_of_birth"));
	if (age < 0) {
		cxi_api_error(c, 400, "invalid_field", "date_of_birth must be "
		    "a past date as YYYY-MM-DD");
		return;
	}
	/* Minors are refused before anything about them is looked at,
	 * stored or logged: the line has no name and no email. */
	if (age < 18 || !json_is_true(json_object_get(c->body, "is_adult"))) {
		cxi_api_log(c, "signup", "refused_underage", NULL, NULL);
		cxi_api_error(c, 403, "underage", "you must be 18 or older to "
		    "open an account");
		return;
	}
	const char *name = cxi_api_str(c, "name"), *email = cxi_api_str(c, "email");
	const char *company = cxi_api_str(c, "company");
	if (name[strspn(name, " \t")] == '\0') {
		cxi_api_error(c, 400, "invalid_field", "name must not be "
		    "empty");
		return;
	}
	if (!cxi_api_email_norm(email, norm, sizeof(norm))) {
		cxi_api_error(c, 400, "invalid_field", "email is not an email "
		    "address");
		return;
	}
	if (!cxi_api_policy(c, "policy.auth.signup", NULL, norm)) {
		cxi_api_log(c, "signup", "rate_limited", norm, NULL);
		return;
	}
	const char *pw = cxi_api_str(c, "password");
	size_t pwlen = cxi_api_len(c, "password");
	if (!cxi_api_password_ok(c, pw, pwlen, company, norm)) {
		return;
	}
	cxi_db db;
	json_t *row = NULL;
	if (!cxi_api_db(c, &db)) {
		return;
	}
	cx_err rv = cxi_account_get_by_email(&db, norm, &row);
	cxi_manager_unhold(c->api->mgr);
	json_decref(row);
	row = NULL;
	if (rv == CX_OK) {
		cxi_api_log(c, "signup", "email_taken", norm, NULL);
		cxi_api_error(c, 409, "email_taken", "an account with this "
		    "email address already exists");
		return;
	}
	if (!cxi_api_hash_or_fail(c, pw, pwlen, hash)) {
		return;
	}
	json_t *fields = json_pack("{s:s, s:s, s:s}", "name", name, "email",
	    email, "password_hash", hash);
	if (fields == NULL || (company != NULL &&
	                          json_object_set_new(fields, "company",
	                              json_string(company)) != 0)) {
		json_decref(fields);
		cxi_api_error(c, 500, "internal", "out of memory");
		return;
	}
	if (!cxi_api_db(c, &db)) {
		json_decref(fields);
		return;
	}
	rv = cxi_repo_create(&db, &cxi_ent_account, NULL, fields, &row, why,
	    sizeof(why));
	cxi_manager_unhold(c->api->mgr);
	json_decref(fields);
	if (rv == CX_EEXIST) {
		cxi_api_error(c, 409, "email_taken", "an account with this "
		    "email address already exists");
	} else if (rv == CX_EINVAL) {
		cxi_api_error(c, 400, "invalid_field", "%s", why);
	} else if (rv != CX_OK) {
		cxi_error("api", "signup: cannot store the account: %s",
		    why[0] ? why : cx_strerror(rv));
		cxi_api_error(c, 500, "internal", "the account could not be "
		    "stored");
	} else {
		cxi_api_log(c, "signup", "created",
		    json_string_value(json_object_get(row, "id")), NULL);
		cxi_api_reply(c, 201, cxi_api_account_view(row));
	}
	json_decref(row);
}

/* ---- POST /v1/login ---- */

static void
login(cxi_actx *c)
{
	static const cxi_afield f[] = {
	    {"email", CXI_AF_STR, true, CXI_API_EMAIL_MAX},
	    {"password", CXI_AF_STR, true, CXI_PASSWORD_MAX_BYTES},
	    {"totp_code", CXI_AF_STR, false, 64},
	    {"recovery_code", CXI_AF_STR, false, 64},
	    CXI_AF_END};
	char norm[CXI_API_EMAIL_MAX + 1], hash[CXI_PASSWORD_HASH_MAX];
	bool upgrade = false;
	json_t *extra = NULL;

	if (!cxi_api_origin_guard(c) || !cxi_api_body(c, f)) {
		return;
	}
	if (!cxi_api_email_norm(cxi_api_str(c, "email"), norm, sizeof(norm))) {
		norm[0] = '\0'; /* still verified (dummy): same time, same error */
	}
	if (!cxi_api_policy(c, "policy.auth.login", NULL, norm)) {
		cxi_api_log(c, "login", "rate_limited", norm, NULL);
		return;
	}
	cxi_db db;
	json_t *row = NULL;
	if (!cxi_api_db(c, &db)) {
		return;
	}
	cx_err rv = norm[0] ? cxi_account_get_by_email(&db, norm, &row) :
	    CX_ENOENT;
	cxi_manager_unhold(c->api->mgr);
	if (rv != CX_OK && rv != CX_ENOENT) {
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
		return;
	}
	bool live = row != NULL &&
	    json_is_null(json_object_get(row, "closed_at"));
	const char *stored = live ?
	    json_string_value(json_object_get(row, "password_hash")) : NULL;
	const char *pw = cxi_api_str(c, "password");
	size_t pwlen = cxi_api_len(c, "password");
	/* an unknown email is verified too, against the dummy. */
	rv = cxi_api_verify(c->api, stored != NULL ? stored :
	    c->api->dummy_hash, pw, pwlen, &upgrade);
	if (rv == CX_EBUSY || rv == CX_ECLOSED) {
		json_decref(row);
		cxi_api_error(c, 503, "busy", "the server is busy; try again");
		return;
	}
	if (rv != CX_OK || stored == NULL) {
		json_decref(row);
		cxi_manager_publish(c->api->mgr, "auth.login.failed",
		    json_pack("{s:s, s:s}", "ip", c->ip, "account", norm));
		cxi_api_log(c, "login", "failed", norm, NULL);
		cxi_api_error(c, 401, "invalid_credentials", "the email or "
		    "password is wrong");
		return;
	}
	const char *id = json_string_value(json_object_get(row, "id"));
	/* the second factor, before anything else counts as a login. */
	if (!cxi_api_mfa_login(c, row, &extra)) {
		json_decref(row);
		return;
	}
	/* H-3, H-6: bcrypt (or old parameters) is replaced now, while the
	 * password is at hand. A failure here does not fail the login. */
	if (upgrade && (!cxi_api_hash_or_fail(c, pw, pwlen, hash) ||
	                   cxi_api_store_hash(c, id, hash) != CX_OK)) {
		cxi_warn("api", "login: could not upgrade the password hash "
		    "of %s", id);
	}
	/* S-5: the session a client arrived with never survives a login. */
	if (c->token[0] != '\0') {
		(void) cxi_sessions_end(c->api->sessions, c->token);
	}
	if (cxi_api_new_session(c, id)) {
		cxi_manager_publish(c->api->mgr, "auth.login.succeeded",
		    json_pack("{s:s, s:s}", "ip", c->ip, "account", norm));
		cxi_api_log(c, "login", "succeeded", id,
		    upgrade ? "hash_upgraded" : NULL);
		json_t *view = cxi_api_account_view(row);
		if (view != NULL && extra != NULL &&
		    json_object_update(view, extra) != 0) {
			json_decref(view);
			view = NULL;
		}
		cxi_api_reply(c, 200, view);
	}
	json_decref(extra);
	json_decref(row);
}

/* ---- POST /v1/logout, POST /v1/logout-all ---- */

static void
logout(cxi_actx *c)
{
	if (!cxi_api_auth(c) || !cxi_api_no_body(c)) {
		return;
	}
	cx_err rv = cxi_sessions_end(c->api->sessions, c->token);
	if (rv != CX_OK && rv != CX_ENOENT) {
		cxi_api_error(c, 503, "unavailable", "sessions are not "
		    "available right now");
		return;
	}
	cxi_api_log(c, "logout", "succeeded", c->sess.account, NULL);
	cxi_api_clear_cookie(c);
	cxi_api_reply(c, 200, json_pack("{s:s}", "status", "logged_out"));
}

static void
logout_all(cxi_actx *c)
{
	size_t n = 0;
	if (!cxi_api_auth(c) || !cxi_api_session_only(c) ||
	    !cxi_api_no_body(c)) {
		return;
	}
	if (cxi_sessions_end_account(c->api->sessions, c->sess.account, &n) !=
	    CX_OK) {
		cxi_api_error(c, 503, "unavailable", "sessions are not "
		    "available right now");
		return;
	}
	cxi_api_log(c, "logout_all", "succeeded", c->sess.account, NULL);
	cxi_api_clear_cookie(c);
	cxi_api_reply(c, 200, json_pack("{s:s, s:I}", "status", "logged_out",
	    "sessions_ended", (json_int_t) n));
}

CXI_API_HANDLER(h_signup, signup)
CXI_API_HANDLER(h_login, login)
CXI_API_HANDLER(h_logout, logout)
CXI_API_HANDLER(h_logout_all, logout_all)

cx_err
cxi_api_accounts_routes(cxi_api *a)
{
	static const struct {
		const char *method, *path;
		cx_http_fn fn;
	} routes[] = {
	    {"POST", "/signup", h_signup},
	    {"POST", "/login", h_login},
	    {"POST", "/logout", h_logout},
	    {"POST", "/logout-all", h_logout_all},
	};
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		cx_err rv = cxi_http_api_route_add(a->http, routes[i].method,
		    routes[i].path, routes[i].fn, a);
		if (rv != CX_OK) {
			return (rv);
		}
	}
	return (CX_OK);
}
