/*
 * test_retell_journal.c - the retell plugin's recording journal
 * (retell_recq.c) compiled in: state changes read back after a restart
 * (newest line per call wins, the URL carried over and gone once the
 * job is done), a torn last line skipped, damaged lines skipped and
 * the file kept aside, compaction (at open and once lines outgrow the
 * jobs), pruning, and the list format written before the journal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <stdlib.h>
#include <unistd.h>

#include "retell_recq.h"

#define WEEK (7LL * 24 * 3600 * 1000)
#define T0 1800000000000LL

static char dir[64], path[128];
static int warnings;

static void
tlog(const cx_host *h, cx_log_level lvl, const char *fmt, ...)
{
	(void) h;
	warnings += lvl >= CX_LOG_WARN;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const cx_host host = {.name = "retell", .log = tlog};

static int
setup(void **unused)
{
	(void) unused;
	snprintf(dir, sizeof(dir), "%s", "/tmp/cxretell-j.XXXXXX");
	const char *t = getenv("TMPDIR");
	if (t != NULL && strlen(t) < 40) {
		snprintf(dir, sizeof(dir), "%s/cxretell-j.XXXXXX", t);
	}
	if (mkdtemp(dir) == NULL) {
		return (-1);
	}
	snprintf(path, sizeof(path), "%s/recordings.json", dir);
	warnings = 0;
	return (0);
}

static int
teardown(void **unused)
{
	(void) unused;
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return (system(cmd) == 0 ? 0 : -1);
}

static char *
slurp(const char *p)
{
	FILE *f = fopen(p, "rb");
	assert_non_null(f);
	char *b = calloc(1, 1 << 22);
	assert_non_null(b);
	size_t n = fread(b, 1, (1 << 22) - 1, f);
	b[n] = '\0';
	fclose(f);
	return (b);
}

static size_t
count_lines(const char *p)
{
	char *b = slurp(p);
	size_t n = 0;
	for (char *c = b; *c != '\0'; c++) {
		n += *c == '\n';
	}
	free(b);
	return (n);
}

static void
append_raw(const char *p, const char *text)
{
	FILE *f = fopen(p, "ab");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Three jobs, several changes each, a restart: each comes back as its
 * last change left it. */
