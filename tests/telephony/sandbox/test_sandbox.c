/*
 * test_sandbox.c - the sandbox telephony plugin in the SDK test kit (a
 * real core in process), with a fake core answering call.event and
 * call.recording the way the core does: the life of calls.
 *
 *   test_sandbox <sandbox.so>
 *
 * Call time runs fast (speed) so a call's whole life takes milliseconds.
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

#define MIX "outcomes: {answered: 40, voicemail: 15, busy: 15, " \
            "no_answer: 15, failed: 15}\n"

static const char *
expected_path(const char *outcome)
{
	if (strcmp(outcome, "answered") == 0 || strcmp(outcome, "voicemail") == 0) {
		return ("queued,ringing,in_progress,completed");
	}
	if (strcmp(outcome, "no_answer") == 0) {
		return ("queued,ringing,no_answer");
	}
	if (strcmp(outcome, "busy") == 0) {
		return ("queued,busy");
	}
	return ("queued,failed");
}

static void
check_utterances(const json_t *tr, int64_t duration)
{
	const json_t *utt = json_object_get(tr, "utterances");
	assert_true(json_array_size(utt) > 0);
	int64_t last = -1;
	size_t i;
	json_t *u;
	json_array_foreach (utt, i, u) {
		const char *sp = s_of(u, "speaker");
		assert_true(strcmp(sp, "agent") == 0 || strcmp(sp, "user") == 0);
		int64_t a = json_integer_value(json_object_get(u, "start_ms"));
		int64_t b = json_integer_value(json_object_get(u, "end_ms"));
		assert_true(a >= last && b > a && b <= duration);
		assert_true(strlen(s_of(u, "text")) > 0);
		last = b;
	}
	assert_true(strlen(s_of(tr, "text")) > 0);
}

/* Checks one finished call end to end; returns its outcome. */
static const char *
check_call(fake_core *f, const char *id, const char *pcid, json_t *ids_seen)
{
	json_t *evs = fake_events_of(f, id);
	char path[128] = "";
	int64_t seq = 0;
	size_t i;
	json_t *e;
	json_array_foreach (evs, i, e) {
		assert_string_equal(s_of(e, "provider_call_id"), pcid);
		assert_string_equal(s_of(e, "provider"), "sandbox");
		assert_int_equal(json_integer_value(json_object_get(e, "v")), 1);
		int64_t s = json_integer_value(json_object_get(e, "seq"));
		assert_true(s > seq);
		seq = s;
		const char *eid = s_of(e, "event_id");
		assert_true(strlen(eid) > 0);
		assert_null(json_object_get(ids_seen, eid));
		json_object_set_new(ids_seen, eid, json_true());
		assert_true(json_integer_value(json_object_get(e, "at_ms")) > 0);
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s%s",
		    i ? "," : "", s_of(e, "status"));
	}
	json_t *t = fake_terminal(f, id);
	assert_non_null(t);
	const char *oc = s_of(t, "outcome");
	assert_string_equal(path, expected_path(oc));
	assert_true(strlen(s_of(t, "disconnection_reason")) > 0);
	int64_t dur = json_integer_value(json_object_get(t, "duration_ms"));
	if (strcmp(s_of(t, "status"), "completed") == 0) {
		assert_true(dur > 0);
		assert_true(json_integer_value(json_object_get(t, "answered_at")) <=
		    json_integer_value(json_object_get(t, "ended_at")));
		check_utterances(json_object_get(t, "transcript"), dur);
		assert_true(strlen(s_of(t, "summary")) > 0);
		assert_true(json_is_true(json_object_get(t, "recording_pending")));
		const char *text = s_of(json_object_get(t, "transcript"), "text");
		const json_t *an = json_object_get(t, "analysis");
		assert_true(json_is_object(an));
		assert_int_equal(json_object_size(an), 4);
		assert_true(json_is_boolean(json_object_get(an, "interested")));
		if (strcmp(oc, "answered") == 0) {
			assert_false(json_is_true(json_object_get(t, "voicemail")));
			assert_non_null(strstr(text, "Ada"));
			assert_non_null(strstr(text, "recorded"));
			assert_true(json_is_integer(json_object_get(an, "score")));
			assert_true(json_is_string(json_object_get(an, "objection")));
			const char *ns = s_of(an, "next_step");
			assert_true(strcmp(ns, "callback") == 0 ||
			    strcmp(ns, "email") == 0 || strcmp(ns, "none") == 0);
			const char *snt = s_of(t, "sentiment");
			assert_true(strcmp(snt, "positive") == 0 ||
			    strcmp(snt, "neutral") == 0 ||
			    strcmp(snt, "negative") == 0);
			assert_true(json_is_boolean(json_object_get(t, "success")));
		} else {
			assert_true(json_is_true(json_object_get(t, "voicemail")));
			/* The rendered message was left after the greeting. */
			assert_non_null(strstr(text, "Agent: Hi Ada, please call "
			                             "us back."));
			assert_non_null(strstr(text, "leave a message"));
		}
		json_t *rec = fake_recording_of(f, pcid);
		assert_non_null(rec);
		assert_string_equal(s_of(rec, "content_type"), "audio/wav");
		assert_string_equal(s_of(rec, "call_id"), id);
		const json_t *w = json_object_get(rec, "wav");
		assert_true(json_is_true(json_object_get(w, "ok")));
		assert_int_equal(json_integer_value(json_object_get(w, "format")), 1);
		assert_int_equal(json_integer_value(json_object_get(w, "channels")), 1);
		assert_int_equal(json_integer_value(json_object_get(w, "rate")), 8000);
		assert_int_equal(json_integer_value(json_object_get(w, "bits")), 16);
		assert_int_equal(json_integer_value(json_object_get(w, "byte_rate")),
		    16000);
		int64_t want = dur < 20000 ? dur : 20000;
		assert_int_equal(json_integer_value(json_object_get(w,
		                     "data_bytes")), want * 16);
		assert_int_equal(json_integer_value(json_object_get(rec,
		                     "duration_ms")), want);
		assert_true(json_real_value(json_object_get(w, "rms")) > 0.01);
		json_decref(rec);
	} else {
		assert_int_equal(dur, 0);
		assert_null(json_object_get(t, "recording_pending"));
		assert_null(fake_recording_of(f, pcid));
	}
	json_decref(t);
	json_decref(evs);
	return (oc);
}

