/*
 * dialer_settle.c - what happens once a call has ended: its lead is
 * retried or done (exactly once per call: calls.settled_at is set by a
 * compare-and-set in the same transaction as the lead), the circuit
 * breaker looks at the campaign's recent failures, cancelled campaigns
 * are wound down and finished ones completed.
 */
#include <stdio.h>
#include <string.h>

#include <callixo/telephony.h>

#include "dialer_int.h"
#include "log.h"
#include "repo.h"

bool
dl_status_terminal(const char *s)
{
	static const char *const t[] = {CX_CALL_COMPLETED, CX_CALL_BUSY,
	    CX_CALL_NO_ANSWER, CX_CALL_FAILED, CX_CALL_CANCELED, NULL};
	for (size_t i = 0; s != NULL && t[i] != NULL; i++) {
		if (strcmp(s, t[i]) == 0) {
			return (true);
		}
	}
	return (false);
}

const char *
dl_status_outcome(const char *s)
{
	if (s == NULL) {
		return (CX_OUTCOME_FAILED);
	}
	if (strcmp(s, CX_CALL_COMPLETED) == 0) {
		return (CX_OUTCOME_ANSWERED);
	}
	if (strcmp(s, CX_CALL_BUSY) == 0) {
		return (CX_OUTCOME_BUSY);
	}
	if (strcmp(s, CX_CALL_NO_ANSWER) == 0) {
		return (CX_OUTCOME_NO_ANSWER);
	}
	if (strcmp(s, CX_CALL_CANCELED) == 0) {
		return (CX_OUTCOME_CANCELED);
	}
	return (CX_OUTCOME_FAILED);
}

typedef struct settle {
	const json_t *row;
	const cxi_campaign_conf *cc; /* NULL: no campaign */
	int64_t now;
	bool won;                    /* this run settled it */
	char lead_status[16];
} settle;

static cx_err
settle_tx(cxi_dbc *c, void *arg)
{
	settle *s = arg;
	const json_t *r = s->row;
	const char *id = json_string_value(json_object_get(r, "id"));
	const char *lead = json_string_value(json_object_get(r, "lead_id"));
	const char *outcome = json_string_value(json_object_get(r, "outcome"));
	const char *cs = json_string_value(json_object_get(r,
	    "campaign_status"));
	int attempt = (int) json_integer_value(json_object_get(r, "attempt"));
	int64_t changes = 0;
	if (outcome == NULL) {
		outcome = dl_status_outcome(json_string_value(json_object_get(r,
		    "status")));
	}
	s->won = false;
	cx_db_value p[] = {CX_DB_V_TEXT(id), CX_DB_V_INT(s->now),
	    CX_DB_V_TEXT(outcome)};
	cx_err rv = cxi_db_exec(c, "UPDATE calls SET settled_at = $2, outcome "
	                           "= COALESCE(outcome, $3) WHERE id = $1 AND "
	                           "settled_at IS NULL", p, 3, NULL, &changes);
	if (rv != CX_OK || changes != 1 || lead == NULL) {
		s->won = rv == CX_OK && changes == 1;
		return (rv);
	}
	s->won = true;
	const char *st = "done";
	const char *reason = NULL;
	int64_t next = 0;
	const cxi_retry_rule *rule = s->cc != NULL ?
	    cxi_campaign_retry(s->cc, outcome) : NULL;
	if (strcmp(outcome, CX_OUTCOME_ANSWERED) == 0) {
		st = "done";
	} else if (cs != NULL && strcmp(cs, "cancelled") == 0) {
		st = "cancelled";
		reason = "campaign cancelled";
	} else if (rule != NULL && attempt < rule->max_attempts) {
		st = "retry";
		next = s->now + (int64_t) rule->after_minutes * 60000;
	} else if (rule != NULL && rule->max_attempts > 1) {
		reason = "out of attempts";
	}
	snprintf(s->lead_status, sizeof(s->lead_status), "%s", st);
	cx_db_value lp[] = {CX_DB_V_TEXT(lead), CX_DB_V_TEXT(st),
	    CX_DB_V_TEXT(outcome), next > 0 ? CX_DB_V_INT(next) :
	                                      CX_DB_V_NULL(),
	    CX_DB_V_TEXT(reason), CX_DB_V_INT(s->now)};
	return (cxi_db_exec(c, "UPDATE leads SET status = $2, last_outcome = "
	                       "$3, next_attempt_at = $4, status_reason = $5, "
	                       "updated_at = $6 WHERE id = $1 AND status = "
	                       "'calling'", lp, 6, NULL, NULL));
}

