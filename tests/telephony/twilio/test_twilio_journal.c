/*
 * test_twilio_journal.c - the recording queue's journal, compiled in:
 * replay with several state changes per job (newest line wins), a torn
 * last line cut off, a whole-document file from before the journal,
 * pruning of finished jobs, compaction at open and on growth, a second
 * instance catching up (appends and compactions), and due order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "twilio_journal.h"

static char dir[] = "/tmp/cx_twjr_XXXXXX";
static char path[sizeof(dir) + 32];

static void
write_file(const char *s)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(s, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Lines in the file; *torn when it does not end with a newline. */
static size_t
count_lines(bool *torn)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = 0;
	int c, last = '\n';
	while ((c = fgetc(f)) != EOF) {
		n += c == '\n';
		last = c;
	}
	fclose(f);
	*torn = last != '\n';
	return (n);
}

static twilio_journal *
open_ok(size_t keep)
{
	twilio_journal *j = NULL;
	char err[256];
	assert_int_equal(twilio_jr_open(path, keep, &j, err, sizeof(err)),
	    CX_OK);
	return (j);
}

static json_t *
job(const char *sid, int attempts, int64_t next)
{
	return (json_pack("{s:s, s:s, s:i, s:I}", "recording_sid", sid,
	    "stage", "download", "attempts", attempts, "next_ms",
	    (json_int_t) next));
}

static void
replay_torn_compact(void **st)
{
	(void) st;
	write_file(
	    "{\"op\":\"put\",\"job\":{\"recording_sid\":\"RE1\",\"stage\":"
	    "\"download\",\"attempts\":0,\"next_ms\":10}}\n"
	    "{\"op\":\"put\",\"job\":{\"recording_sid\":\"RE2\",\"stage\":"
	    "\"download\",\"attempts\":0,\"next_ms\":10}}\n"
	    "{\"op\":\"put\",\"job\":{\"recording_sid\":\"RE1\",\"stage\":"
	    "\"download\",\"attempts\":0,\"next_ms\":10,\"lease_until\":99}}\n"
	    "{\"op\":\"put\",\"job\":{\"recording_sid\":\"RE1\",\"stage\":"
	    "\"delete\",\"attempts\":2,\"next_ms\":50}}\n"
	    "{\"op\":\"done\",\"sid\":\"RE2\"}\n"
	    "{\"op\":\"put\",\"job\":{\"recording_sid\":\"RE3\",\"stage\":"
	    "\"download\",\"attempts\":0,\"next_ms\":10}}\n"
	    "{\"op\":\"drop\",\"sid\":\"RE3\"}\n"
	    "{\"op\":\"put\",\"job\":{\"recording_sid\":\"RE4\",\"stage\":"
	    "\"download\",\"attempts\":0,\"next_ms\":20}}\n"
	    "{\"op\":\"put\",\"job\":{\"recording_sid\":\"RE5\",\"sta");
	twilio_journal *j = open_ok(512);
	json_t *e = twilio_jr_get(j, "RE1");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "stage")),
	    "delete");
	assert_int_equal(json_integer_value(json_object_get(e, "attempts")),
	    2);
	assert_null(json_object_get(e, "lease_until"));
	assert_null(twilio_jr_get(j, "RE2"));
	assert_true(twilio_jr_known(j, "RE2"));
	assert_false(twilio_jr_known(j, "RE3"));
	assert_false(twilio_jr_known(j, "RE5")); /* torn: never written */
	assert_non_null(twilio_jr_get(j, "RE4"));
	assert_int_equal(twilio_jr_pending(j), 2);
	/* Compacted at open: one line per live key, none torn. */
	bool torn;
	assert_int_equal(count_lines(&torn), 3);
	assert_false(torn);
	assert_int_equal(twilio_jr_lines(j), 3);
	/* Due order: RE4 (20) before RE1 (50); nothing due at 15. */
	int64_t next = 1000;
	assert_null(twilio_jr_due(j, 15, &next));
	assert_int_equal(next, 20);
	e = twilio_jr_due(j, 60, &next);
	assert_string_equal(json_string_value(json_object_get(e,
	    "recording_sid")), "RE4");
	/* A lease moves it behind RE1. */
	json_t *l = json_deep_copy(e);
	json_object_set_new(l, "lease_until", json_integer(1000));
	assert_int_equal(twilio_jr_put(j, l), CX_OK);
	json_decref(l);
	e = twilio_jr_due(j, 60, &next);
	assert_string_equal(json_string_value(json_object_get(e,
	    "recording_sid")), "RE1");
	twilio_jr_close(j);
	/* What was appended survives a reopen. */
	j = open_ok(512);
	assert_int_equal(json_integer_value(json_object_get(
	    twilio_jr_get(j, "RE4"), "lease_until")), 1000);
	assert_true(twilio_jr_known(j, "RE2"));
	twilio_jr_close(j);
}

