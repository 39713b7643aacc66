/*
 * repo.h - the data-model repository: typed access to every table of
 * migration 0001 through the active storage driver (store.h).
 *
 * A table-driven generic layer (cxi_repo_*) does create / get / list /
 * update / delete on jansson objects for any entity described by a
 * cxi_entity: which columns exist, their types, which ones a caller may
 * set on create or on update, and how rows are scoped to an account.
 * Entity-specific functions (accounts, sessions, ... privacy requests)
 * sit on top for what is more than plain CRUD.
 *
 * Rules every function keeps:
 *  - all SQL is parameterized; only identifiers from the entity tables
 *    are ever spliced into statements;
 *  - input is checked completely before anything is written: an unknown
 *    field, a wrong JSON type, an over-long or invalid UTF-8 string is
 *    CX_EINVAL with `why` naming the field;
 *  - `account` scopes a call: a row of another account is CX_ENOENT
 *    (never "forbidden", so ids cannot be probed). NULL means unscoped,
 *    for staff and internal callers only;
 *  - unique violations are CX_EEXIST with `why` naming the constraint;
 *  - times are Unix milliseconds set by the core.
 * `why` may be NULL wherever it appears.
 */
#ifndef CXI_REPO_H
#define CXI_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "store.h"

/* ---- entity description ---- */

typedef enum cxi_coltype {
	CXI_COL_TEXT, /* JSON string */
	CXI_COL_INT,  /* JSON integer */
	CXI_COL_JSON, /* JSON object or array, stored as compact text */
	CXI_COL_BOOL, /* JSON true/false, stored as 0/1 */
} cxi_coltype;

/* Column flags. */
#define CXI_C_CREATE 0x01u   /* a caller may set it on create */
#define CXI_C_UPDATE 0x02u   /* a caller may change it on update */
#define CXI_C_REQUIRED 0x04u /* must be given on create */
#define CXI_C_FILTER 0x08u   /* list may filter on it (equality) */
#define CXI_C_HIDDEN 0x10u   /* never returned by get/list (secrets) */
#define CXI_C_NULLABLE 0x20u /* JSON null is accepted (stored as NULL) */

typedef struct cxi_column {
	const char *name;
	cxi_coltype type;
	unsigned flags;
	size_t max;                  /* TEXT/JSON bytes; 0 = the default */
	const char *const *choices;  /* TEXT: allowed values, NULL-ended */
	const char *ref;             /* TEXT: id of a row of this table that
	                              * must belong to the same account */
} cxi_column;

typedef struct cxi_unique {
	const char *cols; /* "chain,tx_hash": the constraint's columns */
	const char *why;  /* what to tell the caller */
} cxi_unique;

/* Computes derived columns (email_norm, due_at, ...) into `sys` before
 * a create (create = true) or an update. Returns CX_OK or CX_EINVAL. */
typedef cx_err (*cxi_prepare_fn)(bool create, int64_t now,
    const json_t *fields, json_t *sys, char *why, size_t whylen);

typedef struct cxi_entity {
	const char *name;     /* "payment", for messages */
	const char *table;
	const char *prefix;   /* "pay_" */
	const cxi_column *cols; /* every column but id, NULL-name ended */
	const char *scope;    /* "account_id", "id" (accounts) or NULL */
	const char *time_col; /* creation time: "created_at" (or "at") */
	bool has_updated;     /* has updated_at */
	bool append_only;     /* no update, no delete (audit trail) */
	const cxi_unique *uniques; /* NULL-cols ended, may be NULL */
	cxi_prepare_fn prepare;
} cxi_entity;

extern const cxi_entity cxi_ent_account, cxi_ent_session, cxi_ent_api_key,
    cxi_ent_credential, cxi_ent_campaign, cxi_ent_lead, cxi_ent_call,
    cxi_ent_usage, cxi_ent_payment, cxi_ent_ledger, cxi_ent_audit,
    cxi_ent_privacy;
/* Migration 0004 (repo_calling.c). */
extern const cxi_entity cxi_ent_import_job, cxi_ent_provider_event,
    cxi_ent_webhook_endpoint, cxi_ent_webhook_delivery,
    cxi_ent_webhook_attempt;

/* Default caps: names and other text, and JSON blobs. */
#define CXI_REPO_TEXT_MAX 1000
#define CXI_REPO_JSON_MAX (64 * 1024)
#define CXI_REPO_LIST_MAX 1000

/* ---- generic layer ---- */

/* Inserts a row from `fields` (stolen: no; borrowed). *row_out (may be
 * NULL) gets the stored row. */
cx_err cxi_repo_create(const cxi_db *db, const cxi_entity *ent,
    const char *account, json_t *fields, json_t **row_out, char *why,
    size_t whylen);
