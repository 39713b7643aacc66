/*
 * test_postgres_load.c - the driver under concurrency and failure:
 * contended transactions, pool exhaustion, connection settings that
 * cannot work, and PostgreSQL restarting under four writers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test_postgres.h"

#define OPS (pgt_main->ops)

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void
run_ok(const pgt_inst *in, const char *sql)
{
	cx_db_conn *c = NULL;
	cx_db_error err;
	assert_int_equal(in->ops->acquire(in->state, 2000, &c, &err), CX_OK);
	if (pgt_exec(in, c, sql, NULL, 0, &err) != CX_OK) {
		fail_msg("%s: %s", sql, err.message);
	}
	in->ops->release(in->state, c);
}

/* ---- 8 threads x 100 read-modify-write transactions ---- */

enum { INC_THREADS = 8, INC_EACH = 100 };

static atomic_int inc_errors;
static atomic_int inc_retries;

/* One increment as a read-modify-write in a (serializable) transaction;
 * conflicts come back as EBUSY and are retried. Returns the error class. */
static cx_db_errclass
increment_once(cx_db_conn *c)
{
	cx_db_error err;
	cx_db_rows *rows = NULL;
	cx_db_value v = {0};
	if (OPS->begin(c, &err) != CX_OK) {
		return (err.cls);
	}
	if (OPS->exec(c, "SELECT n FROM counter WHERE id = 1 FOR UPDATE", NULL,
	        0, &rows, NULL, &err) != CX_OK) {
		/* Serializable: a conflict may surface here; end the failed
		 * transaction before the caller retries. */
		cx_db_error ignored;
		OPS->rollback(c, &ignored);
		return (err.cls);
	}
	cx_err rv = OPS->rows_get(rows, 0, 0, &v);
	OPS->rows_free(rows);
	if (rv != CX_OK || v.type != CX_DB_INT) {
		OPS->rollback(c, &err);
		return (CX_DB_EOTHER);
	}
	cx_db_value p = CX_DB_V_INT(v.i + 1);
	if (OPS->exec(c, "UPDATE counter SET n = $1 WHERE id = 1", &p, 1, NULL,
	        NULL, &err) != CX_OK) {
		cx_db_error ignored;
		OPS->rollback(c, &ignored);
		return (err.cls);
	}
	return (OPS->commit(c, &err) == CX_OK ? CX_DB_EOK : err.cls);
}

static void *
incrementer(void *arg)
{
	(void) arg;
	for (int i = 0; i < INC_EACH; i++) {
		cx_db_conn *c = NULL;
		cx_db_error err;
		if (OPS->acquire(pgt_main->state, 5000, &c, &err) != CX_OK) {
			atomic_fetch_add(&inc_errors, 1);
			continue;
		}
		cx_db_errclass cls;
		while ((cls = increment_once(c)) == CX_DB_EBUSY) {
			atomic_fetch_add(&inc_retries, 1);
		}
		if (cls != CX_DB_EOK) {
			atomic_fetch_add(&inc_errors, 1);
		}
		OPS->release(pgt_main->state, c);
	}
	return (NULL);
}

void
test_concurrent_increments(void **state)
{
	(void) state;
	run_ok(pgt_main, "CREATE TABLE counter (id INTEGER PRIMARY KEY, "
	                 "n BIGINT NOT NULL)");
	run_ok(pgt_main, "INSERT INTO counter VALUES (1, 0)");
	pthread_t th[INC_THREADS];
	for (int i = 0; i < INC_THREADS; i++) {
		assert_int_equal(pthread_create(&th[i], NULL, incrementer, NULL), 0);
	}
	for (int i = 0; i < INC_THREADS; i++) {
		pthread_join(th[i], NULL);
	}
	assert_int_equal(atomic_load(&inc_errors), 0);
	cx_db_conn *c = NULL;
	cx_db_error err;
	assert_int_equal(OPS->acquire(pgt_main->state, 1000, &c, &err), CX_OK);
	assert_int_equal(pgt_int(pgt_main, c, "SELECT n FROM counter"),
	    INC_THREADS * INC_EACH);
	OPS->release(pgt_main->state, c);
	run_ok(pgt_main, "DROP TABLE counter");
}

/* ---- pool ---- */

void
test_pool_exhaustion(void **state)
{
	(void) state;
	char yaml[1024], why[512];
	pgt_inst *in = NULL;
	pgt_settings(yaml, sizeof(yaml), "pool_size: 2\n");
	assert_int_equal(pgt_load(yaml, &in, why, sizeof(why)), CX_OK);
	cx_db_conn *a = NULL, *b = NULL, *x = NULL;
	cx_db_error err;
	assert_int_equal(in->ops->acquire(in->state, 100, &a, &err), CX_OK);
	assert_int_equal(in->ops->acquire(in->state, 100, &b, &err), CX_OK);
	assert_ptr_not_equal(a, b);
	int64_t t0 = now_ms();
	assert_int_equal(in->ops->acquire(in->state, 200, &x, &err), CX_EBUSY);
	int64_t waited = now_ms() - t0;
	assert_null(x);
	assert_int_equal(err.cls, CX_DB_EBUSY);
	assert_true(waited >= 190 && waited < 2000);
	/* Zero means "do not wait". */
	assert_int_equal(in->ops->acquire(in->state, 0, &x, &err), CX_EBUSY);
	in->ops->release(in->state, b);
	assert_int_equal(in->ops->acquire(in->state, 0, &x, &err), CX_OK);
	assert_ptr_equal(x, b);
	assert_int_equal(pgt_int(in, x, "SELECT 41 + 1"), 42);
	in->ops->release(in->state, x);
	in->ops->release(in->state, a);
	pgt_unload(in);
}