static void
legacy_and_pruning(void **st)
{
	(void) st;
	write_file("{\"v\":1,\"pending\":[{\"recording_sid\":\"REa\","
	    "\"stage\":\"download\",\"attempts\":3,\"next_ms\":5}],"
	    "\"done\":[\"REx\",\"REy\"]}");
	twilio_journal *j = open_ok(3);
	assert_int_equal(json_integer_value(json_object_get(
	    twilio_jr_get(j, "REa"), "attempts")), 3);
	assert_true(twilio_jr_known(j, "REx"));
	assert_int_equal(twilio_jr_done(j, "REa"), CX_OK);
	assert_int_equal(twilio_jr_done(j, "REb"), CX_OK);
	/* Only the 3 newest finished keys are kept: REx goes. */
	assert_false(twilio_jr_known(j, "REx"));
	assert_true(twilio_jr_known(j, "REy"));
	twilio_jr_close(j);
	j = open_ok(3);
	assert_false(twilio_jr_known(j, "REx"));
	assert_true(twilio_jr_known(j, "REy"));
	assert_true(twilio_jr_known(j, "REb"));
	assert_int_equal(twilio_jr_pending(j), 0);
	twilio_jr_close(j);
}

static void
growth_and_two_instances(void **st)
{
	(void) st;
	unlink(path);
	twilio_journal *a = open_ok(512), *b = open_ok(512);
	char err[256];
	json_t *e = job("REm", 0, 1);
	/* As twilio_rec.c does: every change starts with a sync (b's
	 * open compacted: a new file). */
	assert_int_equal(twilio_jr_sync(a, err, sizeof(err)), CX_OK);
	assert_int_equal(twilio_jr_put(a, e), CX_OK);
	json_decref(e);
	assert_int_equal(twilio_jr_sync(b, err, sizeof(err)), CX_OK);
	assert_non_null(twilio_jr_get(b, "REm"));
	/* 2000 state changes of one job: compacted on the way. */
	size_t most = 0;
	for (int i = 1; i <= 2000; i++) {
		e = job("REm", i, i);
		assert_int_equal(twilio_jr_sync(a, err, sizeof(err)), CX_OK);
		assert_int_equal(twilio_jr_put(a, e), CX_OK);
		json_decref(e);
		most = twilio_jr_lines(a) > most ? twilio_jr_lines(a) : most;
	}
	assert_true(most <= 4 * 1 + 1024 + 1);
	bool torn;
	assert_true(count_lines(&torn) < 1030);
	/* b catches up across a's compactions (a new file). */
	assert_int_equal(twilio_jr_sync(b, err, sizeof(err)), CX_OK);
	assert_int_equal(json_integer_value(json_object_get(
	    twilio_jr_get(b, "REm"), "attempts")), 2000);
	assert_int_equal(twilio_jr_done(b, "REm"), CX_OK);
	assert_int_equal(twilio_jr_sync(a, err, sizeof(err)), CX_OK);
	assert_null(twilio_jr_get(a, "REm"));
	assert_true(twilio_jr_known(a, "REm"));
	twilio_jr_close(a);
	twilio_jr_close(b);
}

static int
setup(void **st)
{
	(void) st;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/recordings.json", dir);
	return (0);
}

static int
teardown(void **st)
{
	(void) st;
	char tmp[sizeof(path) + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	unlink(path);
	rmdir(dir);
	return (0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(replay_torn_compact),
	    cmocka_unit_test(legacy_and_pruning),
	    cmocka_unit_test(growth_and_two_instances),
	};
	return (cmocka_run_group_tests(tests, setup, teardown));
}
