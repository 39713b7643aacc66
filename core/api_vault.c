/*
 * api_vault.c - the credential vault: PUT /v1/credentials/{provider},
 * GET /v1/credentials, DELETE /v1/credentials/{id}, and seal/unseal for
 * the rest of the core (security.md section 6, F-6). Key rotation for
 * `callixoctl vault rotate` is in api_vault_rotate.c.
 *
 * Provider secrets are stored as a Fernet token (Python `cryptography`
 * compatible) of the JSON of the secret fields; the API only ever shows
 * the last four characters of the main secret. The Fernet keys come from
 * CALLIXO_VAULT_KEYS (comma-separated, newest first), else from
 * <data_dir>/vault.keys (one a line, newest first, mode 0600), which is
 * generated at first start.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api_int.h"
#include "log.h"
#include "repo.h"

#define VAULT_KEYS_MAX 16
#define VAULT_FILE_MAX 4096
#define CRED_PATH "/v1/credentials/"
#define SECRET_MIN 8
#define SECRET_MAX 1000

typedef struct provider {
	const char *name;
	const char *const *fields; /* all required */
	const char *main;          /* the one whose last4 is shown */
} provider;

static const char *const twilio_f[] = {"account_sid", "auth_token", NULL};
static const char *const key_f[] = {"api_key", NULL};
static const provider providers[] = {
    {"twilio", twilio_f, "auth_token"},
    {"retell", key_f, "api_key"},
    {"deepgram", key_f, "api_key"},
    {NULL, NULL, NULL}};

/* ---- keys ---- */

/* Keys separated by ',' or newlines, blanks around them ignored. */
static cx_err
parse_keys(cxi_api *a, const char *s, const char *src, char *why,
    size_t whylen)
{
	char kwhy[128];
	a->vault = calloc(VAULT_KEYS_MAX, sizeof(*a->vault));
	if (a->vault == NULL) {
		snprintf(why, whylen, "vault: out of memory");
		return (CX_ENOMEM);
	}
	while (*s != '\0') {
		s += strspn(s, ", \t\r\n");
		size_t n = strcspn(s, ", \t\r\n");
		if (n == 0) {
			continue;
		}
		if (a->n_vault == VAULT_KEYS_MAX) {
			snprintf(why, whylen, "vault: %s holds more than %d "
			    "keys", src, VAULT_KEYS_MAX);
			return (CX_EINVAL);
		}
		if (cxi_fernet_key_parse(s, n, &a->vault[a->n_vault], kwhy,
		        sizeof(kwhy)) != CX_OK) {
			snprintf(why, whylen, "vault: key %zu of %s: %s",
			    a->n_vault + 1, src, kwhy);
			return (CX_EINVAL);
		}
		a->n_vault++;
		s += n;
	}
	if (a->n_vault == 0) {
		snprintf(why, whylen, "vault: %s holds no key", src);
		return (CX_EINVAL);
	}
	return (CX_OK);
}

/* A new key file, as the master key is made: O_EXCL, 0600, synced. */
static cx_err
create_file(const char *path, char *buf, size_t buflen, char *why,
    size_t whylen)
{
	cxi_fernet_key k;
	cx_err rv = cxi_fernet_key_generate(&k);
	if (rv != CX_OK) {
		snprintf(why, whylen, "vault: cannot generate a key");
		return (rv);
	}
	cxi_fernet_key_encode(&k, buf);
	cxi_fernet_key_wipe(&k);
	size_t len = strlen(buf);
	if (len + 1 >= buflen) {
		return (CX_EINTERNAL);
	}
	buf[len++] = '\n';
	buf[len] = '\0';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, buf, len) == (ssize_t) len &&
	    fsync(fd) == 0;
	if (fd >= 0 && close(fd) != 0) {
		ok = false;
	}
	if (!ok) {
		snprintf(why, whylen, "vault: cannot create %s: %s", path,
		    strerror(errno));
		unlink(path);
		return (CX_EIO);
	}
	cxi_warn("vault", "generated a new vault key in %s: back it up; "
	    "without it every stored provider credential is unreadable",
	    path);
	return (CX_OK);
}

static cx_err
read_file(const char *path, char *buf, size_t buflen, char *why,
    size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			return (create_file(path, buf, buflen, why, whylen));
		}
		snprintf(why, whylen, "vault: cannot read %s: %s", path,
		    strerror(errno));
		return (CX_EIO);
	}
	struct stat st;
	ssize_t n = fstat(fd, &st) == 0 ? read(fd, buf, buflen - 1) : -1;
	close(fd);
	if (n < 0) {
		snprintf(why, whylen, "vault: cannot read %s", path);
		return (CX_EIO);
	}
	buf[n] = '\0';
	if ((st.st_mode & 077) != 0) {
		snprintf(why, whylen, "vault: %s is readable by others (mode "
		    "%03o); chmod 600 it", path, st.st_mode & 0777);
		return (CX_EDENIED);
	}
	return (CX_OK);
}

