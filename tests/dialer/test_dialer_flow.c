/*
 * test_dialer_flow.c - the dialer cases about what follows a call:
 * retries per outcome, the circuit breaker, policy denials,
 * cancellation, calling windows, what place_call carries, and the
 * campaigns API's refusals. Registered by test_dialer.c.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dialer_cases.h"
#include "repo.h"
#include "window.h"

/* ---- retry policy per outcome; settled exactly once ---- */

void
test_retry_policy(void **state)
{
	(void) state;
	static rig r;
	char a[64];
	rig_up(&r, DIALER_FAST "  account_max_concurrency: 10\n");
	rig_campaign(&r, CONF(",\"max_concurrency\":10,\"calls_per_second\":50,"
	                      "\"retry\":{\"no_answer\":{\"after_minutes\":0,"
	                      "\"max_attempts\":2},\"busy\":{\"after_minutes\":1,"
	                      "\"max_attempts\":2},\"voicemail\":{"
	                      "\"after_minutes\":0,\"max_attempts\":1}}"),
	    4, 1200, a, sizeof(a));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'queued'", a, 4, 8000);
	cx_db_value p[] = {CX_DB_V_TEXT(a)};
	json_t *calls = rig_q(&r, "SELECT c.id, c.lead_id, l.phone_e164 FROM "
	                          "calls c JOIN leads l ON l.id = c.lead_id "
	                          "WHERE c.campaign_id = $1 ORDER BY "
	                          "l.phone_e164", p, 1);
	const char *st[] = {"no_answer", "busy", "completed", "completed"};
	const char *oc[] = {NULL, NULL, "voicemail", "answered"};
	char leads[4][64];
	for (size_t i = 0; i < 4; i++) {
		json_t *c = json_array_get(calls, i);
		snprintf(leads[i], sizeof(leads[i]), "%s", json_string_value(
		    json_object_get(c, "lead_id")));
		finish_call(&r, json_string_value(json_object_get(c, "id")),
		    st[i], oc[i]);
	}
	int64_t t0 = rig_now();
	json_decref(calls);
	/* no_answer: retried at once as attempt 2. */
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE lead_id = $1 AND "
	               "attempt = 2 AND status = 'queued'", leads[0], 1, 8000);
	/* busy: retry in one minute. */
	cx_db_value l1[] = {CX_DB_V_TEXT(leads[1])};
	json_t *lr = rig_q(&r, "SELECT status, next_attempt_at, last_outcome "
	                       "FROM leads WHERE id = $1", l1, 1);
	json_t *l = json_array_get(lr, 0);
	assert_string_equal(json_string_value(json_object_get(l, "status")),
	    "retry");
	assert_string_equal(json_string_value(json_object_get(l,
	                        "last_outcome")), "busy");
	int64_t next = json_integer_value(json_object_get(l, "next_attempt_at"));
	assert_true(next >= t0 + 60000 - 1000 && next <= rig_now() + 60000);
	json_decref(lr);
	/* voicemail with max 1, and answered: done. */
	cx_db_value l2[] = {CX_DB_V_TEXT(leads[2])};
	lr = rig_q(&r, "SELECT status, last_outcome FROM leads WHERE id = $1",
	    l2, 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(lr,
	                        0), "status")), "done");
	assert_string_equal(json_string_value(json_object_get(json_array_get(lr,
	                        0), "last_outcome")), "voicemail");
	json_decref(lr);
	cx_db_value l3[] = {CX_DB_V_TEXT(leads[3])};
	lr = rig_q(&r, "SELECT status, last_outcome FROM leads WHERE id = $1",
	    l3, 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(lr,
	                        0), "last_outcome")), "answered");
	json_decref(lr);
	/* Settled exactly once: settled_at does not move. */
	json_t *s1 = rig_q(&r, "SELECT id, settled_at, outcome FROM calls "
	                       "WHERE attempt = 1 ORDER BY id", NULL, 0);
	rig_sleep(300);
	json_t *s2 = rig_q(&r, "SELECT id, settled_at, outcome FROM calls "
	                       "WHERE attempt = 1 ORDER BY id", NULL, 0);
	assert_true(json_equal(s1, s2));
	size_t i;
	json_t *c;
	json_array_foreach (s1, i, c) {
		assert_true(json_integer_value(json_object_get(c,
		                "settled_at")) > 0);
		assert_non_null(json_string_value(json_object_get(c,
		    "outcome")));
	}
	json_decref(s1);
	json_decref(s2);
	/* The second no_answer uses up the attempts. */
	finish_queued(&r, a, "no_answer", "no_answer");
	wait_count(&r, "SELECT COUNT(*) FROM leads WHERE id = $1 AND status = "
	               "'done' AND status_reason = 'out of attempts'", leads[0],
	    1, 5000);
	char buf[32];
	assert_string_equal(campaign_status(&r, a, buf, sizeof(buf)),
	    "running");
	rig_down(&r);
}

