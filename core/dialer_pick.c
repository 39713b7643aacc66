/*
 * dialer_pick.c - the tick thread's choice of the next calls: due leads
 * of running campaigns, inside their calling window, allowed by the
 * policy survey, within the campaign's and the account's concurrency.
 * What does not fit stays queued (new/retry) for a later tick.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <callixo/plugin.h>
#include <callixo/telephony.h>

#include "dialer_int.h"
#include "log.h"
#include "repo.h"

typedef struct pick {
	const char *account, *campaign, *lead, *lead_status;
	const char *provider, *from, *to;
	json_t *vars;
	int attempt;
	bool lost;    /* the lead changed under us: nothing written */
	json_t *row;  /* the calls row */
	char why[256];
} pick;

/* The lead 'calling' and its calls row 'dispatching', both or none. */
static cx_err
pick_tx(cxi_dbc *c, void *arg)
{
	pick *p = arg;
	int64_t changes = 0;
	json_decref(p->row);
	p->row = NULL;
	p->lost = false;
	cx_db_value lp[] = {CX_DB_V_TEXT(p->lead), CX_DB_V_TEXT(p->lead_status),
	    CX_DB_V_INT(cxi_repo_now_ms())};
	cx_err rv = cxi_db_exec(c, "UPDATE leads SET status = 'calling', "
	                           "attempts = attempts + 1, next_attempt_at = "
	                           "NULL, status_reason = NULL, updated_at = $3 "
	                           "WHERE id = $1 AND status = $2", lp, 3, NULL,
	    &changes);
	if (rv != CX_OK) {
		return (rv);
	}
	if (changes != 1) {
		p->lost = true;
		return (CX_OK);
	}
	json_t *f = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:O}",
	    "campaign_id", p->campaign, "lead_id", p->lead, "attempt",
	    p->attempt, "provider", p->provider, "status", DL_DISPATCHING,
	    "from_number", p->from, "to_number", p->to, "variables", p->vars);
	if (f == NULL) {
		return (CX_ENOMEM);
	}
	rv = cxi_repo_insert_c(c, &cxi_ent_call, p->account, f, NULL, &p->row,
	    p->why, sizeof(p->why));
	json_decref(f);
	return (rv);
}

static void
lead_set(cxi_dialer *d, const char *sql, const char *id, const char *status,
    cx_db_value extra)
{
	cx_db_value p[] = {CX_DB_V_TEXT(id), CX_DB_V_TEXT(status), extra,
	    CX_DB_V_INT(dl_now())};
	dl_exec(d, sql, p, 4, NULL);
}

static int
next_attempt_no(cxi_dialer *d, const char *campaign, const char *lead)
{
	json_t *rows = NULL;
	cx_db_value p[] = {CX_DB_V_TEXT(campaign), CX_DB_V_TEXT(lead)};
	if (dl_query(d, "SELECT COALESCE(MAX(attempt), 0) AS n FROM calls "
	                "WHERE campaign_id = $1 AND lead_id = $2", p, 2,
	        &rows) != CX_OK) {
		return (-1);
	}
	int n = (int) json_integer_value(json_object_get(json_array_get(rows,
	    0), "n"));
	json_decref(rows);
	return (n + 1);
}

