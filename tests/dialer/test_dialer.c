/*
 * test_dialer.c - the dialer (core/dialer*.c) in a real in-process core
 * (dialer_rig.h) against the scripted faketel provider: concurrency
 * caps that queue instead of dropping, calls per second, dispatch
 * errors, timeouts reconciled by lookup, a restart with calls in
 * flight, retry policies, the circuit breaker, policy denials,
 * cancellation, completion and calling windows.
 *
 * Provider events are another part's job, so the tests move calls to
 * their terminal states in the database, as call.event would.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dialer.h"
#include "dialer_rig.h"
#include "repo.h"
#include "window.h"

#define DIALER_FAST                                                      \
	"  tick: 50ms\n  dispatch_timeout: 1s\n  reconcile_after: 200ms\n" \
	"  dispatch_backoff: 100ms\n"

#define CONF(extra)                                                    \
	"{\"telephony\":\"faketel\",\"agent\":\"agent_test\","         \
	"\"from_numbers\":[\"+15550009001\",\"+15550009002\"]" extra "}"

#define LIVE "('dispatching', 'unknown', 'queued', 'ringing', 'in_progress')"

static int64_t
count(rig *r, const char *sql, const char *campaign)
{
	cx_db_value p[] = {CX_DB_V_TEXT(campaign)};
	return (rig_int(r, sql, p, campaign != NULL ? 1 : 0));
}

static int64_t
live_of(rig *r, const char *campaign)
{
	return (count(r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 "
	                 "AND status IN " LIVE, campaign));
}

static const char *
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
static void
finish_queued(rig *r, const char *campaign, const char *status,
    const char *outcome)
{
	cx_db_value p[] = {CX_DB_V_TEXT(campaign), CX_DB_V_TEXT(status),
	    CX_DB_V_TEXT(outcome), CX_DB_V_INT(rig_now())};
	rig_exec(r, "UPDATE calls SET status = $2, outcome = $3, ended_at = $4 "
	            "WHERE campaign_id = $1 AND status = 'queued'", p, 4);
}

static void
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

static void
wait_count(rig *r, const char *sql, const char *arg, int64_t n, int ms)
{
	want w = {sql, arg, n};
	if (!rig_wait(r, cond_count, &w, ms)) {
		fail_msg("timed out waiting for %s [%s] = %lld (is %lld)", sql,
		    arg ? arg : "", (long long) n,
		    (long long) count(r, sql, arg));
	}
}

static void
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
static void
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

/* ---- concurrency: queued, never dropped; then completed ---- */

