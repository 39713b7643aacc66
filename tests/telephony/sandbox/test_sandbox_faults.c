/*
 * test_sandbox_faults.c - the sandbox when things go wrong: a core that
 * errors, bad settings, bad place requests, simulated provider trouble.
 *
 *   test_sandbox_faults <sandbox.so>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <callixo/telephony.h>

#include "sandbox_kit.h"

static void
test_core_retries(void **unused)
{
	(void) unused;
	fake_core f;
	fake_init(&f);
	f.fail_first = 3;
	cx_testkit *tk = kit(FAST "outcomes: {busy: 1}\n", &f);
	char *p = place(tk, "call_retry", 0, NULL);
	json_t *ids = json_pack("[s]", "call_retry");
	assert_true(fake_wait_done(&f, ids, 10000));
	json_decref(ids);
	assert_int_equal(f.failed, 3);
	/* Four deliveries of the queued event, then one of busy. */
	assert_int_equal(json_array_size(f.attempts), 5);
	char want[128];
	snprintf(want, sizeof(want), "%s-1", p);
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(json_string_value(json_array_get(f.attempts, i)),
		    want);
	}
	json_t *evs = fake_events_of(&f, "call_retry");
	assert_int_equal(json_array_size(evs), 2);
	assert_string_equal(s_of(json_array_get(evs, 0), "status"), "queued");
	assert_string_equal(s_of(json_array_get(evs, 1), "status"), "busy");
	json_decref(evs);
	free(p);
	cx_testkit_free(tk);
	fake_free(&f);

	/* A core that never answers: the plugin gives up after
	 * event_retries and does not loop forever. */
	fake_init(&f);
	f.fail_first = 1000000;
	tk = kit(FAST "event_retries: 2\noutcomes: {failed: 1}\n", &f);
	free(place(tk, "call_giveup", 0, NULL));
	sleep_ms(1000);
	pthread_mutex_lock(&f.mu);
	size_t n = json_array_size(f.attempts);
	pthread_mutex_unlock(&f.mu);
	/* queued: 3 deliveries, failed: 3 deliveries. */
	assert_int_equal(n, 6);
	cx_testkit_free(tk);
	fake_free(&f);
}

static void
expect_bad_settings(const char *yaml, const char *msg)
{
	cx_testkit *tk;
	assert_int_equal(cx_testkit_new(&tk), CX_OK);
	cx_err rv = cx_testkit_load(tk, plugin_path, yaml);
	if (rv == CX_OK || strstr(cx_testkit_error(tk), msg) == NULL) {
		fail_msg("settings '%s': want error '%s', got %s '%s'", yaml, msg,
		    cx_strerror(rv), cx_testkit_error(tk));
	}
	cx_testkit_free(tk);
}

static void
test_bad_settings(void **unused)
{
	(void) unused;
	expect_bad_settings("outcomes: {answered: 1, maybe: 2}\n",
	    "unknown outcome 'maybe'");
	expect_bad_settings("outcomes: {answered: -1}\n", "weight of answered");
	expect_bad_settings("outcomes: {answered: yes}\n", "weight of answered");
	expect_bad_settings("outcomes: {answered: 0, busy: 0}\n",
	    "at least one weight");
	expect_bad_settings("outcomes: [1, 2]\n", "outcomes");
	expect_bad_settings("ring_min: 10s\nring_max: 1s\n",
	    "ring_min (10000 ms) must not exceed ring_max");
	expect_bad_settings("talk_min: 2m\ntalk_max: 1m\n", "talk_min");
	expect_bad_settings("fail_place: 60\ntimeout_place: 60\n",
	    "must not exceed 100");
	expect_bad_settings("currency: usd\n", "ISO 4217");
	expect_bad_settings("speed: 0\n", "speed");
	expect_bad_settings("recording_seconds: 100000\n", "recording_seconds");
	expect_bad_settings("sped: 10\n", "speed");
}

static void
expect_bad_place(cx_testkit *tk, const char *req, const char *msg)
{
	json_t *r = NULL;
	cx_err rv = cx_testkit_request(tk, CX_SVC_CALL_PLACE, req, T_MS, &r);
	const char *m = s_of(r, "message");
	if (rv != CX_EINVAL || strstr(m, msg) == NULL) {
		fail_msg("place %s: want EINVAL '%s', got %s '%s'", req, msg,
		    cx_strerror(rv), m);
	}
	json_decref(r);
}

#define OKREQ "\"v\":1, \"call_id\":\"c1\", \"agent\":\"ag\""

