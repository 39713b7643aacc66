/*
 * api_accounts.c - /v1 accounts and cookie sessions: signup, login,
 * logout, logout-all, me (get, patch) and password change
 * (security.md S-5, S-7..S-9, A-1..A-5, H-3, H-6, R-1, R-6).
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

#define END_FIELDS {NULL, CXI_AF_STR, false, 0}
#define NAME_MAX_BYTES 200
#define EMAIL_MAX_BYTES 320

/* Runs `body` with a request context; every handler answers itself, so
 * the dispatcher always gets CX_OK. */
#define HANDLER(fn, body)                                               \
	static cx_err fn(void *arg, const cx_http_req *req,             \
	    cx_http_resp *resp)                                         \
	{                                                               \
		cxi_actx c;                                             \
		cxi_api_ctx_init(&c, arg, req, resp);                   \
		body(&c);                                               \
		cxi_api_ctx_done(&c);                                   \
		return (CX_OK);                                         \
	}

static const char *
str_of(cxi_actx *c, const char *key)
{
	return (json_string_value(json_object_get(c->body, key)));
}

static size_t
len_of(cxi_actx *c, const char *key)
{
	return (json_string_length(json_object_get(c->body, key)));
}

/* A plausible address: normalized, one '@' with text on both sides. */
static bool
email_norm(const char *email, char *out, size_t len)
{
	if (email == NULL || cxi_email_normalize(email, out, len) != 0) {
		return (false);
	}
	const char *at = strchr(out, '@');
	return (at != NULL && at != out && at[1] != '\0' &&
	    strchr(at + 1, '@') == NULL);
}

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

/* A-3: the policy with the product, company and email local part as
 * context words. False with the response set. */
static bool
password_ok(cxi_actx *c, const char *pw, size_t len, const char *company,
    const char *norm)
{
	char local[EMAIL_MAX_BYTES + 1], why[256];
	snprintf(local, sizeof(local), "%.*s", (int) strcspn(norm, "@"), norm);
	const char *words[] = {"callixo", local, company, NULL};
	cx_err rv = cxi_password_check(pw, len, words, c->api->common, why,
	    sizeof(why));
	if (rv == CX_OK) {
		return (true);
	}
	cxi_api_error(c, 400, rv == CX_EDENIED ? "weak_password" :
	    "invalid_password", "%s", why);
	return (false);
}

static bool
hash_or_fail(cxi_actx *c, const char *pw, size_t len,
    char out[CXI_PASSWORD_HASH_MAX])
{
	cx_err rv = cxi_api_hash(c->api, pw, len, out);
	if (rv == CX_OK) {
		return (true);
	}
	cxi_api_error(c, 503, "busy", "the server is busy; try again");
	return (false);
}

/* The account of the session (NULL with 401/503 set when it is gone). */
static json_t *
me_row(cxi_actx *c)
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

/* Stores a new password hash (sys column: the caller whitelist does not
 * apply). */
static cx_err
store_hash(cxi_actx *c, const char *id, const char *hash)
{
	cxi_db db;
	if (!cxi_manager_db_hold(c->api->mgr, &db)) {
		return (CX_ECLOSED);
	}
	cx_err rv = cxi_repo_set(&db, &cxi_ent_account, NULL, id,
	    json_pack("{s:s}", "password_hash", hash));
	cxi_manager_unhold(c->api->mgr);
	return (rv);
}

/* A new session with its cookie; false with 503 set. */
static bool
new_session(cxi_actx *c, const char *account_id)
{
	char token[CXI_SESSION_TOKEN_LEN + 1];
	cx_err rv = cxi_sessions_create(c->api->sessions, account_id, NULL,
	    cxi_repo_now_ms(), token);
	if (rv != CX_OK) {
		cxi_api_error(c, 503, "unavailable", "sessions are not "
		    "available right now");
		return (false);
	}
	cxi_api_set_cookie(c, token);
	explicit_bzero(token, sizeof(token));
	return (true);
}

/* ---- POST /v1/signup ---- */