cx_err cxi_repo_get(const cxi_db *db, const cxi_entity *ent,
    const char *account, const char *id, json_t **row);
/* {"items": [...], "next_cursor": "..." | null}, oldest first, keyset
 * on (time, id). `filters` (may be NULL) is equality on FILTER columns;
 * `cursor` NULL starts at the beginning; limit 0 means 50. */
cx_err cxi_repo_list(const cxi_db *db, const cxi_entity *ent,
    const char *account, json_t *filters, const char *cursor, int limit,
    json_t **page, char *why, size_t whylen);
cx_err cxi_repo_update(const cxi_db *db, const cxi_entity *ent,
    const char *account, const char *id, json_t *fields, json_t **row,
    char *why, size_t whylen);
cx_err cxi_repo_delete(const cxi_db *db, const cxi_entity *ent,
    const char *account, const char *id);

/* The same on a connection the caller holds (inside cxi_db_tx). `sys`
 * (may be NULL) holds columns the core sets itself: they skip the
 * caller whitelist but not the type checks. */
cx_err cxi_repo_insert_c(cxi_dbc *c, const cxi_entity *ent,
    const char *account, const json_t *fields, const json_t *sys,
    json_t **row_out, char *why, size_t whylen);
/* With `conflict` ("a, b": a unique constraint's columns), a row that
 * would violate it is skipped instead: CX_OK, *inserted false. */
cx_err cxi_repo_insert_skip_c(cxi_dbc *c, const cxi_entity *ent,
    const char *account, const json_t *fields, const json_t *sys,
    const char *conflict, bool *inserted, json_t **row_out, char *why,
    size_t whylen);
cx_err cxi_repo_get_c(cxi_dbc *c, const cxi_entity *ent,
    const char *account, const char *id, json_t **row);
cx_err cxi_repo_update_c(cxi_dbc *c, const cxi_entity *ent,
    const char *account, const char *id, const json_t *fields,
    const json_t *sys, json_t **row, char *why, size_t whylen);
/* One row where `col` = `value` (unscoped lookups by a unique column:
 * token hashes, provider ids). */
cx_err cxi_repo_find_c(cxi_dbc *c, const cxi_entity *ent, const char *col,
    const char *value, json_t **row);

/* Sets core-owned columns (`sys`, stolen) of one row: CX_ENOENT when
 * there is no such row in the account's scope. */
cx_err cxi_repo_set(const cxi_db *db, const cxi_entity *ent,
    const char *account, const char *id, json_t *sys);
/* Runs one statement on a fresh connection; *changes may be NULL. */
cx_err cxi_repo_exec(const cxi_db *db, const cxi_entity *ent,
    const char *sql, const cx_db_value *p, size_t n, int64_t *changes,
    char *why, size_t whylen);

/* Helpers shared by the entity files. */
int64_t cxi_repo_now_ms(void);
/* prefix + 24 random hex characters; out holds at least 40 bytes. */
void cxi_repo_new_id(const char *prefix, char *out, size_t outlen);
bool cxi_repo_utf8_ok(const char *s, size_t len);
/* The cx_err of a failed statement, with `why` explaining it (unique
 * constraints named from ent->uniques). */
cx_err cxi_repo_dberr(cxi_dbc *c, const cxi_entity *ent, cx_err rv,
    char *why, size_t whylen);
void cxi_repo_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- accounts ---- */

/* Trimmed and lower-cased (ASCII) into out; -1 if it does not fit. */
int cxi_email_normalize(const char *email, char *out, size_t outlen);
cx_err cxi_account_get_by_email(const cxi_db *db, const char *email,
    json_t **row);
/* Sets closed_at / restricted_at to now (restrict: on = false clears). */
cx_err cxi_account_close(const cxi_db *db, const char *id);
cx_err cxi_account_restrict(const cxi_db *db, const char *id, bool on);

/* ---- sessions: the token itself is never stored, only its hash ---- */

/* A session that is neither revoked nor expired; else CX_ENOENT. */
cx_err cxi_session_get_by_token_hash(const cxi_db *db,
    const char *token_hash, json_t **row);
cx_err cxi_session_revoke(const cxi_db *db, const char *account,
    const char *id);
cx_err cxi_session_revoke_all(const cxi_db *db, const char *account,
    int64_t *n_revoked);
cx_err cxi_session_touch(const cxi_db *db, const char *id);

/* ---- api keys ---- */

/* A key that is not revoked; else CX_ENOENT. */
cx_err cxi_api_key_get_by_hash(const cxi_db *db, const char *key_hash,
    json_t **row);
cx_err cxi_api_key_revoke(const cxi_db *db, const char *account,
    const char *id);

