/*
 * test_postgres.c - the PostgreSQL driver against a real server (started
 * by postgres_test.sh through pg_harness.sh), loaded through the real
 * core. This file: migrations, value types, error classes, transactions.
 * test_postgres_load.c: concurrency, the pool, connection failures and a
 * server restart under load.
 *
 *   test_postgres <postgres.so>     (env CALLIXO_PG_DSN, _START, _STOP)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_fixture.h"
#include "test_postgres.h"

pgt_inst *pgt_main;

#define OPS (pgt_main->ops)

static cx_db_conn *
get(void)
{
	cx_db_conn *c = NULL;
	cx_db_error err;
	cx_err rv = OPS->acquire(pgt_main->state, 2000, &c, &err);
	if (rv != CX_OK) {
		fail_msg("acquire: %s: %s", cx_strerror(rv), err.message);
	}
	return (c);
}

/* Runs sql, expecting failure of class `cls`; returns the error. */
static cx_db_error
expect_fail(cx_db_conn *c, const char *sql, const cx_db_value *p, size_t n,
    cx_db_errclass cls)
{
	cx_db_error err;
	memset(&err, 0, sizeof(err));
	cx_err rv = pgt_exec(pgt_main, c, sql, p, n, &err);
	if (rv == CX_OK || err.cls != cls) {
		fail_msg("%s: expected class %d, got %s, class %d (%s) %s", sql,
		    (int) cls, cx_strerror(rv), (int) err.cls, err.sqlstate,
		    err.message);
	}
	return (err);
}

static void
ok(cx_db_conn *c, const char *sql, const cx_db_value *p, size_t n)
{
	cx_db_error err;
	cx_err rv = pgt_exec(pgt_main, c, sql, p, n, &err);
	if (rv != CX_OK) {
		fail_msg("%s: %s (%s) %s", sql, cx_strerror(rv), err.sqlstate,
		    err.message);
	}
}

static void
test_descriptor_and_migrations(void **state)
{
	(void) state;
	assert_int_equal(pgt_main->desc->kind, CX_KIND_STORAGE);
	assert_string_equal(pgt_main->desc->name, "postgres");
	assert_true(OPS->size >= sizeof(cx_storage_ops));
	assert_string_equal(OPS->dialect, "postgres");
	assert_int_equal(OPS->migrations[0].version, 1);
	assert_string_equal(OPS->migrations[0].name, "0001_initial");
	size_t n = 0;
	while (OPS->migrations[n].version != 0) {
		assert_int_equal(OPS->migrations[n].version, n + 1);
		n++;
	}
	assert_null(OPS->migrations[n].sql);

	/* Apply them as the core will: one transaction, empty database. */
	cx_db_conn *c = get();
	cx_db_error err;
	assert_int_equal(pgt_int(pgt_main, c, "SELECT count(*) FROM "
	    "information_schema.tables WHERE table_schema = 'public'"), 0);
	assert_int_equal(OPS->begin(c, &err), CX_OK);
	for (size_t i = 0; i < n; i++) {
		cx_err rv = OPS->exec_script(c, OPS->migrations[i].sql, &err);
		if (rv != CX_OK) {
			fail_msg("%s: %s", OPS->migrations[i].name, err.message);
		}
	}
	assert_int_equal(OPS->commit(c, &err), CX_OK);
	assert_int_equal(pgt_int(pgt_main, c, "SELECT count(*) FROM "
	    "information_schema.tables WHERE table_schema = 'public'"), 18);
	/* A failing script reports its error and leaves nothing behind. */
	assert_int_equal(OPS->begin(c, &err), CX_OK);
	assert_int_not_equal(OPS->exec_script(c, "CREATE TABLE tmp_x (a INT);"
	    "CREATE TABLE accounts (a INT);", &err), CX_OK);
	assert_int_equal(err.cls, CX_DB_ESQL);
	assert_string_equal(err.sqlstate, "42P07");
	assert_int_equal(OPS->rollback(c, &err), CX_OK);
	assert_int_equal(pgt_int(pgt_main, c, "SELECT count(*) FROM "
	    "information_schema.tables WHERE table_name = 'tmp_x'"), 0);
	OPS->release(pgt_main->state, c);
}