/* ---- the circuit breaker ---- */

void
test_breaker(void **state)
{
	(void) state;
	static rig r;
	char a[64], path[128];
	int st = 0;
	rig_up(&r, DIALER_FAST "  account_max_concurrency: 10\n");
	rig_campaign(&r, CONF(",\"max_concurrency\":4,\"calls_per_second\":50,"
	                      "\"breaker\":{\"min_calls\":4,\"failure_ratio\":0.5,"
	                      "\"window_seconds\":120}"),
	    8, 1300, a, sizeof(a));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'queued'", a, 4, 8000);
	cx_db_value p[] = {CX_DB_V_TEXT(a)};
	json_t *calls = rig_q(&r, "SELECT id FROM calls WHERE campaign_id = $1 "
	                          "ORDER BY id", p, 1);
	/* All four end at once (one statement): otherwise the dialer may
	 * refill the freed slots before min_calls have ended, as it should. */
	cx_db_value f[] = {CX_DB_V_TEXT(a), CX_DB_V_TEXT(json_string_value(
	    json_object_get(json_array_get(calls, 3), "id"))),
	    CX_DB_V_INT(rig_now())};
	rig_exec(&r, "UPDATE calls SET status = CASE WHEN id = $2 THEN "
	             "'completed' ELSE 'failed' END, outcome = CASE WHEN id = $2 "
	             "THEN 'answered' ELSE NULL END, ended_at = $3 WHERE "
	             "campaign_id = $1 AND status = 'queued'", f, 3);
	json_decref(calls);
	wait_status(&r, a, "paused", 5000);
	json_t *rows = rig_q(&r, "SELECT status_reason FROM campaigns WHERE id "
	                         "= $1", p, 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	                        rows, 0), "status_reason")),
	    "circuit breaker: 3 of 4 calls failed in 120 s");
	json_decref(rows);
	/* Paused: the other four leads wait. */
	rig_sleep(300);
	json_t *ev = rig_fake_events(&r, "place");
	assert_int_equal(json_array_size(ev), 4);
	json_decref(ev);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/stats", a);
	json_t *s = rig_api(&r, "GET", path, NULL, &st);
	assert_int_equal(st, 200);
	json_t *brk = json_object_get(s, "breaker");
	assert_true(json_is_true(json_object_get(brk, "tripped")));
	assert_string_equal(json_string_value(json_object_get(brk, "reason")),
	    "circuit breaker: 3 of 4 calls failed in 120 s");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(s,
	                     "leads"), "new")), 4);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	                     json_object_get(s, "calls"), "by_outcome"),
	                     "failed")), 3);
	json_decref(s);
	/* Resumed: a clean slate, the rest is called. */
	snprintf(path, sizeof(path), "/v1/campaigns/%s/resume", a);
	json_decref(rig_api(&r, "POST", path, NULL, &st));
	assert_int_equal(st, 200);
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'queued'", a, 4, 8000);
	finish_queued(&r, a, "completed", "answered");
	wait_status(&r, a, "completed", 5000);
	rig_down(&r);
}