/* ---- credentials: get/list never show secret_enc ---- */

/* Internal only (the telephony layer decrypting it): the encrypted
 * secret, malloc'd. */
cx_err cxi_credential_secret(const cxi_db *db, const char *account,
    const char *id, char **secret_enc);

/* ---- account keys: the blob keystore (arg is a const cxi_db *) ---- */

cx_err cxi_account_key_get(void *arg, const char *account,
    uint8_t **wrapped, size_t *len, char *key_id, size_t kidlen);
/* CX_EEXIST when the account already has a key. */
cx_err cxi_account_key_put(void *arg, const char *account,
    const uint8_t *wrapped, size_t len, const char *key_id);
/* CX_OK also when there was none. */
cx_err cxi_account_key_del(void *arg, const char *account);

/* ---- campaigns, leads, calls ---- */

/* draft->running, running<->paused, running|paused->completed,
 * draft|running|paused->cancelled; anything else is CX_EINVAL. */
cx_err cxi_campaign_set_status(const cxi_db *db, const char *account,
    const char *id, const char *status, const char *reason, json_t **row,
    char *why, size_t whylen);
/* Inserts `leads` (an array of lead objects) in one transaction; a
 * phone already present for the account (or twice in the batch) is
 * skipped. Any invalid item refuses the whole batch. */
cx_err cxi_lead_bulk_insert(const cxi_db *db, const char *account,
    json_t *leads, size_t *inserted, size_t *skipped, char *why,
    size_t whylen);
/* repo_leads.c: the account's leads, oldest first, with optional
 * equality on campaign_id and status and `tag` an element of tags. */
cx_err cxi_lead_list(const cxi_db *db, const char *account,
    const char *campaign_id, const char *status, const char *tag,
    const char *cursor, int limit, json_t **page, char *why, size_t whylen);
/* Tags in their stored form: trimmed, ASCII lower-cased, no duplicates,
 * at most CXI_LEAD_TAGS_MAX of at most CXI_LEAD_TAG_LEN_MAX bytes; a new
 * array, or NULL with `why` set. */
#define CXI_LEAD_TAGS_MAX 50
#define CXI_LEAD_TAG_LEN_MAX 64
json_t *cxi_lead_tags_norm(const json_t *in, char *why, size_t whylen);
cx_err cxi_call_get_by_provider(const cxi_db *db, const char *provider,
    const char *provider_call_id, json_t **row);

/* ---- usage, payments, ledger ---- */

/* `account` may be NULL (anonymous use, e.g. a signup attempt). */
cx_err cxi_usage_record(const cxi_db *db, const char *account,
    const char *feature, const char *ip);
/* Events of `feature` for the account since `since_ms`. */
cx_err cxi_usage_count(const cxi_db *db, const char *account,
    const char *feature, int64_t since_ms, int64_t *n);

typedef struct cxi_ledger_entry {
	int64_t amount_micros;
	const char *currency;
	const char *kind;     /* "credit", "debit", ... */
	const char *ref_type; /* "payment", "call", ... */
	const char *ref_id;
} cxi_ledger_entry;

/* Idempotent by (ref_type, ref_id, kind): a second append of the same
 * entry writes nothing and sets *created (may be NULL) to false. */
cx_err cxi_ledger_append(const cxi_db *db, const char *account,
    const cxi_ledger_entry *e, bool *created, char *why, size_t whylen);
cx_err cxi_ledger_append_c(cxi_dbc *c, const char *account,
    const cxi_ledger_entry *e, bool *created, char *why, size_t whylen);
/* SUM(amount_micros) of the account (currency NULL: all). */
cx_err cxi_ledger_balance(const cxi_db *db, const char *account,
    const char *currency, int64_t *balance);
cx_err cxi_ledger_balance_c(cxi_dbc *c, const char *account,
    const char *currency, int64_t *balance);
/* In one transaction: a "credit" entry for a confirmed payment and the
 * payment marked "credited". CX_EEXIST when it already was. */
cx_err cxi_ledger_credit_payment(const cxi_db *db, const char *account,
    const char *payment_id, int64_t amount_micros, const char *currency,
    char *why, size_t whylen);

/* ---- audit, privacy requests ---- */

cx_err cxi_audit_append(const cxi_db *db, json_t *fields, char *why,
    size_t whylen);
cx_err cxi_audit_list_subject(const cxi_db *db, const char *subject_id,
    const char *cursor, int limit, json_t **page);
/* received->in_progress|rejected, in_progress->done|rejected. */
cx_err cxi_privacy_set_state(const cxi_db *db, const char *account,
    const char *id, const char *state, const char *detail, json_t **row,
    char *why, size_t whylen);

#endif
