/*
 * api.c - the /v1 API's lifecycle and the services its handlers share:
 * password hashing on the pool (H-4), policy surveys (R-1) and the
 * account view.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_int.h"
#include "leads.h"
#include "log.h"
#include "repo.h"

/* Jobs that may wait for a hashing thread; past this, 503 at once
 * rather than a queue that grows without bound under a login flood. */
#define HASH_QUEUE_MAX 64
/* How long a policy module may think about a login. */
#define POLICY_DEADLINE_MS 500

typedef struct hash_job {
	const cxi_pwparams *p;
	const char *hash; /* verify: the stored hash; NULL: make one */
	const char *pw;
	size_t len;
	char *out;
	bool upgrade;
	cx_err rv;
} hash_job;

static void
hash_run(void *arg)
{
	hash_job *j = arg;
	if (j->hash == NULL) {
		j->rv = cxi_password_hash(j->p, j->pw, j->len, j->out, NULL, 0);
	} else {
		j->rv = cxi_password_verify(j->p, j->hash, j->pw, j->len,
		    &j->upgrade);
	}
}

cx_err
cxi_api_hash(cxi_api *a, const char *pw, size_t len,
    char out[CXI_PASSWORD_HASH_MAX])
{
	hash_job j = {.p = &a->pw, .pw = pw, .len = len, .out = out};
	cx_err rv = cxi_hashpool_run(a->pool, hash_run, &j);
	return (rv != CX_OK ? rv : j.rv);
}

cx_err
cxi_api_verify(cxi_api *a, const char *hash, const char *pw, size_t len,
    bool *needs_upgrade)
{
	hash_job j = {.p = &a->pw, .hash = hash, .pw = pw, .len = len};
	cx_err rv = cxi_hashpool_run(a->pool, hash_run, &j);
	*needs_upgrade = j.upgrade;
	return (rv != CX_OK ? rv : j.rv);
}

bool
cxi_api_policy(cxi_actx *c, const char *type, const char *account_id,
    const char *account)
{
	char reason[256] = "";
	json_t *q = json_pack("{s:s, s:s?}", "ip", c->ip, "account", account);
	if (q == NULL) {
		cxi_api_error(c, 500, "internal", "out of memory");
		return (false);
	}
	cx_verdict v = cxi_manager_survey(c->api->mgr, type, account_id, q,
	    POLICY_DEADLINE_MS, reason, sizeof(reason));
	if (v != CX_POLICY_DENY) {
		return (true);
	}
	/* "rate_limited retry_after=N" is the rate-limit plugin's contract;
	 * anything else waits the default minute. */
	long retry = 60;
	const char *ra = strstr(reason, "retry_after=");
	if (ra != NULL) {
		char *end;
		errno = 0;
		long n = strtol(ra + 12, &end, 10);
		if (errno == 0 && end != ra + 12 && n > 0 && n <= 86400) {
			retry = n;
		}
	}
	char hv[24];
	snprintf(hv, sizeof(hv), "%ld", retry);
	cxi_api_error(c, 429, "rate_limited", "too many attempts; try again "
	    "in %ld seconds", retry);
	cxi_api_header(c, "Retry-After", hv);
	return (false);
}

json_t *
cxi_api_account_view(const json_t *row)
{
	static const char *const shown[] = {"id", "name", "email", "company",
	    "role", "created_at", "updated_at", NULL};
	json_t *v = json_object();
	for (size_t i = 0; v != NULL && shown[i] != NULL; i++) {
		json_t *x = json_object_get(row, shown[i]);
		if (x != NULL && json_object_set(v, shown[i], x) != 0) {
			json_decref(v);
			return (NULL);
		}
	}
	return (v);
}

const char *
cxi_api_str(cxi_actx *c, const char *key)
{
	return (json_string_value(json_object_get(c->body, key)));
}

size_t
cxi_api_len(cxi_actx *c, const char *key)
{
	return (json_string_length(json_object_get(c->body, key)));
}

