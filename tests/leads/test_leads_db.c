/*
 * test_leads_db.c - the CSV importer's database sink and the lead list
 * with its portable tag filter, on a real storage driver:
 *
 *   test_leads_db [plugin.so [settings]]
 *
 * (as tests/storage/test_repo: the same binary runs on SQLite and, given
 * the postgres plugin and a DSN, on PostgreSQL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvimport.h"
#include "migrate.h"
#include "repo_rig.h"

static const char *so_path, *settings;
static json_t *acct, *other, *cmp;

static int
setup(void **state)
{
	(void) state;
	char why[512] = "";
	json_t *done = NULL;
	if (rig_open(so_path, settings, why, sizeof(why)) != 0 ||
	    cxi_migrate_up(&rig_db, &done, why, sizeof(why)) != 0) {
		json_decref(done);
		fprintf(stderr, "setup: %s\n", why);
		rig_close();
		return (-1);
	}
	json_decref(done);
	acct = rig_account(NULL);
	other = rig_account(NULL);
	json_t *f = json_pack("{s:s}", "name", "spring");
	cx_err rv = cxi_repo_create(&rig_db, &cxi_ent_campaign, ID(acct), f,
	    &cmp, why, sizeof(why));
	json_decref(f);
	return (acct != NULL && other != NULL && rv == CX_OK ? 0 : -1);
}

static int
teardown(void **state)
{
	(void) state;
	json_decref(acct);
	json_decref(other);
	json_decref(cmp);
	rig_close();
	return (0);
}

static cxi_csv_counts
import(const char *account, const char *campaign, const char *csv)
{
	cxi_csv_dbsink s = {&rig_db, account, campaign, 0};
	cxi_csv_opts o = {.default_region = "US", .batch_rows = 3,
	    .sink = cxi_csvimp_db_sink, .sink_arg = &s};
	cxi_csvimp *im = cxi_csvimp_new(&o);
	assert_non_null(im);
	assert_int_equal(cxi_csvimp_feed(im, csv, strlen(csv)), CX_OK);
	assert_int_equal(cxi_csvimp_finish(im), CX_OK);
	cxi_csv_counts c = *cxi_csvimp_counts(im);
	cxi_csvimp_free(im);
	return (c);
}

static json_t *
list(const char *account, const char *cmp_id, const char *status,
    const char *tag, const char *cursor, int limit)
{
	json_t *page = NULL;
	char why[256] = "";
	EXPECT(CX_OK, cxi_lead_list(&rig_db, account, cmp_id, status, tag,
	    cursor, limit, &page, why, sizeof(why)));
	return (page);
}

#define ITEMS(p) json_object_get((p), "items")

static void
test_sink_duplicates(void **state)
{
	(void) state;
	static const char a[] = "phone,name,tags\n"
	    "4155550101,A,\"vip|50%_off\"\n"
	    "4155550102,B,vip\n"
	    "(415) 555-0101,A again,\n"      /* same as row 1, same batch */
	    "4155550103,C,\"a\"\"b,vipx\"\n"
	    "4155550104,D,\"VIP,east\"\n";
	cxi_csv_counts c = import(ID(acct), ID(cmp), a);
	assert_int_equal(c.imported, 4);
	assert_int_equal(c.skipped, 1);
	/* A second file: two numbers already stored, one new; another
	 * account may hold the same number. */
	static const char b[] = "phone\n4155550102\n4155550104\n4155550105\n";
	c = import(ID(acct), NULL, b);
	assert_int_equal(c.imported, 1);
	assert_int_equal(c.skipped, 2);
	c = import(ID(other), NULL, b);
	assert_int_equal(c.imported, 3);
	assert_int_equal(c.skipped, 0);

	json_t *p = list(ID(acct), NULL, NULL, NULL, NULL, 0);
	assert_int_equal(json_array_size(ITEMS(p)), 5);
	/* Within one import the file's order is kept. */
	json_t *first = NULL;
	size_t i;
	json_t *it;
	const char *order[] = {"+14155550101", "+14155550102", "+14155550103",
	    "+14155550104"};
	size_t k = 0;
	json_array_foreach (ITEMS(p), i, it) {
		if (k < 4 && strcmp(STR(it, "phone_e164"), order[k]) == 0) {
			first = k == 0 ? it : first;
			k++;
		}
	}
	assert_int_equal(k, 4);
	assert_non_null(first);
	assert_string_equal(STR(first, "status"), "new");
	assert_non_null(STR(first, "campaign_id"));
	assert_string_equal(STR(first, "campaign_id"), ID(cmp));
	assert_non_null(STR(first, "name"));
	assert_string_equal(STR(first, "name"), "A");
	json_decref(p);
}