/* ---- policy deny ---- */

void
test_policy_deny(void **state)
{
	(void) state;
	static rig r;
	char a[64];
	rig_up(&r, DIALER_FAST);
	json_decref(rig_fake(&r, "fake.script", json_pack("{s:[s]}", "deny",
	    "+15550001401")));
	rig_campaign(&r, CONF(",\"calls_per_second\":50"), 3, 1400, a,
	    sizeof(a));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'queued'", a, 2, 8000);
	wait_count(&r, "SELECT COUNT(*) FROM leads WHERE campaign_id = $1 AND "
	               "status = 'blocked' AND status_reason LIKE "
	               "'%do-not-call%'", a, 1, 5000);
	rig_sleep(200);
	json_t *ev = rig_fake_events(&r, "place");
	assert_int_equal(json_array_size(ev), 2);
	size_t i;
	json_t *e;
	json_array_foreach (ev, i, e) {
		assert_string_not_equal(json_string_value(json_object_get(e,
		                            "to")), "+15550001401");
	}
	json_decref(ev);
	rig_down(&r);
}

/* ---- cancel ---- */

void
test_cancel(void **state)
{
	(void) state;
	static rig r;
	char a[64], path[128];
	int st = 0;
	rig_up(&r, DIALER_FAST);
	rig_campaign(&r, CONF(",\"max_concurrency\":1"), 3, 1500, a,
	    sizeof(a));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'queued'", a, 1, 8000);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/cancel", a);
	json_t *j = rig_api(&r, "POST", path, NULL, &st);
	assert_int_equal(st, 200);
	assert_string_equal(json_string_value(json_object_get(j, "status")),
	    "cancelled");
	assert_true(json_integer_value(json_object_get(j, "ended_at")) > 0);
	json_decref(j);
	wait_count(&r, "SELECT COUNT(*) FROM leads WHERE campaign_id = $1 AND "
	               "status = 'cancelled'", a, 2, 5000);
	cx_db_value p[] = {CX_DB_V_TEXT(a)};
	json_t *calls = rig_q(&r, "SELECT id FROM calls WHERE campaign_id = $1",
	    p, 1);
	const char *cid = json_string_value(json_object_get(json_array_get(
	    calls, 0), "id"));
	int64_t end = rig_now() + 5000;
	bool hung = false;
	while (!hung && rig_now() < end) {
		json_t *ev = rig_fake_events(&r, "hangup");
		hung = json_array_size(ev) == 1 &&
		    strcmp(json_string_value(json_object_get(json_array_get(ev,
		               0), "call_id")), cid) == 0;
		json_decref(ev);
		rig_sleep(20);
	}
	assert_true(hung);
	/* The provider ends it: the lead is cancelled too. */
	finish_call(&r, cid, "canceled", "canceled");
	json_decref(calls);
	wait_count(&r, "SELECT COUNT(*) FROM leads WHERE campaign_id = $1 AND "
	               "status = 'cancelled'", a, 3, 5000);
	rig_sleep(200);
	/* One hangup only, and nothing else placed. */
	json_t *ev = rig_fake_events(&r, "hangup");
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);
	ev = rig_fake_events(&r, "place");
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);
	char buf[32];
	assert_string_equal(campaign_status(&r, a, buf, sizeof(buf)),
	    "cancelled");
	rig_down(&r);
}

/* A place still queued when the campaign is cancelled is not sent. */
void
test_cancel_queued(void **state)
{
	(void) state;
	static rig r;
	char a[64], path[128];
	int st = 0;
	rig_up(&r, DIALER_FAST);
	/* One call every 3 s: the second waits in the queue. */
	rig_campaign(&r, CONF(",\"max_concurrency\":3,"
	                      "\"calls_per_second\":0.33"), 3, 2000, a,
	    sizeof(a));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'queued'", a, 1, 8000);
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'dispatching'", a, 2, 8000);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/cancel", a);
	json_decref(rig_api(&r, "POST", path, NULL, &st));
	assert_int_equal(st, 200);
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'canceled' AND error LIKE 'campaign cancelled%'",
	    a, 2, 8000);
	rig_sleep(3500);
	json_t *ev = rig_fake_events(&r, "place");
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);
	wait_count(&r, "SELECT COUNT(*) FROM leads WHERE campaign_id = $1 AND "
	               "status = 'cancelled'", a, 2, 5000);
	rig_down(&r);
}