static void
check_value(const cx_db_rows *rows, size_t col, const cx_db_value *want)
{
	cx_db_value v;
	assert_int_equal(OPS->rows_get(rows, 0, col, &v), CX_OK);
	if (v.type != want->type) {
		fail_msg("column %zu (%s): type %d, want %d", col,
		    OPS->rows_name(rows, col), (int) v.type, (int) want->type);
	}
	switch (want->type) {
	case CX_DB_INT:
		assert_true(v.i == want->i);
		break;
	case CX_DB_REAL:
		assert_true(v.d == want->d || (isnan(v.d) && isnan(want->d)));
		break;
	case CX_DB_TEXT:
		assert_int_equal(v.len, want->len);
		assert_memory_equal(v.s, want->s, want->len);
		assert_int_equal(v.s[v.len], '\0');
		break;
	case CX_DB_BLOB:
		assert_int_equal(v.len, want->len);
		if (want->len > 0) {
			assert_memory_equal(v.b, want->b, want->len);
		}
		break;
	case CX_DB_NULL:
		break;
	}
}

static void
test_types_round_trip(void **state)
{
	(void) state;
	static const char blob[] = {'a', 0, 'b', 0, (char) 0xff, 0, '\\', 'x'};
	const char *text = "h\xc3\xa9llo 'w\xc3\xb6rld' \"q\" \\ \xe2\x9c\x93";
	const cx_db_value vals[][6] = {
		{CX_DB_V_INT(1), CX_DB_V_INT(INT64_MAX), CX_DB_V_REAL(3.141592653589793),
		    CX_DB_V_TEXT(text), CX_DB_V_BLOB(blob, sizeof(blob)), CX_DB_V_NULL()},
		{CX_DB_V_INT(2), CX_DB_V_INT(INT64_MIN), CX_DB_V_REAL(-1.5e300),
		    CX_DB_V_TEXT(""), CX_DB_V_BLOB("", 0), CX_DB_V_NULL()},
		{CX_DB_V_INT(3), CX_DB_V_INT(0), CX_DB_V_REAL(NAN),
		    CX_DB_V_TEXT("0"), CX_DB_V_BLOB("\0", 1), CX_DB_V_NULL()},
	};
	cx_db_conn *c = get();
	ok(c, "CREATE TABLE rt (id INTEGER PRIMARY KEY, i BIGINT, "
	    "r DOUBLE PRECISION, t TEXT, b BYTEA, n TEXT)", NULL, 0);
	for (size_t k = 0; k < 3; k++) {
		int64_t changes = -1;
		cx_db_error err;
		assert_int_equal(OPS->exec(c, "INSERT INTO rt VALUES "
		    "($1, $2, $3, $4, $5, $6)", vals[k], 6, NULL, &changes,
		    &err), CX_OK);
		assert_int_equal(changes, 1);

		cx_db_rows *rows = NULL;
		cx_db_value id = CX_DB_V_INT((int64_t) k + 1);
		assert_int_equal(OPS->exec(c, "SELECT id, i, r, t, b, n FROM rt "
		    "WHERE id = $1", &id, 1, &rows, NULL, &err), CX_OK);
		assert_int_equal(OPS->rows_count(rows), 1);
		assert_int_equal(OPS->rows_columns(rows), 6);
		assert_string_equal(OPS->rows_name(rows, 3), "t");
		for (size_t col = 0; col < 6; col++) {
			check_value(rows, col, &vals[k][col]);
		}
		OPS->rows_free(rows);

		/* Untyped: parameters straight back, no table in between. */
		assert_int_equal(OPS->exec(c, "SELECT $1, $2, $3, $4, $5, $6",
		    vals[k], 6, &rows, NULL, &err), CX_OK);
		for (size_t col = 0; col < 6; col++) {
			check_value(rows, col, &vals[k][col]);
		}
		OPS->rows_free(rows);
	}
	/* Aggregates and other server types map onto the portable ones. */
	cx_db_rows *rows = NULL;
	cx_db_error err;
	assert_int_equal(OPS->exec(c, "SELECT count(*), sum(i), "
	    "sum(id)::numeric / 2, true, 1.5::real, 7::smallint, NULL::bytea "
	    "FROM rt WHERE id > 1", NULL, 0, &rows, NULL, &err), CX_OK);
	const cx_db_value want[] = {CX_DB_V_INT(2), CX_DB_V_INT(INT64_MIN),
	    CX_DB_V_TEXT("2.5000000000000000"), CX_DB_V_INT(1),
	    CX_DB_V_REAL(1.5), CX_DB_V_INT(7), CX_DB_V_NULL()};
	for (size_t col = 0; col < 7; col++) {
		check_value(rows, col, &want[col]);
	}
	assert_int_equal(OPS->rows_get(rows, 1, 0, &(cx_db_value){0}), CX_EINVAL);
	OPS->rows_free(rows);
	/* Rows written, and a statement that returns none. */
	int64_t changes = -1;
	assert_int_equal(OPS->exec(c, "UPDATE rt SET n = 'x' WHERE id >= 2",
	    NULL, 0, &rows, &changes, &err), CX_OK);
	assert_int_equal(changes, 2);
	assert_int_equal(OPS->rows_count(rows), 0);
	OPS->rows_free(rows);
	ok(c, "DROP TABLE rt", NULL, 0);
	OPS->release(pgt_main->state, c);
}