static void
test_filters_and_cursor(void **state)
{
	(void) state;
	json_t *p = list(ID(acct), NULL, NULL, "vip", NULL, 0);
	/* vip: rows A, B and D (stored lower-cased); not "vipx". */
	assert_int_equal(json_array_size(ITEMS(p)), 3);
	json_decref(p);
	p = list(ID(acct), NULL, NULL, "VIP", NULL, 0);
	assert_int_equal(json_array_size(ITEMS(p)), 3);
	json_decref(p);
	/* LIKE wildcards in a tag are literal. */
	p = list(ID(acct), NULL, NULL, "50%_off", NULL, 0);
	assert_int_equal(json_array_size(ITEMS(p)), 1);
	json_decref(p);
	p = list(ID(acct), NULL, NULL, "50%", NULL, 0);
	assert_int_equal(json_array_size(ITEMS(p)), 0);
	json_decref(p);
	p = list(ID(acct), NULL, NULL, "a\"b", NULL, 0);
	assert_int_equal(json_array_size(ITEMS(p)), 1);
	json_decref(p);
	p = list(ID(acct), NULL, NULL, "east", NULL, 0);
	assert_int_equal(json_array_size(ITEMS(p)), 1);
	json_decref(p);
	p = list(ID(acct), ID(cmp), NULL, NULL, NULL, 0);
	assert_int_equal(json_array_size(ITEMS(p)), 4);
	json_decref(p);
	p = list(ID(acct), ID(cmp), "new", "vip", NULL, 0);
	assert_int_equal(json_array_size(ITEMS(p)), 3);
	json_decref(p);
	/* 4155550105 came without a campaign. */
	p = list(ID(acct), NULL, NULL, NULL, NULL, 0);
	size_t i;
	json_t *it;
	int found = 0;
	json_array_foreach (ITEMS(p), i, it) {
		if (strcmp(STR(it, "phone_e164"), "+14155550105") == 0) {
			assert_true(json_is_null(json_object_get(it,
			    "campaign_id")));
			found++;
		}
	}
	assert_int_equal(found, 1);
	json_decref(p);
	p = list(ID(acct), NULL, "retry", NULL, NULL, 0);
	assert_int_equal(json_array_size(ITEMS(p)), 0);
	json_decref(p);
	/* The other account sees only its own. */
	p = list(ID(other), NULL, NULL, "vip", NULL, 0);
	assert_int_equal(json_array_size(ITEMS(p)), 0);
	json_decref(p);

	/* Pages of 2 walk all 5 exactly once. */
	json_t *seen = json_object();
	char *cursor = NULL;
	int pages = 0;
	do {
		p = list(ID(acct), NULL, NULL, NULL, cursor, 2);
		free(cursor);
		cursor = NULL;
		size_t i;
		json_t *it;
		json_array_foreach (ITEMS(p), i, it) {
			assert_null(json_object_get(seen, ID(it)));
			json_object_set_new(seen, ID(it), json_true());
		}
		const char *n = json_string_value(json_object_get(p,
		    "next_cursor"));
		cursor = n != NULL ? strdup(n) : NULL;
		json_decref(p);
		pages++;
	} while (cursor != NULL);
	assert_int_equal(json_object_size(seen), 5);
	assert_int_equal(pages, 3);
	json_decref(seen);

	json_t *bad = NULL;
	char why[256] = "";
	EXPECT(CX_EINVAL, cxi_lead_list(&rig_db, ID(acct), NULL, NULL, NULL,
	    "not-a-cursor!", 0, &bad, why, sizeof(why)));
}

int
main(int argc, char **argv)
{
	so_path = argc > 1 ? argv[1] : getenv("CALLIXO_TEST_STORAGE_SO");
	settings = argc > 2 ? argv[2] : getenv("CALLIXO_TEST_STORAGE_SETTINGS");
	if (so_path == NULL) {
		fprintf(stderr, "usage: test_leads_db plugin.so [settings]\n");
		return (2);
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sink_duplicates),
	    cmocka_unit_test(test_filters_and_cursor),
	};
	return (cmocka_run_group_tests(tests, setup, teardown));
}
