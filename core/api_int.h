/*
 * api_int.h - what the /v1 files share: the API's state, the per-request
 * context and the framework helpers of api.c (body parsing, errors,
 * cookies, the auth middleware with its CSRF check, auth log lines).
 */
#ifndef CXI_API_INT_H
#define CXI_API_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <jansson.h>

#include "api.h"
#include "fernet.h"
#include "hashpool.h"
#include "password.h"
#include "repo.h"
#include "sessions.h"

/* Bodies of these endpoints are small; anything larger is refused before
 * parsing, whatever server.max_body_bytes allows. */
#define CXI_API_MAX_BODY (16 * 1024)

struct cxi_api {
	cxi_http *http;
	cxi_manager *mgr;
	cxi_sessions *sessions;
	cxi_hashpool *pool;
	cxi_common_list *common; /* NULL: no list file */
	cxi_pwparams pw;
	bool secure;             /* Secure cookie, __Host- name */
	const char *cookie_name;
	char **origins;
	size_t n_origins;
	/* A real argon2id hash of a random password: unknown emails are
	 * verified against it, so they cost what a wrong password costs. */
	char dummy_hash[CXI_PASSWORD_HASH_MAX];
	/* The credential vault's Fernet keys, newest first (api_vault.c). */
	cxi_fernet_key *vault;
	size_t n_vault;
	/* The calling runtime (calling.h), set once it has started; NULL
	 * before, and the calling endpoints answer 503 then. */
	struct cxi_calling *_Atomic calling;
	/* Leads: zone table, import settings and worker (leads.h). */
	struct cxi_leads *leads;
};

#define CXI_AF_END {NULL, CXI_AF_STR, false, 0}
#define CXI_API_NAME_MAX 200
#define CXI_API_EMAIL_MAX 320

/* Runs `body` with a request context; every handler answers itself, so
 * the dispatcher always gets CX_OK. */
#define CXI_API_HANDLER(fn, body)                                               \
	static cx_err fn(void *arg, const cx_http_req *req,             \
	    cx_http_resp *resp)                                         \
	{                                                               \
		cxi_actx c;                                             \
		cxi_api_ctx_init(&c, arg, req, resp);                   \
		body(&c);                                               \
		cxi_api_ctx_done(&c);                                   \
		return (CX_OK);                                         \
	}

/* Field types of a request body. */
typedef enum cxi_aftype {
	CXI_AF_STR,      /* a string */
	CXI_AF_STR_NULL, /* a string or null */
	CXI_AF_BOOL,
	CXI_AF_OBJECT,   /* a JSON object (the handler checks inside) */
	CXI_AF_ARRAY,    /* a JSON array of at most `max` items (0: any) */
} cxi_aftype;

typedef struct cxi_afield {
	const char *name;
	cxi_aftype type;
	bool required;
	size_t max;      /* strings: most bytes; arrays: most items */
} cxi_afield;

typedef struct cxi_actx {
	cxi_api *api;
	const cx_http_req *req;
	cx_http_resp *resp;
	char ip[64];
	json_t *body;       /* parsed by cxi_api_body */
	bool authed;        /* cxi_api_auth succeeded */
	cx_session sess;    /* its session (sess.account: the account id) */
	char token[CXI_SESSION_TOKEN_LEN + 1]; /* from the cookie, or "" */
	bool via_key;       /* authenticated by an API key, not a cookie */
} cxi_actx;

void cxi_api_ctx_init(cxi_actx *c, cxi_api *api, const cx_http_req *req,
    cx_http_resp *resp);
void cxi_api_ctx_done(cxi_actx *c);

