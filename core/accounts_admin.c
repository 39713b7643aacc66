/*
 * accounts_admin.c - account-create, -import and -disable for callixoctl.
 *
 * Both run on the admin thread: an operator waits for them, and neither
 * may go through /v1, where no request can ever make a staff account.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account_mfa.h"
#include "accounts_admin.h"
#include "admin.h"
#include "api_int.h"
#include "log.h"

/* A line longer than this is not an account. */
#define IMPORT_LINE_MAX 8192
/* Reasons listed in the reply; beyond, only the counts grow. */
#define IMPORT_REPORT_MAX 1000

static json_t *
create(cxi_api *api, const cxi_db *db, const json_t *args)
{
	const char *email = json_string_value(json_object_get(args, "email"));
	const char *name = json_string_value(json_object_get(args, "name"));
	const char *pw = json_string_value(json_object_get(args, "password"));
	const char *company = json_string_value(json_object_get(args,
	    "company"));
	bool staff = json_is_true(json_object_get(args, "staff"));
	char norm[CXI_API_EMAIL_MAX + 1], hash[CXI_PASSWORD_HASH_MAX];
	char why[256] = "", b32[CXI_TOTP_B32_LEN + 1] = "";
	char *uri = NULL;
	json_t *fields = NULL, *row = NULL, *r = NULL;

	if (email == NULL || name == NULL || pw == NULL ||
	    name[strspn(name, " \t")] == '\0') {
		return (cxi_admin_fail("account-create needs email, name and "
		    "password"));
	}
	if (!cxi_api_email_norm(email, norm, sizeof(norm))) {
		return (cxi_admin_fail("'%s' is not an email address", email));
	}
	/* The same policy as a signup: staff passwords are no weaker. */
	const char *at = strchr(norm, '@');
	char local[CXI_API_EMAIL_MAX + 1];
	snprintf(local, sizeof(local), "%.*s", (int) (at - norm), norm);
	const char *words[] = {"callixo", local, company, NULL};
	size_t pwlen = json_string_length(json_object_get(args, "password"));
	if (cxi_password_check(pw, pwlen, words, api->common, why,
	        sizeof(why)) != CX_OK) {
		return (cxi_admin_fail("password refused: %s", why));
	}
	if (cxi_password_hash(&api->pw, pw, pwlen, hash, why, sizeof(why)) !=
	    CX_OK) {
		return (cxi_admin_fail("cannot hash the password: %s", why));
	}
	fields = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "name", name,
	    "email", email, "password_hash", hash, "role",
	    staff ? "staff" : "customer", "company", company);
	sodium_memzero(hash, sizeof(hash));
	if (fields == NULL) {
		return (cxi_admin_fail("out of memory"));
	}
	cx_err rv = cxi_repo_create(db, &cxi_ent_account, NULL, fields, &row,
	    why, sizeof(why));
	json_decref(fields);
	if (rv != CX_OK) {
		return (cxi_admin_fail("cannot create the account: %s",
		    why[0] ? why : cx_strerror(rv)));
	}
	const char *id = json_string_value(json_object_get(row, "id"));
	if (staff && ((rv = cxi_mfa_new_secret(email, b32, &uri)) != CX_OK ||
	                 (rv = cxi_mfa_set_pending(db, id, b32)) != CX_OK)) {
		/* A staff account without its secret could never sign in;
		 * better none at all. */
		(void) cxi_repo_delete(db, &cxi_ent_account, NULL, id);
		r = cxi_admin_fail("cannot set up TOTP: %s", cx_strerror(rv));
		goto done;
	}
	json_t *audit = json_pack("{s:s, s:s, s:s, s:s, s:s}", "actor_role",
	    "operator", "action", "create", "object_type", "account",
	    "object_id", id, "reason", staff ? "callixoctl account create "
	    "--staff" : "callixoctl account create");
	if (audit == NULL || cxi_audit_append(db, audit, why, sizeof(why)) !=
	    CX_OK) {
		cxi_warn("admin", "account %s created but not audited: %s", id,
		    why);
	}
	json_decref(audit);
	cxi_info("admin", "account %s created by callixoctl (role %s)", id,
	    staff ? "staff" : "customer");
	r = cxi_admin_ok(json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "id", id,
	    "email", email, "role", staff ? "staff" : "customer",
	    "otpauth_uri", uri, "secret", staff ? b32 : NULL));
done:
	sodium_memzero(b32, sizeof(b32));
	free(uri);
	json_decref(row);
	return (r);
}

