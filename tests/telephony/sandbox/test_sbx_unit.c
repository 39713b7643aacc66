/*
 * test_sbx_unit.c - the sandbox's pieces without the bus: the outcome mix
 * over many calls, the timeline, the script, the WAV writer and the
 * journal (compiled in from plugins/telephony/sandbox).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fake_core.h"
#include "sbx.h"

/* A fresh directory under $TMPDIR (or the system's temporary one). */
static void
tmp_dir(char *buf, size_t len, const char *tag)
{
	const char *t = getenv("TMPDIR");
	snprintf(buf, len, "%s/%s.XXXXXX", t != NULL ? t : P_tmpdir, tag);
	assert_non_null(mkdtemp(buf));
}

static sbx_config
defaults(void)
{
	/* The schema's defaults, as the core would hand them over. */
	json_t *s = json_pack("{s:I, s:n, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	                      "s:i, s:I, s:i, s:i, s:i, s:I, s:s, s:i, s:I, "
	                      "s:I, s:I, s:i, s:I}",
	    "seed", (json_int_t) 1, "outcomes", "dial_min", (json_int_t) 500,
	    "dial_max", (json_int_t) 2000, "ring_min", (json_int_t) 2000,
	    "ring_max", (json_int_t) 12000, "talk_min", (json_int_t) 20000,
	    "talk_max", (json_int_t) 90000, "no_answer_after",
	    (json_int_t) 30000, "speed", 1, "place_latency", (json_int_t) 20,
	    "recording_seconds", 20, "fail_place", 0, "timeout_place", 0,
	    "price_per_minute", (json_int_t) 13000, "currency", "USD",
	    "event_retries", 12, "retry_backoff", (json_int_t) 1000,
	    "retry_backoff_max", (json_int_t) 300000, "event_timeout",
	    (json_int_t) 10000, "workers", 4, "journal_max_age",
	    (json_int_t) 604800000);
	sbx_config c;
	char err[256];
	assert_non_null(s);
	if (!sbx_config_parse(s, &c, err, sizeof(err))) {
		fail_msg("%s", err);
	}
	json_decref(s);
	return (c);
}

/* Over 100,000 calls the mix is the weights, to within half a percent. */
static void
test_mix(void **unused)
{
	(void) unused;
	sbx_config c = defaults();
	static const int w[SBX_N_OUTCOMES] = {70, 10, 8, 8, 4};
	assert_memory_equal(c.weights, w, sizeof(w));
	int n[SBX_N_OUTCOMES] = {0};
	enum { N = 100000 };
	for (int i = 0; i < N; i++) {
		char id[32];
		snprintf(id, sizeof(id), "call_%d", i);
		sbx_outcome o = sbx_pick_outcome(c.weights, 99, id);
		assert_true(o < SBX_N_OUTCOMES);
		n[o]++;
		assert_int_equal(o, sbx_pick_outcome(c.weights, 99, id));
	}
	for (int k = 0; k < SBX_N_OUTCOMES; k++) {
		double got = (double) n[k] / N, want = w[k] / 100.0;
		if (got < want - 0.005 || got > want + 0.005) {
			fail_msg("%s: %.4f, want %.2f", sbx_outcome_names[k], got,
			    want);
		}
	}
	/* A weight of 0 never comes up. */
	int only[SBX_N_OUTCOMES] = {0, 0, 1, 0, 0};
	for (int i = 0; i < 1000; i++) {
		char id[32];
		snprintf(id, sizeof(id), "c%d", i);
		assert_int_equal(sbx_pick_outcome(only, 5, id), SBX_BUSY);
	}
}

