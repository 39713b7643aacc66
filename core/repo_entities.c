/*
 * repo_entities.c - the tables of migration 0001 as cxi_entity values.
 *
 * Flags say who may write what: CREATE/UPDATE columns are the caller's;
 * columns without them (ids, owners, timestamps, states that move only
 * through a checked transition) are set by the core itself.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "repo.h"

#define C CXI_C_CREATE
#define U CXI_C_UPDATE
#define R CXI_C_REQUIRED
#define F CXI_C_FILTER
#define H CXI_C_HIDDEN
#define N CXI_C_NULLABLE
#define TXT CXI_COL_TEXT
#define INT CXI_COL_INT
#define JSN CXI_COL_JSON

#define END {NULL, 0, 0, 0, NULL, NULL}
/* Columns set only by the core. */
#define OWNER {"account_id", TXT, F, 0, NULL, NULL}
#define CREATED {"created_at", INT, 0, 0, NULL, NULL}
#define UPDATED {"updated_at", INT, 0, 0, NULL, NULL}

#define DAY_MS (24LL * 3600 * 1000)

int
cxi_email_normalize(const char *email, char *out, size_t outlen)
{
	while (*email != '\0' && isspace((unsigned char) *email)) {
		email++;
	}
	size_t n = strlen(email);
	while (n > 0 && isspace((unsigned char) email[n - 1])) {
		n--;
	}
	if (n == 0 || n >= outlen) {
		return (-1);
	}
	for (size_t i = 0; i < n; i++) {
		out[i] = (char) tolower((unsigned char) email[i]);
	}
	out[n] = '\0';
	return (0);
}

/* ---- accounts ---- */

static const char *const roles[] = {"customer", "staff", NULL};

static cx_err
account_prepare(bool create, int64_t now, const json_t *fields, json_t *sys,
    char *why, size_t whylen)
{
	(void) create;
	(void) now;
	const json_t *e = json_object_get(fields, "email");
	char norm[321];
	if (e == NULL) {
		return (CX_OK); /* a missing email is reported as such later */
	}
	if (!json_is_string(e) || cxi_email_normalize(json_string_value(e),
	                              norm, sizeof(norm)) != 0 ||
	    strchr(norm, '@') == NULL) {
		cxi_repo_why(why, whylen, "account.email is not an email "
		    "address");
		return (CX_EINVAL);
	}
	json_object_set_new(sys, "email_norm", json_string(norm));
	return (json_object_get(sys, "email_norm") ? CX_OK : CX_EINVAL);
}

static const cxi_column account_cols[] = {
    {"name", TXT, C | U | R, 0, NULL, NULL},
    {"email", TXT, C | U | R, 320, NULL, NULL},
    {"email_norm", TXT, 0, 320, NULL, NULL},
    {"company", TXT, C | U | N, 0, NULL, NULL},
    {"password_hash", TXT, C | U | R, 0, NULL, NULL},
    {"role", TXT, C | U | F, 0, roles, NULL},
    {"policy_version", TXT, C | U | N, 64, NULL, NULL},
    CREATED, UPDATED,
    {"closed_at", INT, N, 0, NULL, NULL},
    {"restricted_at", INT, N, 0, NULL, NULL},
    END};
static const cxi_unique account_uniq[] = {
    {"email_norm", "an account with this email address already exists"},
    {NULL, NULL}};
const cxi_entity cxi_ent_account = {"account", "accounts", "acc_",
    account_cols, "id", "created_at", true, false, account_uniq,
    account_prepare};

/* ---- sessions ---- */

static cx_err
session_prepare(bool create, int64_t now, const json_t *fields, json_t *sys,
    char *why, size_t whylen)
{
	(void) fields;
	(void) why;
	(void) whylen;
	if (create) {
		/* created_at too, from the same clock reading: a new session
		 * was last seen exactly when it was created. */
		json_object_set_new(sys, "created_at", json_integer(now));
		json_object_set_new(sys, "last_seen_at", json_integer(now));
	}
	return (CX_OK);
}

static const cxi_column session_cols[] = {OWNER,
    {"token_hash", TXT, C | R, 128, NULL, NULL},
    CREATED,
    {"last_seen_at", INT, 0, 0, NULL, NULL},
    {"expires_at", INT, C | R, 0, NULL, NULL},
    {"ip", TXT, C | N, 64, NULL, NULL},
    {"user_agent", TXT, C | N, 0, NULL, NULL},
    {"revoked_at", INT, N, 0, NULL, NULL},
    END};