/* ---- calling windows in each lead's zone ---- */

void
test_windows(void **state)
{
	(void) state;
	static rig r;
	char a[64], path[128], body[512], ids[4][64];
	int st = 0;
	rig_up(&r, DIALER_FAST);
	/* A window open now in Kolkata (UTC+5:30) and closed in UTC. */
	int64_t now = rig_now();
	int m = (int) ((now / 60000 + 330) % 1440);
	int s = m >= 5 ? m - 5 : 0, e = m + 30 <= 1440 ? m + 30 : 1440;
	snprintf(body, sizeof(body), "{\"name\":\"w\",\"config\":" CONF(
	    ",\"calls_per_second\":50,\"windows\":[{\"start_minute\":%d,"
	    "\"end_minute\":%d}],\"timezone_fallback\":\"UTC\"") "}", s, e);
	json_t *j = rig_api(&r, "POST", "/v1/campaigns", body, &st);
	assert_int_equal(st, 201);
	snprintf(a, sizeof(a), "%s", json_string_value(json_object_get(j,
	    "id")));
	json_decref(j);
	rig_lead(&r, a, "+15550001600", "Asia/Kolkata", ids[0], 64);
	rig_lead(&r, a, "+15550001601", "UTC", ids[1], 64);
	rig_lead(&r, a, "+15550001602", NULL, ids[2], 64);
	rig_lead(&r, a, "+15550001603", "Mars/Base", ids[3], 64);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/start", a);
	json_decref(rig_api(&r, "POST", path, NULL, &st));
	assert_int_equal(st, 200);
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE lead_id = $1", ids[0],
	    1, 8000);
	cxi_windows w = {.n = 1};
	w.w[0].start_minute = s;
	w.w[0].end_minute = e;
	for (int i = 1; i < 4; i++) {
		/* Rescheduled to its window's next opening, not dialled. */
		wait_count(&r, "SELECT COUNT(*) FROM leads WHERE id = $1 AND "
		               "next_attempt_at IS NOT NULL", ids[i], 1, 5000);
		cx_db_value p[] = {CX_DB_V_TEXT(ids[i])};
		int64_t next = rig_int(&r, "SELECT next_attempt_at FROM leads "
		                           "WHERE id = $1", p, 1);
		bool open = true;
		assert_true(next > now);
		assert_int_equal(cxi_window_is_open(&w, "UTC", next, &open),
		    CX_OK);
		assert_true(open);
		assert_int_equal(cxi_window_is_open(&w, "UTC", next - 60000,
		                     &open), CX_OK);
		assert_false(open);
		assert_int_equal(count(&r, "SELECT COUNT(*) FROM calls WHERE "
		                           "lead_id = $1", ids[i]), 0);
	}
	/* New windows (all day): the waiting leads are due at once. */
	snprintf(path, sizeof(path), "/v1/campaigns/%s/pause", a);
	json_decref(rig_api(&r, "POST", path, NULL, &st));
	assert_int_equal(st, 200);
	snprintf(path, sizeof(path), "/v1/campaigns/%s", a);
	json_decref(rig_api(&r, "PATCH", path, "{\"config\":" CONF(
	    ",\"calls_per_second\":50") "}", &st));
	assert_int_equal(st, 200);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/resume", a);
	json_decref(rig_api(&r, "POST", path, NULL, &st));
	assert_int_equal(st, 200);
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1", a,
	    4, 8000);
	rig_down(&r);
}

/* ---- what place_call carries ---- */

