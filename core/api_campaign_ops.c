/*
 * api_campaign_ops.c - a campaign's lifecycle actions (start, pause,
 * resume, cancel), its stats, and attaching existing leads to it.
 *
 * Starting and resuming check what the dialer will need (a complete
 * config, a running telephony plugin, something to call) so a campaign
 * that cannot dial is refused here with the reason, not paused later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <callixo/plugin.h>

#include "api_campaigns.h"
#include "campaign_conf.h"
#include "log.h"
#include "repo.h"

#define ATTACH_MAX 400

/* SELECT <col>, COUNT(*) ... GROUP BY <col> as {value: n}. */
static cx_err
group_counts(cxi_dbc *dc, const char *sql, const char *account,
    const char *id, json_t *into)
{
	cx_db_rows *rows = NULL;
	cx_db_value p[] = {CX_DB_V_TEXT(id), CX_DB_V_TEXT(account)};
	cx_err rv = cxi_db_exec(dc, sql, p, 2, &rows, NULL);
	for (size_t i = 0; rv == CX_OK && i < cxi_db_rows_count(dc, rows);
	     i++) {
		const char *k = cxi_db_text(dc, rows, i, 0);
		if (k != NULL && json_object_set_new(into, k, json_integer(
		                     cxi_db_int(dc, rows, i, 1, 0))) != 0) {
			rv = CX_ENOMEM;
		}
	}
	cxi_db_rows_free(dc, rows);
	return (rv);
}

/* Whether the campaign has leads the dialer would call. */
static cx_err
pending_leads(const cxi_db *db, const char *account, const char *id,
    int64_t *n)
{
	cxi_dbc dc;
	cx_db_rows *rows = NULL;
	cx_db_value p[] = {CX_DB_V_TEXT(id), CX_DB_V_TEXT(account)};
	cx_err rv = cxi_db_acquire(db, 10000, &dc);
	if (rv != CX_OK) {
		return (rv);
	}
	rv = cxi_db_exec(&dc, "SELECT COUNT(*) FROM leads WHERE campaign_id = "
	                      "$1 AND account_id = $2 AND status IN ('new', "
	                      "'retry', 'calling')", p, 2, &rows, NULL);
	*n = rv == CX_OK ? cxi_db_int(&dc, rows, 0, 0, 0) : 0;
	cxi_db_rows_free(&dc, rows);
	cxi_db_release(&dc);
	return (rv);
}

/* Config complete and the telephony plugin up; false with 4xx set. */
static bool
can_dial(cxi_actx *c, const json_t *row)
{
	cxi_campaign_conf cc;
	char why[256] = "";
	if (cxi_campaign_conf_parse(json_object_get(row, "config"), true, &cc,
	        why, sizeof(why)) != CX_OK) {
		cxi_api_error(c, 400, "invalid_config", "%s", why);
		return (false);
	}
	bool up = cxi_manager_running(c->api->mgr, cc.telephony,
	    CX_KIND_TELEPHONY, NULL, 0);
	if (!up) {
		cxi_api_error(c, 409, "telephony_unavailable", "config.telephony "
		    "'%s' is not a running telephony plugin", cc.telephony);
	}
	cxi_campaign_conf_free(&cc);
	return (up);
}