/* Every call reaches a terminal state through the right steps, with
 * increasing seq, unique event ids, a transcript, analysis values and a
 * valid WAV that is deleted once the core has it. */
static void
test_lifecycle(void **unused)
{
	(void) unused;
	fake_core f;
	fake_init(&f);
	cx_testkit *tk = kit(FAST MIX "seed: 7\n", &f);
	enum { N = 60 };
	char *pcids[N];
	json_t *ids = json_array();
	for (int i = 0; i < N; i++) {
		char id[32];
		snprintf(id, sizeof(id), "call_life_%d", i);
		pcids[i] = place(tk, id, i, NULL);
		json_array_append_new(ids, json_string(id));
	}
	assert_true(fake_wait_done(&f, ids, 20000));
	json_t *seen = json_object();
	int counts[5] = {0};
	static const char *const names[5] = {"answered", "voicemail", "busy",
	    "no_answer", "failed"};
	for (int i = 0; i < N; i++) {
		const char *oc = check_call(&f, json_string_value(json_array_get(
		                                    ids, (size_t) i)),
		    pcids[i], seen);
		for (int k = 0; k < 5; k++) {
			counts[k] += strcmp(oc, names[k]) == 0;
		}
	}
	for (int k = 0; k < 5; k++) {
		if (counts[k] == 0) {
			fail_msg("no call ended %s", names[k]);
		}
	}
	/* The recordings were removed once the core answered. */
	sleep_ms(100);
	size_t i;
	json_t *r;
	json_array_foreach (f.recs, i, r) {
		assert_int_equal(access(s_of(r, "path"), F_OK), -1);
	}
	json_decref(seen);
	json_decref(ids);
	for (int k = 0; k < N; k++) {
		free(pcids[k]);
	}
	cx_testkit_free(tk);
	fake_free(&f);
}

/* Voicemail with the hangup policy: the machine's greeting, no message. */
static void
test_voicemail_hangup(void **unused)
{
	(void) unused;
	fake_core f;
	fake_init(&f);
	cx_testkit *tk = kit(FAST "outcomes: {voicemail: 1}\n", &f);
	char *pcid = place(tk, "call_vm", 0,
	    ", \"voicemail\":{\"action\":\"hangup\"}, \"record\":false");
	assert_true(fake_wait_event(&f, "call_vm", "completed", 5000));
	json_t *t = fake_terminal(&f, "call_vm");
	assert_string_equal(s_of(t, "outcome"), "voicemail");
	assert_true(json_is_true(json_object_get(t, "voicemail")));
	const json_t *utt = json_object_get(json_object_get(t, "transcript"),
	    "utterances");
	assert_int_equal(json_array_size(utt), 1);
	assert_string_equal(s_of(json_array_get(utt, 0), "speaker"), "user");
	assert_non_null(strstr(s_of(t, "summary"), "without leaving a message"));
	assert_null(json_object_get(t, "recording_pending"));
	json_decref(t);
	free(pcid);
	cx_testkit_free(tk);
	fake_free(&f);
}