/* ---- the API ---- */

/* Never secret_enc (Z-2). */
static json_t *
cred_view(const json_t *row)
{
	static const char *const shown[] = {"id", "provider", "name", "last4",
	    "created_at", "updated_at", NULL};
	return (cxi_api_pick(row, shown));
}

static bool
listed(const char *const *list, const char *s)
{
	for (size_t i = 0; list[i] != NULL; i++) {
		if (strcmp(list[i], s) == 0) {
			return (true);
		}
	}
	return (false);
}

/* The provider's fields, all present, printable ASCII (provider secrets
 * are; it also keeps last4 valid UTF-8), the main one long enough that
 * its last four characters do not give it away. False with 400 set. */
static bool
secret_fields_ok(cxi_actx *c, const provider *pv)
{
	const char *key;
	json_t *v;
	json_object_foreach (c->body, key, v) {
		if (strcmp(key, "name") != 0 && !listed(pv->fields, key)) {
			cxi_api_error(c, 400, "unknown_field", "field '%s' is "
			    "not used by %s", key, pv->name);
			return (false);
		}
	}
	for (size_t i = 0; pv->fields[i] != NULL; i++) {
		const char *f = pv->fields[i];
		const char *s = cxi_api_str(c, f);
		if (s == NULL) {
			cxi_api_error(c, 400, "missing_field", "missing field "
			    "'%s'", f);
			return (false);
		}
		size_t n = strlen(s);
		bool ok = n >= (strcmp(f, pv->main) == 0 ? SECRET_MIN : 1);
		for (size_t j = 0; ok && j < n; j++) {
			ok = s[j] > 0x20 && s[j] < 0x7f;
		}
		if (!ok) {
			cxi_api_error(c, 400, "invalid_field", "field '%s' must "
			    "be printable ASCII without spaces%s", f,
			    strcmp(f, pv->main) == 0 ? ", at least 8 "
			    "characters" : "");
			return (false);
		}
	}
	return (true);
}

