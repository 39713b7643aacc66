/*
 * dialer_reconcile.c - asking the provider about calls whose fate the
 * core does not know: a place_call that timed out ('unknown'), rows an
 * earlier run left 'dispatching', and live calls older than
 * dialer.max_call_duration (their final event may have been lost).
 *
 * Neither Twilio nor Retell has an idempotency key, so this lookup is
 * what keeps one attempt from ever becoming two calls.
 */
#include <stdio.h>
#include <string.h>

#include <callixo/telephony.h>

#include "dialer_int.h"
#include "log.h"

#define STALE_RECHECK_MS (5 * 60 * 1000)

void
dl_reconcile_startup(cxi_dialer *d)
{
	int64_t n = 0;
	/* A 'dispatching' row of an earlier run may have reached the
	 * provider just before the stop: it is looked up like a timeout. */
	if (dl_exec(d, "UPDATE calls SET status = 'unknown' WHERE status = "
	               "'dispatching'", NULL, 0, &n) == CX_OK && n > 0) {
		cxi_info("dialer", "%lld call(s) left dispatching by the last "
		    "run: looking them up before placing anything",
		    (long long) n);
	}
}

static bool
known_status(const char *s)
{
	static const char *const all[] = {CX_CALL_QUEUED, CX_CALL_RINGING,
	    CX_CALL_IN_PROGRESS, CX_CALL_COMPLETED, CX_CALL_BUSY,
	    CX_CALL_NO_ANSWER, CX_CALL_FAILED, CX_CALL_CANCELED, NULL};
	for (size_t i = 0; s != NULL && all[i] != NULL; i++) {
		if (strcmp(s, all[i]) == 0) {
			return (true);
		}
	}
	return (false);
}

/* CX_SVC_CALL_LOOKUP for one row; *found and the reply on CX_OK. */
static cx_err
lookup(cxi_dialer *d, const json_t *r, json_t **reply)
{
	cxi_campaign_conf cc;
	char why[256];
	const char *cred = NULL;
	bool have = dl_campaign_conf(r, &cc, why, sizeof(why)) == CX_OK;
	if (have) {
		cred = cc.credential;
	}
	const char *acc = json_string_value(json_object_get(r, "account_id"));
	const char *prov = json_string_value(json_object_get(r, "provider"));
	json_t *creds = dl_credentials(d, acc, prov, cred);
	json_t *req = json_pack("{s:i, s:s, s:s, s:s?, s:I, s:s?}", "v",
	    CX_TELEPHONY_VERSION, "call_id", json_string_value(json_object_get(
	                                         r, "id")),
	    "to", json_string_value(json_object_get(r, "to_number")),
	    "from", json_string_value(json_object_get(r, "from_number")),
	    "since_ms", json_integer_value(json_object_get(r, "created_at")),
	    "provider_call_id", json_string_value(json_object_get(r,
	                            "provider_call_id")));
	if (req != NULL && creds != NULL) {
		json_object_set(req, "credentials", creds);
	}
	json_decref(creds);
	if (have) {
		cxi_campaign_conf_free(&cc);
	}
	if (req == NULL) {
		return (CX_ENOMEM);
	}
	return (cxi_manager_call(d->mgr, prov, CX_SVC_CALL_LOOKUP, acc, req,
	    d->conf.dispatch_timeout_ms, reply));
}

static void
lookup_failed(cxi_dialer *d, const char *id, cx_err rv, int64_t now,
    int64_t floor_ms)
{
	int tries = 0;
	(void) dl_track_at(d, id, &tries);
	tries++;
	int64_t wait = dl_backoff_ms(d, tries);
	if (wait < floor_ms) {
		wait = floor_ms;
	}
	dl_track_set(d, id, now + wait, tries);
	cxi_warn("dialer", "call %s: lookup failed (%s); again in %lld ms", id,
	    cx_strerror(rv), (long long) wait);
}

/* Found: the provider's id and status replace the core's guess. */
static void
adopt(cxi_dialer *d, const char *id, const json_t *reply, int64_t now,
    const char *from_states)
{
	const char *pcid = json_string_value(json_object_get(reply,
	    "provider_call_id"));
	const char *st = json_string_value(json_object_get(reply, "status"));
	if (!known_status(st)) {
		st = CX_CALL_QUEUED;
	}
	char sql[400];
	bool term = dl_status_terminal(st);
	snprintf(sql, sizeof(sql), "UPDATE calls SET provider_call_id = "
	    "COALESCE(provider_call_id, $2), status = $3, outcome = "
	    "COALESCE(outcome, $4), dispatched_at = COALESCE(dispatched_at, "
	    "$5), error = NULL%s WHERE id = $1 AND status IN %s",
	    term ? ", ended_at = COALESCE(ended_at, $5)" : "", from_states);
	cx_db_value p[] = {CX_DB_V_TEXT(id), CX_DB_V_TEXT(pcid),
	    CX_DB_V_TEXT(st), CX_DB_V_NULL(), CX_DB_V_INT(now)};
	if (term) {
		p[3] = CX_DB_V_TEXT(dl_status_outcome(st));
	}
	dl_exec(d, sql, p, 5, NULL);
	cxi_info("dialer", "call %s reconciled: the provider has it (%s)", id,
	    st);
}