/* A plausible address: normalized, one '@' with text on both sides. */
bool
cxi_api_email_norm(const char *email, char *out, size_t len)
{
	if (email == NULL || cxi_email_normalize(email, out, len) != 0) {
		return (false);
	}
	const char *at = strchr(out, '@');
	return (at != NULL && at != out && at[1] != '\0' &&
	    strchr(at + 1, '@') == NULL);
}

/* A-3: the policy with the product, company and email local part as
 * context words. False with the response set. */
bool
cxi_api_password_ok(cxi_actx *c, const char *pw, size_t len,
    const char *company, const char *norm)
{
	char local[CXI_API_EMAIL_MAX + 1], why[256];
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

bool
cxi_api_hash_or_fail(cxi_actx *c, const char *pw, size_t len,
    char out[CXI_PASSWORD_HASH_MAX])
{
	cx_err rv = cxi_api_hash(c->api, pw, len, out);
	if (rv == CX_OK) {
		return (true);
	}
	cxi_api_error(c, 503, "busy", "the server is busy; try again");
	return (false);
}

/* Stores a new password hash (sys column: the caller whitelist does not
 * apply). */
cx_err
cxi_api_store_hash(cxi_actx *c, const char *id, const char *hash)
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
bool
cxi_api_new_session(cxi_actx *c, const char *account_id)
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

static cx_err
load_common(cxi_api *a, const cxi_config *cfg, char *why, size_t whylen)
{
	const char *path = cfg->auth_common_passwords;
	if (cfg->auth_common_default && access(path, R_OK) != 0) {
		/* The default file ships next to conf/callixo.yaml; configs
		 * elsewhere (tests, packaging) may not have one. Length and
		 * context rules still apply. */
		cxi_warn("api", "no common-password list at %s; set "
		    "auth.common_passwords to refuse common passwords", path);
		return (CX_OK);
	}
	cx_err rv = cxi_common_list_load(path, &a->common, why, whylen);
	if (rv == CX_OK) {
		cxi_info("api", "%zu common passwords loaded from %s",
		    cxi_common_list_count(a->common), path);
	}
	return (rv);
}

static cx_err
copy_origins(cxi_api *a, const cxi_config *cfg, cxi_http *http)
{
	size_t n = cfg->n_auth_origins > 0 ? cfg->n_auth_origins : 1;
	a->origins = calloc(n, sizeof(char *));
	if (a->origins == NULL) {
		return (CX_ENOMEM);
	}
	for (size_t i = 0; i < cfg->n_auth_origins; i++) {
		if ((a->origins[i] = strdup(cfg->auth_origins[i])) == NULL) {
			return (CX_ENOMEM);
		}
		a->n_origins++;
	}
	if (cfg->n_auth_origins == 0) {
		/* The URL actually bound (port 0 resolved), cut to
		 * scheme://host:port. */
		const char *u = cxi_http_url(http);
		const char *s = strstr(u, "://");
		size_t len = s != NULL ? (size_t) (s + 3 - u) +
		    strcspn(s + 3, "/") : strlen(u);
		if ((a->origins[0] = strndup(u, len)) == NULL) {
			return (CX_ENOMEM);
		}
		a->n_origins = 1;
	}
	return (CX_OK);
}

/* The dummy hash: of random bytes nobody knows, with the configured
 * parameters, so a miss costs the same as a wrong password (A-5). */
static cx_err
make_dummy(cxi_api *a)
{
	unsigned char rnd[24];
	char pw[sizeof(rnd) * 2 + 1];
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(pw, sizeof(pw), rnd, sizeof(rnd));
	cx_err rv = cxi_api_hash(a, pw, strlen(pw), a->dummy_hash);
	sodium_memzero(pw, sizeof(pw));
	return (rv);
}

cx_err
cxi_api_start(cxi_api **out, cxi_http *http, cxi_manager *mgr,
    const cxi_config *cfg, char *why, size_t whylen)
{
	cx_err rv;
	cxi_api *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(why, whylen, "api: out of memory");
		return (CX_ENOMEM);
	}
	a->http = http;
	a->mgr = mgr;
	cxi_pwparams_default(&a->pw);
	a->pw.opslimit = cfg->auth_opslimit;
	a->pw.memlimit = cfg->auth_memlimit;
	a->secure = cfg->auth_cookie_secure;
	a->cookie_name = a->secure ? "__Host-cx_session" : "cx_session";
	if ((rv = load_common(a, cfg, why, whylen)) != CX_OK) {
		goto fail;
	}
	if ((rv = copy_origins(a, cfg, http)) != CX_OK) {
		snprintf(why, whylen, "api: out of memory");
		goto fail;
	}
	if ((rv = cxi_sessions_new(&a->sessions, mgr, cfg->auth_idle_ms,
	         cfg->auth_absolute_ms)) != CX_OK) {
		snprintf(why, whylen, "api: cannot set up sessions: %s",
		    cx_strerror(rv));
		goto fail;
	}
	if ((rv = cxi_hashpool_new((size_t) cfg->auth_hash_workers,
	         HASH_QUEUE_MAX, &a->pool)) != CX_OK) {
		snprintf(why, whylen, "api: cannot start %d hashing threads: "
		    "%s", cfg->auth_hash_workers, cx_strerror(rv));
		goto fail;
	}
	if ((rv = make_dummy(a)) != CX_OK) {
		snprintf(why, whylen, "api: cannot hash with auth.argon2 "
		    "(opslimit %llu, %zu MiB): %s", a->pw.opslimit,
		    a->pw.memlimit >> 20, cx_strerror(rv));
		goto fail;
	}
	if ((rv = cxi_api_accounts_routes(a)) != CX_OK ||
	    (rv = cxi_api_me_routes(a)) != CX_OK ||
	    (rv = cxi_api_totp_routes(a)) != CX_OK ||
	    (rv = cxi_api_staff_routes(a)) != CX_OK ||
	    (rv = cxi_api_keys_routes(a)) != CX_OK ||
	    (rv = cxi_api_calls_routes(a)) != CX_OK ||
	    (rv = cxi_api_webhooks_routes(a)) != CX_OK ||
	    (rv = cxi_api_webhook_deliveries_routes(a)) != CX_OK ||
	    (rv = cxi_api_campaigns_routes(a)) != CX_OK) {
		snprintf(why, whylen, "api: cannot register the /v1 routes: "
		    "%s", cx_strerror(rv));
		goto fail;
	}
	if ((rv = cxi_api_vault_start(a, cfg, why, whylen)) != CX_OK) {
		goto fail;
	}
	if ((rv = cxi_leads_start(&a->leads, mgr, cfg, why, whylen)) != CX_OK) {
		goto fail;
	}
	if ((rv = cxi_api_leads_routes(a)) != CX_OK ||
	    (rv = cxi_api_leads_import_routes(a)) != CX_OK) {
		snprintf(why, whylen, "api: cannot register the leads routes: "
		    "%s", cx_strerror(rv));
		goto fail;
	}
	cxi_info("api", "/v1 accounts API up (cookie %s, origins: %s%s)",
	    a->cookie_name, a->origins[0], a->n_origins > 1 ? ", ..." : "");
	*out = a;
	return (CX_OK);
fail:
	cxi_api_stop(a);
	return (rv);
}

void
cxi_api_stop(cxi_api *a)
{
	if (a == NULL) {
		return;
	}
	/* Routes first: it waits for running handlers, which use the rest. */
	cxi_http_api_routes_drop(a->http);
	cxi_leads_stop(a->leads);
	cxi_hashpool_free(a->pool);
	cxi_sessions_free(a->sessions);
	cxi_common_list_free(a->common);
	cxi_api_vault_stop(a);
	for (size_t i = 0; i < a->n_origins; i++) {
		free(a->origins[i]);
	}
	free(a->origins);
	free(a);
}

void
cxi_api_set_calling(cxi_api *a, struct cxi_calling *c)
{
	atomic_store(&a->calling, c);
}