static void
test_concurrency_and_completion(void **state)
{
	(void) state;
	rig r;
	char a[64], b[64], buf[32];
	rig_up(&r, DIALER_FAST "  account_max_concurrency: 3\n");
	rig_campaign(&r, CONF(",\"max_concurrency\":2,\"calls_per_second\":100"),
	    4, 100, a, sizeof(a));
	rig_campaign(&r, CONF(",\"max_concurrency\":2,\"calls_per_second\":100"),
	    4, 200, b, sizeof(b));
	int64_t done = 0;
	for (int round = 0; round < 10 && done < 8; round++) {
		/* Fill up to the caps, then look a while: never above. */
		int64_t end = rig_now() + 400;
		while (rig_now() < end) {
			int64_t la = live_of(&r, a), lb = live_of(&r, b);
			assert_true(la <= 2);
			assert_true(lb <= 2);
			assert_true(la + lb <= 3);
			rig_sleep(10);
		}
		int64_t pending = count(&r, "SELECT COUNT(*) FROM leads WHERE "
		                            "status IN ('new', 'retry')", NULL);
		int64_t live = live_of(&r, a) + live_of(&r, b);
		done = count(&r, "SELECT COUNT(*) FROM leads WHERE status = "
		                 "'done'", NULL);
		/* Queued, not dropped: every lead is accounted for. */
		assert_int_equal(pending + live + done, 8);
		if (pending > 0) {
			assert_int_equal(live, 3);
		}
		finish_queued(&r, a, "completed", "answered");
		finish_queued(&r, b, "completed", "answered");
		wait_count(&r, "SELECT COUNT(*) FROM calls WHERE status = "
		               "'completed' AND settled_at IS NULL", NULL, 0, 3000);
	}
	wait_count(&r, "SELECT COUNT(*) FROM leads WHERE status = 'done'", NULL,
	    8, 5000);
	wait_status(&r, a, "completed", 3000);
	wait_status(&r, b, "completed", 3000);
	json_t *ev = rig_fake_events(&r, "place");
	assert_int_equal(json_array_size(ev), 8);
	/* Round robin over from_numbers. */
	int first = 0, second = 0;
	size_t i;
	json_t *e;
	json_array_foreach (ev, i, e) {
		const char *from = json_string_value(json_object_get(e, "from"));
		first += strcmp(from, "+15550009001") == 0;
		second += strcmp(from, "+15550009002") == 0;
	}
	assert_int_equal(first, 4);
	assert_int_equal(second, 4);
	json_decref(ev);
	assert_no_double_calls(&r);
	cx_db_value p[] = {CX_DB_V_TEXT(a)};
	assert_true(rig_int(&r, "SELECT ended_at FROM campaigns WHERE id = $1",
	                p, 1) > 0);
	(void) campaign_status(&r, a, buf, sizeof(buf));
	rig_down(&r);
}

/* ---- calls per second: the campaign's and the provider's ---- */

static void
assert_spacing(json_t *ev, size_t from, size_t to, int per_second)
{
	for (size_t i = from; i + (size_t) per_second < to; i++) {
		int64_t t0 = json_integer_value(json_object_get(json_array_get(
		    ev, i), "at_ms"));
		int64_t t1 = json_integer_value(json_object_get(json_array_get(
		    ev, i + (size_t) per_second), "at_ms"));
		/* Measured where the provider receives them: 5% for the
		 * bus's delivery jitter on a loaded machine. */
		if (t1 - t0 < 950) {
			fail_msg("places %zu and %zu only %lld ms apart (limit "
			    "%d/s)", i, i + (size_t) per_second,
			    (long long) (t1 - t0), per_second);
		}
	}
}

static void
test_calls_per_second(void **state)
{
	(void) state;
	rig r;
	char a[64], b[64];
	rig_up(&r, DIALER_FAST "  account_max_concurrency: 100\n"
	                       "  provider_cps:\n    faketel: 4\n");
	/* The provider's 4/s binds a campaign allowed 100/s. */
	rig_campaign(&r, CONF(",\"max_concurrency\":50,"
	                      "\"calls_per_second\":100"),
	    10, 400, a, sizeof(a));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1", a,
	    10, 10000);
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'queued'", a, 10, 5000);
	json_t *ev = rig_fake_events(&r, "place");
	assert_int_equal(json_array_size(ev), 10);
	assert_spacing(ev, 0, 10, 4);
	int64_t span = json_integer_value(json_object_get(json_array_get(ev, 9),
	    "at_ms")) - json_integer_value(json_object_get(json_array_get(ev, 0),
	                     "at_ms"));
	assert_true(span >= 9 * 250 - 30);
	json_decref(ev);
	/* A campaign's own 2/s binds below the provider's 4/s. */
	rig_campaign(&r, CONF(",\"max_concurrency\":50,"
	                      "\"calls_per_second\":2"),
	    6, 500, b, sizeof(b));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'queued'", b, 6, 10000);
	ev = rig_fake_events(&r, "place");
	assert_int_equal(json_array_size(ev), 16);
	assert_spacing(ev, 10, 16, 2);
	json_decref(ev);
	rig_down(&r);
}

/* ---- 429/5xx keep the row; 4xx fails it; retries are new attempts ---- */

