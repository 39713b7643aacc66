/*
 * conformance.c - what every storage driver must do, checked through
 * callixo/storage.h alone (see conformance.h). Each check prints
 * "ok" or "FAIL <why>", so a driver author sees every gap in one run.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conformance.h"
#include "conformance_int.h"

void
cxt_fail(cxt_ctx *t, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "  %s:%d: %s (last error: class %d, \"%s\", "
	    "constraint \"%s\")\n", file, line, msg, (int) t->err.cls,
	    t->err.message, t->err.constraint);
}

int64_t
cxt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

cx_err
cxt_x(cxt_ctx *t, cx_db_conn *c, const char *sql, const cx_db_value *p,
    size_t n, cx_db_rows **rows, int64_t *changes)
{
	memset(&t->err, 0, sizeof(t->err));
	return (t->ops->exec(c, sql, p, n, rows, changes, &t->err));
}

/* One integer from a one-row, one-column query, or INT64_MIN. */
int64_t
cxt_scalar(cxt_ctx *t, cx_db_conn *c, const char *sql, const cx_db_value *p,
    size_t n)
{
	cx_db_rows *r = NULL;
	int64_t v = INT64_MIN;
	cx_db_value out;
	if (cxt_x(t, c, sql, p, n, &r, NULL) == CX_OK &&
	    t->ops->rows_count(r) == 1 && t->ops->rows_columns(r) == 1 &&
	    t->ops->rows_get(r, 0, 0, &out) == CX_OK && out.type == CX_DB_INT) {
		v = out.i;
	}
	if (r != NULL) {
		t->ops->rows_free(r);
	}
	return (v);
}

static int
t_migrations(cxt_ctx *t)
{
	const cx_storage_ops *o = t->ops;
	cx_db_conn *c = NULL;
	int rv = 0;
	size_t n = 0;
	for (const cx_db_migration *m = o->migrations; m->version != 0; m++) {
		CK(m->version == n + 1, "migration %zu has version %u", n,
		    m->version);
		CK(m->name != NULL && m->name[0] != '\0' && m->sql != NULL,
		    "migration %u lacks a name or SQL", m->version);
		n++;
	}
	CK(n > 0, "no migrations");
	CK(o->acquire(t->state, 5000, &c, &t->err) == CX_OK, "acquire");
	/* One transaction per migration, as the core runs them. */
	for (const cx_db_migration *m = o->migrations; m->version != 0; m++) {
		CK(o->begin(c, &t->err) == CX_OK, "begin %s", m->name);
		CK(o->exec_script(c, m->sql, &t->err) == CX_OK, "apply %s",
		    m->name);
		CK(o->commit(c, &t->err) == CX_OK, "commit %s", m->name);
	}
	CK(cxt_scalar(t, c, "SELECT count(*) FROM payments", NULL, 0) == 0,
	    "payments table after migrations");
	CK(o->exec_script(c, "SELEC nothing", &t->err) != CX_OK &&
	    t->err.cls == CX_DB_ESQL, "bad script -> ESQL");
out:
	if (c != NULL) {
		o->release(t->state, c);
	}
	return (rv);
}

static int
check_value(cxt_ctx *t, const cx_db_rows *r, size_t row, size_t col,
    const cx_db_value *want)
{
	cx_db_value v;
	int rv = 0;
	CK(t->ops->rows_get(r, row, col, &v) == CX_OK, "rows_get(%zu, %zu)",
	    row, col);
	CK(v.type == want->type, "(%zu, %zu): type %d, want %d", row, col,
	    (int) v.type, (int) want->type);
	switch (want->type) {
	case CX_DB_INT:
		CK(v.i == want->i, "(%zu, %zu): %lld, want %lld", row, col,
		    (long long) v.i, (long long) want->i);
		break;
	case CX_DB_REAL:
		CK(v.d == want->d || (v.d != v.d && want->d != want->d),
		    "(%zu, %zu): %.17g, want %.17g", row, col, v.d, want->d);
		break;
	case CX_DB_TEXT:
		CK(v.len == want->len && v.s != NULL &&
		    memcmp(v.s, want->s, v.len) == 0 && v.s[v.len] == '\0',
		    "(%zu, %zu): text differs", row, col);
		break;
	case CX_DB_BLOB:
		CK(v.len == want->len && (v.len == 0 || (v.b != NULL &&
		    memcmp(v.b, want->b, v.len) == 0)),
		    "(%zu, %zu): blob differs (%zu bytes, want %zu)", row, col,
		    v.len, want->len);
		break;
	case CX_DB_NULL:
		break;
	}
out:
	return (rv);
}