/* ---- connections that cannot work ---- */

void
test_sslmode_passthrough(void **state)
{
	(void) state;
	/* The harness server has no TLS: sslmode=require (the setting wins
	 * over the DSN's sslmode=disable) must fail, and say why. */
	char yaml[1024], log[8192];
	snprintf(yaml, sizeof(yaml), "dsn: \"%s?sslmode=disable\"\n"
	    "sslmode: require\n", getenv("CALLIXO_PG_DSN"));
	pgt_inst *in = NULL;
	assert_int_equal(pgt_load_captured(yaml, &in, log, sizeof(log)), CX_EIO);
	assert_null(in);
	assert_non_null(strcasestr(log, "ssl"));
	assert_non_null(strstr(log, "127.0.0.1"));
	/* And the other way round: the setting can turn TLS off. */
	snprintf(yaml, sizeof(yaml), "dsn: \"%s?sslmode=require\"\n"
	    "sslmode: disable\n", getenv("CALLIXO_PG_DSN"));
	assert_int_equal(pgt_load_captured(yaml, &in, log, sizeof(log)), CX_OK);
	pgt_unload(in);
}

static int
closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
	close(fd); /* bound, never listened, now closed: refuses */
	return (ntohs(sa.sin_port));
}

void
test_unreachable_server(void **state)
{
	(void) state;
	char yaml[1024], log[8192], port[16];
	int p = closed_port();
	snprintf(port, sizeof(port), "%d", p);
	snprintf(yaml, sizeof(yaml), "dsn: \"postgresql://callixo:hunter2@"
	    "127.0.0.1:%d/callixo\"\nconnect_timeout: 2s\n", p);
	pgt_inst *in = NULL;
	int64_t t0 = now_ms();
	assert_int_equal(pgt_load_captured(yaml, &in, log, sizeof(log)), CX_EIO);
	assert_true(now_ms() - t0 < 5000);
	assert_null(in);
	assert_non_null(strstr(log, "cannot connect to PostgreSQL"));
	assert_non_null(strstr(log, "host=127.0.0.1"));
	assert_non_null(strstr(log, port));
	assert_non_null(strcasestr(log, "refused"));
	assert_null(strstr(log, "hunter2")); /* the DSN is a secret */
}

void
test_bad_settings(void **state)
{
	(void) state;
	char why[512];
	pgt_inst *in = NULL;
	assert_int_equal(pgt_load("pool_size: 2\n", &in, why, sizeof(why)),
	    CX_ECONFIG);
	assert_non_null(strstr(why, "dsn"));
	assert_int_equal(pgt_load("dsn: x\nsslmode: sometimes\n", &in, why,
	    sizeof(why)), CX_ECONFIG);
	assert_non_null(strstr(why, "sslmode"));
	/* Unparsable: refused without echoing it (it may hold a password). */
	assert_int_equal(pgt_load("dsn: \"postgresql://u:s3cr%zz@h/db\"\n", &in,
	    why, sizeof(why)), CX_ECONFIG);
	assert_non_null(strstr(why, "not a valid"));
	assert_null(strstr(why, "s3cr"));
	assert_null(in);
}

/* ---- restart under load ---- */

enum { RS_THREADS = 4, RS_MAX = 1000000 };

typedef struct rs_ctx {
	atomic_int phase;      /* 0 up, 1 down (stop returned), 2 restarted */
	atomic_bool stop;
	atomic_int ok[3];      /* successful inserts per phase */
	atomic_int unavail[3]; /* CX_DB_EUNAVAIL per phase */
	atomic_int other;      /* anything else: a failure */
	atomic_llong first_ok_after; /* ms of the first success in phase 2 */
	unsigned char *done;   /* [id]: insert reported success */
} rs_ctx;

static rs_ctx rs;

static void
payload(int64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "row-%lld-%llx", (long long) id,
	    (unsigned long long) (id * 2654435761u));
}

static void
rs_failed(int phase, const cx_db_error *err)
{
	if (err->cls == CX_DB_EUNAVAIL) {
		atomic_fetch_add(&rs.unavail[phase], 1);
	} else {
		fprintf(stderr, "restart: unexpected class %d (%s) %s\n",
		    (int) err->cls, err->sqlstate, err->message);
		atomic_fetch_add(&rs.other, 1);
	}
	sleep_ms(20);
}

