/*
 * outhooks_attempt.c - one webhook attempt (outhooks.h): load the claimed
 * delivery, open the endpoint's secret just long enough to sign, POST the
 * stored payload, then, in one transaction, log the attempt and move the
 * delivery on (delivered, a retry time with backoff, or failed once
 * max_age has passed) - only while the claim is still ours.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "outhooks_int.h"
#include "repo.h"

/* What a worker needs of the delivery and its endpoint. */
typedef struct sendable {
	char *account, *event_type, *event_id, *payload, *url, *secret_enc;
	int64_t attempts, created_at;
} sendable;

static void
sendable_free(sendable *s)
{
	free(s->account);
	free(s->event_type);
	free(s->event_id);
	free(s->payload);
	free(s->url);
	free(s->secret_enc);
}

static char *
dup_col(cxi_dbc *c, cx_db_rows *r, size_t col, bool *ok)
{
	const char *v = cxi_db_text(c, r, 0, col);
	char *d = v != NULL ? strdup(v) : NULL;
	*ok = *ok && d != NULL;
	return (d);
}

/* CX_ENOENT when the claim is no longer ours (or the row is gone). */
static cx_err
load(cxi_outhooks *h, const cxi_outhooks_job *j, sendable *s)
{
	cxi_db db;
	cxi_dbc c;
	cx_db_rows *r = NULL;
	if (!cxi_manager_db_hold(h->cl->mgr, &db)) {
		return (CX_ECLOSED);
	}
	cx_err rv = cxi_db_acquire(&db, 5000, &c);
	if (rv != CX_OK) {
		cxi_manager_unhold(h->cl->mgr);
		return (rv);
	}
	cx_db_value p[] = {CX_DB_V_TEXT(j->id), CX_DB_V_INT(j->lease)};
	rv = cxi_db_exec(&c, "SELECT d.account_id, d.event_type, d.event_id, "
	                     "d.payload, e.url, e.secret_enc, d.attempts, "
	                     "d.created_at FROM webhook_deliveries d JOIN "
	                     "webhook_endpoints e ON e.id = d.endpoint_id "
	                     "WHERE d.id = $1 AND d.state = 'pending' AND "
	                     "d.next_attempt_at = $2", p, 2, &r, NULL);
	if (rv == CX_OK && cxi_db_rows_count(&c, r) == 0) {
		rv = CX_ENOENT;
	} else if (rv == CX_OK) {
		bool ok = true;
		s->account = dup_col(&c, r, 0, &ok);
		s->event_type = dup_col(&c, r, 1, &ok);
		s->event_id = dup_col(&c, r, 2, &ok);
		s->payload = dup_col(&c, r, 3, &ok);
		s->url = dup_col(&c, r, 4, &ok);
		s->secret_enc = dup_col(&c, r, 5, &ok);
		s->attempts = cxi_db_int(&c, r, 0, 6, 0);
		s->created_at = cxi_db_int(&c, r, 0, 7, 0);
		rv = ok ? CX_OK : CX_ENOMEM;
	}
	cxi_db_rows_free(&c, r);
	cxi_db_release(&c);
	cxi_manager_unhold(h->cl->mgr);
	return (rv);
}

/* Signs and POSTs; the secret is opened only for the signature. */
static void
send_one(cxi_outhooks *h, const cxi_outhooks_job *j, const sendable *s,
    cxi_outhooks_result *res)
{
	char *secret = NULL, sig[CXI_OUTHOOKS_SIG_MAX], why[160];
	char hv[5][320];
	memset(res, 0, sizeof(*res));
	if (!cxi_outhooks_url_ok(&h->cf, s->url, false, why, sizeof(why))) {
		snprintf(res->error, sizeof(res->error), "refused: %s", why);
		return;
	}
	if (cxi_api_vault_unseal(h->cl->api, s->secret_enc, &secret) !=
	    CX_OK) {
		snprintf(res->error, sizeof(res->error), "internal: no vault "
		    "key opens the endpoint's signing secret");
		return;
	}
	size_t len = strlen(s->payload);
	cxi_outhooks_sign(secret, (int64_t) time(NULL), s->payload, len, sig);
	sodium_memzero(secret, strlen(secret));
	free(secret);
	snprintf(hv[0], sizeof(hv[0]), "Callixo-Event-Id: %s", s->event_id);
	snprintf(hv[1], sizeof(hv[1]), "Callixo-Event-Type: %s",
	    s->event_type);
	snprintf(hv[2], sizeof(hv[2]), "Callixo-Delivery-Id: %s", j->id);
	snprintf(hv[3], sizeof(hv[3]), "Callixo-Signature: %s", sig);
	snprintf(hv[4], sizeof(hv[4]), "Callixo-Attempt: %" PRId64,
	    s->attempts + 1);
	const char *hl[] = {"Content-Type: application/json",
	    "User-Agent: Callixo-Webhooks/1", hv[0], hv[1], hv[2], hv[3], hv[4],
	    NULL};
	cxi_outhooks_post(&h->cf, s->url, hl, s->payload, len, res);
}