/* Timelines: steps in order, within the configured ranges. */
static void
test_plan(void **unused)
{
	(void) unused;
	sbx_config c = defaults();
	json_t *req = json_pack("{s:b}", "record", 1);
	for (int i = 0; i < 2000; i++) {
		char id[32];
		snprintf(id, sizeof(id), "p%d", i);
		sbx_plan p;
		sbx_plan_make(&c, id, req, 7000, &p);
		assert_true(p.nsteps >= 2 && p.nsteps <= SBX_MAX_STEPS);
		assert_int_equal(p.steps[0].status, SBX_ST_QUEUED);
		for (int k = 1; k < p.nsteps; k++) {
			assert_true(p.steps[k].at >= p.steps[k - 1].at);
		}
		int64_t dial = p.steps[1].at - p.steps[0].at;
		assert_true(dial >= c.dial_min && dial <= c.dial_max);
		switch (p.outcome) {
		case SBX_ANSWERED:
		case SBX_VOICEMAIL:
			assert_int_equal(p.nsteps, 5);
			assert_int_equal(p.steps[3].status, SBX_ST_COMPLETED);
			assert_int_equal(p.steps[4].status, SBX_ST_RECORDING);
			assert_true(p.steps[2].at - p.steps[1].at >= c.ring_min &&
			    p.steps[2].at - p.steps[1].at <= c.ring_max);
			if (p.outcome == SBX_ANSWERED) {
				assert_true(p.talk_ms >= c.talk_min &&
				    p.talk_ms <= c.talk_max);
			} else {
				assert_int_equal(p.talk_ms, 7000);
			}
			break;
		case SBX_NO_ANSWER:
			assert_int_equal(p.steps[2].status, SBX_ST_NO_ANSWER);
			assert_int_equal(p.steps[2].at - p.steps[1].at,
			    c.no_answer_after);
			break;
		case SBX_BUSY:
			assert_int_equal(p.steps[1].status, SBX_ST_BUSY);
			break;
		default:
			assert_int_equal(p.steps[1].status, SBX_ST_FAILED);
			break;
		}
	}
	json_decref(req);
}

static void
test_script(void **unused)
{
	(void) unused;
	json_t *req = json_pack("{s:b, s:{s:s}, s:{s:s, s:s}, s:{s:b, s:[{s:s, "
	                        "s:s}]}}", "disclosure", 0, "variables", "name",
	    "Grace", "voicemail", "action", "message", "message",
	    "Hello {{ name }}, call {{missing}} back", "analysis", "summary", 0,
	    "fields", "name", "budget", "type", "number");
	json_t *vm = sbx_script_make(req, SBX_VOICEMAIL, 1, "v1", 0);
	json_t *ev = json_object();
	sbx_script_finish(vm, sbx_script_length(vm), false, ev);
	const char *text = json_string_value(json_object_get(json_object_get(ev,
	    "transcript"), "text"));
	assert_non_null(strstr(text, "reached Grace"));
	assert_non_null(strstr(text, "Agent: Hello Grace, call {{missing}} back"));
	/* summary: false in the request: none is sent. */
	assert_null(json_object_get(ev, "summary"));
	assert_true(json_is_null(json_object_get(json_object_get(ev, "analysis"),
	    "budget")));
	json_decref(ev);
	json_decref(vm);

	/* Answered, 60 s: a longer conversation; no disclosure line. */
	json_t *a = sbx_script_make(req, SBX_ANSWERED, 1, "a1", 60000);
	assert_int_equal(sbx_script_length(a), 60000);
	ev = json_object();
	sbx_script_finish(a, 60000, false, ev);
	text = json_string_value(json_object_get(json_object_get(ev,
	    "transcript"), "text"));
	assert_null(strstr(text, "recorded"));
	assert_true(json_array_size(json_object_get(json_object_get(ev,
	                "transcript"), "utterances")) > 7);
	json_decref(ev);
	/* Cut at 5 s by a hangup: only what was said by then. */
	ev = json_object();
	sbx_script_finish(a, 5000, true, ev);
	json_t *utt = json_object_get(json_object_get(ev, "transcript"),
	    "utterances");
	size_t i;
	json_t *u;
	json_array_foreach (utt, i, u) {
		assert_true(json_integer_value(json_object_get(u, "end_ms")) <=
		    5000);
	}
	assert_true(json_is_false(json_object_get(ev, "success")));
	json_decref(ev);
	json_decref(a);
	json_decref(req);
}