void
test_request_content(void **state)
{
	(void) state;
	static rig r;
	char a[64], why[256];
	rig_up(&r, DIALER_FAST);
	/* A vault entry of the account for this provider. */
	char *tok = NULL;
	assert_int_equal(cxi_api_vault_seal(r.api, "{\"account_sid\":\"AC1\","
	                                           "\"auth_token\":\"t0k\"}",
	                     &tok), CX_OK);
	json_t *f = json_pack("{s:s, s:s, s:s, s:s}", "provider", "faketel",
	    "name", "default", "secret_enc", tok, "last4", "t0k!");
	cxi_db db;
	assert_true(cxi_manager_db_hold(r.mgr, &db));
	assert_int_equal(cxi_repo_create(&db, &cxi_ent_credential, r.account, f,
	                     NULL, why, sizeof(why)), CX_OK);
	cxi_manager_unhold(r.mgr);
	json_decref(f);
	free(tok);
	/* Sealed credentials do not expire: used a second later. */
	rig_sleep(1100);
	rig_campaign(&r, CONF(",\"voicemail\":{\"action\":\"message\","
	                      "\"message\":\"Hi {{name}} ({{plan}}, "
	                      "{{score}})\"},\"record\":false,\"analysis\":{"
	                      "\"fields\":[{\"name\":\"interested\",\"type\":"
	                      "\"boolean\"}]}"),
	    1, 1700, a, sizeof(a));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'queued'", a, 1, 8000);
	json_t *ev = rig_fake_events(&r, "place");
	json_t *e = json_array_get(ev, 0);
	json_t *vars = json_object_get(e, "variables");
	assert_string_equal(json_string_value(json_object_get(vars, "name")),
	    "Lead");
	assert_string_equal(json_string_value(json_object_get(vars, "phone")),
	    "+15550001700");
	assert_string_equal(json_string_value(json_object_get(vars, "plan")),
	    "gold");
	assert_string_equal(json_string_value(json_object_get(vars, "score")),
	    "7");
	assert_string_equal(json_string_value(json_object_get(json_object_get(e,
	                        "voicemail"), "message")), "Hi Lead (gold, 7)");
	assert_string_equal(json_string_value(json_object_get(e, "agent")),
	    "agent_test");
	assert_string_equal(json_string_value(json_object_get(json_object_get(e,
	                        "credentials"), "account_sid")), "AC1");
	assert_int_equal(json_array_size(json_object_get(json_object_get(e,
	                     "analysis"), "fields")), 1);
	json_decref(ev);
	/* The row keeps the variables, never the credentials. */
	cx_db_value p[] = {CX_DB_V_TEXT(a)};
	json_t *rows = rig_q(&r, "SELECT variables FROM calls WHERE campaign_id "
	                         "= $1", p, 1);
	const char *v = json_string_value(json_object_get(json_array_get(rows,
	    0), "variables"));
	assert_non_null(strstr(v, "gold"));
	assert_null(strstr(v, "t0k"));
	json_decref(rows);
	rig_down(&r);
}

/* ---- the campaigns API's refusals ---- */

