/*
 * test_sqlite.c - the storage conformance suite against the sqlite
 * plugin, then what only SQLite has: pragmas, the file on disk, the
 * statement cache, and the ways a database file can be unusable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

static char so[4096];

static int64_t
now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

static cxt_storage *
open_ok(const char *yaml)
{
	cxt_storage *s = NULL;
	char why[512] = "";
	if (cxt_storage_open(so, yaml, &s, why, sizeof(why)) != 0) {
		fail_msg("open: %s", why);
	}
	return (s);
}

/* Captures what the code under test logs (the core logs to fd 2). */
typedef struct capture {
	int saved;
	FILE *f;
} capture;

static void
capture_start(capture *c)
{
	fflush(stderr);
	c->f = tmpfile();
	assert_non_null(c->f);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->f), STDERR_FILENO) >= 0);
}

static char *
capture_end(capture *c)
{
	static char buf[8192];
	fflush(stderr);
	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	rewind(c->f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, c->f);
	buf[n] = '\0';
	fclose(c->f);
	fputs(buf, stderr);
	return (buf);
}

static void
test_conformance_default(void **state)
{
	(void) state;
	assert_int_equal(cxt_storage_conformance(so, NULL), 0);
}

/* The same suite with no statement cache, the smallest pool that still
 * lets the suite hold two connections, and full fsync. */
static void
test_conformance_variant(void **state)
{
	(void) state;
	assert_int_equal(cxt_storage_conformance(so, "statement_cache: 0\n"
	    "pool_size: 2\nsynchronous: full\nbusy_timeout: 10s\n"), 0);
}

static const char *
text_of(cxt_storage *s, cx_db_conn *c, const char *sql, char *buf,
    size_t len)
{
	cx_db_rows *r = NULL;
	cx_db_error err;
	cx_db_value v;
	buf[0] = '\0';
	assert_int_equal(s->ops->exec(c, sql, NULL, 0, &r, NULL, &err), CX_OK);
	assert_int_equal(s->ops->rows_get(r, 0, 0, &v), CX_OK);
	if (v.type == CX_DB_TEXT) {
		snprintf(buf, len, "%s", v.s);
	} else if (v.type == CX_DB_INT) {
		snprintf(buf, len, "%lld", (long long) v.i);
	}
	s->ops->rows_free(r);
	return (buf);
}