static void
test_wav(void **unused)
{
	(void) unused;
	char dir[256];
	tmp_dir(dir, sizeof(dir), "sbxwav");
	char path[256];
	snprintf(path, sizeof(path), "%s/a.wav", dir);
	json_t *req = json_pack("{s:{s:s, s:s}}", "voicemail", "action",
	    "message", "message", "Please call back");
	json_t *sc = sbx_script_make(req, SBX_VOICEMAIL, 3, "w", 0);
	int64_t len = sbx_script_length(sc);
	assert_int_equal(sbx_wav_write(path, sc, len, 60000, 3), 0);
	json_t *w = wav_inspect(path);
	assert_true(json_is_true(json_object_get(w, "ok")));
	assert_int_equal(json_integer_value(json_object_get(w, "rate")), 8000);
	assert_int_equal(json_integer_value(json_object_get(w, "channels")), 1);
	assert_int_equal(json_integer_value(json_object_get(w, "bits")), 16);
	assert_int_equal(json_integer_value(json_object_get(w, "data_bytes")),
	    len * 16);
	assert_true(json_real_value(json_object_get(w, "rms")) > 0.02);
	json_decref(w);
	/* The cap wins over the talk time; no temporary file is left. */
	assert_int_equal(sbx_wav_write(path, sc, 90000, 3000, 3), 0);
	w = wav_inspect(path);
	assert_int_equal(json_integer_value(json_object_get(w, "data_bytes")),
	    3000 * 16);
	json_decref(w);
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
	/* Same seed, same bytes. */
	char p2[256];
	snprintf(p2, sizeof(p2), "%s/b.wav", dir);
	assert_int_equal(sbx_wav_write(p2, sc, 90000, 3000, 3), 0);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", path, p2);
	assert_int_equal(system(cmd), 0);
	/* An unwritable place fails cleanly. */
	assert_int_not_equal(sbx_wav_write("/nonexistent/x.wav", sc, 100, 100,
	                         1), 0);
	unlink(path);
	unlink(p2);
	rmdir(dir);
	json_decref(sc);
	json_decref(req);
}

static sbx_record
rec(const char *id, const char *pcid, sbx_status st, int seq, int acked,
    int64_t t)
{
	sbx_record r = {.created_ms = t, .updated_ms = t, .status = (int8_t) st,
	    .outcome = sbx_status_live(st) ? -1 : SBX_FAILED, .seq = seq,
	    .acked = acked};
	snprintf(r.call_id, sizeof(r.call_id), "%s", id);
	snprintf(r.pcid, sizeof(r.pcid), "%s", pcid);
	snprintf(r.to, sizeof(r.to), "+14155550100");
	snprintf(r.from, sizeof(r.from), "+14155550000");
	return (r);
}