static void
test_replay(void **unused)
{
	(void) unused;
	rt_jobs s;
	int64_t next;
	assert_int_equal(rt_jobs_open(&s, &host, path, T0, WEEK), CX_OK);
	assert_int_equal(rt_jobs_add(&s, "c_a", "call_a", "https://h/recordings/a.wav",
	                     61000, T0), CX_OK);
	assert_int_equal(rt_jobs_add(&s, "c_b", "", "https://h/recordings/b.mp3",
	                     -1, T0 + 1), CX_OK);
	assert_int_equal(rt_jobs_add(&s, "c_c", "call_c", "https://h/recordings/c.wav",
	                     5, T0 + 2), CX_OK);
	assert_int_equal(rt_jobs_add(&s, "c_a", "x", "y", 0, T0), CX_EEXIST);
	/* Due in enqueue order. */
	rt_job *j = rt_jobs_due(&s, T0 + 10, &next);
	assert_string_equal(j->call_id, "c_a");
	j->attempts++;
	assert_int_equal(rt_jobs_retry(&s, j, T0 + 1000), CX_OK);
	j->attempts++;
	assert_int_equal(rt_jobs_retry(&s, j, T0 + 3000), CX_OK);
	j = rt_jobs_due(&s, T0 + 10, &next);
	assert_string_equal(j->call_id, "c_b");
	j->attempts++;
	assert_int_equal(rt_jobs_finish(&s, j, false, T0 + 20), CX_OK);
	j = rt_jobs_due(&s, T0 + 10, &next);
	assert_string_equal(j->call_id, "c_c");
	j->attempts++;
	assert_int_equal(rt_jobs_retry(&s, j, T0 + 2000), CX_OK);
	j->attempts++;
	assert_int_equal(rt_jobs_finish(&s, j, true, T0 + 30), CX_OK);
	next = T0 + 60000;
	assert_null(rt_jobs_due(&s, T0 + 10, &next));
	assert_true(next == T0 + 3000);
	/* 3 adds + 5 changes, appended: no rewrite. */
	assert_int_equal(count_lines(path), 8);
	char *text = slurp(path);
	/* The URLs of ended jobs are blanked in place. */
	assert_null(strstr(text, "b.mp3"));
	assert_null(strstr(text, "c.wav"));
	assert_non_null(strstr(text, "a.wav"));
	free(text);
	rt_jobs_close(&s);

	assert_int_equal(rt_jobs_open(&s, &host, path, T0 + 100, WEEK), CX_OK);
	assert_int_equal(warnings, 0);
	assert_int_equal(rt_jobs_pending(&s), 1);
	j = rt_jobs_find(&s, "c_a");
	assert_non_null(j);
	assert_false(j->done);
	assert_int_equal(j->attempts, 2);
	/* Due again at once after a restart (it was due at T0 + 3000). */
	assert_true(j->next_ms == T0 + 100);
	assert_true(j->duration_ms == 61000);
	assert_string_equal(j->cx_call_id, "call_a");
	assert_string_equal(j->url, "https://h/recordings/a.wav");
	j = rt_jobs_find(&s, "c_b");
	assert_true(j->done && !j->failed && j->url == NULL);
	assert_int_equal(j->attempts, 1);
	assert_true(j->done_ms == T0 + 20);
	j = rt_jobs_find(&s, "c_c");
	assert_true(j->done && j->failed && j->url == NULL);
	assert_int_equal(j->attempts, 2);
	assert_string_equal(j->cx_call_id, "call_c");
	assert_null(rt_jobs_find(&s, "c_d"));
	/* Compacted at open: one line per job. */
	assert_int_equal(count_lines(path), 3);
	/* And it goes on appending after the rewrite. */
	j = rt_jobs_find(&s, "c_a");
	j->attempts++;
	assert_int_equal(rt_jobs_finish(&s, j, false, T0 + 200), CX_OK);
	assert_int_equal(count_lines(path), 4);
	text = slurp(path);
	assert_null(strstr(text, "a.wav"));
	free(text);
	rt_jobs_close(&s);
	assert_int_equal(rt_jobs_open(&s, &host, path, T0 + 300, WEEK), CX_OK);
	assert_true(rt_jobs_find(&s, "c_a")->done);
	assert_int_equal(rt_jobs_pending(&s), 0);
	/* A week on, the done jobs are pruned (and dropped from the file). */
	rt_jobs_close(&s);
	assert_int_equal(rt_jobs_open(&s, &host, path, T0 + WEEK + 100, WEEK),
	    CX_OK);
	assert_null(rt_jobs_find(&s, "c_b"));
	assert_null(rt_jobs_find(&s, "c_c"));
	assert_non_null(rt_jobs_find(&s, "c_a"));
	assert_int_equal(count_lines(path), 1);
	rt_jobs_close(&s);
}

/* A crash in the middle of an append leaves part of a line: skipped,
 * the rest read, and the next appends land on a clean file. */
static void
test_torn_last_line(void **unused)
{
	(void) unused;
	rt_jobs s;
	assert_int_equal(rt_jobs_open(&s, &host, path, T0, WEEK), CX_OK);
	assert_int_equal(rt_jobs_add(&s, "c_a", "call_a", "https://h/a.wav", 1,
	                     T0), CX_OK);
	rt_jobs_close(&s);
	append_raw(path, "{\"call_id\":\"c_a\",\"cx_call_id\":\"call_a\",\"dur");
	assert_int_equal(rt_jobs_open(&s, &host, path, T0, WEEK), CX_OK);
	char keep[160];
	snprintf(keep, sizeof(keep), "%s.corrupt", path);
	assert_int_equal(warnings, 1); /* noted, not fatal */
	assert_int_equal(access(keep, F_OK), -1); /* nothing to keep */
	rt_job *j = rt_jobs_find(&s, "c_a");
	assert_non_null(j);
	assert_string_equal(j->url, "https://h/a.wav");
	assert_int_equal(rt_jobs_add(&s, "c_b", "", "https://h/b.wav", 1, T0),
	    CX_OK);
	rt_jobs_close(&s);
	char *text = slurp(path);
	assert_null(strstr(text, "\"dur{"));
	free(text);
	assert_int_equal(rt_jobs_open(&s, &host, path, T0, WEEK), CX_OK);
	assert_int_equal(rt_jobs_pending(&s), 2);
	rt_jobs_close(&s);

	/* A line lost in the middle is another matter: skipped too, but
	 * the file is kept for the operator. */
	append_raw(path, "{\"call_id\":\"c_x\",\"url\":garbage}\n"
	                 "{\"call_id\":\"c_c\",\"cx_call_id\":\"\",\"url\":\"u\"}\n");
	warnings = 0;
	assert_int_equal(rt_jobs_open(&s, &host, path, T0, WEEK), CX_OK);
	assert_int_equal(warnings, 1);
	assert_null(rt_jobs_find(&s, "c_x"));
	assert_non_null(rt_jobs_find(&s, "c_c"));
	assert_int_equal(rt_jobs_pending(&s), 3);
	assert_int_equal(access(keep, F_OK), 0);
	rt_jobs_close(&s);

	/* A URL blanked, then the crash before the done line: ended. */
	append_raw(path, "{\"call_id\":\"c_d\",\"cx_call_id\":\"\",\"attempts\":"
	                 "3,\"done\":false               }\n");
	assert_int_equal(rt_jobs_open(&s, &host, path, T0, WEEK), CX_OK);
	assert_true(rt_jobs_find(&s, "c_d")->done);
	assert_int_equal(rt_jobs_pending(&s), 3);
	rt_jobs_close(&s);
}