static void
test_dispatch_errors(void **state)
{
	(void) state;
	rig r;
	char a[64], b[64];
	rig_up(&r, DIALER_FAST);
	json_decref(rig_fake(&r, "fake.script", json_pack("{s:[s,s,s]}",
	    "place", "429", "500", "ok")));
	rig_campaign(&r, CONF(""), 1, 600, a, sizeof(a));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'queued'", a, 1, 8000);
	json_t *ev = rig_fake_events(&r, "place");
	assert_int_equal(json_array_size(ev), 3);
	const char *id0 = json_string_value(json_object_get(json_array_get(ev,
	    0), "call_id"));
	for (size_t i = 1; i < 3; i++) {
		assert_string_equal(json_string_value(json_object_get(
		    json_array_get(ev, i), "call_id")), id0);
	}
	json_decref(ev);
	assert_int_equal(count(&r, "SELECT COUNT(*) FROM calls WHERE "
	                           "campaign_id = $1", a), 1);
	assert_int_equal(count(&r, "SELECT MAX(attempt) FROM calls WHERE "
	                           "campaign_id = $1", a), 1);
	assert_int_equal(count(&r, "SELECT COUNT(*) FROM calls WHERE "
	                           "campaign_id = $1 AND provider_call_id IS "
	                           "NOT NULL AND dispatched_at IS NOT NULL AND "
	                           "error IS NULL", a), 1);

	/* A refusal fails the attempt with the provider's message; the
	 * failed rule retries it as attempt 2. */
	json_decref(rig_fake(&r, "fake.script", json_pack("{s:[s]}", "place",
	    "4xx")));
	rig_campaign(&r, CONF(",\"retry\":{\"failed\":{\"after_minutes\":0,"
	                      "\"max_attempts\":2}}"), 1, 700, b, sizeof(b));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "attempt = 2 AND status = 'queued'", b, 1, 8000);
	cx_db_value p[] = {CX_DB_V_TEXT(b)};
	json_t *rows = rig_q(&r, "SELECT status, outcome, error FROM calls "
	                         "WHERE campaign_id = $1 AND attempt = 1", p, 1);
	json_t *row = json_array_get(rows, 0);
	assert_string_equal(json_string_value(json_object_get(row, "status")),
	    "failed");
	assert_string_equal(json_string_value(json_object_get(row, "outcome")),
	    "failed");
	assert_non_null(strstr(json_string_value(json_object_get(row,
	    "error")), "21211"));
	json_decref(rows);
	assert_no_double_calls(&r);
	rig_down(&r);
}

/* ---- a timed-out place is looked up, never placed blindly ---- */

static void
test_timeout_reconcile(void **state)
{
	(void) state;
	rig r;
	char a[64], b[64];
	rig_up(&r, DIALER_FAST);
	/* The provider did create it: adopted, one place only. */
	json_decref(rig_fake(&r, "fake.script", json_pack("{s:[s]}", "place",
	    "timeout_created")));
	rig_campaign(&r, CONF(""), 1, 800, a, sizeof(a));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'queued' AND provider_call_id LIKE 'FK%'", a, 1,
	    8000);
	json_t *ev = rig_fake_events(&r, NULL);
	assert_int_equal(json_array_size(ev), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev,
	                        0), "op")), "place");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev,
	                        1), "op")), "lookup");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev,
	                        1), "result")), "found");
	json_decref(ev);
	/* It did not: placed again, same row, after the lookup. */
	json_decref(rig_fake(&r, "fake.script", json_pack("{s:[s]}", "place",
	    "timeout_lost")));
	rig_campaign(&r, CONF(""), 1, 900, b, sizeof(b));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'queued'", b, 1, 8000);
	cx_db_value p[] = {CX_DB_V_TEXT(b)};
	json_t *rows = rig_q(&r, "SELECT id FROM calls WHERE campaign_id = $1",
	    p, 1);
	assert_int_equal(json_array_size(rows), 1);
	const char *id = json_string_value(json_object_get(json_array_get(rows,
	    0), "id"));
	ev = rig_fake_events(&r, NULL);
	const char *ops = "";
	char seq[64] = "";
	size_t i;
	json_t *e;
	json_array_foreach (ev, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "call_id")), id) ==
		    0) {
			ops = json_string_value(json_object_get(e, "op"));
			strncat(seq, ops, sizeof(seq) - strlen(seq) - 2);
			strcat(seq, ",");
		}
	}
	assert_string_equal(seq, "place,lookup,place,");
	json_decref(ev);
	json_decref(rows);
	assert_no_double_calls(&r);
	rig_down(&r);
}