/* Trips the breaker of a running campaign: pauses it, saying why. */
static void
breaker(cxi_dialer *d, const json_t *r, const cxi_campaign_conf *cc,
    int64_t now)
{
	const char *cid = json_string_value(json_object_get(r, "campaign_id"));
	int64_t since = now - (int64_t) cc->breaker_window_s * 1000;
	/* A resumed campaign starts with a clean slate. */
	int64_t resumed = json_integer_value(json_object_get(r,
	    "campaign_updated_at"));
	json_t *rows = NULL;
	cx_db_value p[] = {CX_DB_V_TEXT(cid), CX_DB_V_INT(since),
	    CX_DB_V_INT(resumed)};
	if (dl_query(d, "SELECT COUNT(*) AS total, COUNT(CASE WHEN outcome = "
	                "'failed' THEN 1 END) AS failed FROM calls WHERE "
	                "campaign_id = $1 AND settled_at IS NOT NULL AND "
	                "COALESCE(ended_at, settled_at) >= $2 AND settled_at "
	                ">= $3", p, 3, &rows) != CX_OK) {
		return;
	}
	json_t *row = json_array_get(rows, 0);
	int64_t total = json_integer_value(json_object_get(row, "total"));
	int64_t failed = json_integer_value(json_object_get(row, "failed"));
	json_decref(rows);
	if (total < cc->breaker_min_calls || total == 0 ||
	    (double) failed < cc->breaker_ratio * (double) total) {
		return;
	}
	char reason[160], why[256];
	snprintf(reason, sizeof(reason), "circuit breaker: %lld of %lld calls "
	    "failed in %d s", (long long) failed, (long long) total,
	    cc->breaker_window_s);
	cxi_db db;
	if (!cxi_manager_db_hold(d->mgr, &db)) {
		return;
	}
	if (cxi_campaign_set_status(&db, json_string_value(json_object_get(r,
	                                "account_id")), cid, "paused", reason,
	        NULL, why, sizeof(why)) == CX_OK) {
		cxi_warn("dialer", "campaign %s paused: %s", cid, reason);
	}
	cxi_manager_unhold(d->mgr);
}

static void
settle_one(cxi_dialer *d, const json_t *r, int64_t now)
{
	cxi_campaign_conf cc;
	char why[256];
	json_t *cfg = json_object_get(r, "config");
	json_t *parsed = json_is_string(cfg) ?
	    json_loads(json_string_value(cfg), 0, NULL) : NULL;
	bool have = json_object_get(r, "campaign_id") != NULL &&
	    !json_is_null(json_object_get(r, "campaign_id")) &&
	    cxi_campaign_conf_parse(parsed, false, &cc, why, sizeof(why)) ==
	        CX_OK;
	json_decref(parsed);
	settle s = {.row = r, .cc = have ? &cc : NULL, .now = now};
	cxi_db db;
	cx_db_error err = {0};
	if (cxi_manager_db_hold(d->mgr, &db)) {
		cx_err rv = cxi_db_tx(&db, 3, settle_tx, &s, &err);
		cxi_manager_unhold(d->mgr);
		if (rv != CX_OK) {
			cxi_warn("dialer", "call %s: cannot settle: %s (%s)",
			    json_string_value(json_object_get(r, "id")),
			    cx_strerror(rv), err.message);
		}
	}
	const char *cs = json_string_value(json_object_get(r,
	    "campaign_status"));
	if (s.won && have && cs != NULL && strcmp(cs, "running") == 0) {
		breaker(d, r, &cc, now);
	}
	if (have) {
		cxi_campaign_conf_free(&cc);
	}
}

void
dl_settle(cxi_dialer *d, int64_t now)
{
	json_t *rows = NULL;
	if (dl_query(d, "SELECT c.id, c.account_id, c.campaign_id, c.lead_id, "
	                "c.status, c.outcome, c.attempt, k.status AS "
	                "campaign_status, k.config, k.updated_at AS "
	                "campaign_updated_at FROM calls c LEFT JOIN campaigns k "
	                "ON k.id = c.campaign_id WHERE c.settled_at IS NULL AND "
	                "c.status IN " DL_TERMINAL_SQL " ORDER BY c.created_at "
	                "LIMIT 500", NULL, 0, &rows) != CX_OK) {
		return;
	}
	size_t i;
	json_t *r;
	json_array_foreach (rows, i, r) {
		/* The campaign's status may have changed (breaker) since the
		 * query: re-read it for each call. */
		const char *cid = json_string_value(json_object_get(r,
		    "campaign_id"));
		if (cid != NULL && i > 0) {
			json_t *k = NULL;
			cx_db_value p[] = {CX_DB_V_TEXT(cid)};
			if (dl_query(d, "SELECT status, updated_at FROM campaigns "
			                "WHERE id = $1", p, 1, &k) == CX_OK &&
			    json_array_size(k) == 1) {
				json_t *k0 = json_array_get(k, 0);
				json_object_set(r, "campaign_status",
				    json_object_get(k0, "status"));
				json_object_set(r, "campaign_updated_at",
				    json_object_get(k0, "updated_at"));
			}
			json_decref(k);
		}
		settle_one(d, r, now);
	}
	json_decref(rows);
}