static void
signup(cxi_actx *c)
{
	static const cxi_afield f[] = {
	    {"name", CXI_AF_STR, true, NAME_MAX_BYTES},
	    {"email", CXI_AF_STR, true, EMAIL_MAX_BYTES},
	    {"company", CXI_AF_STR_NULL, false, NAME_MAX_BYTES},
	    {"password", CXI_AF_STR, true, CXI_PASSWORD_MAX_BYTES},
	    {"date_of_birth", CXI_AF_STR, true, 10},
	    {"is_adult", CXI_AF_BOOL, true, 0},
	    END_FIELDS};
	char norm[EMAIL_MAX_BYTES + 1], hash[CXI_PASSWORD_HASH_MAX];
	char why[256] = "";

	if (!cxi_api_origin_guard(c) || !cxi_api_body(c, f)) {
		return;
	}
	int age = age_of(str_of(c, "date_of_birth"));
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
	const char *name = str_of(c, "name"), *email = str_of(c, "email");
	const char *company = str_of(c, "company");
	if (name[strspn(name, " \t")] == '\0') {
		cxi_api_error(c, 400, "invalid_field", "name must not be "
		    "empty");
		return;
	}
	if (!email_norm(email, norm, sizeof(norm))) {
		cxi_api_error(c, 400, "invalid_field", "email is not an email "
		    "address");
		return;
	}
	if (!cxi_api_policy(c, "policy.auth.signup", NULL, norm)) {
		cxi_api_log(c, "signup", "rate_limited", norm, NULL);
		return;
	}
	const char *pw = str_of(c, "password");
	size_t pwlen = len_of(c, "password");
	if (!password_ok(c, pw, pwlen, company, norm)) {
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
	if (!hash_or_fail(c, pw, pwlen, hash)) {
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
	    {"email", CXI_AF_STR, true, EMAIL_MAX_BYTES},
	    {"password", CXI_AF_STR, true, CXI_PASSWORD_MAX_BYTES},
	    END_FIELDS};
	char norm[EMAIL_MAX_BYTES + 1], hash[CXI_PASSWORD_HASH_MAX];
	bool upgrade = false;

	if (!cxi_api_origin_guard(c) || !cxi_api_body(c, f)) {
		return;
	}
	if (!email_norm(str_of(c, "email"), norm, sizeof(norm))) {
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
	const char *pw = str_of(c, "password");
	size_t pwlen = len_of(c, "password");
	/* A-5: an unknown email is verified too, against the dummy. */
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
	/* H-3, H-6: bcrypt (or old parameters) is replaced now, while the
	 * password is at hand. A failure here does not fail the login. */
	if (upgrade && (!hash_or_fail(c, pw, pwlen, hash) ||
	                   store_hash(c, id, hash) != CX_OK)) {
		cxi_warn("api", "login: could not upgrade the password hash "
		    "of %s", id);
	}
	/* S-5: the session a client arrived with never survives a login. */
	if (c->token[0] != '\0') {
		(void) cxi_sessions_end(c->api->sessions, c->token);
	}
	if (new_session(c, id)) {
		cxi_manager_publish(c->api->mgr, "auth.login.succeeded",
		    json_pack("{s:s, s:s}", "ip", c->ip, "account", norm));
		cxi_api_log(c, "login", "succeeded", id,
		    upgrade ? "hash_upgraded" : NULL);
		cxi_api_reply(c, 200, cxi_api_account_view(row));
	}
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
	if (!cxi_api_auth(c) || !cxi_api_no_body(c)) {
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

/* ---- GET /v1/me, PATCH /v1/me ---- */

static void
me_get(cxi_actx *c)
{
	if (!cxi_api_auth(c)) {
		return;
	}
	json_t *row = me_row(c);
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
	const char *pw = str_of(c, field);
	if (pw == NULL) {
		cxi_api_error(c, 403, "reauth_required", "%s is required for "
		    "this change", field);
		return (false);
	}
	cx_err rv = cxi_api_verify(c->api,
	    json_string_value(json_object_get(row, "password_hash")), pw,
	    len_of(c, field), &up);
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
	    {"name", CXI_AF_STR, false, NAME_MAX_BYTES},
	    {"company", CXI_AF_STR_NULL, false, NAME_MAX_BYTES},
	    {"email", CXI_AF_STR, false, EMAIL_MAX_BYTES},
	    {"current_password", CXI_AF_STR, false, CXI_PASSWORD_MAX_BYTES},
	    END_FIELDS};
	static const char *const editable[] = {"name", "company", "email",
	    NULL};
	char norm[EMAIL_MAX_BYTES + 1], why[256] = "";

	if (!cxi_api_auth(c) || !cxi_api_body(c, f)) {
		return;
	}
	json_t *row = me_row(c), *upd = json_object(), *out = NULL;
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
	const char *email = str_of(c, "email");
	if (email != NULL) {
		if (!email_norm(email, norm, sizeof(norm))) {
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
	const char *name = str_of(c, "name");
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
	    END_FIELDS};
	char hash[CXI_PASSWORD_HASH_MAX];
	size_t n = 0;

	if (!cxi_api_auth(c) || !cxi_api_body(c, f)) {
		return;
	}
	json_t *row = me_row(c);
	if (row == NULL) {
		return;
	}
	const char *norm = json_string_value(json_object_get(row,
	    "email_norm"));
	const char *company = json_string_value(json_object_get(row,
	    "company"));
	const char *pw = str_of(c, "new_password");
	size_t pwlen = len_of(c, "new_password");
	if (!cxi_api_policy(c, "policy.auth.password", c->sess.account,
	        norm) ||
	    !reauth(c, row, "current_password") ||
	    !password_ok(c, pw, pwlen, company, norm != NULL ? norm : "") ||
	    !hash_or_fail(c, pw, pwlen, hash)) {
		json_decref(row);
		return;
	}
	json_decref(row);
	if (store_hash(c, c->sess.account, hash) != CX_OK) {
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
	if (!new_session(c, c->sess.account)) {
		return;
	}
	cxi_api_log(c, "password_change", "succeeded", c->sess.account, NULL);
	cxi_api_reply(c, 200, json_pack("{s:s, s:I}", "status",
	    "password_changed", "sessions_ended", (json_int_t) n));
}

HANDLER(h_signup, signup)
HANDLER(h_login, login)
HANDLER(h_logout, logout)
HANDLER(h_logout_all, logout_all)
HANDLER(h_me_get, me_get)
HANDLER(h_me_patch, me_patch)
HANDLER(h_me_password, me_password)

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
	    {"GET", "/me", h_me_get},
	    {"PATCH", "/me", h_me_patch},
	    {"POST", "/me/password", h_me_password},
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