static int
t_types(cxt_ctx *t)
{
	static const char text[] = "Zo\xc3\xab \xe6\x97\xa5\xe6\x9c\xac "
	                           "\xe2\x9c\x93 'single' \"double\" \\ %s ;--";
	static const unsigned char blob[] = {0, 1, 0, 0xff, 'x', 0, 0x80, 0};
	const cx_storage_ops *o = t->ops;
	cx_db_conn *c = NULL;
	cx_db_rows *r = NULL;
	int rv = 0;
	int64_t ch = -1;
	char ddl[256];
	snprintf(ddl, sizeof(ddl), "CREATE TABLE cxt_types (id INTEGER "
	    "PRIMARY KEY, i BIGINT, r DOUBLE PRECISION, t TEXT, b %s)",
	    t->blob_type);
	const cx_db_value rows[3][5] = {
	    {CX_DB_V_INT(1), CX_DB_V_INT(INT64_MAX), CX_DB_V_REAL(1.5),
	        CX_DB_V_TEXT(text), CX_DB_V_BLOB(blob, sizeof(blob))},
	    {CX_DB_V_INT(2), CX_DB_V_INT(INT64_MIN), CX_DB_V_REAL(-2.25e300),
	        CX_DB_V_TEXT(""), CX_DB_V_BLOB("", 0)},
	    {CX_DB_V_INT(3), CX_DB_V_NULL(), CX_DB_V_NULL(), CX_DB_V_NULL(),
	        CX_DB_V_NULL()},
	};
	CK(o->acquire(t->state, 5000, &c, &t->err) == CX_OK, "acquire");
	CK(cxt_x(t, c, "DROP TABLE IF EXISTS cxt_types", NULL, 0, NULL,
	    NULL) == CX_OK, "drop");
	CK(cxt_x(t, c, ddl, NULL, 0, NULL, NULL) == CX_OK, "create");
	for (size_t i = 0; i < 3; i++) {
		CK(cxt_x(t, c, "INSERT INTO cxt_types (id, i, r, t, b) VALUES "
		    "($1, $2, $3, $4, $5)", rows[i], 5, NULL, &ch) == CX_OK,
		    "insert row %zu", i);
		CK(ch == 1, "insert row %zu: changes %lld", i, (long long) ch);
	}
	/* Placeholders out of order and reused. */
	cx_db_value two[2] = {CX_DB_V_INT(1), CX_DB_V_INT(INT64_MAX)};
	CK(cxt_scalar(t, c, "SELECT count(*) FROM cxt_types WHERE i = $2 AND "
	    "id = $1 AND id <= $1", two, 2) == 1, "$2 before $1");
	CK(cxt_x(t, c, "SELECT id, i, r, t, b FROM cxt_types ORDER BY id",
	    NULL, 0, &r, &ch) == CX_OK, "select");
	CK(o->rows_count(r) == 3 && o->rows_columns(r) == 5, "shape %zux%zu",
	    o->rows_count(r), o->rows_columns(r));
	CK(o->rows_name(r, 0) != NULL && strcmp(o->rows_name(r, 0), "id") == 0
	    && strcmp(o->rows_name(r, 4), "b") == 0, "rows_name");
	for (size_t i = 0; i < 3; i++) {
		for (size_t k = 0; k < 5; k++) {
			CK(check_value(t, r, i, k, &rows[i][k]) == 0,
			    "row %zu col %zu", i, k);
		}
	}
	cx_db_value v;
	CK(o->rows_get(r, 3, 0, &v) != CX_OK && o->rows_get(r, 0, 5, &v) !=
	    CX_OK, "rows_get out of range must fail");
	o->rows_free(r);
	r = NULL;
	cx_db_value up[2] = {CX_DB_V_TEXT("updated"), CX_DB_V_INT(2)};
	CK(cxt_x(t, c, "UPDATE cxt_types SET t = $1 WHERE id >= $2", up, 2,
	    NULL, &ch) == CX_OK && ch == 2, "update changes %lld",
	    (long long) ch);
	CK(cxt_x(t, c, "DELETE FROM cxt_types WHERE id = $1", up + 1, 1, NULL,
	    &ch) == CX_OK && ch == 1, "delete changes %lld", (long long) ch);
	CK(cxt_x(t, c, "SELECT id FROM cxt_types WHERE id > $1", up + 1, 1, &r,
	    NULL) == CX_OK && o->rows_count(r) == 1, "select after delete");
out:
	if (r != NULL) {
		o->rows_free(r);
	}
	if (c != NULL) {
		o->release(t->state, c);
	}
	return (rv);
}