/* Places `n` calls with record off and returns call_id -> outcome. */
static json_t *
outcomes_for(const char *yaml, int n)
{
	fake_core f;
	fake_init(&f);
	cx_testkit *tk = kit(yaml, &f);
	json_t *ids = json_array();
	for (int i = 0; i < n; i++) {
		char id[32];
		snprintf(id, sizeof(id), "call_mix_%d", i);
		free(place(tk, id, i, ", \"record\":false"));
		json_array_append_new(ids, json_string(id));
	}
	assert_true(fake_wait_done(&f, ids, 60000));
	json_t *out = json_object();
	size_t i;
	json_t *id;
	json_array_foreach (ids, i, id) {
		json_t *t = fake_terminal(&f, json_string_value(id));
		json_object_set_new(out, json_string_value(id),
		    json_string(s_of(t, "outcome")));
		json_decref(t);
	}
	json_decref(ids);
	cx_testkit_free(tk);
	fake_free(&f);
	return (out);
}

/* The seed makes outcomes reproducible; the mix follows the weights. */
static void
test_seed_and_mix(void **unused)
{
	(void) unused;
	enum { N = 400 };
	const char *y42 = FAST "talk_min: 1s\ntalk_max: 5s\nseed: 42\n";
	json_t *a = outcomes_for(y42, N);
	json_t *b = outcomes_for(y42, N);
	json_t *c = outcomes_for(FAST "talk_min: 1s\ntalk_max: 5s\nseed: 43\n",
	    N);
	assert_true(json_equal(a, b));
	assert_false(json_equal(a, c));
	static const char *const names[5] = {"answered", "voicemail", "busy",
	    "no_answer", "failed"};
	static const double want[5] = {0.70, 0.10, 0.08, 0.08, 0.04};
	for (int k = 0; k < 5; k++) {
		int n = 0;
		const char *key;
		json_t *v;
		json_object_foreach (a, key, v) {
			n += strcmp(json_string_value(v), names[k]) == 0;
		}
		double got = (double) n / N;
		if (got < want[k] - 0.07 || got > want[k] + 0.07) {
			fail_msg("%s: %.3f of calls, weight says %.2f", names[k],
			    got, want[k]);
		}
	}
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static void
test_lookup_restart(void **unused)
{
	(void) unused;
	fake_core f;
	fake_init(&f);
	const char *slow = "place_latency: 0ms\nring_min: 10m\nring_max: 10m\n"
	                   "no_answer_after: 10m\noutcomes: {answered: 1}\n"
	                   "retry_backoff: 10ms\n";
	cx_testkit *tk = kit(slow, &f);
	int64_t t0 = (int64_t) time(NULL) * 1000 - 1000;
	char *p1 = place(tk, "call_lk_1", 1, NULL);
	char *p2 = place(tk, "call_lk_2", 2, NULL);
	assert_true(fake_wait_event(&f, "call_lk_1", "queued", 5000));
	assert_true(fake_wait_event(&f, "call_lk_2", "queued", 5000));

	json_t *r = lookup(tk, "{\"v\":1, \"call_id\":\"call_lk_1\"}");
	assert_true(json_is_true(json_object_get(r, "found")));
	assert_string_equal(s_of(r, "provider_call_id"), p1);
	const char *st = s_of(r, "status");
	assert_true(strcmp(st, "queued") == 0 || strcmp(st, "ringing") == 0);
	json_decref(r);
	char q[256];
	snprintf(q, sizeof(q), "{\"v\":1, \"call_id\":\"x\", "
	                       "\"provider_call_id\":\"%s\"}", p2);
	r = lookup(tk, q);
	assert_string_equal(s_of(r, "provider_call_id"), p2);
	json_decref(r);
	/* By number and time, as for a provider that does not know our id. */
	snprintf(q, sizeof(q), "{\"v\":1, \"to\":\"+14155550003\", "
	                       "\"from\":\"+14155550000\", \"since_ms\":%lld}",
	    (long long) t0);
	r = lookup(tk, q);
	assert_true(json_is_true(json_object_get(r, "found")));
	assert_string_equal(s_of(r, "provider_call_id"), p2);
	json_decref(r);
	snprintf(q, sizeof(q), "{\"v\":1, \"to\":\"+14155550003\", "
	                       "\"from\":\"+14155550000\", \"since_ms\":%lld}",
	    (long long) t0 + 3600000);
	r = lookup(tk, q);
	assert_false(json_is_true(json_object_get(r, "found")));
	json_decref(r);
	r = lookup(tk, "{\"v\":1, \"call_id\":\"call_never\", "
	               "\"to\":\"+14155550003\", \"from\":\"+14155550000\"}");
	assert_false(json_is_true(json_object_get(r, "found")));
	json_decref(r);

	/* End the first call, leave the second in flight, restart (workers
	 * is not reloadable: the instance is stopped and started again). */
	json_t *hr = NULL;
	assert_int_equal(hangup(tk, "{\"v\":1, \"call_id\":\"call_lk_1\"}", &hr),
	    CX_OK);
	json_decref(hr);
	assert_true(fake_wait_event(&f, "call_lk_1", "canceled", 5000));
	sleep_ms(50);
	json_t *before = fake_events_of(&f, "call_lk_2");
	int64_t last_seq = json_integer_value(json_object_get(json_array_get(
	    before, json_array_size(before) - 1), "seq"));
	json_decref(before);
	char y2[512];
	snprintf(y2, sizeof(y2), "%sworkers: 2\n", slow);
	assert_int_equal(cx_testkit_reconfigure(tk, y2), CX_OK);

	r = lookup(tk, "{\"v\":1, \"call_id\":\"call_lk_1\"}");
	assert_true(json_is_true(json_object_get(r, "found")));
	assert_string_equal(s_of(r, "status"), "canceled");
	json_decref(r);
	assert_true(fake_wait_event(&f, "call_lk_2", "failed", 5000));
	json_t *t = fake_terminal(&f, "call_lk_2");
	assert_string_equal(s_of(t, "outcome"), "failed");
	assert_string_equal(s_of(t, "disconnection_reason"), "sandbox_restarted");
	assert_true(json_integer_value(json_object_get(t, "seq")) > last_seq);
	json_decref(t);
	r = lookup(tk, "{\"v\":1, \"call_id\":\"call_lk_2\"}");
	assert_string_equal(s_of(r, "status"), "failed");
	assert_string_equal(s_of(r, "provider_call_id"), p2);
	json_decref(r);
	/* The first call, acknowledged before the restart, is not resent. */
	json_t *e1 = fake_events_of(&f, "call_lk_1");
	assert_int_equal(json_array_size(e1), 2);
	json_decref(e1);
	free(p1);
	free(p2);
	cx_testkit_free(tk);
	fake_free(&f);
}

/* Hangup before the answer cancels; during the conversation it
 * completes the call early, with what was said so far. */
static void
test_hangup(void **unused)
{
	(void) unused;
	fake_core f;
	fake_init(&f);
	cx_testkit *tk = kit("place_latency: 0ms\ndial_min: 0ms\ndial_max: 0ms\n"
	                     "ring_min: 10m\nring_max: 10m\noutcomes: {answered: 1}\n",
	    &f);
	char *p = place(tk, "call_hu_1", 1, NULL);
	assert_true(fake_wait_event(&f, "call_hu_1", "ringing", 5000));
	json_t *r = NULL;
	char q[256];
	snprintf(q, sizeof(q), "{\"v\":1, \"call_id\":\"call_hu_1\", "
	                       "\"provider_call_id\":\"%s\"}", p);
	assert_int_equal(hangup(tk, q, &r), CX_OK);
	assert_string_equal(s_of(r, "status"), "canceled");
	json_decref(r);
	assert_true(fake_wait_event(&f, "call_hu_1", "canceled", 5000));
	json_t *t = fake_terminal(&f, "call_hu_1");
	assert_string_equal(s_of(t, "outcome"), "canceled");
	assert_string_equal(s_of(t, "disconnection_reason"), "api_hangup");
	assert_null(json_object_get(t, "recording_pending"));
	json_decref(t);
	/* Again: nothing more happens, the answer says how it ended. */
	assert_int_equal(hangup(tk, q, &r), CX_OK);
	assert_string_equal(s_of(r, "status"), "canceled");
	json_decref(r);
	r = NULL;
	assert_int_equal(hangup(tk, "{\"v\":1, \"call_id\":\"nope\", "
	                            "\"provider_call_id\":\"SBXnope\"}", &r),
	    CX_ENOENT);
	json_decref(r);
	free(p);
	cx_testkit_free(tk);

	/* Answered at once, talking for ten minutes: hung up after ~1 s. */
	tk = kit("place_latency: 0ms\ndial_min: 0ms\ndial_max: 0ms\n"
	         "ring_min: 0ms\nring_max: 0ms\ntalk_min: 10m\ntalk_max: 10m\n"
	         "recording_seconds: 600\noutcomes: {answered: 1}\n",
	    &f);
	p = place(tk, "call_hu_2", 2, NULL);
	assert_true(fake_wait_event(&f, "call_hu_2", "in_progress", 5000));
	sleep_ms(1200);
	assert_int_equal(hangup(tk, "{\"v\":1, \"call_id\":\"call_hu_2\"}", &r),
	    CX_OK);
	assert_string_equal(s_of(r, "status"), "completed");
	json_decref(r);
	json_t *ids = json_pack("[s]", "call_hu_2");
	assert_true(fake_wait_done(&f, ids, 5000));
	json_decref(ids);
	t = fake_terminal(&f, "call_hu_2");
	assert_string_equal(s_of(t, "outcome"), "answered");
	assert_string_equal(s_of(t, "disconnection_reason"), "api_hangup");
	int64_t dur = json_integer_value(json_object_get(t, "duration_ms"));
	assert_true(dur >= 1000 && dur < 5000);
	assert_false(json_is_true(json_object_get(t, "success")));
	check_utterances(json_object_get(t, "transcript"), dur);
	json_t *rec = fake_recording_of(&f, p);
	assert_non_null(rec);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rec,
	                     "wav"), "data_bytes")), dur * 16);
	json_decref(rec);
	json_decref(t);
	free(p);
	cx_testkit_free(tk);
	fake_free(&f);
}

