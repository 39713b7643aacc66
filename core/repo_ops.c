/*
 * repo_ops.c - campaigns, leads, calls, usage, payments and the ledger,
 * the audit trail and privacy requests: what goes beyond plain CRUD.
 */
#include <stdio.h>
#include <string.h>

#include "repo.h"

/* ---- checked state transitions ---- */

typedef struct transition {
	const char *from, *to;
} transition;

typedef struct move {
	const cxi_entity *ent;
	const char *account, *id;
	const char *col, *to;        /* the state column and target */
	const char *note_col, *note; /* optional text stored alongside */
	const transition *allowed;   /* NULL-from ended */
	json_t *row;
	char *why;
	size_t whylen;
} move;

/* Read and write in one transaction, so two racing transitions cannot
 * both start from the same state. */
static cx_err
move_tx(cxi_dbc *c, void *arg)
{
	move *m = arg;
	json_t *cur = NULL;
	cx_err rv = cxi_repo_get_c(c, m->ent, m->account, m->id, &cur);
	if (rv != CX_OK) {
		cxi_repo_why(m->why, m->whylen, "no such %s", m->ent->name);
		return (rv);
	}
	const char *from = json_string_value(json_object_get(cur, m->col));
	const transition *t = m->allowed;
	while (t->from != NULL &&
	    (from == NULL || strcmp(t->from, from) != 0 ||
	        strcmp(t->to, m->to) != 0)) {
		t++;
	}
	if (t->from == NULL) {
		cxi_repo_why(m->why, m->whylen, "%s cannot go from %s to %s",
		    m->ent->name, from ? from : "?", m->to);
		json_decref(cur);
		return (CX_EINVAL);
	}
	json_decref(cur);
	json_t *sys = json_pack("{s:s}", m->col, m->to);
	if (sys == NULL) {
		return (CX_ENOMEM);
	}
	if (m->note_col != NULL && m->note != NULL) {
		json_object_set_new(sys, m->note_col, json_string(m->note));
		if (json_object_get(sys, m->note_col) == NULL) {
			json_decref(sys);
			cxi_repo_why(m->why, m->whylen, "%s.%s is not valid "
			    "UTF-8 text", m->ent->name, m->note_col);
			return (CX_EINVAL);
		}
	}
	json_decref(m->row);
	m->row = NULL;
	rv = cxi_repo_update_c(c, m->ent, m->account, m->id, NULL, sys,
	    &m->row, m->why, m->whylen);
	json_decref(sys);
	return (rv);
}

static cx_err
run_move(const cxi_db *db, move *m, json_t **row)
{
	cx_db_error err;
	cx_err rv = cxi_db_tx(db, 3, move_tx, m, &err);
	if (rv == CX_OK && row != NULL) {
		*row = m->row;
	} else {
		json_decref(m->row);
	}
	return (rv);
}

static const transition campaign_moves[] = {{"draft", "running"},
    {"running", "paused"}, {"paused", "running"}, {"running", "completed"},
    {"paused", "completed"}, {"draft", "cancelled"}, {"running", "cancelled"},
    {"paused", "cancelled"}, {NULL, NULL}};

cx_err
cxi_campaign_set_status(const cxi_db *db, const char *account,
    const char *id, const char *status, const char *reason, json_t **row,
    char *why, size_t whylen)
{
	if (status == NULL || id == NULL) {
		return (CX_EINVAL);
	}
	move m = {&cxi_ent_campaign, account, id, "status", status,
	    "status_reason", reason, campaign_moves, NULL, why, whylen};
	return (run_move(db, &m, row));
}

static const transition privacy_moves[] = {{"received", "in_progress"},
    {"received", "rejected"}, {"in_progress", "done"},
    {"in_progress", "rejected"}, {NULL, NULL}};

cx_err
cxi_privacy_set_state(const cxi_db *db, const char *account, const char *id,
    const char *state, const char *detail, json_t **row, char *why,
    size_t whylen)
{
	if (state == NULL || id == NULL) {
		return (CX_EINVAL);
	}
	move m = {&cxi_ent_privacy, account, id, "state", state, "detail",
	    detail, privacy_moves, NULL, why, whylen};
	return (run_move(db, &m, row));
}

/* ---- leads ---- */

typedef struct bulk {
	const char *account;
	json_t *leads;
	size_t inserted, skipped;
	char *why;
	size_t whylen;
} bulk;