static const cxi_unique session_uniq[] = {
    {"token_hash", "a session with this token already exists"},
    {NULL, NULL}};
const cxi_entity cxi_ent_session = {"session", "sessions", "ses_",
    session_cols, "account_id", "created_at", false, false, session_uniq,
    session_prepare};

/* ---- api keys ---- */

static const char *const scopes[] = {"read", "write", NULL};
static const cxi_column api_key_cols[] = {OWNER,
    {"name", TXT, C | U | R, 0, NULL, NULL},
    {"key_hash", TXT, C | R, 128, NULL, NULL},
    {"prefix", TXT, C | R, 32, NULL, NULL},
    {"scope", TXT, C | U | R, 0, scopes, NULL},
    CREATED,
    {"last_used_at", INT, N, 0, NULL, NULL},
    {"revoked_at", INT, N, 0, NULL, NULL},
    END};
static const cxi_unique api_key_uniq[] = {
    {"key_hash", "an API key with this hash already exists"},
    {NULL, NULL}};
const cxi_entity cxi_ent_api_key = {"api_key", "api_keys", "key_",
    api_key_cols, "account_id", "created_at", false, false, api_key_uniq,
    NULL};

/* ---- credentials ---- */

static const cxi_column credential_cols[] = {OWNER,
    {"provider", TXT, C | R | F, 64, NULL, NULL},
    {"name", TXT, C | U | R, 0, NULL, NULL},
    {"secret_enc", TXT, C | U | R | H, CXI_REPO_JSON_MAX, NULL, NULL},
    {"last4", TXT, C | U | R, 4, NULL, NULL},
    CREATED, UPDATED, END};
static const cxi_unique credential_uniq[] = {
    {"account_id,provider,name",
        "a credential with this provider and name already exists"},
    {NULL, NULL}};
const cxi_entity cxi_ent_credential = {"credential", "credentials", "cred_",
    credential_cols, "account_id", "created_at", true, false,
    credential_uniq, NULL};

/* ---- campaigns ---- */

static const char *const campaign_states[] = {"draft", "running", "paused",
    "completed", "cancelled", NULL};
static const cxi_column campaign_cols[] = {OWNER,
    {"name", TXT, C | U | R, 0, NULL, NULL},
    {"status", TXT, F, 0, campaign_states, NULL},
    {"config", JSN, C | U, 0, NULL, NULL},
    {"status_reason", TXT, N, 0, NULL, NULL},
    {"started_at", INT, N, 0, NULL, NULL},
    {"ended_at", INT, N, 0, NULL, NULL},
    CREATED, UPDATED, END};
const cxi_entity cxi_ent_campaign = {"campaign", "campaigns", "cmp_",
    campaign_cols, "account_id", "created_at", true, false, NULL, NULL};

/* ---- leads ---- */

/* E.164: '+', a non-zero digit, then 1 to 14 more digits. */
static cx_err
lead_prepare(bool create, int64_t now, const json_t *fields, json_t *sys,
    char *why, size_t whylen)
{
	(void) create;
	(void) now;
	(void) sys;
	const char *p = json_string_value(json_object_get(fields,
	    "phone_e164"));
	if (p == NULL) {
		return (CX_OK);
	}
	size_t n = strlen(p);
	bool ok = n >= 3 && n <= 16 && p[0] == '+' && p[1] >= '1' &&
	    p[1] <= '9';
	for (size_t i = 2; ok && i < n; i++) {
		ok = p[i] >= '0' && p[i] <= '9';
	}
	if (!ok) {
		cxi_repo_why(why, whylen, "lead.phone_e164 is not an E.164 "
		    "number (+ and up to 15 digits)");
		return (CX_EINVAL);
	}
	return (CX_OK);
}

static const cxi_column lead_cols[] = {OWNER,
    {"campaign_id", TXT, C | U | N | F, 64, NULL, "campaigns"},
    {"phone_e164", TXT, C | R | F, 16, NULL, NULL},
    {"name", TXT, C | U | N, 0, NULL, NULL},
    {"timezone", TXT, C | U | N, 64, NULL, NULL},
    {"tags", JSN, C | U, 0, NULL, NULL},
    {"metadata", JSN, C | U, 0, NULL, NULL},
    {"status", TXT, C | U | F, 32, NULL, NULL},
    {"attempts", INT, 0, 0, NULL, NULL},
    {"next_attempt_at", INT, N, 0, NULL, NULL},
    {"last_outcome", TXT, N, 32, NULL, NULL},
    {"status_reason", TXT, N, 0, NULL, NULL},
    CREATED, UPDATED, END};