/* Expects `sql` to fail with class `cls`. */
static int
expect_class(cxt_ctx *t, cx_db_conn *c, const char *sql,
    const cx_db_value *p, size_t n, cx_db_errclass cls)
{
	int rv = 0;
	cx_err e = cxt_x(t, c, sql, p, n, NULL, NULL);
	CK(e != CX_OK && t->err.cls == cls, "%s: got %s / class %d, want "
	    "class %d", sql, cx_strerror(e), (int) t->err.cls, (int) cls);
	CK(t->err.message[0] != '\0', "%s: empty message", sql);
out:
	return (rv);
}

static int
t_constraints(cxt_ctx *t)
{
	const cx_storage_ops *o = t->ops;
	cx_db_conn *c = NULL;
	int rv = 0;
	const char *acct = "INSERT INTO accounts (id, name, email, email_norm, "
	    "password_hash, role, created_at, updated_at) VALUES ($1, $2, "
	    "$3, $3, 'x', $4, 0, 0)";
	const char *pay = "INSERT INTO payments (id, account_id, chain, "
	    "tx_hash, asset, amount, created_at, updated_at) VALUES ($1, $2, "
	    "'eth', $3, 'USDC', '1', 0, 0)";
	cx_db_value a[4] = {CX_DB_V_TEXT("acct_cxt1"), CX_DB_V_TEXT("Ann"),
	    CX_DB_V_TEXT("ann@example.com"), CX_DB_V_TEXT("customer")};
	cx_db_value p1[3] = {CX_DB_V_TEXT("pay_1"), CX_DB_V_TEXT("acct_cxt1"),
	    CX_DB_V_TEXT("0xSECRETHASH")};
	cx_db_value p2[3] = {CX_DB_V_TEXT("pay_2"), CX_DB_V_TEXT("acct_cxt1"),
	    CX_DB_V_TEXT("0xSECRETHASH")};
	CK(o->acquire(t->state, 5000, &c, &t->err) == CX_OK, "acquire");
	CK(cxt_x(t, c, acct, a, 4, NULL, NULL) == CX_OK, "insert account");
	CK(cxt_x(t, c, pay, p1, 3, NULL, NULL) == CX_OK, "insert payment");
	CK(expect_class(t, c, pay, p2, 3, CX_DB_EUNIQUE) == 0, "unique");
	CK(strstr(t->err.constraint, "payments") != NULL, "constraint name "
	    "\"%s\" should name payments", t->err.constraint);
	CK(strstr(t->err.message, "SECRETHASH") == NULL, "message holds a "
	    "parameter value");
	CK(expect_class(t, c, acct, a, 4, CX_DB_EUNIQUE) == 0, "primary key");
	cx_db_value s[2] = {CX_DB_V_TEXT("ses_1"), CX_DB_V_TEXT("acct_none")};
	CK(expect_class(t, c, "INSERT INTO sessions (id, account_id, "
	    "token_hash, created_at, last_seen_at, expires_at) VALUES ($1, $2, "
	    "'h', 0, 0, 0)", s, 2, CX_DB_EFOREIGN) == 0, "foreign key");
	cx_db_value bad_role[4] = {CX_DB_V_TEXT("acct_cxt2"),
	    CX_DB_V_TEXT("Bob"), CX_DB_V_TEXT("bob@example.com"),
	    CX_DB_V_TEXT("admin")};
	CK(expect_class(t, c, acct, bad_role, 4, CX_DB_ECHECK) == 0, "check");
	cx_db_value no_name[4] = {CX_DB_V_TEXT("acct_cxt3"), CX_DB_V_NULL(),
	    CX_DB_V_TEXT("cy@example.com"), CX_DB_V_TEXT("customer")};
	CK(expect_class(t, c, acct, no_name, 4, CX_DB_ECHECK) == 0,
	    "not null");
	CK(expect_class(t, c, "SELEC 1", NULL, 0, CX_DB_ESQL) == 0, "syntax");
	CK(expect_class(t, c, "SELECT * FROM cxt_no_such_table", NULL, 0,
	    CX_DB_ESQL) == 0, "unknown table");
	CK(expect_class(t, c, "SELECT id FROM accounts WHERE id = $1", NULL, 0,
	    CX_DB_ESQL) == 0, "too few parameters");
	CK(expect_class(t, c, "SELECT id FROM accounts WHERE id = $1", a, 2,
	    CX_DB_ESQL) == 0, "too many parameters");
	CK(cxt_scalar(t, c, "SELECT count(*) FROM payments", NULL, 0) == 1,
	    "failed inserts left rows behind");
out:
	if (c != NULL) {
		o->release(t->state, c);
	}
	return (rv);
}