void
cxi_api_campaign_action(cxi_actx *c, const char *id, const char *action)
{
	static const struct {
		const char *action, *to, *reason;
	} acts[] = {{"start", "running", NULL}, {"pause", "paused",
	    "paused by the user"}, {"resume", "running", NULL},
	    {"cancel", "cancelled", "cancelled by the user"}};
	size_t k = 0;
	while (strcmp(acts[k].action, action) != 0) {
		k++;
	}
	cxi_db db;
	char why[256] = "";
	if (!cxi_api_no_body(c)) {
		return;
	}
	if (atomic_load(&c->api->calling) == NULL) {
		cxi_api_error(c, 503, "unavailable", "calling is not running "
		    "yet");
		return;
	}
	if (!cxi_api_db(c, &db)) {
		return;
	}
	json_t *row = cxi_api_campaign_get(c, &db, id), *out = NULL;
	const char *st = json_string_value(json_object_get(row, "status"));
	bool from_ok = st != NULL && ((k == 0 && strcmp(st, "draft") == 0) ||
	    (k == 1 && strcmp(st, "running") == 0) ||
	    (k == 2 && strcmp(st, "paused") == 0) ||
	    (k == 3 && (strcmp(st, "draft") == 0 ||
	                   strcmp(st, "running") == 0 ||
	                   strcmp(st, "paused") == 0)));
	int64_t n = 0;
	if (row == NULL) {
		goto out;
	}
	if (!from_ok) {
		cxi_api_error(c, 409, "invalid_transition", "a %s campaign "
		    "cannot %s", st ? st : "?", action);
		goto out;
	}
	if ((k == 0 || k == 2) && !can_dial(c, row)) {
		goto out;
	}
	if (k == 0 && (pending_leads(&db, c->sess.account, id, &n) != CX_OK ||
	                  n == 0)) {
		cxi_api_error(c, 409, "no_leads", "the campaign has no leads to "
		    "call: attach some first (POST /v1/campaigns/%s/leads)",
		    id);
		goto out;
	}
	cx_err rv = cxi_campaign_set_status(&db, c->sess.account, id,
	    acts[k].to, acts[k].reason, NULL, why, sizeof(why));
	if (rv == CX_EINVAL) {
		/* Moved meanwhile (the dialer paused or completed it). */
		cxi_api_error(c, 409, "invalid_transition", "%s", why);
		goto out;
	}
	if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "the campaign could not be "
		    "changed");
		goto out;
	}
	int64_t now = cxi_repo_now_ms();
	json_t *sys = json_object();
	if (acts[k].reason == NULL) {
		json_object_set_new(sys, "status_reason", json_null());
	}
	if (k == 0) {
		json_object_set_new(sys, "started_at", json_integer(now));
	} else if (k == 3) {
		json_object_set_new(sys, "ended_at", json_integer(now));
	}
	if (json_object_size(sys) == 0) {
		json_decref(sys);
	} else if (cxi_repo_set(&db, &cxi_ent_campaign, c->sess.account, id,
	               sys) != CX_OK) { /* steals sys */
		cxi_warn("api", "campaign %s: cannot record the %s time", id,
		    action);
	}
	if (cxi_repo_get(&db, &cxi_ent_campaign, c->sess.account, id, &out) !=
	    CX_OK) {
		cxi_api_error(c, 500, "internal", "the campaign could not be "
		    "read back");
		goto out;
	}
	cxi_info("api", "campaign %s: %s (account %s)", id, action,
	    c->sess.account);
	cxi_api_dialer_kick(c);
	cxi_api_reply(c, 200, cxi_campaign_view(out));
out:
	cxi_manager_unhold(c->api->mgr);
	json_decref(out);
	json_decref(row);
}

void
cxi_api_campaign_stats(cxi_actx *c, const char *id)
{
	cxi_db db;
	cxi_dbc dc;
	if (!cxi_api_no_body(c) || !cxi_api_db(c, &db)) {
		return;
	}
	json_t *row = cxi_api_campaign_get(c, &db, id);
	json_t *leads = json_object(), *bys = json_object(),
	       *byo = json_object(), *live = json_object();
	cx_err rv = CX_EIO;
	if (row == NULL) {
		goto out;
	}
	if (leads == NULL || bys == NULL || byo == NULL || live == NULL ||
	    cxi_db_acquire(&db, 10000, &dc) != CX_OK) {
		cxi_api_error(c, 503, "unavailable", "stats cannot be read "
		    "right now");
		goto out;
	}
	if ((rv = group_counts(&dc, "SELECT status, COUNT(*) FROM leads WHERE "
	                            "campaign_id = $1 AND account_id = $2 "
	                            "GROUP BY status", c->sess.account, id,
	         leads)) == CX_OK &&
	    (rv = group_counts(&dc, "SELECT status, COUNT(*) FROM calls WHERE "
	                            "campaign_id = $1 AND account_id = $2 "
	                            "GROUP BY status", c->sess.account, id,
	         bys)) == CX_OK &&
	    (rv = group_counts(&dc, "SELECT outcome, COUNT(*) FROM calls WHERE "
	                            "campaign_id = $1 AND account_id = $2 AND "
	                            "outcome IS NOT NULL GROUP BY outcome",
	         c->sess.account, id, byo)) == CX_OK) {
		rv = group_counts(&dc, "SELECT 'live', COUNT(*) FROM calls WHERE "
		                       "campaign_id = $1 AND account_id = $2 AND "
		                       "status IN ('dispatching', 'unknown', "
		                       "'queued', 'ringing', 'in_progress')",
		    c->sess.account, id, live);
	}
	cxi_db_release(&dc);
	if (rv != CX_OK) {
		cxi_api_error(c, 500, "internal", "stats could not be read");
		goto out;
	}
	int64_t total = 0;
	const char *k;
	json_t *v;
	json_object_foreach (bys, k, v) {
		total += json_integer_value(v);
	}
	cxi_campaign_conf cc;
	char why[256];
	bool have = cxi_campaign_conf_parse(json_object_get(row, "config"),
	    false, &cc, why, sizeof(why)) == CX_OK;
	const char *reason = json_string_value(json_object_get(row,
	    "status_reason"));
	const char *st = json_string_value(json_object_get(row, "status"));
	bool tripped = reason != NULL && st != NULL &&
	    strcmp(st, "paused") == 0 &&
	    strncmp(reason, "circuit breaker", 15) == 0;
	json_t *brk = json_pack("{s:b, s:s?, s:i, s:f, s:i}", "tripped",
	    tripped, "reason", tripped ? reason : NULL, "min_calls",
	    have ? cc.breaker_min_calls : 5, "failure_ratio",
	    have ? cc.breaker_ratio : 0.5, "window_seconds",
	    have ? cc.breaker_window_s : 120);
	if (have) {
		cxi_campaign_conf_free(&cc);
	}
	cxi_api_reply(c, 200, json_pack("{s:s, s:s, s:O, s:O, s:{s:I, s:O, "
	                                "s:O}, s:I, s:o}",
	    "campaign_id", id, "status", st,
	    "status_reason", json_object_get(row, "status_reason"),
	    "leads", leads,
	    "calls", "total", (json_int_t) total, "by_status", bys,
	    "by_outcome", byo,
	    "live_calls", json_integer_value(json_object_get(live, "live")),
	    "breaker", brk));
out:
	cxi_manager_unhold(c->api->mgr);
	json_decref(leads);
	json_decref(bys);
	json_decref(byo);
	json_decref(live);
	json_decref(row);
}