static void
test_journal(void **unused)
{
	(void) unused;
	char dir[256];
	tmp_dir(dir, sizeof(dir), "sbxjr");
	char err[256] = "";
	sbx_journal *j;
	int64_t now = 1800000000000LL, day = 86400000LL;
	assert_int_equal(sbx_journal_open(dir, now, day, &j, err, sizeof(err)),
	    CX_OK);
	sbx_record a = rec("c_old", "SBXold", SBX_ST_FAILED, 2, 2, now - 3 * day);
	sbx_record b = rec("c_live", "SBXlive", SBX_ST_RINGING, 2, 1, now - 3 * day);
	sbx_record c = rec("c_new", "SBXnew1", SBX_ST_QUEUED, 0, 0, now - 10);
	assert_int_equal(sbx_journal_put(j, &a, NULL), CX_OK);
	assert_int_equal(sbx_journal_put(j, &b, NULL), CX_OK);
	assert_int_equal(sbx_journal_put(j, &c, NULL), CX_OK);
	c.status = SBX_ST_COMPLETED;
	c.seq = c.acked = 4;
	assert_int_equal(sbx_journal_put(j, &c, NULL), CX_OK);
	/* A second attempt of the same call id: the newest wins. */
	sbx_record c2 = rec("c_new", "SBXnew2", SBX_ST_QUEUED, 0, 0, now);
	assert_int_equal(sbx_journal_put(j, &c2, NULL), CX_OK);
	assert_string_equal(sbx_journal_by_call(j, "c_new")->pcid, "SBXnew2");
	sbx_journal_close(j);
	/* A torn last line, as after a crash mid-write. */
	char path[256];
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	FILE *f = fopen(path, "a");
	fputs("{\"call_id\":\"c_torn\",\"pcid\":\"SBX", f);
	fclose(f);

	assert_int_equal(sbx_journal_open(dir, now, day, &j, err, sizeof(err)),
	    CX_OK);
	assert_non_null(strstr(err, "skipped 1"));
	/* The old finished call is pruned; the old live one is kept (it
	 * still has to be reported). */
	assert_null(sbx_journal_by_pcid(j, "SBXold"));
	assert_non_null(sbx_journal_by_pcid(j, "SBXlive"));
	sbx_record *r = sbx_journal_by_pcid(j, "SBXnew1");
	assert_non_null(r);
	assert_int_equal(r->status, SBX_ST_COMPLETED);
	assert_int_equal(r->seq, 4);
	assert_string_equal(sbx_journal_by_call(j, "c_new")->pcid, "SBXnew2");
	assert_int_equal(sbx_journal_count(j), 3);
	r = sbx_journal_find(j, "+14155550100", "+14155550000", now - 100);
	assert_non_null(r);
	assert_string_equal(r->pcid, "SBXnew2");
	assert_null(sbx_journal_find(j, "+14155550199", NULL, now - 100));
	sbx_journal_close(j);
	/* Compacted: one line per call. */
	f = fopen(path, "r");
	int lines = 0, ch;
	while ((ch = fgetc(f)) != EOF) {
		lines += ch == '\n';
	}
	fclose(f);
	assert_int_equal(lines, 3);

	/* A long run rewrites the file as it goes instead of growing it. */
	assert_int_equal(sbx_journal_open(dir, now, day, &j, err, sizeof(err)),
	    CX_OK);
	sbx_record busy = rec("c_busy", "SBXbusy", SBX_ST_RINGING, 0, 0, now);
	for (int i = 1; i <= 6000; i++) {
		busy.seq = i;
		busy.acked = i - 1;
		assert_int_equal(sbx_journal_put(j, &busy, NULL), CX_OK);
	}
	sbx_journal_close(j);
	f = fopen(path, "r");
	lines = 0;
	while ((ch = fgetc(f)) != EOF) {
		lines += ch == '\n';
	}
	fclose(f);
	assert_true(lines < 4200);
	assert_int_equal(sbx_journal_open(dir, now, day, &j, err, sizeof(err)),
	    CX_OK);
	assert_int_equal(sbx_journal_by_pcid(j, "SBXbusy")->seq, 6000);
	assert_int_equal(sbx_journal_count(j), 4);
	sbx_journal_close(j);
	unlink(path);
	rmdir(dir);
}

static void
test_e164(void **unused)
{
	(void) unused;
	assert_true(sbx_e164_ok("+14155550100"));
	assert_true(sbx_e164_ok("+4930123456"));
	assert_true(sbx_e164_ok("+123456789012345"));
	assert_false(sbx_e164_ok("+1234567890123456"));
	assert_false(sbx_e164_ok("+123456"));
	assert_false(sbx_e164_ok("14155550100"));
	assert_false(sbx_e164_ok("+04155550100"));
	assert_false(sbx_e164_ok("+1415555010a"));
	assert_false(sbx_e164_ok("+1 415 555 0100"));
	assert_false(sbx_e164_ok(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mix),
	    cmocka_unit_test(test_plan),
	    cmocka_unit_test(test_script),
	    cmocka_unit_test(test_wav),
	    cmocka_unit_test(test_journal),
	    cmocka_unit_test(test_e164),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