static int
t_transactions(cxt_ctx *t)
{
	const cx_storage_ops *o = t->ops;
	cx_db_conn *c = NULL;
	int rv = 0;
	const char *ins = "INSERT INTO cxt_types (id, t) VALUES ($1, 'tx')";
	const char *cnt = "SELECT count(*) FROM cxt_types WHERE id = $1";
	cx_db_value id100 = CX_DB_V_INT(100), id101 = CX_DB_V_INT(101);
	CK(o->acquire(t->state, 5000, &c, &t->err) == CX_OK, "acquire");
	CK(o->begin(c, &t->err) == CX_OK, "begin");
	CK(cxt_x(t, c, ins, &id100, 1, NULL, NULL) == CX_OK, "insert");
	CK(cxt_scalar(t, c, cnt, &id100, 1) == 1, "own write visible");
	CK(o->rollback(c, &t->err) == CX_OK, "rollback");
	CK(cxt_scalar(t, c, cnt, &id100, 1) == 0, "rollback kept the row");
	CK(o->begin(c, &t->err) == CX_OK, "begin");
	CK(cxt_x(t, c, ins, &id101, 1, NULL, NULL) == CX_OK, "insert");
	CK(o->commit(c, &t->err) == CX_OK, "commit");
	CK(cxt_scalar(t, c, cnt, &id101, 1) == 1, "commit lost the row");
	/* Released mid-transaction: the pool must roll back. */
	CK(o->begin(c, &t->err) == CX_OK, "begin");
	CK(cxt_x(t, c, ins, &id100, 1, NULL, NULL) == CX_OK, "insert");
	o->release(t->state, c);
	c = NULL;
	cx_db_conn *all[256];
	size_t n = 0;
	while (n < 256 && o->acquire(t->state, 100, &all[n], &t->err) == CX_OK) {
		n++;
	}
	int stuck = 0, seen = 0;
	for (size_t i = 0; i < n; i++) {
		/* A connection still inside the abandoned transaction cannot
		 * begin another one. */
		if (o->begin(all[i], &t->err) != CX_OK) {
			stuck++;
		} else {
			seen += cxt_scalar(t, all[i], cnt, &id100, 1) != 0;
			o->rollback(all[i], &t->err);
		}
		o->release(t->state, all[i]);
	}
	CK(n > 0 && stuck == 0 && seen == 0, "release did not roll back (%d "
	    "connections stuck, %d saw the row)", stuck, seen);
out:
	if (c != NULL) {
		o->release(t->state, c);
	}
	return (rv);
}

