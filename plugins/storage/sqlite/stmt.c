/*
 * stmt.c - the per-connection prepared statement cache.
 *
 * The core sends the same few hundred statements all day, so preparing
 * each once per connection saves the parse and plan on every call. The
 * cache is a small array searched by hash: at the default of 64 entries a
 * linear scan of 64-bit hashes costs less than one sqlite3_step. When it
 * is full the least recently used statement is finalized.
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite_int.h"

/* FNV-1a: cheap, and collisions only cost a strcmp. */
static uint64_t
hash_sql(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char) *s;
		h *= 1099511628211ULL;
	}
	return (h);
}

/* Only whitespace and comments may follow the one statement: exec runs a
 * single statement, and silently dropping the rest would hide a bug. */
static bool
tail_is_empty(sqlite3 *db, const char *tail)
{
	while (tail != NULL && (*tail == ' ' || *tail == '\t' ||
	    *tail == '\n' || *tail == '\r')) {
		tail++;
	}
	while (tail != NULL && *tail != '\0') {
		sqlite3_stmt *st = NULL;
		const char *next = NULL;
		if (sqlite3_prepare_v2(db, tail, -1, &st, &next) != SQLITE_OK) {
			return (false);
		}
		if (st != NULL) {
			sqlite3_finalize(st);
			return (false);
		}
		/* A NULL statement means only comments or blanks were read. */
		if (next == tail) {
			break;
		}
		tail = next;
	}
	return (true);
}

/* Maps "$n" to SQLite's parameter index. SQLite numbers named parameters
 * in order of first appearance, so "$2 ... $1" gives $2 index 1. */
static int
map_params(sq_stmt *e)
{
	int count = sqlite3_bind_parameter_count(e->stmt);
	e->n_params = count;
	if (count == 0) {
		return (0);
	}
	if ((e->pidx = calloc((size_t) count, sizeof(int))) == NULL) {
		return (-1);
	}
	for (int i = 1; i <= count; i++) {
		const char *name = sqlite3_bind_parameter_name(e->stmt, i);
		char *end = NULL;
		long n = name != NULL && name[0] == '$' && name[1] >= '1' &&
		        name[1] <= '9' ? strtol(name + 1, &end, 10) : 0;
		if (n < 1 || n > count || *end != '\0' || e->pidx[n - 1] != 0) {
			e->n_params = -1;
			return (0);
		}
		e->pidx[n - 1] = i;
	}
	return (0);
}

static void
entry_free(sq_stmt *e)
{
	sqlite3_finalize(e->stmt);
	free(e->sql);
	free(e->pidx);
	memset(e, 0, sizeof(*e));
}

static cx_err
prepare(cx_db_conn *c, const char *sql, unsigned flags, sqlite3_stmt **out,
    cx_db_error *err)
{
	const char *tail = NULL;
	int rc = sqlite3_prepare_v3(c->db, sql, -1, flags, out, &tail);
	if (rc != SQLITE_OK) {
		*out = NULL;
		return (sq_error(c->db, rc, true, err));
	}
	if (*out == NULL) {
		return (sq_error_set(err, CX_DB_ESQL, "empty statement"));
	}
	if (!tail_is_empty(c->db, tail)) {
		sqlite3_finalize(*out);
		*out = NULL;
		return (sq_error_set(err, CX_DB_ESQL, "exec takes exactly one "
		                                      "statement"));
	}
	return (CX_OK);
}

cx_err
sq_stmt_get(cx_db_conn *c, const char *sql, sq_stmt **out, cx_db_error *err)
{
	size_t cap = c->pool->cache_cap;
	uint64_t h = 0;
	if (cap > 0) {
		h = hash_sql(sql);
		c->tick++;
		for (size_t i = 0; i < c->n_cache; i++) {
			sq_stmt *e = &c->cache[i];
			if (e->hash == h && strcmp(e->sql, sql) == 0) {
				e->used = c->tick;
				*out = e;
				return (CX_OK);
			}
		}
	}
	/* PERSISTENT tells SQLite the statement lives long, so it takes
	 * its memory from the heap rather than the lookaside slots that
	 * short-lived statements need. */
	sq_stmt fresh = {.hash = h, .used = c->tick};
	cx_err rv = prepare(c, sql, cap > 0 ? SQLITE_PREPARE_PERSISTENT : 0,
	    &fresh.stmt, err);
	if (rv != CX_OK) {
		return (rv);
	}
	if (map_params(&fresh) != 0 ||
	    (cap > 0 && (fresh.sql = strdup(sql)) == NULL)) {
		entry_free(&fresh);
		return (sq_error_set(err, CX_DB_EOTHER, "out of memory"));
	}
	sq_stmt *slot = &c->scratch;
	if (cap > 0 && c->n_cache < cap) {
		slot = &c->cache[c->n_cache++];
	} else if (cap > 0) {
		slot = &c->cache[0];
		for (size_t i = 1; i < c->n_cache; i++) {
			if (c->cache[i].used < slot->used) {
				slot = &c->cache[i];
			}
		}
		entry_free(slot);
	}
	*slot = fresh;
	*out = slot;
	return (CX_OK);
}

void
sq_stmt_done(cx_db_conn *c, sq_stmt *e)
{
	if (e == NULL) {
		return;
	}
	if (e == &c->scratch) {
		entry_free(e);
		return;
	}
	/* Reset releases the statement's read snapshot (a WAL reader that
	 * stays open would block checkpoints); clearing drops the borrowed
	 * parameter pointers. Reset's return repeats the step error the
	 * caller already handled. */
	(void) sqlite3_reset(e->stmt);
	(void) sqlite3_clear_bindings(e->stmt);
}

void
sq_stmt_cache_free(cx_db_conn *c)
{
	for (size_t i = 0; i < c->n_cache; i++) {
		entry_free(&c->cache[i]);
	}
	c->n_cache = 0;
	entry_free(&c->scratch);
}