/* {"error":{"code","message"}} with `status`. */
void cxi_api_error(cxi_actx *c, uint16_t status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* `body` (stolen) as the response. */
void cxi_api_reply(cxi_actx *c, uint16_t status, json_t *body);
void cxi_api_header(cxi_actx *c, const char *name, const char *value);

/* Parses the JSON body against `fields` (NULL-name ended): JSON content
 * type, size, valid UTF-8 JSON, a top-level object, no unknown or
 * duplicate field, types and lengths. False with the error response
 * already set. */
bool cxi_api_body(cxi_actx *c, const cxi_afield *fields);
/* The request must have no body, or an empty JSON object. */
bool cxi_api_no_body(cxi_actx *c);
/* Session cookie -> session (401 otherwise); for state-changing methods
 * also the Origin/Referer check (403). */
bool cxi_api_auth(cxi_actx *c);
/* A cross-site request is refused even without a cookie when it names
 * a foreign Origin (login CSRF). */
bool cxi_api_origin_guard(cxi_actx *c);
/* Storage; false (503 set) when none runs. Release with
 * cxi_manager_unhold. */
bool cxi_api_db(cxi_actx *c, cxi_db *db);

void cxi_api_set_cookie(cxi_actx *c, const char *token);
void cxi_api_clear_cookie(cxi_actx *c);

/* One logfmt line per authentication event: event, outcome, ip and,
 * when given, the account (never a password or token). */
void cxi_api_log(cxi_actx *c, const char *event, const char *outcome,
    const char *account, const char *detail);

/* Hashing on the pool: CX_EBUSY when it is saturated (503). */
cx_err cxi_api_hash(cxi_api *a, const char *pw, size_t len,
    char out[CXI_PASSWORD_HASH_MAX]);
cx_err cxi_api_verify(cxi_api *a, const char *hash, const char *pw,
    size_t len, bool *needs_upgrade);

/* Policy survey `type` with {ip, account}; on deny sets 429 with
 * Retry-After and returns false. */
bool cxi_api_policy(cxi_actx *c, const char *type, const char *account_id,
    const char *account);

/* The account as the API shows it (never the password hash). */
json_t *cxi_api_account_view(const json_t *row);

/* Routes of api_webhooks.c and api_webhook_deliveries.c; the calling
 * runtime, or NULL with 503 set (webhooks need its sender). */
cx_err cxi_api_webhooks_routes(cxi_api *a);
cx_err cxi_api_webhook_deliveries_routes(cxi_api *a);
struct cxi_calling *cxi_api_hooks_runtime(cxi_actx *c);
/* A delivery as the API shows it; with_payload adds the stored payload
 * (parsed) for the single-delivery view. */
json_t *cxi_api_delivery_view(const json_t *row, bool with_payload);
/* GET /v1/webhooks/{id}/deliveries, after auth. */
void cxi_api_endpoint_deliveries(cxi_actx *c, const char *endpoint_id);

/* Body field `key` (NULL when absent or not a string) and its length. */
const char *cxi_api_str(cxi_actx *c, const char *key);
size_t cxi_api_len(cxi_actx *c, const char *key);
/* Normalized email with one '@' and text on both sides. */
bool cxi_api_email_norm(const char *email, char *out, size_t len);
/* A-1..A-3 for a new password, with "callixo", the company and the
 * email local part as context words; false with 400 set. */
bool cxi_api_password_ok(cxi_actx *c, const char *pw, size_t len,
    const char *company, const char *norm);
/* cxi_api_hash; false with 503 set. */
bool cxi_api_hash_or_fail(cxi_actx *c, const char *pw, size_t len,
    char out[CXI_PASSWORD_HASH_MAX]);
/* Replaces an account's password hash. */
cx_err cxi_api_store_hash(cxi_actx *c, const char *id, const char *hash);
/* A new session and its Set-Cookie; false with 503 set. */
bool cxi_api_new_session(cxi_actx *c, const char *account_id);

/* The session's account row (NULL with 401/503 set when it is gone). */
json_t *cxi_api_session_account(cxi_actx *c);
/* Login's second factor, once the password matched `row`: true to go
 * on (with *extra, may be NULL, merged into the answer), false with the
 * error set (api_totp.c). */
bool cxi_api_mfa_login(cxi_actx *c, const json_t *row, json_t **extra);

/* The first value of `key` in a query string, percent- and '+'-decoded
 * into out (valid UTF-8, no NUL). 1 found, 0 absent, -1 malformed or
 * too long. */
int cxi_api_qparam(const char *q, const char *key, char *out, size_t outsz);

/* api_calls.c: its routes, and the answers staff access reuses once it
 * has written its audit row (account: the call's owner). */
cx_err cxi_api_calls_routes(cxi_api *a);
void cxi_api_call_show(cxi_actx *c, const char *account, const char *id);
void cxi_api_call_recording(cxi_actx *c, const char *account,
    const char *id);

/* Routes of api_accounts.c, api_me.c, api_totp.c and api_staff.c. */
cx_err cxi_api_accounts_routes(cxi_api *a);
cx_err cxi_api_me_routes(cxi_api *a);
cx_err cxi_api_totp_routes(cxi_api *a);
cx_err cxi_api_staff_routes(cxi_api *a);

/* api_keys.c: its routes; whether the request carries a Bearer token;
 * Bearer auth (sess.account set, sess.data NULL, via_key true; a "read"
 * key only for GET/HEAD); the id below `base` in the path, or NULL. */
cx_err cxi_api_keys_routes(cxi_api *a);
/* api_campaigns.c: /v1/campaigns and its actions. */
cx_err cxi_api_campaigns_routes(cxi_api *a);
bool cxi_api_has_bearer(cxi_actx *c);
/* false with 403 session_required when the caller used an API key. */
bool cxi_api_session_only(cxi_actx *c);
bool cxi_api_key_auth(cxi_actx *c);
const char *cxi_api_path_id(cxi_actx *c, const char *base);
/* Every row of `ent` of the account, revoked ones left out, as view(row)
 * appended to items; and the whole GET answer built on it. */
cx_err cxi_api_list_all(const cxi_db *db, const cxi_entity *ent,
    const char *account, json_t *(*view)(const json_t *), json_t *items);
void cxi_api_list_reply(cxi_actx *c, const cxi_entity *ent,
    json_t *(*view)(const json_t *));
/* A new object with row's `shown` (NULL-ended) members, null if absent. */
json_t *cxi_api_pick(const json_t *row, const char *const *shown);
/* api_leads.c, api_leads_import.c: the /v1/leads routes. */
cx_err cxi_api_leads_routes(cxi_api *a);
cx_err cxi_api_leads_import_routes(cxi_api *a);
/* The lead as the API shows it (everything but account_id). */
json_t *cxi_api_lead_view(const json_t *row);
/* The first value of `key` in the query string, decoded into out: 1
 * found, 0 absent, -1 (400 set) malformed or too long. */
int cxi_api_leads_qparam(cxi_actx *c, const char *key, char *out,
    size_t outsz);
/* api_vault.c: loads the vault keys and registers its routes; frees. */
cx_err cxi_api_vault_start(cxi_api *a, const cxi_config *cfg, char *why,
    size_t whylen);
void cxi_api_vault_stop(cxi_api *a);

#endif