/* created_at: Unix milliseconds, or "YYYY-MM-DDTHH:MM:SSZ" (UTC). */
static bool
created_ms(const json_t *v, int64_t *ms)
{
	if (json_is_integer(v)) {
		*ms = json_integer_value(v);
		return (*ms >= 0);
	}
	const char *s = json_string_value(v);
	struct tm t = {0};
	int n = 0;
	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &t.tm_year,
	                     &t.tm_mon, &t.tm_mday, &t.tm_hour, &t.tm_min,
	                     &t.tm_sec, &n) != 6 ||
	    n == 0 || s[n] != '\0' || t.tm_year < 1970 || t.tm_mon < 1 ||
	    t.tm_mon > 12 || t.tm_mday < 1 || t.tm_mday > 31 ||
	    t.tm_hour > 23 || t.tm_min > 59 || t.tm_sec > 60) {
		return (false);
	}
	t.tm_year -= 1900;
	t.tm_mon -= 1;
	time_t secs = timegm(&t);
	*ms = (int64_t) secs * 1000;
	return (secs != (time_t) -1);
}

/* One JSONL line into fields and sys; NULL or the reason it is invalid. */
static const char *
import_fields(const char *line, json_t **fields, json_t **sys)
{
	static const char *const known[] = {"name", "email", "company",
	    "password_hash", "created_at", NULL};
	char norm[CXI_API_EMAIL_MAX + 1];
	json_error_t e;
	json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &e);
	const char *key;
	json_t *v;
	int64_t ms = 0;

	*fields = *sys = NULL;
	if (!json_is_object(o)) {
		json_decref(o);
		return ("not a JSON object");
	}
	json_object_foreach (o, key, v) {
		size_t k = 0;
		while (known[k] != NULL && strcmp(known[k], key) != 0) {
			k++;
		}
		if (known[k] == NULL) {
			json_decref(o);
			return ("unknown field");
		}
	}
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *email = json_string_value(json_object_get(o, "email"));
	const char *hash = json_string_value(json_object_get(o,
	    "password_hash"));
	json_t *company = json_object_get(o, "company");
	json_t *created = json_object_get(o, "created_at");
	cxi_pwkind kind = hash != NULL ? cxi_password_kind(hash, strlen(hash),
	    NULL, NULL) : CXI_PWKIND_INVALID;
	const char *bad = NULL;
	if (name == NULL || name[strspn(name, " \t")] == '\0') {
		bad = "name missing or empty";
	} else if (email == NULL ||
	    !cxi_api_email_norm(email, norm, sizeof(norm))) {
		bad = "email missing or not an email address";
	} else if (kind != CXI_PWKIND_ARGON2ID && kind != CXI_PWKIND_BCRYPT) {
		/* $2x$ is out too: only a verified migration may allow it. */
		bad = "password_hash is not $2a$/$2b$/$2y$ bcrypt or "
		    "$argon2id$";
	} else if (company != NULL && !json_is_string(company) &&
	    !json_is_null(company)) {
		bad = "company is not a string";
	} else if (created != NULL && !created_ms(created, &ms)) {
		bad = "created_at is not Unix milliseconds or "
		    "YYYY-MM-DDTHH:MM:SSZ";
	}
	if (bad == NULL) {
		*fields = json_pack("{s:s, s:s, s:s, s:O?}", "name", name,
		    "email", email, "password_hash", hash, "company",
		    company);
		*sys = json_pack("{s:s}", "email_norm", norm);
		if (*fields == NULL || *sys == NULL ||
		    (created != NULL && json_object_set_new(*sys, "created_at",
		                            json_integer(ms)) != 0)) {
			bad = "out of memory";
		}
	}
	if (bad != NULL) {
		json_decref(*fields);
		json_decref(*sys);
		*fields = *sys = NULL;
	}
	json_decref(o);
	return (bad);
}

static bool
note(json_t *list, size_t lineno, const char *reason)
{
	if (json_array_size(list) >= IMPORT_REPORT_MAX) {
		return (true);
	}
	return (json_array_append_new(list, json_pack("{s:I, s:s}", "line",
	    (json_int_t) lineno, "reason", reason)) == 0);
}

