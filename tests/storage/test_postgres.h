/*
 * test_postgres.h - the test cases defined in test_postgres_load.c, and
 * the instance (pool_size 8, migrated) the group setup loads for them.
 */
#ifndef TEST_POSTGRES_H
#define TEST_POSTGRES_H

#include "pg_fixture.h"

extern pgt_inst *pgt_main;

void test_concurrent_increments(void **state);
void test_pool_exhaustion(void **state);
void test_sslmode_passthrough(void **state);
void test_unreachable_server(void **state);
void test_bad_settings(void **state);
void test_server_restart(void **state);

#endif