/* ---- cancellation ---- */

void
dl_cancel_sweep(cxi_dialer *d, int64_t now)
{
	cx_db_value p[] = {CX_DB_V_INT(now)};
	dl_exec(d, "UPDATE leads SET status = 'cancelled', status_reason = "
	           "'campaign cancelled', next_attempt_at = NULL, updated_at = "
	           "$1 WHERE status IN ('new', 'retry') AND campaign_id IN "
	           "(SELECT id FROM campaigns WHERE status = 'cancelled')", p, 1,
	    NULL);
	json_t *rows = NULL, *keep = json_object();
	if (keep == NULL ||
	    dl_query(d, "SELECT c.id, c.account_id, c.provider, "
	                "c.provider_call_id, k.config FROM calls c JOIN "
	                "campaigns k ON k.id = c.campaign_id WHERE k.status = "
	                "'cancelled' AND c.status IN ('queued', 'ringing', "
	                "'in_progress')", NULL, 0, &rows) != CX_OK) {
		json_decref(keep);
		return;
	}
	size_t i;
	json_t *r;
	json_array_foreach (rows, i, r) {
		const char *id = json_string_value(json_object_get(r, "id"));
		if (id == NULL) {
			continue;
		}
		if (json_object_get(d->hungup, id) != NULL) {
			json_object_set_new(keep, id, json_true());
			continue;
		}
		cxi_campaign_conf cc;
		char why[256];
		bool have = dl_campaign_conf(r, &cc, why, sizeof(why)) == CX_OK;
		const char *acc = json_string_value(json_object_get(r,
		    "account_id"));
		const char *prov = json_string_value(json_object_get(r,
		    "provider"));
		json_t *creds = dl_credentials(d, acc, prov, have ?
		    cc.credential : NULL);
		json_t *req = json_pack("{s:i, s:s, s:s?}", "v",
		    CX_TELEPHONY_VERSION, "call_id", id, "provider_call_id",
		    json_string_value(json_object_get(r, "provider_call_id")));
		if (req != NULL && creds != NULL) {
			json_object_set(req, "credentials", creds);
		}
		json_decref(creds);
		if (have) {
			cxi_campaign_conf_free(&cc);
		}
		json_t *reply = NULL;
		cx_err rv = req != NULL ? cxi_manager_call(d->mgr, prov,
		                              CX_SVC_CALL_HANGUP, acc, req,
		                              d->conf.dispatch_timeout_ms,
		                              &reply) : CX_ENOMEM;
		json_decref(reply);
		/* Not supported or refused: the call ends on its own; only
		 * a transient failure is tried again next tick. */
		if (rv == CX_OK || rv == CX_ENOTSUP || rv == CX_EINVAL) {
			json_object_set_new(keep, id, json_true());
			cxi_info("dialer", "call %s: hangup sent (%s)", id,
			    cx_strerror(rv));
		}
	}
	json_decref(rows);
	json_decref(d->hungup);
	d->hungup = keep;
}

/* ---- completion ---- */

void
dl_complete_sweep(cxi_dialer *d, int64_t now)
{
	json_t *rows = NULL;
	if (dl_query(d, "SELECT k.id, k.account_id FROM campaigns k WHERE "
	                "k.status = 'running' AND NOT EXISTS (SELECT 1 FROM "
	                "leads l WHERE l.campaign_id = k.id AND l.status IN "
	                "('new', 'retry', 'calling')) AND NOT EXISTS (SELECT 1 "
	                "FROM calls c WHERE c.status IN " DL_ANY_SQL " AND "
	                "c.campaign_id = k.id AND c.settled_at IS NULL)", NULL,
	        0, &rows) != CX_OK) {
		return;
	}
	size_t i;
	json_t *r;
	cxi_db db;
	json_array_foreach (rows, i, r) {
		const char *id = json_string_value(json_object_get(r, "id"));
		const char *acc = json_string_value(json_object_get(r,
		    "account_id"));
		char why[256];
		if (!cxi_manager_db_hold(d->mgr, &db)) {
			break;
		}
		if (cxi_campaign_set_status(&db, acc, id, "completed", NULL,
		        NULL, why, sizeof(why)) == CX_OK) {
			if (cxi_repo_set(&db, &cxi_ent_campaign, acc, id,
			        json_pack("{s:I}", "ended_at", (json_int_t) now)) !=
			    CX_OK) {
				cxi_warn("dialer", "campaign %s: cannot record its "
				    "end time", id);
			}
			cxi_info("dialer", "campaign %s completed", id);
		}
		cxi_manager_unhold(d->mgr);
	}
	json_decref(rows);
}