static cx_err
bulk_tx(cxi_dbc *c, void *arg)
{
	bulk *b = arg;
	size_t i;
	json_t *lead;
	/* A retried transaction starts counting again. */
	b->inserted = b->skipped = 0;
	json_array_foreach (b->leads, i, lead) {
		bool ins = false;
		cx_err rv = CX_OK;
		if (cxi_ent_lead.prepare != NULL) {
			rv = cxi_ent_lead.prepare(true, 0, lead, NULL, b->why,
			    b->whylen);
		}
		if (rv == CX_OK) {
			rv = cxi_repo_insert_skip_c(c, &cxi_ent_lead,
			    b->account, lead, NULL, "account_id, phone_e164",
			    &ins, NULL, b->why, b->whylen);
		}
		if (rv != CX_OK) {
			/* Name the item, keep the reason. */
			char inner[200];
			snprintf(inner, sizeof(inner), "%s",
			    b->why ? b->why : "");
			cxi_repo_why(b->why, b->whylen, "lead %zu: %s", i,
			    inner);
			return (rv);
		}
		ins ? b->inserted++ : b->skipped++;
	}
	return (CX_OK);
}

cx_err
cxi_lead_bulk_insert(const cxi_db *db, const char *account, json_t *leads,
    size_t *inserted, size_t *skipped, char *why, size_t whylen)
{
	if (account == NULL || !json_is_array(leads)) {
		cxi_repo_why(why, whylen, "leads must be an array");
		return (CX_EINVAL);
	}
	bulk b = {account, leads, 0, 0, why, whylen};
	cx_db_error err;
	cx_err rv = cxi_db_tx(db, 3, bulk_tx, &b, &err);
	*inserted = rv == CX_OK ? b.inserted : 0;
	*skipped = rv == CX_OK ? b.skipped : 0;
	return (rv);
}

/* ---- calls ---- */

cx_err
cxi_call_get_by_provider(const cxi_db *db, const char *provider,
    const char *provider_call_id, json_t **row)
{
	json_t *f = json_pack("{s:s?, s:s?}", "provider", provider,
	    "provider_call_id", provider_call_id), *page = NULL;
	if (f == NULL || provider == NULL || provider_call_id == NULL) {
		json_decref(f);
		return (CX_EINVAL);
	}
	cx_err rv = cxi_repo_list(db, &cxi_ent_call, NULL, f, NULL, 1, &page,
	    NULL, 0);
	json_decref(f);
	if (rv != CX_OK) {
		return (rv);
	}
	json_t *r = json_array_get(json_object_get(page, "items"), 0);
	if (r == NULL) {
		rv = CX_ENOENT;
	} else if (row != NULL) {
		*row = json_incref(r);
	}
	json_decref(page);
	return (rv);
}

/* ---- usage ---- */

cx_err
cxi_usage_record(const cxi_db *db, const char *account, const char *feature,
    const char *ip)
{
	json_t *f = json_pack("{s:s?, s:s?}", "feature", feature, "ip", ip);
	if (f == NULL) {
		return (CX_EINVAL);
	}
	cxi_dbc c;
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv == CX_OK) {
		rv = cxi_repo_insert_c(&c, &cxi_ent_usage, account, f, NULL,
		    NULL, NULL, 0);
		cxi_db_release(&c);
	}
	json_decref(f);
	return (rv);
}

/* One integer from a one-row, one-column query. */
static cx_err
scalar_c(cxi_dbc *c, const char *sql, const cx_db_value *p, size_t n,
    int64_t *out)
{
	cx_db_rows *rows = NULL;
	cx_err rv = cxi_db_exec(c, sql, p, n, &rows, NULL);
	if (rv == CX_OK) {
		*out = cxi_db_int(c, rows, 0, 0, 0);
	}
	cxi_db_rows_free(c, rows);
	return (rv);
}

cx_err
cxi_usage_count(const cxi_db *db, const char *account, const char *feature,
    int64_t since_ms, int64_t *n)
{
	if (account == NULL || feature == NULL) {
		return (CX_EINVAL);
	}
	cx_db_value p[] = {CX_DB_V_TEXT(account), CX_DB_V_TEXT(feature),
	    CX_DB_V_INT(since_ms)};
	cxi_dbc c;
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv == CX_OK) {
		rv = scalar_c(&c, "SELECT COUNT(*) FROM usage_events WHERE "
		                  "account_id = $1 AND feature = $2 AND "
		                  "at >= $3",
		    p, 3, n);
		cxi_db_release(&c);
	}
	return (rv);
}

/* ---- ledger ---- */

cx_err
cxi_ledger_append_c(cxi_dbc *c, const char *account,
    const cxi_ledger_entry *e, bool *created, char *why, size_t whylen)
{
	json_t *f = json_pack("{s:I, s:s?, s:s?, s:s?, s:s?}",
	    "amount_micros", (json_int_t) e->amount_micros, "currency",
	    e->currency, "kind", e->kind, "ref_type", e->ref_type, "ref_id",
	    e->ref_id);
	if (f == NULL) {
		cxi_repo_why(why, whylen, "ledger entry fields are not valid "
		    "text");
		return (CX_EINVAL);
	}
	bool ins = false;
	cx_err rv = cxi_repo_insert_skip_c(c, &cxi_ent_ledger, account, f,
	    NULL, "ref_type, ref_id, kind", &ins, NULL, why, whylen);
	json_decref(f);
	if (created != NULL) {
		*created = rv == CX_OK && ins;
	}
	return (rv);
}

