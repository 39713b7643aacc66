/*
 * dialer_cases.c - helpers of the dialer test cases (dialer_cases.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dialer_cases.h"
#include "repo.h"

int64_t
count(rig *r, const char *sql, const char *campaign)
{
	cx_db_value p[] = {CX_DB_V_TEXT(campaign)};
	return (rig_int(r, sql, p, campaign != NULL ? 1 : 0));
}

int64_t
live_of(rig *r, const char *campaign)
{
	return (count(r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 "
	                 "AND status IN " LIVE, campaign));
}

const char *
campaign_status(rig *r, const char *id, char *buf, size_t len)
{
	cx_db_value p[] = {CX_DB_V_TEXT(id)};
	json_t *rows = rig_q(r, "SELECT status FROM campaigns WHERE id = $1", p,
	    1);
	snprintf(buf, len, "%s", json_string_value(json_object_get(
	    json_array_get(rows, 0), "status")));
	json_decref(rows);
	return (buf);
}

/* Ends every queued call of the campaign as `status` (outcome may be
 * NULL: the dialer derives it). */
void
finish_queued(rig *r, const char *campaign, const char *status,
    const char *outcome)
{
	cx_db_value p[] = {CX_DB_V_TEXT(campaign), CX_DB_V_TEXT(status),
	    CX_DB_V_TEXT(outcome), CX_DB_V_INT(rig_now())};
	rig_exec(r, "UPDATE calls SET status = $2, outcome = $3, ended_at = $4 "
	            "WHERE campaign_id = $1 AND status = 'queued'", p, 4);
}

void
finish_call(rig *r, const char *call, const char *status,
    const char *outcome)
{
	cx_db_value p[] = {CX_DB_V_TEXT(call), CX_DB_V_TEXT(status),
	    CX_DB_V_TEXT(outcome), CX_DB_V_INT(rig_now())};
	rig_exec(r, "UPDATE calls SET status = $2, outcome = $3, ended_at = $4 "
	            "WHERE id = $1", p, 4);
}

typedef struct want {
	const char *sql;
	const char *arg;
	int64_t n;
} want;

static bool
cond_count(rig *r, void *arg)
{
	want *w = arg;
	return (count(r, w->sql, w->arg) == w->n);
}

void
wait_count(rig *r, const char *sql, const char *arg, int64_t n, int ms)
{
	want w = {sql, arg, n};
	if (!rig_wait(r, cond_count, &w, ms)) {
		fail_msg("timed out waiting for %s [%s] = %lld (is %lld)", sql,
		    arg ? arg : "", (long long) n,
		    (long long) count(r, sql, arg));
	}
}

void
wait_status(rig *r, const char *campaign, const char *status, int ms)
{
	char buf[32];
	int64_t end = rig_now() + ms;
	while (strcmp(campaign_status(r, campaign, buf, sizeof(buf)), status) !=
	    0) {
		if (rig_now() > end) {
			fail_msg("campaign %s is %s, expected %s", campaign, buf,
			    status);
		}
		rig_sleep(20);
	}
}

/* Every call row was placed (created at the provider) at most once. */
void
assert_no_double_calls(rig *r)
{
	json_t *ev = rig_fake_events(r, "place");
	json_t *seen = json_object();
	size_t i;
	json_t *e;
	json_array_foreach (ev, i, e) {
		const char *id = json_string_value(json_object_get(e,
		    "call_id"));
		const char *res = json_string_value(json_object_get(e,
		    "result"));
		assert_string_not_equal(res, "duplicate");
		if (strcmp(res, "ok") == 0 ||
		    strcmp(res, "timeout_created") == 0) {
			assert_null(json_object_get(seen, id));
			json_object_set_new(seen, id, json_true());
		}
	}
	json_decref(seen);
	json_decref(ev);
	/* And one row per (campaign, lead, attempt), by the schema. */
	assert_int_equal(count(r, "SELECT COUNT(*) FROM (SELECT campaign_id, "
	                          "lead_id, attempt FROM calls GROUP BY "
	                          "campaign_id, lead_id, attempt HAVING "
	                          "COUNT(*) > 1) x", NULL), 0);
}