/* The Fernet token of the secret fields as compact, sorted JSON. */
static char *
seal(cxi_actx *c, const provider *pv)
{
	json_t *o = json_object();
	char *plain = NULL, *tok = NULL;
	for (size_t i = 0; o != NULL && pv->fields[i] != NULL; i++) {
		if (json_object_set(o, pv->fields[i],
		        json_object_get(c->body, pv->fields[i])) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	if (o != NULL) {
		plain = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(o);
	}
	if (plain != NULL) {
		if (cxi_multifernet_encrypt(c->api->vault, c->api->n_vault,
		        (const uint8_t *) plain, strlen(plain),
		        (int64_t) time(NULL), NULL, &tok) != CX_OK) {
			tok = NULL;
		}
		sodium_memzero(plain, strlen(plain));
		free(plain);
	}
	return (tok);
}

/* The id of the account's credential of this provider and name (the
 * table's unique key): CX_OK with *id malloc'd, or CX_ENOENT. */
static cx_err
find_cred(const cxi_db *db, const char *account, const char *prov,
    const char *name, char **id)
{
	cxi_dbc c;
	cx_db_rows *rows = NULL;
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv != CX_OK) {
		return (rv);
	}
	cx_db_value p[] = {CX_DB_V_TEXT(account), CX_DB_V_TEXT(prov),
	    CX_DB_V_TEXT(name)};
	rv = cxi_db_exec(&c, "SELECT id FROM credentials WHERE account_id = $1 "
	                     "AND provider = $2 AND name = $3",
	    p, 3, &rows, NULL);
	if (rv != CX_OK) {
		rv = cxi_repo_dberr(&c, &cxi_ent_credential, rv, NULL, 0);
	} else if (cxi_db_rows_count(&c, rows) == 0 ||
	    cxi_db_text(&c, rows, 0, 0) == NULL) {
		rv = CX_ENOENT;
	} else if ((*id = strdup(cxi_db_text(&c, rows, 0, 0))) == NULL) {
		rv = CX_ENOMEM;
	}
	cxi_db_rows_free(&c, rows);
	cxi_db_release(&c);
	return (rv);
}

/* ---- PUT /v1/credentials/{provider} ---- */

static void
cred_put(cxi_actx *c)
{
	static const cxi_afield f[] = {
	    {"name", CXI_AF_STR, false, CXI_API_NAME_MAX},
	    {"account_sid", CXI_AF_STR, false, SECRET_MAX},
	    {"auth_token", CXI_AF_STR, false, SECRET_MAX},
	    {"api_key", CXI_AF_STR, false, SECRET_MAX},
	    CXI_AF_END};
	char why[256] = "";
	if (!cxi_api_auth(c)) {
		return;
	}
	const char *pname = cxi_api_path_id(c, CRED_PATH);
	const provider *pv = providers;
	while (pname != NULL && pv->name != NULL &&
	    strcmp(pv->name, pname) != 0) {
		pv++;
	}
	if (pname == NULL || pv->name == NULL) {
		cxi_api_error(c, 404, "unknown_provider", "the provider must "
		    "be twilio, retell or deepgram");
		return;
	}
	if (!cxi_api_body(c, f) || !secret_fields_ok(c, pv)) {
		return;
	}
	const char *name = cxi_api_str(c, "name");
	if (name == NULL) {
		name = "default";
	}
	if (name[strspn(name, " \t")] == '\0') {
		cxi_api_error(c, 400, "invalid_field", "name must not be "
		    "empty");
		return;
	}
	/* secret_fields_ok made it at least SECRET_MIN ASCII bytes. */
	const char *sec = cxi_api_str(c, pv->main);
	const char *last4 = sec + strlen(sec) - 4;
	char *tok = seal(c, pv);
	json_t *fields = NULL, *row = NULL;
	char *old = NULL;
	if (tok == NULL) {
		cxi_api_error(c, 500, "internal", "the secret could not be "
		    "encrypted");
		return;
	}
	cxi_db db;
	if (!cxi_api_db(c, &db)) {
		free(tok);
		return;
	}
	/* PUT replaces: the same provider and name keep their row. */
	cx_err rv = find_cred(&db, c->sess.account, pv->name, name, &old);
	if (rv == CX_OK) {
		fields = json_pack("{s:s, s:s}", "secret_enc", tok, "last4",
		    last4);
		rv = fields == NULL ? CX_ENOMEM :
		    cxi_repo_update(&db, &cxi_ent_credential, c->sess.account,
		        old, fields, &row, why, sizeof(why));
	} else if (rv == CX_ENOENT) {
		fields = json_pack("{s:s, s:s, s:s, s:s}", "provider", pv->name,
		    "name", name, "secret_enc", tok, "last4", last4);
		rv = fields == NULL ? CX_ENOMEM :
		    cxi_repo_create(&db, &cxi_ent_credential, c->sess.account,
		        fields, &row, why, sizeof(why));
	}
	cxi_manager_unhold(c->api->mgr);
	free(tok);
	if (rv == CX_EEXIST || (old != NULL && rv == CX_ENOENT)) {
		cxi_api_error(c, 409, "conflict", "the credential was changed "
		    "at the same time; try again");
	} else if (rv == CX_EINVAL) {
		cxi_api_error(c, 400, "invalid_field", "%s", why);
	} else if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "the credential could not "
		    "be stored");
	} else {
		cxi_info("vault", "credential %s (%s) %s for account %s",
		    json_string_value(json_object_get(row, "id")), pv->name,
		    old != NULL ? "replaced" : "stored", c->sess.account);
		cxi_api_reply(c, old != NULL ? 200 : 201, cred_view(row));
	}
	json_decref(fields);
	free(old);
	json_decref(row);
}

/* ---- GET /v1/credentials ---- */

static void
cred_list(cxi_actx *c)
{
	/* cxi_repo_list never returns secret_enc (a hidden column), and
	 * cred_view would drop it anyway. */
	cxi_api_list_reply(c, &cxi_ent_credential, cred_view);
}

/* ---- DELETE /v1/credentials/{id} ---- */

static void
cred_delete(cxi_actx *c)
{
	if (!cxi_api_auth(c) || !cxi_api_no_body(c)) {
		return;
	}
	const char *id = cxi_api_path_id(c, CRED_PATH);
	cxi_db db;
	if (id == NULL) {
		cxi_api_error(c, 404, "not_found", "no such credential");
		return;
	}
	if (!cxi_api_db(c, &db)) {
		return;
	}
	cx_err rv = cxi_repo_delete(&db, &cxi_ent_credential, c->sess.account,
	    id);
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_ENOENT) {
		/* Another account's credential is "not found" as well. */
		cxi_api_error(c, 404, "not_found", "no such credential");
	} else if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "the credential could not "
		    "be deleted");
	} else {
		cxi_info("vault", "credential %s deleted by account %s", id,
		    c->sess.account);
		cxi_api_reply(c, 200, json_pack("{s:s, s:s}", "id", id,
		    "status", "deleted"));
	}
}