static json_t *
import(const cxi_db *db, const json_t *args)
{
	const char *path = json_string_value(json_object_get(args, "file"));
	json_t *skipped = json_array(), *invalid = json_array(), *r;
	char why[256];
	size_t imported = 0, lineno = 0, cap = 0;
	char *line = NULL;
	ssize_t n;
	cxi_dbc c;

	if (path == NULL || path[0] != '/') {
		json_decref(skipped);
		json_decref(invalid);
		return (cxi_admin_fail("account-import needs args.file, an "
		    "absolute path"));
	}
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		json_decref(skipped);
		json_decref(invalid);
		return (cxi_admin_fail("%s: %s", path, strerror(errno)));
	}
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv != CX_OK || skipped == NULL || invalid == NULL) {
		fclose(f);
		json_decref(skipped);
		json_decref(invalid);
		return (cxi_admin_fail("storage: %s", cx_strerror(rv)));
	}
	bool ok = true;
	while (ok && (n = getline(&line, &cap, f)) != -1) {
		json_t *fields, *sys;
		bool inserted = false;
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
			line[--n] = '\0';
		}
		if (n == 0) {
			continue; /* blank lines carry no account */
		}
		const char *bad = (size_t) n > IMPORT_LINE_MAX ?
		    "line too long" : import_fields(line, &fields, &sys);
		if (bad != NULL) {
			ok = note(invalid, lineno, bad);
			continue;
		}
		/* An existing email is skipped, never overwritten: an import
		 * must not take over an account someone already uses. */
		why[0] = '\0';
		rv = cxi_repo_insert_skip_c(&c, &cxi_ent_account, NULL, fields,
		    sys, "email_norm", &inserted, NULL, why, sizeof(why));
		json_decref(fields);
		json_decref(sys);
		if (rv == CX_OK && inserted) {
			imported++;
		} else if (rv == CX_OK || rv == CX_EEXIST) {
			ok = note(skipped, lineno, "email already exists");
		} else if (rv == CX_EINVAL) {
			ok = note(invalid, lineno, why[0] ? why : "invalid");
		} else {
			ok = false;
			snprintf(why, sizeof(why), "line %zu: %s", lineno,
			    cx_strerror(rv));
		}
	}
	bool read_err = ferror(f) != 0;
	free(line);
	fclose(f);
	cxi_db_release(&c);
	cxi_info("admin", "account import from %s: %zu imported, %zu "
	    "skipped, %zu invalid", path, imported, json_array_size(skipped),
	    json_array_size(invalid));
	if (!ok || read_err) {
		json_decref(skipped);
		json_decref(invalid);
		return (cxi_admin_fail("import stopped after %zu accounts: %s",
		    imported, read_err ? "read error" : why));
	}
	r = json_pack("{s:I, s:o, s:o}", "imported", (json_int_t) imported,
	    "skipped", skipped, "invalid", invalid);
	return (r != NULL ? cxi_admin_ok(r) : cxi_admin_fail("out of memory"));
}

/* Closes an account (closed_at) and ends all its sessions at once;
 * logins, sessions and API keys of a closed account are refused. The
 * account's data stays until the privacy purge. */
static json_t *
disable(cxi_api *api, const cxi_db *db, const json_t *args)
{
	const char *email = json_string_value(json_object_get(args, "email"));
	char norm[CXI_API_EMAIL_MAX + 1];
	json_t *row = NULL;
	if (email == NULL || !cxi_api_email_norm(email, norm, sizeof(norm))) {
		return (cxi_admin_fail("account disable needs a valid email"));
	}
	if (cxi_account_get_by_email(db, norm, &row) != CX_OK) {
		return (cxi_admin_fail("no account with email %s", norm));
	}
	const char *id = json_string_value(json_object_get(row, "id"));
	size_t ended = 0;
	cx_err rv = cxi_account_close(db, id);
	if (rv == CX_OK) {
		rv = cxi_sessions_end_account(api->sessions, id, &ended);
	}
	json_t *r = rv == CX_OK ?
	    cxi_admin_ok(json_pack("{s:s, s:I}", "id", id, "sessions_ended",
	        (json_int_t) ended)) :
	    cxi_admin_fail("cannot disable %s: %s", id, cx_strerror(rv));
	if (rv == CX_OK) {
		cxi_info("accounts", "account %s disabled by the operator; %zu "
		    "sessions ended", id, ended);
	}
	json_decref(row);
	return (r);
}

json_t *
cxi_accounts_admin(cxi_api *api, cxi_manager *mgr, const char *cmd,
    const json_t *args)
{
	cxi_db db;
	json_t *r;
	bool is_create = strcmp(cmd, "account-create") == 0;
	bool is_disable = strcmp(cmd, "account-disable") == 0;
	if (!is_create && !is_disable &&
	    strcmp(cmd, "account-import") != 0) {
		return (cxi_admin_fail("unknown command '%s'", cmd));
	}
	if (api == NULL) {
		return (cxi_admin_fail("the API has not started yet"));
	}
	if (!cxi_manager_db_hold(mgr, &db)) {
		return (cxi_admin_fail("no storage plugin is running"));
	}
	r = is_create ? create(api, &db, args) :
	    is_disable ? disable(api, &db, args) : import(&db, args);
	cxi_manager_unhold(mgr);
	return (r);
}