/* Many state changes of few jobs: the file is rewritten once it holds
 * more than RT_COMPACT_FACTOR lines per job plus RT_COMPACT_SLACK. */
static void
test_compaction(void **unused)
{
	(void) unused;
	rt_jobs s;
	int64_t next;
	assert_int_equal(rt_jobs_open(&s, &host, path, T0, WEEK), CX_OK);
	assert_int_equal(rt_jobs_add(&s, "c_a", "call_a", "https://h/a.wav", 1,
	                     T0), CX_OK);
	assert_int_equal(rt_jobs_add(&s, "c_b", "call_b", "https://h/b.wav", 1,
	                     T0), CX_OK);
	size_t limit = RT_COMPACT_FACTOR * 2 + RT_COMPACT_SLACK, most = 0;
	rt_job *a = rt_jobs_find(&s, "c_a");
	for (int i = 0; i < (int) limit + 50; i++) {
		a->attempts = i + 1;
		assert_int_equal(rt_jobs_retry(&s, a, T0 + i), CX_OK);
		size_t n = count_lines(path);
		most = n > most ? n : most;
	}
	assert_true(most <= limit + 1);
	assert_true(count_lines(path) < 100);
	/* The URL offsets follow the rewrite: ending b blanks its URL in
	 * the new file. */
	rt_job *b = rt_jobs_find(&s, "c_b");
	assert_int_equal(rt_jobs_finish(&s, b, false, T0 + 5), CX_OK);
	char *text = slurp(path);
	assert_null(strstr(text, "b.wav"));
	assert_non_null(strstr(text, "a.wav"));
	free(text);
	rt_jobs_close(&s);
	assert_int_equal(rt_jobs_open(&s, &host, path, T0, WEEK), CX_OK);
	a = rt_jobs_find(&s, "c_a");
	assert_int_equal(a->attempts, (int) limit + 50);
	assert_string_equal(a->url, "https://h/a.wav");
	assert_true(rt_jobs_find(&s, "c_b")->done);
	next = T0 + WEEK;
	assert_ptr_equal(rt_jobs_due(&s, T0 + (int64_t) limit + 50, &next), a);
	rt_jobs_close(&s);
}

/* What the plugin wrote before the journal: one {"v":1,"items":[...]}
 * document. Read, then rewritten as lines. */
static void
test_old_format(void **unused)
{
	(void) unused;
	append_raw(path, "{\"v\":1,\"items\":[{\"call_id\":\"c_a\",\"cx_call_id\":"
	                 "\"call_a\",\"url\":\"https://h/a.wav\",\"duration_ms\":7,"
	                 "\"attempts\":1,\"next_ms\":5,\"done\":false},{\"call_id\":"
	                 "\"c_b\",\"cx_call_id\":\"\",\"duration_ms\":0,\"attempts\":1,"
	                 "\"next_ms\":0,\"done\":true,\"done_ms\":1800000000000}]}");
	rt_jobs s;
	assert_int_equal(rt_jobs_open(&s, &host, path, T0, WEEK), CX_OK);
	assert_int_equal(warnings, 0);
	assert_int_equal(rt_jobs_pending(&s), 1);
	assert_string_equal(rt_jobs_find(&s, "c_a")->url, "https://h/a.wav");
	assert_true(rt_jobs_find(&s, "c_b")->done);
	assert_int_equal(count_lines(path), 2);
	rt_jobs_close(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_last_line, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_old_format, setup, teardown),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
