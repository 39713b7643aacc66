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
sq_stmt_get(cx_db_conn *c, const char *sql, sqlite3_stmt **out,
    cx_db_error *err)
{
	size_t cap = c->pool->cache_cap;
	if (cap == 0) {
		return (prepare(c, sql, 0, out, err));
	}
	uint64_t h = hash_sql(sql);
	c->tick++;
	for (size_t i = 0; i < c->n_cache; i++) {
		sq_stmt *e = &c->cache[i];
		if (e->hash == h && strcmp(e->sql, sql) == 0) {
			e->used = c->tick;
			*out = e->stmt;
			return (CX_OK);
		}
	}
	/* PERSISTENT tells SQLite the statement lives long, so it takes
	 * its memory from the heap rather than the lookaside slots that
	 * short-lived statements need. */
	sqlite3_stmt *st = NULL;
	cx_err rv = prepare(c, sql, SQLITE_PREPARE_PERSISTENT, &st, err);
	if (rv != CX_OK) {
		return (rv);
	}
	char *copy = strdup(sql);
	if (copy == NULL) {
		sqlite3_finalize(st);
		return (sq_error_set(err, CX_DB_EOTHER, "out of memory"));
	}
	sq_stmt *slot;
	if (c->n_cache < cap) {
		slot = &c->cache[c->n_cache++];
	} else {
		slot = &c->cache[0];
		for (size_t i = 1; i < c->n_cache; i++) {
			if (c->cache[i].used < slot->used) {
				slot = &c->cache[i];
			}
		}
		sqlite3_finalize(slot->stmt);
		free(slot->sql);
	}
	*slot = (sq_stmt){.hash = h, .used = c->tick, .sql = copy,
	    .stmt = st};
	*out = st;
	return (CX_OK);
}

void
sq_stmt_done(cx_db_conn *c, sqlite3_stmt *stmt)
{
	if (stmt == NULL) {
		return;
	}
	if (c->pool->cache_cap == 0) {
		sqlite3_finalize(stmt);
		return;
	}
	/* Reset releases the statement's read snapshot (a WAL reader that
	 * stays open would block checkpoints); clearing drops the borrowed
	 * parameter pointers. Reset's return repeats the step error the
	 * caller already handled. */
	(void) sqlite3_reset(stmt);
	(void) sqlite3_clear_bindings(stmt);
}

void
sq_stmt_cache_free(cx_db_conn *c)
{
	for (size_t i = 0; i < c->n_cache; i++) {
		sqlite3_finalize(c->cache[i].stmt);
		free(c->cache[i].sql);
	}
	c->n_cache = 0;
}