static void
account(cx_db_conn *c, const char *id)
{
	cx_db_value p[] = {CX_DB_V_TEXT(id), CX_DB_V_TEXT(id)};
	ok(c, "INSERT INTO accounts (id, name, email, email_norm, "
	    "password_hash, created_at, updated_at) VALUES ($1, 'n', $2, $2, "
	    "'h', 1, 1)", p, 2);
}

static void
test_constraint_errors(void **state)
{
	(void) state;
	cx_db_conn *c = get();
	account(c, "acc_1");
	const char *tx = "0xdeadbeefcafe";
	cx_db_value pay[] = {CX_DB_V_TEXT("pay_1"), CX_DB_V_TEXT("acc_1"),
	    CX_DB_V_TEXT("eth"), CX_DB_V_TEXT(tx)};
	const char *ins = "INSERT INTO payments (id, account_id, chain, tx_hash, "
	    "asset, amount, created_at, updated_at) VALUES ($1, $2, $3, $4, "
	    "'ETH', '1', 1, 1)";
	ok(c, ins, pay, 4);
	pay[0] = CX_DB_V_TEXT("pay_2");
	cx_db_error e = expect_fail(c, ins, pay, 4, CX_DB_EUNIQUE);
	assert_string_equal(e.sqlstate, "23505");
	assert_string_equal(e.constraint, "payments_chain_tx_hash_key");
	assert_null(strstr(e.message, tx)); /* values never in messages */
	assert_int_equal(pgt_exec(pgt_main, c, ins, pay, 4, &e), CX_EEXIST);

	pay[0] = CX_DB_V_TEXT("pay_3");
	pay[1] = CX_DB_V_TEXT("acc_missing");
	pay[3] = CX_DB_V_TEXT("0x1");
	e = expect_fail(c, ins, pay, 4, CX_DB_EFOREIGN);
	assert_string_equal(e.constraint, "payments_account_id_fkey");
	assert_null(strstr(e.message, "acc_missing"));

	e = expect_fail(c, "UPDATE accounts SET role = 'admin'", NULL, 0,
	    CX_DB_ECHECK);
	assert_string_equal(e.sqlstate, "23514");
	assert_string_equal(e.constraint, "accounts_role_check");
	e = expect_fail(c, "UPDATE accounts SET name = NULL", NULL, 0,
	    CX_DB_ECHECK);
	assert_string_equal(e.sqlstate, "23502");

	e = expect_fail(c, "SELEC 1", NULL, 0, CX_DB_ESQL);
	assert_string_equal(e.sqlstate, "42601");
	e = expect_fail(c, "SELECT * FROM no_such_table", NULL, 0, CX_DB_ESQL);
	assert_string_equal(e.sqlstate, "42P01");
	/* A parameter the server cannot read: the value stays out. */
	cx_db_value bad = CX_DB_V_TEXT("hunter2-secret");
	e = expect_fail(c, "SELECT $1::bigint", &bad, 1, CX_DB_EOTHER);
	assert_string_equal(e.sqlstate, "22P02");
	assert_null(strstr(e.message, "hunter2"));
	/* Errors outside a transaction leave the connection usable. */
	assert_int_equal(pgt_int(pgt_main, c, "SELECT count(*) FROM payments"), 1);
	ok(c, "DELETE FROM accounts", NULL, 0);
	OPS->release(pgt_main->state, c);
}