void
test_api(void **state)
{
	(void) state;
	static rig r;
	char a[64], path[160], lead[64];
	int st = 0;
	rig_up(&r, DIALER_FAST);
	json_t *j = rig_api(&r, "POST", "/v1/campaigns", "{\"name\":\"x\","
	    "\"config\":{\"from_numbers\":[\"12\"]}}", &st);
	assert_int_equal(st, 400);
	assert_non_null(strstr(json_string_value(json_object_get(
	    json_object_get(j, "error"), "message")), "config.from_numbers[0]"));
	json_decref(j);
	/* A draft may be incomplete, but cannot start. */
	j = rig_api(&r, "POST", "/v1/campaigns", "{\"name\":\"d\",\"config\":"
	    "{\"agent\":\"agent_1\"}}", &st);
	assert_int_equal(st, 201);
	assert_string_equal(json_string_value(json_object_get(j, "status")),
	    "draft");
	snprintf(a, sizeof(a), "%s", json_string_value(json_object_get(j,
	    "id")));
	json_decref(j);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/start", a);
	j = rig_api(&r, "POST", path, NULL, &st);
	assert_int_equal(st, 400);
	json_decref(j);
	/* Not a running telephony plugin. */
	snprintf(path, sizeof(path), "/v1/campaigns/%s", a);
	j = rig_api(&r, "PATCH", path, "{\"config\":{\"telephony\":"
	    "\"sqlite\",\"agent\":\"agent_1\",\"from_numbers\":"
	    "[\"+15550001\"]}}", &st);
	if (st != 200) {
		fail_msg("patch: %d %s", st, json_dumps(j, 0));
	}
	json_decref(j);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/start", a);
	j = rig_api(&r, "POST", path, NULL, &st);
	assert_int_equal(st, 409);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j,
	                        "error"), "code")), "telephony_unavailable");
	json_decref(j);
	/* No leads. */
	snprintf(path, sizeof(path), "/v1/campaigns/%s", a);
	json_decref(rig_api(&r, "PATCH", path, "{\"config\":" CONF("") "}",
	    &st));
	assert_int_equal(st, 200);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/start", a);
	j = rig_api(&r, "POST", path, NULL, &st);
	assert_int_equal(st, 409);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j,
	                        "error"), "code")), "no_leads");
	json_decref(j);
	/* Attach: one real lead, one unknown. */
	rig_lead(&r, NULL, "+15550001800", NULL, lead, sizeof(lead));
	char body[256];
	snprintf(body, sizeof(body), "{\"lead_ids\":[\"%s\",\"lead_nope\"]}",
	    lead);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/leads", a);
	j = rig_api(&r, "POST", path, body, &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_integer_value(json_object_get(j, "attached")), 1);
	assert_int_equal(json_array_size(json_object_get(j, "skipped")), 1);
	json_decref(j);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/start", a);
	json_decref(rig_api(&r, "POST", path, NULL, &st));
	assert_int_equal(st, 200);
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1", a,
	    1, 5000);
	/* Running: config locked, delete refused, start again refused. */
	snprintf(path, sizeof(path), "/v1/campaigns/%s", a);
	j = rig_api(&r, "PATCH", path, "{\"config\":" CONF("") "}", &st);
	assert_int_equal(st, 409);
	json_decref(j);
	json_decref(rig_api(&r, "PATCH", path, "{\"name\":\"renamed\"}", &st));
	assert_int_equal(st, 200);
	json_decref(rig_api(&r, "DELETE", path, NULL, &st));
	assert_int_equal(st, 409);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/start", a);
	json_decref(rig_api(&r, "POST", path, NULL, &st));
	assert_int_equal(st, 409);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/pause", a);
	j = rig_api(&r, "POST", path, NULL, &st);
	assert_int_equal(st, 200);
	assert_string_equal(json_string_value(json_object_get(j, "status")),
	    "paused");
	json_decref(j);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/explode", a);
	json_decref(rig_api(&r, "POST", path, NULL, &st));
	assert_int_equal(st, 404);
	/* Read and list. */
	snprintf(path, sizeof(path), "/v1/campaigns/%s", a);
	j = rig_api(&r, "GET", path, NULL, &st);
	assert_int_equal(st, 200);
	assert_string_equal(json_string_value(json_object_get(j, "name")),
	    "renamed");
	json_decref(j);
	j = rig_api(&r, "GET", "/v1/campaigns?status=paused", NULL, &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
	json_decref(j);
	json_decref(rig_api(&r, "GET", "/v1/campaigns/cmp_nothere", NULL,
	    &st));
	assert_int_equal(st, 404);
	/* Paused with a call in flight: not deleted until it ends. */
	snprintf(path, sizeof(path), "/v1/campaigns/%s", a);
	json_decref(rig_api(&r, "DELETE", path, NULL, &st));
	assert_int_equal(st, 409);
	rig_down(&r);
}