/* Window, policy, then the write and the job. 1: a call was queued. */
static int
pick_lead(cxi_dialer *d, const json_t *camp, const cxi_campaign_conf *cc,
    const json_t *creds, const json_t *lead, int64_t now)
{
	const char *account = json_string_value(json_object_get(camp,
	    "account_id"));
	const char *cid = json_string_value(json_object_get(camp, "id"));
	const char *lid = json_string_value(json_object_get(lead, "id"));
	const char *lst = json_string_value(json_object_get(lead, "status"));
	const char *to = json_string_value(json_object_get(lead, "phone_e164"));
	const char *tz = json_string_value(json_object_get(lead, "timezone"));
	if (tz == NULL || !cxi_tz_valid(tz)) {
		tz = cc->tz_fallback;
	}
	if (cc->windows.n > 0 || cc->windows.weekdays != 0) {
		bool open = false;
		int64_t next = 0;
		if (cxi_window_is_open(&cc->windows, tz, now, &open) != CX_OK) {
			return (0);
		}
		if (!open) {
			/* Not spun on: due again when its window opens. */
			if (cxi_window_next_open(&cc->windows, tz, now,
			        &next) == CX_OK) {
				lead_set(d, "UPDATE leads SET next_attempt_at = "
				            "$3, updated_at = $4 WHERE id = $1 AND "
				            "status = $2", lid, lst,
				    CX_DB_V_INT(next));
			}
			return (0);
		}
	}
	json_int_t rr = json_integer_value(json_object_get(d->rr, cid));
	const char *from = cc->from[(size_t) rr % cc->n_from];
	json_object_set_new(d->rr, cid, json_integer(rr + 1));
	int attempt = next_attempt_no(d, cid, lid);
	if (attempt < 1) {
		return (0);
	}
	char reason[256] = "";
	cx_verdict v = cxi_manager_survey(d->mgr, CXI_POLICY_CALL_PLACE,
	    account, json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "account",
	                 account, "campaign_id", cid, "lead_id", lid, "to", to,
	                 "from", from, "attempt", attempt),
	    DL_POLICY_DEADLINE_MS, reason, sizeof(reason));
	if (v == CX_POLICY_DENY) {
		char note[300];
		snprintf(note, sizeof(note), "policy: %s", reason[0] ? reason :
		                                            "denied");
		lead_set(d, "UPDATE leads SET status = 'blocked', status_reason "
		            "= $3, updated_at = $4 WHERE id = $1 AND status = $2",
		    lid, lst, CX_DB_V_TEXT(note));
		cxi_info("dialer", "lead %s not called: %s", lid, note);
		return (0);
	}
	pick p = {.account = account, .campaign = cid, .lead = lid,
	    .lead_status = lst, .provider = cc->telephony, .from = from,
	    .to = to, .vars = json_object_get(lead, "vars"),
	    .attempt = attempt};
	cxi_db db;
	cx_db_error err = {0};
	if (!cxi_manager_db_hold(d->mgr, &db)) {
		return (0);
	}
	cx_err rv = cxi_db_tx(&db, 3, pick_tx, &p, &err);
	cxi_manager_unhold(d->mgr);
	if (rv != CX_OK || p.lost) {
		if (rv != CX_OK) {
			cxi_warn("dialer", "lead %s: cannot record attempt %d: "
			    "%s %s", lid, attempt, cx_strerror(rv), p.why);
		}
		json_decref(p.row);
		return (0);
	}
	json_t *req = dl_place_request(cc, p.row, creds);
	dl_job *j = req != NULL ? calloc(1, sizeof(*j)) : NULL;
	if (j == NULL) {
		/* The row stays 'dispatching': redispatch picks it up. */
		json_decref(req);
		json_decref(p.row);
		return (1);
	}
	snprintf(j->call_id, sizeof(j->call_id), "%s",
	    json_string_value(json_object_get(p.row, "id")));
	snprintf(j->account, sizeof(j->account), "%s", account);
	snprintf(j->campaign, sizeof(j->campaign), "%s", cid);
	snprintf(j->provider, sizeof(j->provider), "%s", cc->telephony);
	j->cps = cc->cps;
	j->req = req;
	json_decref(p.row);
	dl_enqueue(d, j);
	return (1);
}

static void
pause_campaign(cxi_dialer *d, const json_t *camp, const char *reason)
{
	cxi_db db;
	char why[256];
	const char *id = json_string_value(json_object_get(camp, "id"));
	if (!cxi_manager_db_hold(d->mgr, &db)) {
		return;
	}
	if (cxi_campaign_set_status(&db, json_string_value(json_object_get(
	                                camp, "account_id")), id, "paused",
	        reason, NULL, why, sizeof(why)) == CX_OK) {
		cxi_warn("dialer", "campaign %s paused: %s", id, reason);
	}
	cxi_manager_unhold(d->mgr);
}

static int
count_of(const json_t *rows, const char *key_col, const char *key)
{
	size_t i;
	json_t *r;
	json_array_foreach (rows, i, r) {
		const char *k = json_string_value(json_object_get(r, key_col));
		if (k != NULL && strcmp(k, key) == 0) {
			return ((int) json_integer_value(json_object_get(r,
			    "n")));
		}
	}
	return (0);
}

static void
bump(json_t *rows, const char *key_col, const char *key)
{
	size_t i;
	json_t *r;
	json_array_foreach (rows, i, r) {
		const char *k = json_string_value(json_object_get(r, key_col));
		if (k != NULL && strcmp(k, key) == 0) {
			json_object_set_new(r, "n", json_integer(
			    json_integer_value(json_object_get(r, "n")) + 1));
			return;
		}
	}
	json_array_append_new(rows, json_pack("{s:s, s:i}", key_col, key, "n",
	    1));
}

static int
room(cxi_dialer *d)
{
	pthread_mutex_lock(&d->mu);
	int r = d->n_workers * 2 - d->queued - d->busy;
	pthread_mutex_unlock(&d->mu);
	return (r);
}