static void
test_transactions(void **state)
{
	(void) state;
	cx_db_error err;
	cx_db_conn *c = get();
	assert_int_equal(OPS->begin(c, &err), CX_OK);
	account(c, "acc_rb");
	assert_int_equal(OPS->rollback(c, &err), CX_OK);
	assert_int_equal(pgt_int(pgt_main, c, "SELECT count(*) FROM accounts"), 0);

	/* COMMIT after a failed statement must not report success. */
	assert_int_equal(OPS->begin(c, &err), CX_OK);
	account(c, "acc_x");
	expect_fail(c, "SELEC", NULL, 0, CX_DB_ESQL);
	assert_int_not_equal(OPS->commit(c, &err), CX_OK);
	assert_string_equal(err.sqlstate, "25P02");
	assert_int_equal(pgt_int(pgt_main, c, "SELECT count(*) FROM accounts"), 0);

	/* Released inside a transaction: rolled back, and the connection
	 * comes back clean. */
	assert_int_equal(OPS->begin(c, &err), CX_OK);
	account(c, "acc_left");
	OPS->release(pgt_main->state, c);
	c = get();
	assert_int_equal(pgt_int(pgt_main, c, "SELECT count(*) FROM accounts"), 0);
	assert_int_equal(OPS->begin(c, &err), CX_OK);
	account(c, "acc_ok");
	assert_int_equal(OPS->commit(c, &err), CX_OK);
	assert_int_equal(pgt_int(pgt_main, c, "SELECT count(*) FROM accounts"), 1);
	ok(c, "DELETE FROM accounts", NULL, 0);
	OPS->release(pgt_main->state, c);
}

static int
group_setup(void **state)
{
	(void) state;
	char yaml[1024], why[512];
	pgt_settings(yaml, sizeof(yaml), "pool_size: 8\n");
	cx_err rv = pgt_load(yaml, &pgt_main, why, sizeof(why));
	if (rv != CX_OK) {
		fprintf(stderr, "load: %s: %s\n", cx_strerror(rv), why);
		return (-1);
	}
	return (0);
}

static int
group_teardown(void **state)
{
	(void) state;
	pgt_unload(pgt_main);
	return (0);
}

int
main(int argc, char **argv)
{
	if (argc != 2 || getenv("CALLIXO_PG_DSN") == NULL) {
		fprintf(stderr, "usage: CALLIXO_PG_DSN=... %s <postgres.so> "
		                "(run it through postgres_test.sh)\n", argv[0]);
		return (2);
	}
	if (pgt_global_init(argv[1]) != 0) {
		fprintf(stderr, "cannot open the bus\n");
		return (1);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor_and_migrations),
		cmocka_unit_test(test_types_round_trip),
		cmocka_unit_test(test_constraint_errors),
		cmocka_unit_test(test_transactions),
		cmocka_unit_test(test_concurrent_increments),
		cmocka_unit_test(test_pool_exhaustion),
		cmocka_unit_test(test_sslmode_passthrough),
		cmocka_unit_test(test_unreachable_server),
		cmocka_unit_test(test_bad_settings),
		cmocka_unit_test(test_server_restart),
	};
	int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	pgt_global_fini();
	return (rc);
}