/* ---- POST /v1/campaigns/{id}/leads ---- */

typedef struct attach {
	const char *account, *campaign;
	const json_t *ids;
	json_t *skipped;
	size_t attached;
} attach;

static cx_err
attach_tx(cxi_dbc *dc, void *arg)
{
	attach *a = arg;
	int64_t now = cxi_repo_now_ms();
	size_t i;
	json_t *v;
	json_decref(a->skipped);
	a->skipped = json_array();
	a->attached = 0;
	if (a->skipped == NULL) {
		return (CX_ENOMEM);
	}
	json_array_foreach (a->ids, i, v) {
		const char *lid = json_string_value(v);
		int64_t changes = 0;
		/* A lead being called keeps its call; everything else
		 * (re)starts as new in this campaign. */
		cx_db_value p[] = {CX_DB_V_TEXT(a->campaign), CX_DB_V_TEXT(lid),
		    CX_DB_V_TEXT(a->account), CX_DB_V_INT(now)};
		cx_err rv = cxi_db_exec(dc, "UPDATE leads SET campaign_id = $1, "
		                           "status = 'new', next_attempt_at = "
		                           "NULL, status_reason = NULL, updated_at "
		                           "= $4 WHERE id = $2 AND account_id = $3 "
		                           "AND status <> 'calling'", p, 4, NULL,
		    &changes);
		if (rv != CX_OK) {
			return (rv);
		}
		if (changes == 1) {
			a->attached++;
			continue;
		}
		cx_db_rows *rows = NULL;
		rv = cxi_db_exec(dc, "SELECT status FROM leads WHERE id = $1 AND "
		                     "account_id = $2", p + 1, 2, &rows, NULL);
		bool exists = rv == CX_OK && cxi_db_rows_count(dc, rows) == 1;
		cxi_db_rows_free(dc, rows);
		if (rv != CX_OK) {
			return (rv);
		}
		json_array_append_new(a->skipped, json_pack("{s:s, s:s}", "id",
		    lid, "reason", exists ? "the lead is being called" :
		                            "no such lead"));
	}
	return (CX_OK);
}

void
cxi_api_campaign_leads(cxi_actx *c, const char *id)
{
	static const cxi_afield f[] = {{"lead_ids", CXI_AF_ARRAY, true, 0},
	    CXI_AF_END};
	if (!cxi_api_body(c, f)) {
		return;
	}
	json_t *ids = json_object_get(c->body, "lead_ids");
	size_t i;
	json_t *v;
	if (json_array_size(ids) == 0 || json_array_size(ids) > ATTACH_MAX) {
		cxi_api_error(c, 400, "invalid_field", "lead_ids must list 1 to "
		    "%d lead ids", ATTACH_MAX);
		return;
	}
	json_array_foreach (ids, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 64) {
			cxi_api_error(c, 400, "invalid_field", "lead_ids[%zu] "
			    "is not a lead id", i);
			return;
		}
	}
	cxi_db db;
	if (!cxi_api_db(c, &db)) {
		return;
	}
	json_t *row = cxi_api_campaign_get(c, &db, id);
	const char *st = json_string_value(json_object_get(row, "status"));
	attach a = {.account = c->sess.account, .campaign = id, .ids = ids};
	cx_db_error err;
	if (row == NULL) {
		goto out;
	}
	if (strcmp(st, "completed") == 0 || strcmp(st, "cancelled") == 0) {
		cxi_api_error(c, 409, "invalid_transition", "leads cannot be "
		    "attached to a %s campaign", st);
		goto out;
	}
	if (cxi_db_tx(&db, 3, attach_tx, &a, &err) != CX_OK) {
		cxi_api_error(c, 500, "internal", "the leads could not be "
		    "attached");
		goto out;
	}
	cxi_api_dialer_kick(c);
	cxi_api_reply(c, 200, json_pack("{s:s, s:I, s:O}", "campaign_id", id,
	    "attached", (json_int_t) a.attached, "skipped", a.skipped));
out:
	cxi_manager_unhold(c->api->mgr);
	json_decref(a.skipped);
	json_decref(row);
}