static void
test_bad_place(void **unused)
{
	(void) unused;
	fake_core f;
	fake_init(&f);
	cx_testkit *tk = kit("place_latency: 0ms\n", &f);
	expect_bad_place(tk, "{" OKREQ ", \"from\":\"+14155550000\"}",
	    "invalid 'to'");
	expect_bad_place(tk, "{" OKREQ ", \"to\":\"4155550100\", "
	                     "\"from\":\"+14155550000\"}", "invalid 'to'");
	expect_bad_place(tk, "{" OKREQ ", \"to\":\"+1415555010012345\", "
	                     "\"from\":\"+14155550000\"}", "invalid 'to'");
	expect_bad_place(tk, "{" OKREQ ", \"to\":\"+14155550100\", "
	                     "\"from\":\"+0123456789\"}", "invalid 'from'");
	expect_bad_place(tk, "{" OKREQ ", \"to\":\"+14155550100\", "
	                     "\"from\":\"+14155550100\"}", "same number");
	expect_bad_place(tk, "{\"v\":1, \"call_id\":\"c1\", \"to\":\"+14155550100\", "
	                     "\"from\":\"+14155550000\"}", "'agent' is required");
	expect_bad_place(tk, "{\"v\":1, \"agent\":\"a\", \"to\":\"+14155550100\", "
	                     "\"from\":\"+14155550000\"}", "call_id is required");
	expect_bad_place(tk, "{\"v\":2, \"call_id\":\"c1\", \"agent\":\"a\", "
	                     "\"to\":\"+14155550100\", \"from\":\"+14155550000\"}",
	    "unsupported request version");
#define GOOD OKREQ ", \"to\":\"+14155550100\", \"from\":\"+14155550000\""
	expect_bad_place(tk, "{" GOOD ", \"record\":\"yes\"}",
	    "'record' must be true or false");
	expect_bad_place(tk, "{" GOOD ", \"voicemail\":{\"action\":\"sing\"}}",
	    "voicemail.action");
	expect_bad_place(tk, "{" GOOD ", \"voicemail\":{\"action\":\"message\"}}",
	    "voicemail.message is required");
	expect_bad_place(tk, "{" GOOD ", \"variables\":{\"name\":5}}",
	    "variable 'name' must be a string");
	expect_bad_place(tk, "{" GOOD ", \"analysis\":{\"fields\":[{\"name\":"
	                     "\"x\",\"type\":\"enum\"}]}}", "non-empty list of choices");
	expect_bad_place(tk, "{" GOOD ", \"analysis\":{\"fields\":[{\"name\":"
	                     "\"x\",\"type\":\"date\"}]}}", "type must be");
	/* Nothing was placed. */
	sleep_ms(100);
	assert_int_equal(json_array_size(f.attempts), 0);
	json_t *r = lookup(tk, "{\"v\":1, \"call_id\":\"c1\"}");
	assert_false(json_is_true(json_object_get(r, "found")));
	json_decref(r);
	/* The minimal valid request is taken. */
	r = NULL;
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_PLACE, "{" GOOD "}",
	                     T_MS, &r), CX_OK);
	json_decref(r);
	cx_testkit_free(tk);
	fake_free(&f);
}

/* Simulated provider trouble: refusals (429 / 5xx) place nothing; a lost
 * answer still creates the call, which lookup then finds. */
static void
test_place_trouble(void **unused)
{
	(void) unused;
	fake_core f;
	fake_init(&f);
	cx_testkit *tk = kit(FAST "fail_place: 100\n", &f);
	int busy = 0, io = 0;
	for (int i = 0; i < 20; i++) {
		char id[32];
		snprintf(id, sizeof(id), "call_tr_%d", i);
		char *req = place_json(id, i, NULL);
		json_t *r = NULL;
		cx_err rv = cx_testkit_request(tk, CX_SVC_CALL_PLACE, req, T_MS, &r);
		free(req);
		busy += rv == CX_EBUSY;
		io += rv == CX_EIO;
		assert_true(strlen(s_of(r, "message")) > 0);
		json_decref(r);
	}
	assert_int_equal(busy + io, 20);
	assert_true(busy > 0 && io > 0);
	json_t *r = lookup(tk, "{\"v\":1, \"call_id\":\"call_tr_0\"}");
	assert_false(json_is_true(json_object_get(r, "found")));
	json_decref(r);
	assert_int_equal(cx_testkit_reconfigure(tk, FAST "fail_place: 0\n"
	                                             "timeout_place: 100\n"),
	    CX_OK);
	char *req = place_json("call_to", 0, NULL);
	r = NULL;
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_PLACE, req, T_MS, &r),
	    CX_ETIMEDOUT);
	free(req);
	json_decref(r);
	r = lookup(tk, "{\"v\":1, \"call_id\":\"call_to\"}");
	assert_true(json_is_true(json_object_get(r, "found")));
	json_decref(r);
	json_t *ids = json_pack("[s]", "call_to");
	assert_true(fake_wait_done(&f, ids, 10000));
	json_decref(ids);
	cx_testkit_free(tk);
	fake_free(&f);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s <sandbox.so>\n", argv[0]);
		return (2);
	}
	plugin_path = argv[1];
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_core_retries),
	    cmocka_unit_test(test_bad_settings),
	    cmocka_unit_test(test_bad_place),
	    cmocka_unit_test(test_place_trouble),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