CXI_API_HANDLER(h_cred_put, cred_put)
CXI_API_HANDLER(h_cred_list, cred_list)
CXI_API_HANDLER(h_cred_delete, cred_delete)

cx_err
cxi_api_vault_start(cxi_api *a, const cxi_config *cfg, char *why,
    size_t whylen)
{
	char buf[VAULT_FILE_MAX], path[4096];
	const char *env = getenv("CALLIXO_VAULT_KEYS");
	const char *src = "CALLIXO_VAULT_KEYS";
	cx_err rv;
	if (env != NULL && env[0] != '\0') {
		rv = parse_keys(a, env, src, why, whylen);
	} else {
		snprintf(path, sizeof(path), "%s/vault.keys", cfg->data_dir);
		src = path;
		rv = read_file(path, buf, sizeof(buf), why, whylen);
		if (rv == CX_OK) {
			rv = parse_keys(a, buf, src, why, whylen);
		}
		sodium_memzero(buf, sizeof(buf));
	}
	if (rv != CX_OK) {
		return (rv);
	}
	cxi_info("vault", "%zu vault key%s from %s", a->n_vault,
	    a->n_vault == 1 ? "" : "s", src);
	if ((rv = cxi_http_api_route_add(a->http, "PUT", "/credentials/",
	         h_cred_put, a)) != CX_OK ||
	    (rv = cxi_http_api_route_add(a->http, "GET", "/credentials",
	         h_cred_list, a)) != CX_OK ||
	    (rv = cxi_http_api_route_add(a->http, "DELETE", "/credentials/",
	         h_cred_delete, a)) != CX_OK) {
		snprintf(why, whylen, "vault: cannot register the routes: %s",
		    cx_strerror(rv));
	}
	return (rv);
}

void
cxi_api_vault_stop(cxi_api *a)
{
	for (size_t i = 0; i < a->n_vault; i++) {
		cxi_fernet_key_wipe(&a->vault[i]);
	}
	free(a->vault);
	a->vault = NULL;
	a->n_vault = 0;
}

/* ---- for the rest of the core ---- */

cx_err
cxi_api_vault_seal(cxi_api *a, const char *plain, char **token)
{
	return (cxi_multifernet_encrypt(a->vault, a->n_vault,
	    (const uint8_t *) plain, strlen(plain), (int64_t) time(NULL), NULL,
	    token));
}

cx_err
cxi_api_vault_unseal(cxi_api *a, const char *token, char **plain)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	char fwhy[128];
	/* Stored credentials do not expire: ttl -1 skips the time check
	 * (a ttl of 0 would refuse every token sealed before this second). */
	cx_err rv = cxi_multifernet_decrypt(a->vault, a->n_vault, token, -1,
	    (int64_t) time(NULL), &msg, &len, NULL, fwhy, sizeof(fwhy));
	if (rv != CX_OK) {
		return (rv);
	}
	char *s = malloc(len + 1);
	if (s != NULL) {
		memcpy(s, msg, len);
		s[len] = '\0';
	}
	sodium_memzero(msg, len);
	free(msg);
	*plain = s;
	return (s != NULL ? CX_OK : CX_ENOMEM);
}

cx_err
cxi_api_vault_credentials(cxi_api *a, const cxi_db *db, const char *account,
    const char *provider, const char *name, json_t **fields)
{
	char *id = NULL, *tok = NULL, *plain = NULL;
	*fields = NULL;
	cx_err rv = find_cred(db, account, provider,
	    name != NULL ? name : "default", &id);
	if (rv == CX_OK) {
		rv = cxi_credential_secret(db, account, id, &tok);
	}
	if (rv == CX_OK && (rv = cxi_api_vault_unseal(a, tok, &plain)) !=
	    CX_OK) {
		cxi_warn("vault", "credential %s: no vault key opens it", id);
	}
	if (rv == CX_OK) {
		*fields = json_loads(plain, 0, NULL);
		rv = json_is_object(*fields) ? CX_OK : CX_EPROTO;
		if (rv != CX_OK) {
			json_decref(*fields);
			*fields = NULL;
		}
		sodium_memzero(plain, strlen(plain));
	}
	free(plain);
	free(tok);
	free(id);
	return (rv);
}
