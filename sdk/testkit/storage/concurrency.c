/*
 * concurrency.c - no lost updates under concurrent read-modify-write.
 *
 * Eight threads each add one to a counter 200 times, reading the value
 * and writing value + 1 inside a transaction, and retrying the whole
 * transaction whenever the driver says EBUSY. Only a driver whose begin
 * gives serializable behaviour for this pattern (SQLite's write lock at
 * BEGIN IMMEDIATE, PostgreSQL's SERIALIZABLE with its serialization
 * failures mapped to EBUSY) ends at exactly 1600.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "conformance_int.h"

#define WRITERS 8
#define ROUNDS 200

typedef struct writer {
	cxt_ctx *shared;
	atomic_int *failed;
	atomic_int *retries;
	char why[256];
} writer;

/* One increment; returns CX_OK, CX_EBUSY (retry) or another error. */
static cx_err
increment(const cx_storage_ops *o, void *state, cx_db_error *err)
{
	cx_db_conn *c = NULL;
	cx_err e = o->acquire(state, 10000, &c, err);
	if (e != CX_OK) {
		return (err->cls == CX_DB_EBUSY ? CX_EBUSY : e);
	}
	cx_db_rows *r = NULL;
	cx_db_value id = CX_DB_V_INT(1), cur;
	if ((e = o->begin(c, err)) == CX_OK &&
	    (e = o->exec(c, "SELECT v FROM cxt_counter WHERE id = $1", &id, 1,
	         &r, NULL, err)) == CX_OK) {
		if (o->rows_count(r) != 1 || o->rows_get(r, 0, 0, &cur) != CX_OK ||
		    cur.type != CX_DB_INT) {
			e = CX_EINTERNAL;
			snprintf(err->message, sizeof(err->message),
			    "counter row unreadable");
		}
	}
	if (r != NULL) {
		o->rows_free(r);
	}
	if (e == CX_OK) {
		cx_db_value p[2] = {CX_DB_V_INT(cur.i + 1), CX_DB_V_INT(1)};
		int64_t ch = 0;
		e = o->exec(c, "UPDATE cxt_counter SET v = $1 WHERE id = $2", p,
		    2, NULL, &ch, err);
		if (e == CX_OK && ch != 1) {
			e = CX_EINTERNAL;
		}
	}
	if (e == CX_OK) {
		e = o->commit(c, err);
	}
	if (e != CX_OK) {
		cx_db_error ignored;
		o->rollback(c, &ignored);
		if (err->cls == CX_DB_EBUSY) {
			e = CX_EBUSY;
		}
	}
	o->release(state, c);
	return (e);
}

static void *
run_writer(void *arg)
{
	writer *w = arg;
	const cx_storage_ops *o = w->shared->ops;
	for (int i = 0; i < ROUNDS; i++) {
		cx_db_error err;
		cx_err e;
		int tries = 0;
		while ((e = increment(o, w->shared->state, &err)) == CX_EBUSY &&
		    ++tries < 1000) {
			atomic_fetch_add(w->retries, 1);
		}
		if (e != CX_OK) {
			snprintf(w->why, sizeof(w->why), "round %d: %s (class "
			    "%d: %s)", i, cx_strerror(e), (int) err.cls,
			    err.message);
			atomic_fetch_add(w->failed, 1);
			return (NULL);
		}
	}
	return (NULL);
}

int
cxt_check_concurrency(cxt_ctx *t)
{
	const cx_storage_ops *o = t->ops;
	cx_db_conn *c = NULL;
	int rv = 0;
	CK(o->acquire(t->state, 5000, &c, &t->err) == CX_OK, "acquire");
	CK(cxt_x(t, c, "DROP TABLE IF EXISTS cxt_counter", NULL, 0, NULL,
	    NULL) == CX_OK, "drop");
	CK(cxt_x(t, c, "CREATE TABLE cxt_counter (id INTEGER PRIMARY KEY, "
	    "v BIGINT NOT NULL)", NULL, 0, NULL, NULL) == CX_OK, "create");
	CK(cxt_x(t, c, "INSERT INTO cxt_counter (id, v) VALUES (1, 0)", NULL,
	    0, NULL, NULL) == CX_OK, "seed");
	o->release(t->state, c);
	c = NULL;

	atomic_int failed = 0, retries = 0;
	writer w[WRITERS];
	pthread_t th[WRITERS];
	int started = 0;
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (writer){.shared = t, .failed = &failed,
		    .retries = &retries};
		if (pthread_create(&th[i], NULL, run_writer, &w[i]) != 0) {
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		if (w[i].why[0] != '\0') {
			fprintf(stderr, "  writer %d: %s\n", i, w[i].why);
		}
	}
	CK(started == WRITERS, "started %d threads", started);
	CK(failed == 0, "%d writers failed", (int) failed);
	CK(o->acquire(t->state, 5000, &c, &t->err) == CX_OK, "acquire");
	int64_t v = cxt_scalar(t, c, "SELECT v FROM cxt_counter WHERE id = 1",
	    NULL, 0);
	CK(v == WRITERS * ROUNDS, "counter is %lld, want %d (lost updates)",
	    (long long) v, WRITERS * ROUNDS);
	fprintf(stderr, "  %d increments, %d retries on EBUSY\n",
	    WRITERS * ROUNDS, (int) retries);
out:
	if (c != NULL) {
		o->release(t->state, c);
	}
	return (rv);
}

int
cxt_check_cleanup(cxt_ctx *t)
{
	const cx_storage_ops *o = t->ops;
	cx_db_conn *c = NULL;
	int rv = 0;
	CK(o->acquire(t->state, 5000, &c, &t->err) == CX_OK, "acquire");
	CK(cxt_x(t, c, "DROP TABLE IF EXISTS cxt_types", NULL, 0, NULL,
	    NULL) == CX_OK, "drop cxt_types");
	CK(cxt_x(t, c, "DROP TABLE IF EXISTS cxt_counter", NULL, 0, NULL,
	    NULL) == CX_OK, "drop cxt_counter");
out:
	if (c != NULL) {
		o->release(t->state, c);
	}
	return (rv);
}