static const cxi_unique lead_uniq[] = {
    {"account_id,phone_e164", "a lead with this phone number already "
                              "exists"},
    {NULL, NULL}};
const cxi_entity cxi_ent_lead = {"lead", "leads", "lead_", lead_cols,
    "account_id", "created_at", true, false, lead_uniq, lead_prepare};

/* ---- calls ---- */

static const cxi_column call_cols[] = {OWNER,
    {"campaign_id", TXT, C | N | F, 64, NULL, "campaigns"},
    {"lead_id", TXT, C | N | F, 64, NULL, "leads"},
    {"attempt", INT, C, 0, NULL, NULL},
    {"provider", TXT, C | R | F, 64, NULL, NULL},
    {"provider_call_id", TXT, C | U | N | F, 128, NULL, NULL},
    {"status", TXT, C | U | F, 32, NULL, NULL},
    {"outcome", TXT, C | U | N | F, 64, NULL, NULL},
    {"from_number", TXT, C | N, 16, NULL, NULL},
    {"to_number", TXT, C | R, 16, NULL, NULL},
    CREATED,
    {"started_at", INT, C | U | N, 0, NULL, NULL},
    {"answered_at", INT, C | U | N, 0, NULL, NULL},
    {"ended_at", INT, C | U | N, 0, NULL, NULL},
    {"duration_ms", INT, C | U | N, 0, NULL, NULL},
    {"cost_micros", INT, C | U | N, 0, NULL, NULL},
    {"currency", TXT, C | U | N, 8, NULL, NULL},
    {"recording_key", TXT, C | U | N, 0, NULL, NULL},
    {"transcript", TXT, C | U | N, 1024 * 1024, NULL, NULL},
    {"summary", TXT, C | U | N, CXI_REPO_JSON_MAX, NULL, NULL},
    {"sentiment", TXT, C | U | N, 32, NULL, NULL},
    {"analysis", JSN, C | U | N, 0, NULL, NULL},
    {"seq", INT, 0, 0, NULL, NULL},
    {"dispatched_at", INT, N, 0, NULL, NULL},
    {"settled_at", INT, N, 0, NULL, NULL},
    {"variables", JSN, C | N, 0, NULL, NULL},
    {"utterances", JSN, N, 1024 * 1024, NULL, NULL},
    {"success", CXI_COL_BOOL, N, 0, NULL, NULL},
    {"voicemail", CXI_COL_BOOL, N, 0, NULL, NULL},
    {"disconnection_reason", TXT, N, 128, NULL, NULL},
    {"error", TXT, N, 0, NULL, NULL},
    {"recording_type", TXT, N, 64, NULL, NULL},
    {"recording_bytes", INT, N, 0, NULL, NULL},
    {"transcript_source", TXT, N, 64, NULL, NULL},
    {"artifacts_due_at", INT, N, 0, NULL, NULL},
    {"completed_sent_at", INT, N, 0, NULL, NULL},
    END};
static const cxi_unique call_uniq[] = {
    {"provider,provider_call_id", "a call with this provider call id "
                                  "already exists"},
    {"campaign_id,lead_id,attempt", "this attempt was already dispatched "
                                    "for the lead"},
    {NULL, NULL}};
const cxi_entity cxi_ent_call = {"call", "calls", "call_", call_cols,
    "account_id", "created_at", false, false, call_uniq, NULL};

/* ---- usage ---- */

static const cxi_column usage_cols[] = {
    {"account_id", TXT, F | N, 0, NULL, NULL},
    {"feature", TXT, C | R | F, 64, NULL, NULL},
    {"at", INT, 0, 0, NULL, NULL},
    {"ip", TXT, C | N, 64, NULL, NULL},
    END};
const cxi_entity cxi_ent_usage = {"usage_event", "usage_events", "use_",
    usage_cols, "account_id", "at", false, true, NULL, NULL};

/* ---- payments ---- */

static const char *const pay_states[] = {"pending", "confirmed", "credited",
    "failed", NULL};

/* Amounts are decimal strings in the chain's base unit; "credited" is
 * reached only through cxi_ledger_credit_payment, with its ledger
 * entry in the same transaction. */
