/*
 * repo_rig.h - a storage driver loaded the way callixod loads it, for
 * the repository contract suite (test_repo.c).
 */
#ifndef REPO_RIG_H
#define REPO_RIG_H

#include <stddef.h>
#include <stdint.h>
#include "repo.h"

/* The driver under test, valid between rig_open and rig_close. */
extern cxi_db rig_db;

/* Loads `so` (cxi_module_open), validates `yaml` (settings text, or the
 * path of a file holding it; NULL or "" for the plugin's defaults)
 * against its schema, gives it a host table with a real bus on a
 * namespace of its own and a fresh data directory, runs init and start.
 * Returns 0, or -1 with why. */
int rig_open(const char *so, const char *yaml, char *why, size_t whylen);
void rig_close(void);

/* Helpers for the cases. */
int64_t rig_count(const char *table);
/* Runs one statement on its own connection; returns its cx_err. */
cx_err rig_exec(const char *sql, const cx_db_value *p, size_t n);

/* A new account (email unique per call when `email` is NULL); the
 * row, owned by the caller, or NULL. */
json_t *rig_account(const char *email);
#define ID(row) json_string_value(json_object_get((row), "id"))
#define STR(row, k) json_string_value(json_object_get((row), (k)))
#define INTV(row, k) json_integer_value(json_object_get((row), (k)))

/* Runs `call` with a local `char why[]` in scope and fails the case
 * with the call, the code and why unless it returned `code`. */
#define EXPECT(code, call)                                                \
	do {                                                              \
		why[0] = '\0';                                            \
		cx_err rv_ = (call);                                      \
		if (rv_ != (code)) {                                      \
			fail_msg("%s:%d: %s -> %s (%s), expected %s",     \
			    __FILE__, __LINE__, #call, cx_strerror(rv_),  \
			    why, cx_strerror(code));                      \
		}                                                         \
	} while (0)

/* The cases of test_repo_props.c, registered by test_repo.c. */
void test_scoping(void **state);
void test_unique(void **state);
void test_tx_rollback(void **state);
void test_concurrency(void **state);
void test_pagination(void **state);
void test_bad_input(void **state);
void test_hostile_text_everywhere(void **state);
void test_migrations_again(void **state);
void test_newer_schema(void **state);

#endif
