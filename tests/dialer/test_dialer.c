/*
 * test_dialer.c - the dialer (core/dialer*.c) in a real in-process core
 * (dialer_rig.h) against the scripted faketel provider: concurrency
 * caps that queue instead of dropping, calls per second, dispatch
 * errors, timeouts reconciled by lookup, a restart with calls in
 * flight, stale live calls and completion here; retry policies, the
 * circuit breaker, policy denials, cancellation, calling windows and
 * the API in test_dialer_flow.c.
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
#include "dialer_cases.h"
#include "repo.h"

/* ---- concurrency: queued, never dropped; then completed ---- */

static void
test_concurrency_and_completion(void **state)
{
	(void) state;
	static rig r;
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
	static rig r;
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
	static rig r;
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
	static rig r;
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
	static rig r;
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
	static rig r;
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
	    cmocka_unit_test_teardown(test_cancel_queued, rig_teardown),
	    cmocka_unit_test_teardown(test_windows, rig_teardown),
	    cmocka_unit_test_teardown(test_request_content, rig_teardown),
	    cmocka_unit_test_teardown(test_api, rig_teardown),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
