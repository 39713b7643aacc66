/*
 * bench_storage.c - the sqlite storage driver through the contract
 * against the bare sqlite3 C API doing the same statements.
 *
 *   bench_storage <sqlite.so> [rows] [reads]
 *
 * Both sides use one database file each with the same pragmas (WAL,
 * synchronous=NORMAL, foreign_keys=ON, 5 s busy timeout). The raw side
 * prepares each statement once and keeps it, which is the best case the
 * driver's statement cache can reach; the contract side pays for what
 * the core pays per request: acquire, exec with $n parameters, copying
 * the result rows, release.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "conformance.h"

#define BATCH 1000

static const char *ddl = "CREATE TABLE kv (id INTEGER PRIMARY KEY, "
                         "name TEXT NOT NULL, n INTEGER NOT NULL, "
                         "at INTEGER NOT NULL)";
static const char *ins_sql = "INSERT INTO kv (id, name, n, at) VALUES "
                             "($1, $2, $3, $4)";
static const char *sel_sql = "SELECT name, n, at FROM kv WHERE id = $1";

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double) ts.tv_sec + (double) ts.tv_nsec / 1e9);
}

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "bench_storage: %s: %s\n", what, why);
	exit(1);
}

/* A cheap deterministic permutation-ish sequence for point reads. */
static int64_t
pick(uint64_t *seed, int64_t n)
{
	*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((int64_t) ((*seed >> 33) % (uint64_t) n) + 1);
}

/* ---- through the contract ---- */

typedef struct via {
	const cx_storage_ops *o;
	void *st;
} via;

static void
c_exec(via *v, const char *sql, const cx_db_value *p, size_t n,
    cx_db_rows **rows)
{
	cx_db_conn *c;
	cx_db_error err;
	if (v->o->acquire(v->st, 1000, &c, &err) != CX_OK) {
		die("acquire", err.message);
	}
	if (v->o->exec(c, sql, p, n, rows, NULL, &err) != CX_OK) {
		die(sql, err.message);
	}
	v->o->release(v->st, c);
}

static double
c_insert(via *v, int64_t first, int64_t n)
{
	double t0 = now_s();
	for (int64_t i = first; i < first + n; i++) {
		cx_db_value p[4] = {CX_DB_V_INT(i), CX_DB_V_TEXT("some name"),
		    CX_DB_V_INT(i * 7), CX_DB_V_INT(1700000000000 + i)};
		c_exec(v, ins_sql, p, 4, NULL);
	}
	return ((double) n / (now_s() - t0));
}

static double
c_insert_batched(via *v, int64_t first, int64_t n)
{
	double t0 = now_s();
	cx_db_error err;
	for (int64_t b = first; b < first + n; b += BATCH) {
		cx_db_conn *c;
		if (v->o->acquire(v->st, 1000, &c, &err) != CX_OK ||
		    v->o->begin(c, &err) != CX_OK) {
			die("begin", err.message);
		}
		for (int64_t i = b; i < b + BATCH && i < first + n; i++) {
			cx_db_value p[4] = {CX_DB_V_INT(i),
			    CX_DB_V_TEXT("some name"), CX_DB_V_INT(i * 7),
			    CX_DB_V_INT(1700000000000 + i)};
			if (v->o->exec(c, ins_sql, p, 4, NULL, NULL, &err) !=
			    CX_OK) {
				die("insert", err.message);
			}
		}
		if (v->o->commit(c, &err) != CX_OK) {
			die("commit", err.message);
		}
		v->o->release(v->st, c);
	}
	return ((double) n / (now_s() - t0));
}

static double
c_read(via *v, int64_t rows, int64_t n)
{
	uint64_t seed = 42;
	int64_t sum = 0;
	double t0 = now_s();
	for (int64_t i = 0; i < n; i++) {
		cx_db_value p = CX_DB_V_INT(pick(&seed, rows));
		cx_db_rows *r = NULL;
		cx_db_value out;
		c_exec(v, sel_sql, &p, 1, &r);
		if (v->o->rows_count(r) != 1 ||
		    v->o->rows_get(r, 0, 1, &out) != CX_OK) {
			die("select", "row missing");
		}
		sum += out.i;
		v->o->rows_free(r);
	}
	double rate = (double) n / (now_s() - t0);
	return (sum != 0 ? rate : 0);
}

/* ---- bare sqlite3 ---- */