/* ---- a restart with calls in flight ---- */

static void
test_restart_reconcile(void **state)
{
	(void) state;
	rig r;
	char a[64], b[64], why[256];
	/* reconcile_after far away: only the restart looks them up. */
	rig_up(&r, "  tick: 50ms\n  dispatch_timeout: 1s\n"
	           "  reconcile_after: 1h\n  dispatch_backoff: 100ms\n");
	json_decref(rig_fake(&r, "fake.script", json_pack("{s:[s,s]}", "place",
	    "timeout_created", "timeout_lost")));
	rig_campaign(&r, CONF(",\"calls_per_second\":100"), 2, 1000, a,
	    sizeof(a));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'unknown'", a, 2, 8000);
	/* B: 0.2 calls/s, so its second call waits in the queue when the
	 * dialer stops: its row stays 'dispatching', never sent. */
	rig_campaign(&r, CONF(",\"calls_per_second\":0.2"), 2, 1100, b,
	    sizeof(b));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'queued'", b, 1, 8000);
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'dispatching'", b, 1, 8000);
	cxi_dialer_stop(r.cl->dialer);
	r.cl->dialer = NULL;
	/* As if the reply of B's first call had been lost in a crash. */
	rig_exec(&r, "UPDATE calls SET status = 'dispatching', provider_call_id "
	             "= NULL, dispatched_at = NULL WHERE status = 'queued'",
	    NULL, 0);
	json_t *before = rig_fake_events(&r, NULL);
	size_t n0 = json_array_size(before);
	json_decref(before);
	assert_int_equal(cxi_dialer_start(&r.cl->dialer, r.cl, why,
	                     sizeof(why)), CX_OK);
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE status IN "
	               "('dispatching', 'unknown')", NULL, 0, 8000);
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE status = 'queued'",
	    NULL, 4, 8000);
	json_t *ev = rig_fake_events(&r, NULL);
	size_t lookups = 0, places = 0;
	for (size_t i = n0; i < json_array_size(ev); i++) {
		const char *op = json_string_value(json_object_get(
		    json_array_get(ev, i), "op"));
		if (strcmp(op, "lookup") == 0) {
			/* Every lookup before any new place. */
			assert_int_equal(places, 0);
			lookups++;
		} else if (strcmp(op, "place") == 0) {
			places++;
		}
	}
	assert_int_equal(lookups, 4);
	/* Only the two the provider never got: A's lost one and B's
	 * queued one. */
	assert_int_equal(places, 2);
	json_decref(ev);
	assert_int_equal(count(&r, "SELECT COUNT(*) FROM calls", NULL), 4);
	assert_no_double_calls(&r);
	rig_down(&r);
}

/* ---- live calls older than max_call_duration are looked up ---- */