static void
unknown_rows(cxi_dialer *d, int64_t now)
{
	json_t *rows = NULL;
	if (dl_query(d, "SELECT c.id, c.account_id, c.provider, "
	                "c.provider_call_id, c.to_number, c.from_number, "
	                "c.created_at, k.status AS campaign_status, k.config "
	                "FROM calls c LEFT JOIN campaigns k ON k.id = "
	                "c.campaign_id WHERE c.status = 'unknown'", NULL, 0,
	        &rows) != CX_OK) {
		return;
	}
	size_t i;
	json_t *r;
	json_array_foreach (rows, i, r) {
		const char *id = json_string_value(json_object_get(r, "id"));
		const char *cs = json_string_value(json_object_get(r,
		    "campaign_status"));
		json_t *reply = NULL;
		if (id == NULL || dl_track_at(d, id, NULL) > now) {
			continue;
		}
		cx_err rv = lookup(d, r, &reply);
		if (rv != CX_OK) {
			lookup_failed(d, id, rv, now,
			    d->conf.reconcile_after_ms);
		} else if (json_is_true(json_object_get(reply, "found"))) {
			dl_track_clear(d, id);
			adopt(d, id, reply, now, "('unknown')");
		} else if (cs != NULL && (strcmp(cs, "running") == 0 ||
		                             strcmp(cs, "paused") == 0)) {
			/* Never reached the provider: the same row, the same
			 * attempt, placed again. */
			cx_db_value p[] = {CX_DB_V_TEXT(id)};
			dl_track_clear(d, id);
			dl_exec(d, "UPDATE calls SET status = 'dispatching', "
			           "error = NULL WHERE id = $1 AND status = "
			           "'unknown'", p, 1, NULL);
			cxi_info("dialer", "call %s: the provider has no such "
			    "call; placing the same attempt again", id);
		} else {
			cx_db_value p[] = {CX_DB_V_TEXT(id), CX_DB_V_INT(now)};
			dl_track_clear(d, id);
			dl_exec(d, "UPDATE calls SET status = 'canceled', outcome "
			           "= 'canceled', ended_at = $2, error = 'campaign "
			           "ended before the call was placed' WHERE id = "
			           "$1 AND status = 'unknown'", p, 2, NULL);
		}
		json_decref(reply);
	}
	json_decref(rows);
}

static void
stale_rows(cxi_dialer *d, int64_t now)
{
	json_t *rows = NULL;
	cx_db_value q[] = {CX_DB_V_INT(now - d->conf.max_call_duration_ms)};
	if (dl_query(d, "SELECT c.id, c.account_id, c.provider, "
	                "c.provider_call_id, c.to_number, c.from_number, "
	                "c.created_at, k.config FROM calls c LEFT JOIN "
	                "campaigns k ON k.id = c.campaign_id WHERE c.status IN "
	                "('queued', 'ringing', 'in_progress') AND "
	                "COALESCE(c.dispatched_at, c.created_at) < $1", q, 1,
	        &rows) != CX_OK) {
		return;
	}
	size_t i;
	json_t *r;
	json_array_foreach (rows, i, r) {
		const char *id = json_string_value(json_object_get(r, "id"));
		json_t *reply = NULL;
		if (id == NULL || dl_track_at(d, id, NULL) > now) {
			continue;
		}
		cx_err rv = lookup(d, r, &reply);
		const char *st = json_string_value(json_object_get(reply,
		    "status"));
		if (rv != CX_OK) {
			lookup_failed(d, id, rv, now, STALE_RECHECK_MS);
		} else if (!json_is_true(json_object_get(reply, "found"))) {
			cx_db_value p[] = {CX_DB_V_TEXT(id), CX_DB_V_INT(now)};
			dl_track_clear(d, id);
			dl_exec(d, "UPDATE calls SET status = 'failed', outcome = "
			           "'failed', ended_at = $2, error = 'no final "
			           "event and the provider has no record of the "
			           "call' WHERE id = $1 AND status IN ('queued', "
			           "'ringing', 'in_progress')", p, 2, NULL);
		} else if (dl_status_terminal(st)) {
			dl_track_clear(d, id);
			adopt(d, id, reply, now,
			    "('queued', 'ringing', 'in_progress')");
		} else {
			/* Still going at the provider: ask again later. */
			dl_track_set(d, id, now + STALE_RECHECK_MS, 0);
		}
		json_decref(reply);
	}
	json_decref(rows);
}

void
dl_reconcile(cxi_dialer *d, int64_t now, bool startup)
{
	(void) startup; /* the track is empty then: every row is due */
	unknown_rows(d, now);
	stale_rows(d, now);
}