static void
campaign_pick(cxi_dialer *d, const json_t *camp, json_t *live_c,
    json_t *live_a, int64_t now)
{
	cxi_campaign_conf cc;
	char why[256], note[320];
	const char *cid = json_string_value(json_object_get(camp, "id"));
	const char *acc = json_string_value(json_object_get(camp, "account_id"));
	if (dl_campaign_conf(camp, &cc, why, sizeof(why)) != CX_OK) {
		snprintf(note, sizeof(note), "invalid config: %s", why);
		pause_campaign(d, camp, note);
		return;
	}
	json_t *creds = NULL;
	if (!cxi_manager_running(d->mgr, cc.telephony, CX_KIND_TELEPHONY,
	        NULL, 0)) {
		/* Queued, not dropped: the plugin may be restarting. */
		cxi_debug("dialer", "campaign %s waits: telephony plugin %s is "
		    "not running", cid, cc.telephony);
		goto out;
	}
	creds = dl_credentials(d, acc, cc.telephony, cc.credential);
	if (creds == NULL && cc.credential != NULL) {
		snprintf(note, sizeof(note), "vault entry '%s' for %s not found",
		    cc.credential, cc.telephony);
		pause_campaign(d, camp, note);
		goto out;
	}
	for (int round = 0; round < 5; round++) {
		int cap = cc.max_concurrency - count_of(live_c, "campaign_id",
		    cid);
		int acap = d->conf.account_max_concurrency - count_of(live_a,
		    "account_id", acc);
		int wcap = room(d);
		cap = cap < acap ? cap : acap;
		cap = cap < wcap ? cap : wcap;
		cap = cap < DL_PICK_MAX ? cap : DL_PICK_MAX;
		if (cap <= 0) {
			break;
		}
		json_t *leads = NULL;
		cx_db_value p[] = {CX_DB_V_TEXT(cid), CX_DB_V_INT(now),
		    CX_DB_V_INT(cap)};
		if (dl_query(d, "SELECT id, phone_e164, name, timezone, "
		                "metadata, status FROM leads WHERE campaign_id = "
		                "$1 AND status IN ('new', 'retry') AND "
		                "(next_attempt_at IS NULL OR next_attempt_at <= "
		                "$2) ORDER BY COALESCE(next_attempt_at, 0), "
		                "created_at, id LIMIT $3", p, 3, &leads) != CX_OK) {
			break;
		}
		size_t n = json_array_size(leads), i;
		json_t *l;
		json_array_foreach (leads, i, l) {
			if (json_object_set_new(l, "vars", dl_lead_vars(l)) !=
			    0) {
				continue;
			}
			if (pick_lead(d, camp, &cc, creds, l, now) == 1) {
				bump(live_c, "campaign_id", cid);
				bump(live_a, "account_id", acc);
			}
		}
		json_decref(leads);
		/* Fewer rows than asked: nothing more is due. Otherwise
		 * there may be more, and leads skipped here (window,
		 * policy) are no longer due: another round. */
		if (n < (size_t) cap) {
			break;
		}
	}
out:
	json_decref(creds);
	cxi_campaign_conf_free(&cc);
}

/* A call holds its concurrency slot until it is settled, not just
 * until it ends: settling (and the circuit breaker with it) happens
 * earlier in the same tick, so no call is placed on a slot whose
 * failure the breaker has not seen yet. */
void
dl_dispatch_new(cxi_dialer *d, int64_t now)
{
	json_t *camps = NULL, *live_c = NULL, *live_a = NULL;
	if (dl_query(d, "SELECT id, account_id, config FROM campaigns WHERE "
	                "status = 'running' ORDER BY started_at, id", NULL, 0,
	        &camps) != CX_OK ||
	    json_array_size(camps) == 0 ||
	    dl_query(d, "SELECT campaign_id, COUNT(*) AS n FROM calls WHERE "
	                "campaign_id IS NOT NULL AND settled_at IS NULL AND "
	                "status IN " DL_ANY_SQL " GROUP BY campaign_id", NULL,
	        0, &live_c) != CX_OK ||
	    dl_query(d, "SELECT account_id, COUNT(*) AS n FROM calls WHERE "
	                "settled_at IS NULL AND status IN " DL_ANY_SQL
	                " GROUP BY account_id", NULL, 0,
	        &live_a) != CX_OK) {
		goto out;
	}
	size_t i;
	json_t *c;
	json_array_foreach (camps, i, c) {
		campaign_pick(d, c, live_c, live_a, now);
	}
out:
	json_decref(camps);
	json_decref(live_c);
	json_decref(live_a);
}