static void
test_stale_live_calls(void **state)
{
	(void) state;
	rig r;
	char a[64];
	rig_up(&r, DIALER_FAST "  max_call_duration: 1s\n");
	rig_campaign(&r, CONF(",\"calls_per_second\":50"), 2, 1900, a,
	    sizeof(a));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE campaign_id = $1 AND "
	               "status = 'queued'", a, 2, 8000);
	cx_db_value p[] = {CX_DB_V_TEXT(a)};
	json_t *rows = rig_q(&r, "SELECT id FROM calls WHERE campaign_id = $1 "
	                         "ORDER BY id", p, 1);
	const char *lost = json_string_value(json_object_get(json_array_get(
	    rows, 0), "id"));
	const char *alive = json_string_value(json_object_get(json_array_get(
	    rows, 1), "id"));
	/* The provider lost one; its final event never came. */
	json_decref(rig_fake(&r, "fake.script", json_pack("{s:[s]}", "forget",
	    lost)));
	wait_count(&r, "SELECT COUNT(*) FROM calls WHERE id = $1 AND status = "
	               "'failed' AND error LIKE 'no final event%'", lost, 1,
	    8000);
	/* The other is still going at the provider: left alone, and
	 * not asked again at every tick. */
	cx_db_value q[] = {CX_DB_V_TEXT(alive)};
	json_t *st = rig_q(&r, "SELECT status FROM calls WHERE id = $1", q, 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(st,
	                        0), "status")), "queued");
	json_decref(st);
	rig_sleep(400);
	json_t *ev = rig_fake_events(&r, "lookup");
	size_t for_alive = 0, i;
	json_t *e;
	json_array_foreach (ev, i, e) {
		for_alive += strcmp(json_string_value(json_object_get(e,
		                        "call_id")), alive) == 0;
	}
	assert_int_equal(for_alive, 1);
	json_decref(ev);
	json_decref(rows);
	/* The lost call settles its lead like any failure. */
	wait_count(&r, "SELECT COUNT(*) FROM leads WHERE campaign_id = $1 AND "
	               "status = 'done' AND last_outcome = 'failed'", a, 1, 5000);
	rig_down(&r);
}

/* ---- retry policy per outcome; settled exactly once ---- */

static void
test_retry_policy(void **state)
{
	(void) state;
	rig r;
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

static void
test_breaker(void **state)
{
	(void) state;
	rig r;
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

static void
test_policy_deny(void **state)
{
	(void) state;
	rig r;
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

static void
test_cancel(void **state)
{
	(void) state;
	rig r;
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

/* ---- calling windows in each lead's zone ---- */

static void
test_windows(void **state)
{
	(void) state;
	rig r;
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

static void
test_request_content(void **state)
{
	(void) state;
	rig r;
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

static void
test_api(void **state)
{
	(void) state;
	rig r;
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

int
main(int argc, char **argv)
{
	/* Absolute: the config resolves plugin paths against its own
	 * directory. */
	static char so1[PATH_MAX], so2[PATH_MAX];
	if (argc < 3 || realpath(argv[1], so1) == NULL ||
	    realpath(argv[2], so2) == NULL) {
		fprintf(stderr, "usage: test_dialer STORAGE_SO FAKETEL_SO "
		    "(settings of a server storage plugin in "
		    "CALLIXO_TEST_STORAGE_SETTINGS)\n");
		return (2);
	}
	rig_storage_so = so1;
	rig_faketel_so = so2;
	rig_storage_settings = getenv("CALLIXO_TEST_STORAGE_SETTINGS");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_concurrency_and_completion, rig_teardown),
	    cmocka_unit_test_teardown(test_calls_per_second, rig_teardown),
	    cmocka_unit_test_teardown(test_dispatch_errors, rig_teardown),
	    cmocka_unit_test_teardown(test_timeout_reconcile, rig_teardown),
	    cmocka_unit_test_teardown(test_restart_reconcile, rig_teardown),
	    cmocka_unit_test_teardown(test_stale_live_calls, rig_teardown),
	    cmocka_unit_test_teardown(test_retry_policy, rig_teardown),
	    cmocka_unit_test_teardown(test_breaker, rig_teardown),
	    cmocka_unit_test_teardown(test_policy_deny, rig_teardown),
	    cmocka_unit_test_teardown(test_cancel, rig_teardown),
	    cmocka_unit_test_teardown(test_windows, rig_teardown),
	    cmocka_unit_test_teardown(test_request_content, rig_teardown),
	    cmocka_unit_test_teardown(test_api, rig_teardown),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