typedef struct outcome {
	const cxi_outhooks_job *j;
	const sendable *s;
	const cxi_outhooks_result *res;
	const cxi_outhooks_conf *cf;
	const char *state; /* out */
	int64_t next;      /* out: next attempt, or -1 */
} outcome;

static cx_err
record_tx(cxi_dbc *c, void *arg)
{
	outcome *o = arg;
	const cxi_outhooks_result *res = o->res;
	int64_t now = cxi_repo_now_ms();
	json_t *f = json_pack("{s:s, s:I}", "delivery_id", o->j->id,
	    "duration_ms", (json_int_t) res->duration_ms);
	if (f == NULL) {
		return (CX_ENOMEM);
	}
	if (res->status > 0) {
		json_object_set_new(f, "status_code",
		    json_integer((json_int_t) res->status));
	}
	if (res->error[0] != '\0') {
		json_object_set_new(f, "error", json_string(res->error));
	} else if (res->status < 200 || res->status > 299) {
		json_object_set_new(f, "error", json_string("non-2xx status"));
	}
	char why[200] = "";
	cx_err rv = cxi_repo_insert_c(c, &cxi_ent_webhook_attempt,
	    o->s->account, f, NULL, NULL, why, sizeof(why));
	const char *err = json_string_value(json_object_get(f, "error"));
	bool ok = res->status >= 200 && res->status <= 299;
	int64_t deadline = o->s->created_at + o->cf->max_age_ms;
	o->next = -1;
	if (ok) {
		o->state = "delivered";
	} else if (now >= deadline) {
		o->state = "failed";
	} else {
		o->state = "pending";
		o->next = now + cxi_outhooks_backoff_ms(o->cf->backoff_ms,
		    o->cf->backoff_max_ms, (unsigned) o->s->attempts + 1,
		    randombytes_random());
		/* One last try at the deadline rather than none. */
		if (o->next > deadline) {
			o->next = deadline;
		}
	}
	cx_db_value p[] = {CX_DB_V_TEXT(o->state),
	    o->next >= 0 ? CX_DB_V_INT(o->next) : CX_DB_V_NULL(),
	    res->status > 0 ? CX_DB_V_INT(res->status) : CX_DB_V_NULL(),
	    CX_DB_V_TEXT(err), CX_DB_V_INT(now), CX_DB_V_TEXT(o->j->id),
	    CX_DB_V_INT(o->j->lease)};
	if (rv == CX_OK) {
		rv = cxi_db_exec(c, ok ?
		    "UPDATE webhook_deliveries SET attempts = attempts + 1, "
		    "state = $1, next_attempt_at = $2, last_status = $3, "
		    "last_error = $4, updated_at = $5, delivered_at = $5 "
		    "WHERE id = $6 AND state = 'pending' AND "
		    "next_attempt_at = $7" :
		    "UPDATE webhook_deliveries SET attempts = attempts + 1, "
		    "state = $1, next_attempt_at = $2, last_status = $3, "
		    "last_error = $4, updated_at = $5 WHERE id = $6 AND "
		    "state = 'pending' AND next_attempt_at = $7",
		    p, 7, NULL, NULL);
	}
	json_decref(f);
	return (rv);
}

static void
record(cxi_outhooks *h, const cxi_outhooks_job *j, const sendable *s,
    const cxi_outhooks_result *res)
{
	outcome o = {.j = j, .s = s, .res = res, .cf = &h->cf};
	cxi_db db;
	cx_db_error err = {0};
	if (!cxi_manager_db_hold(h->cl->mgr, &db)) {
		cxi_warn("webhooks", "delivery %s: no storage to record the "
		    "attempt; it is retried when its claim expires", j->id);
		return;
	}
	cx_err rv = cxi_db_tx(&db, 3, record_tx, &o, &err);
	cxi_manager_unhold(h->cl->mgr);
	if (rv != CX_OK) {
		/* Typically the endpoint (and so the delivery) was deleted
		 * while the attempt ran. */
		cxi_warn("webhooks", "delivery %s: attempt not recorded: %s",
		    j->id, cx_strerror(rv));
	} else if (res->status > 0) {
		cxi_info("webhooks", "delivery %s attempt %" PRId64 ": HTTP "
		    "%ld in %" PRId64 "ms, now %s", j->id, s->attempts + 1,
		    res->status, res->duration_ms, o.state);
	} else {
		cxi_info("webhooks", "delivery %s attempt %" PRId64 ": %s, now "
		    "%s", j->id, s->attempts + 1, res->error, o.state);
	}
}

void
cxi_outhooks_run_job(cxi_outhooks *h, const cxi_outhooks_job *j)
{
	sendable s = {0};
	cxi_outhooks_result res;
	cx_err rv = load(h, j, &s);
	if (rv == CX_OK) {
		send_one(h, j, &s, &res);
		record(h, j, &s, &res);
	} else if (rv != CX_ENOENT) {
		cxi_warn("webhooks", "delivery %s: cannot load it: %s", j->id,
		    cx_strerror(rv));
	}
	sendable_free(&s);
}
