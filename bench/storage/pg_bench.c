/*
 * pg_bench.c - the PostgreSQL driver's cost over bare libpq.
 *
 * Inserts and primary-key reads, single-threaded, once through the
 * storage contract (acquire, exec, release per operation, as the core
 * will call it; the plugin loaded through the real loader) and once with
 * PQexecParams on one PGconn, same statements and parameter types, same
 * server, same run. Prints a markdown table. Run it through run.sh,
 * which starts a throwaway server.
 *
 *   pg_bench <postgres.so> [inserts] [reads]    (env CALLIXO_PG_DSN)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

#include "pg_fixture.h"

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double) ts.tv_sec + ts.tv_nsec / 1e9);
}

/* This thread's CPU time: the client-side cost of a call, which the
 * network round trip and the server's scheduling do not blur. */
static double
cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ((double) ts.tv_sec + ts.tv_nsec / 1e9);
}

static int
raw_run(PGconn *pg, const char *sql, int64_t id, const char *text)
{
	char num[32];
	snprintf(num, sizeof(num), "%" PRId64, id);
	const char *vals[2] = {num, text};
	const Oid types[2] = {20, 0}; /* int8, untyped: as the driver sends */
	PGresult *r = PQexecParams(pg, sql, text ? 2 : 1, types, vals, NULL,
	    NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || (st == PGRES_TUPLES_OK &&
	    PQntuples(r) == 1);
	if (!ok) {
		fprintf(stderr, "raw: %s", PQerrorMessage(pg));
	}
	PQclear(r);
	return (ok ? 0 : -1);
}

static int
cx_run(const pgt_inst *in, const char *sql, int64_t id, const char *text)
{
	cx_db_conn *c = NULL;
	cx_db_error err;
	cx_db_value p[2] = {CX_DB_V_INT(id), CX_DB_V_TEXT(text)};
	cx_db_rows *rows = NULL;
	if (in->ops->acquire(in->state, 1000, &c, &err) != CX_OK) {
		fprintf(stderr, "acquire: %s\n", err.message);
		return (-1);
	}
	cx_err rv = in->ops->exec(c, sql, p, text ? 2 : 1,
	    text ? NULL : &rows, NULL, &err);
	int ok = rv == CX_OK && (text != NULL || in->ops->rows_count(rows) == 1);
	if (rv == CX_OK && text == NULL) {
		cx_db_value v;
		ok = ok && in->ops->rows_get(rows, 0, 0, &v) == CX_OK &&
		    v.type == CX_DB_TEXT;
		in->ops->rows_free(rows);
	}
	if (!ok) {
		fprintf(stderr, "contract: %s\n", err.message);
	}
	in->ops->release(in->state, c);
	return (ok ? 0 : -1);
}

typedef struct result {
	double raw, cx;         /* ops per second */
	double raw_cpu, cx_cpu; /* client CPU microseconds per op */
} result;

static const char *const value = "a row of about sixty bytes of text, "
                                 "typical of an id or a name";

enum { ROUNDS = 4 };

typedef struct side {
	PGconn *pg;           /* raw when not NULL */
	const pgt_inst *in;   /* else the contract */
	const char *ins, *sel;
	double ins_s, sel_s;  /* seconds spent, all rounds */
	double ins_cpu, sel_cpu;
} side;

static int
one(side *sd, const char *sql, int64_t id, const char *text)
{
	return (sd->pg != NULL ? raw_run(sd->pg, sql, id, text) :
	                         cx_run(sd->in, sql, id, text));
}

/* One round of one side: n inserts with ids [base, base + n), then
 * `reads` reads of ids spread over what is there so far. */
static int
round_run(side *sd, int64_t base, int n, int reads)
{
	double t0 = now_s(), c0 = cpu_s();
	for (int i = 0; i < n; i++) {
		if (one(sd, sd->ins, base + i, value) != 0) {
			return (-1);
		}
	}
	sd->ins_s += now_s() - t0;
	sd->ins_cpu += cpu_s() - c0;
	uint64_t x = 88172645463325252ull; /* same ids for both sides */
	t0 = now_s();
	c0 = cpu_s();
	for (int i = 0; i < reads; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (one(sd, sd->sel, (int64_t) (x % (uint64_t) (base + n)),
		    NULL) != 0) {
			return (-1);
		}
	}
	sd->sel_s += now_s() - t0;
	sd->sel_cpu += cpu_s() - c0;
	return (0);
}

/* Rounds alternate which side goes first, so warm-up, caches and table
 * growth do not favour either. */
static int
bench(PGconn *pg, const pgt_inst *in, int n, int reads, result *ins,
    result *sel)
{
	side raw = {.pg = pg,
	    .ins = "INSERT INTO bench_raw (id, v) VALUES ($1, $2)",
	    .sel = "SELECT v FROM bench_raw WHERE id = $1"};
	side cx = {.in = in,
	    .ins = "INSERT INTO bench_cx (id, v) VALUES ($1, $2)",
	    .sel = "SELECT v FROM bench_cx WHERE id = $1"};
	int per = n / ROUNDS, rper = reads / ROUNDS;
	for (int r = 0; r < ROUNDS; r++) {
		side *first = r % 2 ? &cx : &raw, *second = r % 2 ? &raw : &cx;
		if (round_run(first, (int64_t) r * per, per, rper) != 0 ||
		    round_run(second, (int64_t) r * per, per, rper) != 0) {
			return (-1);
		}
	}
	ins->raw = per * ROUNDS / raw.ins_s;
	ins->cx = per * ROUNDS / cx.ins_s;
	sel->raw = rper * ROUNDS / raw.sel_s;
	sel->cx = rper * ROUNDS / cx.sel_s;
	ins->raw_cpu = raw.ins_cpu * 1e6 / (per * ROUNDS);
	ins->cx_cpu = cx.ins_cpu * 1e6 / (per * ROUNDS);
	sel->raw_cpu = raw.sel_cpu * 1e6 / (rper * ROUNDS);
	sel->cx_cpu = cx.sel_cpu * 1e6 / (rper * ROUNDS);
	return (0);
}

int
main(int argc, char **argv)
{
	const char *dsn = getenv("CALLIXO_PG_DSN");
	if (argc < 2 || dsn == NULL) {
		fprintf(stderr, "usage: CALLIXO_PG_DSN=... %s <postgres.so> "
		                "[inserts] [reads]\n", argv[0]);
		return (2);
	}
	int n = argc > 2 ? atoi(argv[2]) : 20000;
	int reads = argc > 3 ? atoi(argv[3]) : 20000;
	if (n <= 0 || reads <= 0 || pgt_global_init(argv[1]) != 0) {
		fprintf(stderr, "bad arguments or no bus\n");
		return (2);
	}
	char yaml[1024], why[512];
	pgt_inst *in = NULL;
	pgt_settings(yaml, sizeof(yaml), "pool_size: 2\n");
	PGconn *pg = PQconnectdb(dsn);
	if (PQstatus(pg) != CONNECTION_OK ||
	    pgt_load(yaml, &in, why, sizeof(why)) != CX_OK) {
		fprintf(stderr, "connect: %s %s\n", PQerrorMessage(pg), why);
		PQfinish(pg);
		pgt_global_fini();
		return (1);
	}
	PGresult *r = PQexec(pg, "DROP TABLE IF EXISTS bench_raw, bench_cx;"
	    "CREATE TABLE bench_raw (id BIGINT PRIMARY KEY, v TEXT NOT NULL);"
	    "CREATE TABLE bench_cx (id BIGINT PRIMARY KEY, v TEXT NOT NULL)");
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : 1;
	PQclear(r);
	result ins, sel;
	if (rc == 0 && bench(pg, in, n, reads, &ins, &sel) == 0) {
		printf("| operation (1 thread) | raw libpq ops/s | contract ops/s "
		       "| contract / raw | client CPU us/op raw | contract | "
		       "contract / raw |\n|---|---:|---:|---:|---:|---:|---:|\n");
		printf("| insert (autocommit), %d rows | %.0f | %.0f | %.2f | "
		       "%.1f | %.1f | %.2f |\n", n / ROUNDS * ROUNDS, ins.raw,
		    ins.cx, ins.cx / ins.raw, ins.raw_cpu, ins.cx_cpu,
		    ins.cx_cpu / ins.raw_cpu);
		printf("| point read by primary key, %d reads | %.0f | %.0f | "
		       "%.2f | %.1f | %.1f | %.2f |\n", reads / ROUNDS * ROUNDS,
		    sel.raw, sel.cx, sel.cx / sel.raw, sel.raw_cpu, sel.cx_cpu,
		    sel.cx_cpu / sel.raw_cpu);
	} else {
		rc = 1;
	}
	r = PQexec(pg, "DROP TABLE IF EXISTS bench_raw, bench_cx");
	PQclear(r);
	PQfinish(pg);
	pgt_unload(in);
	pgt_global_fini();
	return (rc);
}