/* Hangups racing the simulation at high speed: every call still ends
 * exactly once, after the steps it had, with increasing seq. */
static void
test_hangup_race(void **unused)
{
	(void) unused;
	fake_core f;
	fake_init(&f);
	cx_testkit *tk = kit(FAST "talk_min: 1s\ntalk_max: 60s\n"
	                          "ring_min: 0ms\nring_max: 5s\n", &f);
	enum { N = 80 };
	json_t *ids = json_array();
	for (int i = 0; i < N; i++) {
		char id[32], q[96];
		snprintf(id, sizeof(id), "call_race_%d", i);
		free(place(tk, id, i, NULL));
		json_array_append_new(ids, json_string(id));
		sleep_ms(i % 7);
		snprintf(q, sizeof(q), "{\"v\":1, \"call_id\":\"%s\"}", id);
		json_t *r = NULL;
		assert_int_equal(hangup(tk, q, &r), CX_OK);
		json_decref(r);
	}
	assert_true(fake_wait_done(&f, ids, 20000));
	sleep_ms(200);
	static const char *const order[] = {"queued", "ringing", "in_progress"};
	size_t i;
	json_t *id;
	json_array_foreach (ids, i, id) {
		json_t *evs = fake_events_of(&f, json_string_value(id));
		size_t n = json_array_size(evs), k;
		json_t *e;
		int64_t seq = 0, at = 0;
		json_array_foreach (evs, k, e) {
			const char *st = s_of(e, "status");
			int64_t sq = json_integer_value(json_object_get(e, "seq"));
			int64_t a = json_integer_value(json_object_get(e, "at_ms"));
			assert_true(sq > seq && a >= at);
			seq = sq;
			at = a;
			if (k + 1 < n) {
				/* Live steps, in their order, none skipped. */
				assert_true(k < 3);
				assert_string_equal(st, order[k]);
				assert_null(json_object_get(e, "outcome"));
			} else {
				assert_non_null(json_object_get(e, "outcome"));
			}
		}
		json_decref(evs);
	}
	json_decref(ids);
	cx_testkit_free(tk);
	fake_free(&f);
}

/* A core that errors at first gets the same event again, with backoff,
 * until it acknowledges; the call then goes on in order. */
int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s <sandbox.so>\n", argv[0]);
		return (2);
	}
	plugin_path = argv[1];
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lifecycle),
	    cmocka_unit_test(test_voicemail_hangup),
	    cmocka_unit_test(test_seed_and_mix),
	    cmocka_unit_test(test_lookup_restart),
	    cmocka_unit_test(test_hangup),
	    cmocka_unit_test(test_hangup_race),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