typedef struct waker {
	cxt_ctx *t;
	cx_db_conn *c;
} waker;

static void *
release_later(void *arg)
{
	waker *w = arg;
	struct timespec ts = {0, 100 * 1000000L};
	nanosleep(&ts, NULL);
	w->t->ops->release(w->t->state, w->c);
	return (NULL);
}

static int
t_pool(cxt_ctx *t)
{
	const cx_storage_ops *o = t->ops;
	cx_db_conn *all[256];
	size_t n = 0;
	int rv = 0;
	while (n < 256 && o->acquire(t->state, 50, &all[n], &t->err) == CX_OK) {
		n++;
	}
	CK(n > 0 && n < 256, "pool held %zu connections", n);
	CK(t->err.cls == CX_DB_EBUSY, "exhausted pool: class %d",
	    (int) t->err.cls);
	cx_db_conn *extra = NULL;
	int64_t t0 = cxt_now_ms();
	cx_err e = o->acquire(t->state, 300, &extra, &t->err);
	int64_t dt = cxt_now_ms() - t0;
	CK(e == CX_EBUSY && t->err.cls == CX_DB_EBUSY && extra == NULL,
	    "acquire on an empty pool: %s", cx_strerror(e));
	CK(dt >= 250 && dt < 2000, "timeout of 300 ms took %lld ms",
	    (long long) dt);
	/* A waiter is woken by a release, not by its deadline. */
	waker w = {t, all[--n]};
	pthread_t th;
	CK(pthread_create(&th, NULL, release_later, &w) == 0, "thread");
	t0 = cxt_now_ms();
	e = o->acquire(t->state, 5000, &extra, &t->err);
	dt = cxt_now_ms() - t0;
	pthread_join(th, NULL);
	CK(e == CX_OK, "acquire after a release: %s", cx_strerror(e));
	all[n++] = extra;
	CK(dt < 2000, "woken after %lld ms", (long long) dt);
out:
	for (size_t i = 0; i < n; i++) {
		o->release(t->state, all[i]);
	}
	return (rv);
}

int
cxt_storage_conformance(const char *plugin_so, const char *settings_yaml)
{
	cxt_storage *s = NULL;
	char why[512];
	if (cxt_storage_open(plugin_so, settings_yaml, &s, why, sizeof(why)) !=
	    0) {
		fprintf(stderr, "conformance: %s: %s\n", plugin_so, why);
		return (-1);
	}
	cxt_ctx t = {.ops = s->ops, .state = s->state};
	t.blob_type = strcmp(s->ops->dialect, "postgres") == 0 ? "BYTEA" :
	                                                          "BLOB";
	static const struct {
		const char *name;
		int (*fn)(cxt_ctx *);
	} checks[] = {
	    {"migrations", t_migrations},
	    {"value types", t_types},
	    {"constraints and errors", t_constraints},
	    {"transactions", t_transactions},
	    {"pool exhaustion", t_pool},
	    {"concurrent writers", cxt_check_concurrency},
	    {"cleanup", cxt_check_cleanup},
	};
	int failed = 0;
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		int64_t t0 = cxt_now_ms();
		int r = checks[i].fn(&t);
		fprintf(stderr, "conformance[%s]: %s: %s (%lld ms)\n",
		    s->ops->dialect, checks[i].name, r == 0 ? "ok" : "FAIL",
		    (long long) (cxt_now_ms() - t0));
		failed += r != 0;
	}
	cxt_storage_close(s);
	return (failed);
}