static sqlite3 *
raw_open(const char *path)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	        SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"
	        "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, ddl, NULL, NULL, NULL) != SQLITE_OK) {
		die(path, db ? sqlite3_errmsg(db) : "open");
	}
	return (db);
}

static sqlite3_stmt *
raw_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	        NULL) != SQLITE_OK) {
		die(sql, sqlite3_errmsg(db));
	}
	return (st);
}

static void
raw_insert_one(sqlite3 *db, sqlite3_stmt *st, int64_t i)
{
	sqlite3_bind_int64(st, 1, i);
	sqlite3_bind_text(st, 2, "some name", 9, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, i * 7);
	sqlite3_bind_int64(st, 4, 1700000000000 + i);
	if (sqlite3_step(st) != SQLITE_DONE) {
		die("raw insert", sqlite3_errmsg(db));
	}
	sqlite3_reset(st);
}

static double
raw_insert(sqlite3 *db, sqlite3_stmt *st, int64_t first, int64_t n,
    int batched)
{
	double t0 = now_s();
	for (int64_t i = first; i < first + n; i++) {
		if (batched && (i - first) % BATCH == 0) {
			sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		}
		raw_insert_one(db, st, i);
		if (batched && ((i - first) % BATCH == BATCH - 1 ||
		                   i == first + n - 1)) {
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		}
	}
	return ((double) n / (now_s() - t0));
}

static double
raw_read(sqlite3 *db, sqlite3_stmt *st, int64_t rows, int64_t n)
{
	uint64_t seed = 42;
	int64_t sum = 0;
	double t0 = now_s();
	for (int64_t i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, pick(&seed, rows));
		if (sqlite3_step(st) != SQLITE_ROW) {
			die("raw select", sqlite3_errmsg(db));
		}
		/* Read every column, as the driver copies every column. */
		sum += sqlite3_column_bytes(st, 0) > 0;
		sum += sqlite3_column_int64(st, 1) + sqlite3_column_int64(st, 2);
		sqlite3_reset(st);
	}
	double rate = (double) n / (now_s() - t0);
	return (sum != 0 ? rate : 0);
}

static void
row(const char *what, double contract, double raw)
{
	printf("| %s | %.0f | %.0f | %.2f |\n", what, contract, raw,
	    contract / raw);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		die("usage", "bench_storage <sqlite.so> [rows] [reads]");
	}
	int64_t rows = argc > 2 ? strtoll(argv[2], NULL, 10) : 20000;
	int64_t reads = argc > 3 ? strtoll(argv[3], NULL, 10) : 200000;
	if (rows < BATCH || reads < 1) {
		die("usage", "rows must be at least 1000, reads at least 1");
	}
	cxt_storage *s = NULL;
	char why[512];
	if (cxt_storage_open(argv[1], "pool_size: 4\n", &s, why,
	        sizeof(why)) != 0) {
		die(argv[1], why);
	}
	via v = {s->ops, s->state};
	c_exec(&v, ddl, NULL, 0, NULL);
	char raw_path[4200];
	snprintf(raw_path, sizeof(raw_path), "%s/raw.db", s->data_dir);
	sqlite3 *db = raw_open(raw_path);
	sqlite3_stmt *ins = raw_prepare(db, "INSERT INTO kv (id, name, n, at) "
	                                    "VALUES (?1, ?2, ?3, ?4)");
	sqlite3_stmt *sel = raw_prepare(db, "SELECT name, n, at FROM kv WHERE "
	                                    "id = ?1");

	/* Interleaved so both sides see the same machine state. */
	double ci = c_insert(&v, 1, rows);
	double ri = raw_insert(db, ins, 1, rows, 0);
	double cb = c_insert_batched(&v, rows + 1, rows);
	double rb = raw_insert(db, ins, rows + 1, rows, 1);
	double cr = c_read(&v, 2 * rows, reads);
	double rr = raw_read(db, sel, 2 * rows, reads);

	printf("SQLite %s; %" PRId64 " rows inserted each way, %" PRId64
	       " point reads\n\n", sqlite3_libversion(), rows, reads);
	printf("| operation | contract (ops/s) | raw sqlite3 (ops/s) | "
	       "ratio |\n|---|---:|---:|---:|\n");
	row("insert, one transaction each", ci, ri);
	row("insert, 1000 per transaction", cb, rb);
	row("point read by primary key", cr, rr);

	sqlite3_finalize(ins);
	sqlite3_finalize(sel);
	sqlite3_close(db);
	cxt_storage_close(s);
	return (0);
}