cx_err
cxi_ledger_append(const cxi_db *db, const char *account,
    const cxi_ledger_entry *e, bool *created, char *why, size_t whylen)
{
	cxi_dbc c;
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv == CX_OK) {
		rv = cxi_ledger_append_c(&c, account, e, created, why, whylen);
		cxi_db_release(&c);
	}
	return (rv);
}

cx_err
cxi_ledger_balance_c(cxi_dbc *c, const char *account, const char *currency,
    int64_t *balance)
{
	if (account == NULL) {
		return (CX_EINVAL);
	}
	/* SUM over BIGINT is NUMERIC in PostgreSQL: cast it back. */
	cx_db_value p[] = {CX_DB_V_TEXT(account), CX_DB_V_TEXT(currency)};
	return (scalar_c(c, currency != NULL ?
	    "SELECT CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT) FROM "
	    "ledger_entries WHERE account_id = $1 AND currency = $2" :
	    "SELECT CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT) FROM "
	    "ledger_entries WHERE account_id = $1",
	    p, currency != NULL ? 2 : 1, balance));
}

cx_err
cxi_ledger_balance(const cxi_db *db, const char *account,
    const char *currency, int64_t *balance)
{
	cxi_dbc c;
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv == CX_OK) {
		rv = cxi_ledger_balance_c(&c, account, currency, balance);
		cxi_db_release(&c);
	}
	return (rv);
}

typedef struct credit {
	const char *account, *payment;
	int64_t amount;
	const char *currency;
	char *why;
	size_t whylen;
} credit;

static cx_err
credit_tx(cxi_dbc *c, void *arg)
{
	credit *k = arg;
	json_t *pay = NULL;
	cx_err rv = cxi_repo_get_c(c, &cxi_ent_payment, k->account, k->payment,
	    &pay);
	if (rv != CX_OK) {
		cxi_repo_why(k->why, k->whylen, "no such payment");
		return (rv);
	}
	const char *st = json_string_value(json_object_get(pay, "state"));
	if (st == NULL || strcmp(st, "confirmed") != 0) {
		bool done = st != NULL && strcmp(st, "credited") == 0;
		cxi_repo_why(k->why, k->whylen, done ?
		    "payment already credited" :
		    "payment is %s, not confirmed", st ? st : "?");
		json_decref(pay);
		return (done ? CX_EEXIST : CX_EINVAL);
	}
	const char *owner = json_string_value(json_object_get(pay,
	    "account_id"));
	cxi_ledger_entry e = {k->amount, k->currency, "credit", "payment",
	    k->payment};
	bool created = false;
	if ((rv = cxi_ledger_append_c(c, owner, &e, &created, k->why,
	         k->whylen)) == CX_OK && !created) {
		cxi_repo_why(k->why, k->whylen, "payment already credited");
		rv = CX_EEXIST;
	}
	json_t *sys = json_pack("{s:s}", "state", "credited");
	if (rv == CX_OK) {
		rv = cxi_repo_update_c(c, &cxi_ent_payment, owner, k->payment,
		    NULL, sys, NULL, k->why, k->whylen);
	}
	json_decref(sys);
	json_decref(pay);
	return (rv);
}

cx_err
cxi_ledger_credit_payment(const cxi_db *db, const char *account,
    const char *payment_id, int64_t amount_micros, const char *currency,
    char *why, size_t whylen)
{
	if (payment_id == NULL || currency == NULL) {
		return (CX_EINVAL);
	}
	credit k = {account, payment_id, amount_micros, currency, why, whylen};
	cx_db_error err;
	return (cxi_db_tx(db, 3, credit_tx, &k, &err));
}

/* ---- audit ---- */

cx_err
cxi_audit_append(const cxi_db *db, json_t *fields, char *why, size_t whylen)
{
	return (cxi_repo_create(db, &cxi_ent_audit, NULL, fields, NULL, why,
	    whylen));
}

cx_err
cxi_audit_list_subject(const cxi_db *db, const char *subject_id,
    const char *cursor, int limit, json_t **page)
{
	json_t *f = json_pack("{s:s?}", "subject_id", subject_id);
	if (f == NULL || subject_id == NULL) {
		json_decref(f);
		return (CX_EINVAL);
	}
	cx_err rv = cxi_repo_list(db, &cxi_ent_audit, NULL, f, cursor, limit,
	    page, NULL, 0);
	json_decref(f);
	return (rv);
}