static void *
rs_writer(void *arg)
{
	int t = (int) (intptr_t) arg;
	for (int64_t seq = 0; !atomic_load(&rs.stop); seq++) {
		int64_t id = seq * RS_THREADS + t + 1;
		if (id >= RS_MAX) {
			break;
		}
		int phase = atomic_load(&rs.phase);
		cx_db_conn *c = NULL;
		cx_db_error err;
		if (OPS->acquire(pgt_main->state, 1000, &c, &err) != CX_OK) {
			rs_failed(phase, &err);
			continue;
		}
		char text[64];
		payload(id, text, sizeof(text));
		cx_db_value p[] = {CX_DB_V_INT(id), CX_DB_V_TEXT(text),
		    CX_DB_V_BLOB(text, strlen(text))};
		int64_t changes = 0;
		cx_err rv = OPS->exec(c, "INSERT INTO rs (id, t, b) VALUES "
		    "($1, $2, $3)", p, 3, NULL, &changes, &err);
		OPS->release(pgt_main->state, c);
		if (rv != CX_OK) {
			rs_failed(phase, &err);
			continue;
		}
		rs.done[id] = 1;
		atomic_fetch_add(&rs.ok[phase], 1);
		long long zero = 0;
		if (phase == 2) {
			atomic_compare_exchange_strong(&rs.first_ok_after, &zero,
			    now_ms());
		}
	}
	return (NULL);
}

static void
rs_verify(void)
{
	cx_db_conn *c = NULL;
	cx_db_error err;
	cx_db_rows *rows = NULL;
	assert_int_equal(OPS->acquire(pgt_main->state, 5000, &c, &err), CX_OK);
	assert_int_equal(OPS->exec(c, "SELECT id, t, b FROM rs", NULL, 0, &rows,
	    NULL, &err), CX_OK);
	size_t n = OPS->rows_count(rows);
	int total = atomic_load(&rs.ok[0]) + atomic_load(&rs.ok[1]) +
	    atomic_load(&rs.ok[2]);
	assert_int_equal(n, (size_t) total);
	for (size_t i = 0; i < n; i++) {
		cx_db_value id, t, b;
		char want[64];
		assert_int_equal(OPS->rows_get(rows, i, 0, &id), CX_OK);
		assert_int_equal(OPS->rows_get(rows, i, 1, &t), CX_OK);
		assert_int_equal(OPS->rows_get(rows, i, 2, &b), CX_OK);
		assert_true(id.i > 0 && id.i < RS_MAX && rs.done[id.i]);
		payload(id.i, want, sizeof(want));
		assert_int_equal(t.type, CX_DB_TEXT);
		assert_string_equal(t.s, want);
		assert_int_equal(b.type, CX_DB_BLOB);
		assert_int_equal(b.len, strlen(want));
		assert_memory_equal(b.b, want, b.len);
	}
	OPS->rows_free(rows);
	OPS->release(pgt_main->state, c);
}

void
test_server_restart(void **state)
{
	(void) state;
	const char *stop = getenv("CALLIXO_PG_STOP");
	const char *start = getenv("CALLIXO_PG_START");
	assert_non_null(stop);
	assert_non_null(start);
	memset(&rs, 0, sizeof(rs));
	assert_non_null(rs.done = calloc(RS_MAX, 1));
	run_ok(pgt_main, "CREATE TABLE rs (id BIGINT PRIMARY KEY, "
	                 "t TEXT NOT NULL, b BYTEA NOT NULL)");
	pthread_t th[RS_THREADS];
	for (int i = 0; i < RS_THREADS; i++) {
		assert_int_equal(pthread_create(&th[i], NULL, rs_writer,
		    (void *) (intptr_t) i), 0);
	}
	sleep_ms(500);
	fprintf(stderr, "restart: stopping PostgreSQL\n");
	assert_int_equal(system(stop), 0);
	atomic_store(&rs.phase, 1);
	sleep_ms(1500);
	fprintf(stderr, "restart: starting PostgreSQL\n");
	assert_int_equal(system(start), 0);
	int64_t restarted = now_ms();
	atomic_store(&rs.phase, 2);
	while (atomic_load(&rs.ok[2]) < 50 && now_ms() - restarted < 15000) {
		sleep_ms(50);
	}
	atomic_store(&rs.stop, true);
	for (int i = 0; i < RS_THREADS; i++) {
		pthread_join(th[i], NULL);
	}
	fprintf(stderr, "restart: ok %d/%d/%d, unavailable %d/%d/%d, other %d, "
	    "back after %lld ms\n", rs.ok[0], rs.ok[1], rs.ok[2], rs.unavail[0],
	    rs.unavail[1], rs.unavail[2], rs.other,
	    rs.first_ok_after ? (long long) (rs.first_ok_after - restarted) : -1LL);
	assert_true(atomic_load(&rs.ok[0]) > 0);
	assert_int_equal(atomic_load(&rs.ok[1]), 0);
	assert_true(atomic_load(&rs.unavail[1]) > 0);
	assert_int_equal(atomic_load(&rs.other), 0);
	assert_true(atomic_load(&rs.ok[2]) >= 50);
	assert_true(rs.first_ok_after - restarted < 8000);
	rs_verify();
	free(rs.done);
	rs.done = NULL;
}