static void
test_pragmas(void **state)
{
	(void) state;
	cxt_storage *s = open_ok("synchronous: full\n");
	cx_db_conn *c[2];
	cx_db_error err;
	char b[64];
	/* Every connection, not only the first, has the pragmas. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(s->ops->acquire(s->state, 1000, &c[i], &err),
		    CX_OK);
		assert_string_equal(text_of(s, c[i], "PRAGMA journal_mode", b,
		    sizeof(b)), "wal");
		assert_string_equal(text_of(s, c[i], "PRAGMA foreign_keys", b,
		    sizeof(b)), "1");
		assert_string_equal(text_of(s, c[i], "PRAGMA synchronous", b,
		    sizeof(b)), "2");
		assert_string_equal(text_of(s, c[i], "PRAGMA busy_timeout", b,
		    sizeof(b)), "5000");
	}
	for (int i = 0; i < 2; i++) {
		s->ops->release(s->state, c[i]);
	}
	cxt_storage_close(s);
}

static void
test_file_location(void **state)
{
	(void) state;
	char path[4200];
	struct stat st;
	cxt_storage *s = open_ok(NULL);
	snprintf(path, sizeof(path), "%s/callixo.db", s->data_dir);
	assert_int_equal(stat(path, &st), 0);
	cxt_storage_close(s);

	char dir[] = "/tmp/cxt-sqlite-abs-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char yaml[4300];
	snprintf(yaml, sizeof(yaml), "file: %s/elsewhere.db\n", dir);
	s = open_ok(yaml);
	snprintf(path, sizeof(path), "%s/elsewhere.db", dir);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/callixo.db", s->data_dir);
	assert_int_not_equal(stat(path, &st), 0);
	cxt_storage_close(s);
	cxt_rmtree(dir);
}

static void
expect_refused(const char *yaml, const char *needle)
{
	cxt_storage *s = NULL;
	char why[512] = "";
	assert_int_equal(cxt_storage_open(so, yaml, &s, why, sizeof(why)), -1);
	assert_null(s);
	if (strstr(why, needle) == NULL) {
		fail_msg("settings %s: expected '%s' in '%s'", yaml, needle, why);
	}
}

static void
test_bad_settings(void **state)
{
	(void) state;
	expect_refused("pool_size: 0\n", "pool_size");
	expect_refused("pool_size: 65\n", "pool_size");
	expect_refused("synchronous: off\n", "synchronous");
	expect_refused("file: ../escape.db\n", "data directory");
	expect_refused("file: \"\"\n", "empty");
	expect_refused("pool_sise: 3\n", "pool_size");
}

/* init must fail with one log line naming the file and the reason. */
static void
expect_init_failure(const char *dir, const char *reason)
{
	cxt_storage *s = NULL;
	char why[512] = "";
	capture cap;
	capture_start(&cap);
	int rv = cxt_storage_open_in(so, NULL, dir, &s, why, sizeof(why));
	const char *log = capture_end(&cap);
	assert_int_equal(rv, -1);
	assert_non_null(strstr(why, "init failed: "));
	char path[4200];
	snprintf(path, sizeof(path), "%s/callixo.db", dir);
	if (strstr(log, path) == NULL || strstr(log, reason) == NULL) {
		fail_msg("log should name %s and '%s': %s", path, reason, log);
	}
}

static void
test_permission_denied(void **state)
{
	(void) state;
	char dir[] = "/tmp/cxt-sqlite-ro-XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0500), 0);
	/* root ignores file modes: drop to nobody's file-system identity
	 * (which on Linux also drops CAP_DAC_OVERRIDE) for this thread, and
	 * check without asserting until it is restored: a failed assertion
	 * would jump past the restore and leave the process without its
	 * rights for every later test. */
	/* The build tree may sit where nobody cannot read (a clone under
	 * /root): load a world-readable copy of the plugin instead. */
	char copydir[] = "/tmp/cxt-sqlite-so-XXXXXX", copy[4200], cmd[8800];
	assert_non_null(mkdtemp(copydir));
	assert_int_equal(chmod(copydir, 0755), 0);
	snprintf(copy, sizeof(copy), "%s/sqlite.so", copydir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 0755 '%s'", so, copy,
	    copy);
	assert_int_equal(system(cmd), 0);
	int was = geteuid() == 0 ? setfsuid(65534) : -1;
	cxt_storage *st = NULL;
	char why[512] = "";
	capture cap;
	capture_start(&cap);
	int rv = cxt_storage_open_in(copy, NULL, dir, &st, why, sizeof(why));
	const char *log = capture_end(&cap);
	if (was >= 0) {
		setfsuid((uid_t) was);
	}
	cxt_rmtree(copydir);
	char path[4200];
	snprintf(path, sizeof(path), "%s/callixo.db", dir);
	cxt_rmtree(dir);
	/* The errno text differs between file systems (overlayfs may say
	 * EPERM); what matters is one line naming the file and a reason. */
	bool reason = strstr(log, "Permission denied") != NULL ||
	    strstr(log, "not permitted") != NULL ||
	    strstr(log, "unable to open") != NULL;
	if (rv != -1 || strstr(why, "init failed: ") == NULL ||
	    strstr(log, path) == NULL || !reason) {
		fail_msg("expected init to fail naming %s and 'Permission "
		         "denied': rv %d, why '%s', log '%s'",
		    path, rv, why, log);
	}
}

static void
test_not_a_database(void **state)
{
	(void) state;
	char dir[] = "/tmp/cxt-sqlite-bad-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[4200];
	snprintf(path, sizeof(path), "%s/callixo.db", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 1024; i++) {
		fputs("garbage!", f);
	}
	assert_int_equal(fclose(f), 0);
	expect_init_failure(dir, "not a database");
	cxt_rmtree(dir);
}

/* A valid header over damaged pages opens fine (checking every page at
 * start would cost a full scan), and the damage shows as ECORRUPT. */
static void
test_corrupt_pages(void **state)
{
	(void) state;
	char dir[] = "/tmp/cxt-sqlite-cor-XXXXXX";
	assert_non_null(mkdtemp(dir));
	cxt_storage *s = NULL;
	char why[512];
	cx_db_conn *c;
	cx_db_error err;
	assert_int_equal(cxt_storage_open_in(so, "pool_size: 1\n", dir, &s, why,
	    sizeof(why)), 0);
	assert_int_equal(s->ops->acquire(s->state, 1000, &c, &err), CX_OK);
	assert_int_equal(s->ops->exec_script(c, "CREATE TABLE big (x TEXT);"
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
	    "WHERE i < 2000) INSERT INTO big SELECT printf('%0200d', i) FROM n",
	    &err), CX_OK);
	s->ops->release(s->state, c);
	cxt_storage_close(s);
	char path[4200];
	snprintf(path, sizeof(path), "%s/callixo.db", dir);
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	char junk[4096];
	memset(junk, 0xa5, sizeof(junk));
	/* Pages 3 to 10: table pages, past the header and the schema. */
	for (int pg = 2; pg < 10; pg++) {
		assert_int_equal(pwrite(fd, junk, sizeof(junk),
		    (off_t) pg * 4096), (ssize_t) sizeof(junk));
	}
	close(fd);
	assert_int_equal(cxt_storage_open_in(so, "pool_size: 1\n", dir, &s, why,
	    sizeof(why)), 0);
	assert_int_equal(s->ops->acquire(s->state, 1000, &c, &err), CX_OK);
	cx_db_rows *r = NULL;
	assert_int_not_equal(s->ops->exec(c, "SELECT count(*), max(x) FROM big",
	    NULL, 0, &r, NULL, &err), CX_OK);
	assert_null(r);
	assert_int_equal(err.cls, CX_DB_ECORRUPT);
	s->ops->release(s->state, c);
	cxt_storage_close(s);
	cxt_rmtree(dir);
}

/* Runs `n` executions cycling through `k` distinct statements; returns
 * microseconds taken. */
static int64_t
run_many(cxt_storage *s, int n, int k)
{
	cx_db_conn *c;
	cx_db_error err;
	assert_int_equal(s->ops->acquire(s->state, 1000, &c, &err), CX_OK);
	int64_t t0 = now_us();
	for (int i = 0; i < n; i++) {
		char sql[256];
		/* Wide enough that parsing and planning cost something. */
		snprintf(sql, sizeof(sql), "SELECT a.id, a.name, s.id FROM "
		    "accounts a LEFT JOIN sessions s ON s.account_id = a.id "
		    "WHERE a.id = $1 AND %d = %d ORDER BY s.created_at", i % k,
		    i % k);
		cx_db_value p = CX_DB_V_TEXT("nobody");
		cx_db_rows *r = NULL;
		assert_int_equal(s->ops->exec(c, sql, &p, 1, &r, NULL, &err),
		    CX_OK);
		assert_int_equal(s->ops->rows_count(r), 0);
		assert_int_equal(s->ops->rows_columns(r), 3);
		s->ops->rows_free(r);
	}
	int64_t dt = now_us() - t0;
	s->ops->release(s->state, c);
	return (dt);
}

static void
apply_schema(cxt_storage *s)
{
	cx_db_conn *c;
	cx_db_error err;
	assert_int_equal(s->ops->acquire(s->state, 1000, &c, &err), CX_OK);
	assert_int_equal(s->ops->exec_script(c, s->ops->migrations[0].sql,
	    &err), CX_OK);
	s->ops->release(s->state, c);
}

static void
test_statement_cache(void **state)
{
	(void) state;
	cxt_storage *cached = open_ok("statement_cache: 8\n");
	cxt_storage *plain = open_ok("statement_cache: 0\n");
	apply_schema(cached);
	apply_schema(plain);
	int64_t hit = run_many(cached, 5000, 4);
	int64_t miss = run_many(plain, 5000, 4);
	/* More statements than slots: evictions must not break results. */
	int64_t churn = run_many(cached, 2000, 20);
	fprintf(stderr, "statement cache: 5000 execs %lld us cached, %lld us "
	    "uncached; 2000 with eviction %lld us\n", (long long) hit,
	    (long long) miss, (long long) churn);
	assert_true(hit < miss);
	cxt_storage_close(cached);
	cxt_storage_close(plain);
}

static void
test_one_statement(void **state)
{
	(void) state;
	cxt_storage *s = open_ok(NULL);
	cx_db_conn *c;
	cx_db_error err;
	int64_t ch = -1;
	assert_int_equal(s->ops->acquire(s->state, 1000, &c, &err), CX_OK);
	assert_int_not_equal(s->ops->exec(c, "SELECT 1; SELECT 2", NULL, 0,
	    NULL, NULL, &err), CX_OK);
	assert_int_equal(err.cls, CX_DB_ESQL);
	assert_int_equal(s->ops->exec(c, "SELECT 1;  -- trailing comment\n",
	    NULL, 0, NULL, &ch, &err), CX_OK);
	assert_int_equal(ch, 0);
	assert_int_not_equal(s->ops->exec(c, "  ", NULL, 0, NULL, NULL, &err),
	    CX_OK);
	assert_int_equal(err.cls, CX_DB_ESQL);
	/* "?" placeholders are not the contract's. */
	cx_db_value p = CX_DB_V_INT(1);
	assert_int_not_equal(s->ops->exec(c, "SELECT ?", &p, 1, NULL, NULL,
	    &err), CX_OK);
	assert_int_equal(err.cls, CX_DB_ESQL);
	cx_db_value two[2] = {CX_DB_V_INT(1), CX_DB_V_INT(2)};
	assert_int_not_equal(s->ops->exec(c, "SELECT $1, $3", two, 2, NULL,
	    NULL, &err), CX_OK);
	assert_int_equal(err.cls, CX_DB_ESQL);
	assert_int_not_equal(s->ops->exec(c, "SELECT $1, $a", two, 2, NULL,
	    NULL, &err), CX_OK);
	assert_int_equal(err.cls, CX_DB_ESQL);
	/* Rolling back outside a transaction is harmless. */
	assert_int_equal(s->ops->rollback(c, &err), CX_OK);
	s->ops->release(s->state, c);
	cxt_storage_close(s);
}

int
main(void)
{
	const char *b = getenv("CALLIXO_BUILD_ROOT");
	if (b == NULL) {
		fprintf(stderr, "CALLIXO_BUILD_ROOT is not set\n");
		return (1);
	}
	snprintf(so, sizeof(so), "%s/plugins/sqlite.so", b);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conformance_default),
	    cmocka_unit_test(test_conformance_variant),
	    cmocka_unit_test(test_pragmas),
	    cmocka_unit_test(test_file_location),
	    cmocka_unit_test(test_bad_settings),
	    cmocka_unit_test(test_permission_denied),
	    cmocka_unit_test(test_not_a_database),
	    cmocka_unit_test(test_corrupt_pages),
	    cmocka_unit_test(test_statement_cache),
	    cmocka_unit_test(test_one_statement),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