static cx_err
payment_prepare(bool create, int64_t now, const json_t *fields, json_t *sys,
    char *why, size_t whylen)
{
	(void) now;
	(void) sys;
	const char *a = json_string_value(json_object_get(fields, "amount"));
	if (a != NULL) {
		bool ok = a[0] != '\0' && strlen(a) <= 78;
		for (const char *p = a; ok && *p; p++) {
			ok = *p >= '0' && *p <= '9';
		}
		if (!ok) {
			cxi_repo_why(why, whylen, "payment.amount must be a "
			    "decimal integer string");
			return (CX_EINVAL);
		}
	}
	const char *st = json_string_value(json_object_get(fields, "state"));
	if (st != NULL && strcmp(st, "credited") == 0) {
		cxi_repo_why(why, whylen, "payment.state \"credited\" is set "
		    "by crediting the ledger%s", create ? "" : ", not updated");
		return (CX_EINVAL);
	}
	return (CX_OK);
}

static const cxi_column payment_cols[] = {OWNER,
    {"chain", TXT, C | R | F, 32, NULL, NULL},
    {"tx_hash", TXT, C | R | F, 128, NULL, NULL},
    {"asset", TXT, C | R, 32, NULL, NULL},
    {"amount", TXT, C | R, 78, NULL, NULL},
    {"state", TXT, C | U | F, 0, pay_states, NULL},
    {"confirmations", INT, C | U, 0, NULL, NULL},
    CREATED, UPDATED, END};
static const cxi_unique payment_uniq[] = {
    {"chain,tx_hash", "payment already recorded for this chain and "
                      "tx_hash"},
    {NULL, NULL}};
const cxi_entity cxi_ent_payment = {"payment", "payments", "pay_",
    payment_cols, "account_id", "created_at", true, false, payment_uniq,
    payment_prepare};

/* ---- ledger ---- */

static const cxi_column ledger_cols[] = {OWNER,
    {"amount_micros", INT, C | R, 0, NULL, NULL},
    {"currency", TXT, C | R | F, 8, NULL, NULL},
    {"kind", TXT, C | R | F, 32, NULL, NULL},
    {"ref_type", TXT, C | R | F, 32, NULL, NULL},
    {"ref_id", TXT, C | R | F, 64, NULL, NULL},
    CREATED, END};
static const cxi_unique ledger_uniq[] = {
    {"ref_type,ref_id,kind", "ledger entry already recorded for this "
                             "reference and kind"},
    {NULL, NULL}};
const cxi_entity cxi_ent_ledger = {"ledger_entry", "ledger_entries", "led_",
    ledger_cols, "account_id", "created_at", false, true, ledger_uniq,
    NULL};

/* ---- audit ---- */

static const cxi_column audit_cols[] = {
    {"at", INT, 0, 0, NULL, NULL},
    {"actor_id", TXT, C | N | F, 64, NULL, NULL},
    {"actor_role", TXT, C | N, 32, NULL, NULL},
    {"action", TXT, C | R | F, 64, NULL, NULL},
    {"object_type", TXT, C | R | F, 64, NULL, NULL},
    {"object_id", TXT, C | N | F, 64, NULL, NULL},
    {"subject_id", TXT, C | N | F, 64, NULL, NULL},
    {"reason", TXT, C | N, 0, NULL, NULL},
    {"ip", TXT, C | N, 64, NULL, NULL},
    END};
const cxi_entity cxi_ent_audit = {"audit_entry", "audit_log", "aud_",
    audit_cols, NULL, "at", false, true, NULL, NULL};

/* ---- privacy requests ---- */

static const char *const prq_kinds[] = {"access", "rectify", "erase",
    "restrict", "export", NULL};
static const char *const prq_states[] = {"received", "in_progress", "done",
    "rejected", NULL};

/* The legal deadline: one month from receipt, taken as 30 days. */
static cx_err
privacy_prepare(bool create, int64_t now, const json_t *fields, json_t *sys,
    char *why, size_t whylen)
{
	(void) fields;
	(void) why;
	(void) whylen;
	if (create) {
		/* created_at too, so due_at is exactly 30 days after it. */
		json_object_set_new(sys, "created_at", json_integer(now));
		json_object_set_new(sys, "due_at",
		    json_integer(now + 30 * DAY_MS));
	}
	return (CX_OK);
}

static const cxi_column privacy_cols[] = {OWNER,
    {"kind", TXT, C | R | F, 0, prq_kinds, NULL},
    {"state", TXT, F, 0, prq_states, NULL},
    {"detail", TXT, C | U | N, CXI_REPO_JSON_MAX, NULL, NULL},
    CREATED, UPDATED,
    {"due_at", INT, 0, 0, NULL, NULL},
    END};
const cxi_entity cxi_ent_privacy = {"privacy_request", "privacy_requests",
    "prq_", privacy_cols, "account_id", "created_at", true, false, NULL,
    privacy_prepare};
