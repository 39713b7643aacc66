/*
 * test_csvimport.c - the streaming CSV importer (core/csvimport.h) with
 * an in-memory sink that skips phones it has already seen, as the
 * database does: quoting, BOM, line ends, delimiters, the header rules,
 * per-row errors with their physical line, tags, metadata, time zones,
 * and that feeding in any chunk size gives the same result.
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

typedef struct mem_sink {
	json_t *rows;   /* every stored row as JSON */
	json_t *seen;   /* phone -> true */
	int calls, progress;
} mem_sink;

static cx_err
mem_store(void *arg, const cxi_csv_lead *rows, size_t n, size_t *inserted,
    char *why, size_t whylen)
{
	mem_sink *m = arg;
	(void) why;
	(void) whylen;
	m->calls++;
	*inserted = 0;
	for (size_t i = 0; i < n; i++) {
		const cxi_csv_lead *l = &rows[i];
		if (json_object_get(m->seen, l->phone) != NULL) {
			continue;
		}
		json_object_set_new(m->seen, l->phone, json_true());
		json_t *tags = json_loads(l->tags, 0, NULL);
		json_t *meta = json_loads(l->metadata, 0, NULL);
		assert_non_null(tags);
		assert_non_null(meta);
		json_array_append_new(m->rows, json_pack("{s:s, s:s?, s:s?, "
		    "s:o, s:o, s:I}", "phone", l->phone, "name", l->name,
		    "timezone", l->timezone, "tags", tags, "metadata", meta,
		    "line", (json_int_t) l->line));
		(*inserted)++;
	}
	return (CX_OK);
}

static void
on_progress(void *arg, const cxi_csv_counts *c)
{
	mem_sink *m = arg;
	(void) c;
	m->progress++;
}

static cxi_phonezones *zones;

typedef struct run {
	mem_sink m;
	cxi_csv_counts c;
	json_t *errors;
	char fatal[512];
	cx_err rv;
} run;

/* Imports `text` fed in chunks of `chunk` bytes (0: whole). */
static void
import(run *r, const char *text, size_t len, size_t chunk, size_t batch)
{
	memset(r, 0, sizeof(*r));
	r->m.rows = json_array();
	r->m.seen = json_object();
	cxi_csv_opts o = {.default_region = "US", .zones = zones,
	    .batch_rows = batch, .sink = mem_store, .sink_arg = &r->m,
	    .progress = on_progress, .progress_arg = &r->m};
	cxi_csvimp *im = cxi_csvimp_new(&o);
	assert_non_null(im);
	size_t step = chunk ? chunk : (len ? len : 1);
	cx_err rv = CX_OK;
	for (size_t at = 0; rv == CX_OK && at < len; at += step) {
		rv = cxi_csvimp_feed(im, text + at,
		    len - at < step ? len - at : step);
	}
	if (rv == CX_OK) {
		rv = cxi_csvimp_finish(im);
	}
	r->rv = rv;
	r->c = *cxi_csvimp_counts(im);
	r->errors = json_incref(cxi_csvimp_errors(im));
	snprintf(r->fatal, sizeof(r->fatal), "%s",
	    cxi_csvimp_fatal(im) ? cxi_csvimp_fatal(im) : "");
	cxi_csvimp_free(im);
}

static void
run_free(run *r)
{
	json_decref(r->m.rows);
	json_decref(r->m.seen);
	json_decref(r->errors);
}

#define ROW(r, i) json_array_get((r)->m.rows, (i))
#define S(o, k) json_string_value(json_object_get((o), (k)))
#define I(o, k) json_integer_value(json_object_get((o), (k)))

static void
assert_counts(const run *r, int64_t total, int64_t imp, int64_t skip,
    int64_t inv)
{
	if (r->c.rows_total != total || r->c.imported != imp ||
	    r->c.skipped != skip || r->c.invalid != inv) {
		char *e = json_dumps(r->errors, 0);
		fail_msg("counts %lld/%lld/%lld/%lld, want %lld/%lld/%lld/%lld "
		    "(fatal '%s', errors %s)", (long long) r->c.rows_total,
		    (long long) r->c.imported, (long long) r->c.skipped,
		    (long long) r->c.invalid, (long long) total,
		    (long long) imp, (long long) skip, (long long) inv,
		    r->fatal, e);
	}
}

/* Error i is on `line` and its reason holds `part`. */
static void
assert_error(const run *r, size_t i, int64_t line, const char *part)
{
	json_t *e = json_array_get(r->errors, i);
	assert_non_null(e);
	if (I(e, "line") != line || strstr(S(e, "reason"), part) == NULL) {
		fail_msg("error %zu: line %lld '%s', want line %lld with '%s'",
		    i, (long long) I(e, "line"), S(e, "reason"),
		    (long long) line, part);
	}
}

static void
test_quoting(void **state)
{
	(void) state;
	static const char csv[] =
	    "phone,name,notes\n"
	    "4155552671,\"Smith, \"\"Jr\"\"\",\"line one\nline two, with comma\"\n"
	    "\"+1 (212) 555-0100\",Ann,plain\n";
	run r;
	import(&r, csv, strlen(csv), 0, 0);
	assert_int_equal(r.rv, CX_OK);
	assert_counts(&r, 2, 2, 0, 0);
	assert_string_equal(S(ROW(&r, 0), "phone"), "+14155552671");
	assert_string_equal(S(ROW(&r, 0), "name"), "Smith, \"Jr\"");
	assert_string_equal(S(json_object_get(ROW(&r, 0), "metadata"),
	    "notes"), "line one\nline two, with comma");
	assert_int_equal(I(ROW(&r, 0), "line"), 2);
	/* The second record starts on physical line 4. */
	assert_int_equal(I(ROW(&r, 1), "line"), 4);
	assert_string_equal(S(ROW(&r, 1), "phone"), "+12125550100");
	run_free(&r);
}

static void
test_bom_crlf_semicolon_tab(void **state)
{
	(void) state;
	static const char bom[] = "\xEF\xBB\xBFPhone;Name;City\r\n"
	    "4155552671;Bo;\"Paris; FR\"\r\n"
	    "bad;X;Y\r\n";
	run r;
	import(&r, bom, strlen(bom), 0, 0);
	assert_counts(&r, 2, 1, 0, 1);
	assert_string_equal(S(ROW(&r, 0), "name"), "Bo");
	assert_string_equal(S(json_object_get(ROW(&r, 0), "metadata"),
	    "City"), "Paris; FR");
	assert_error(&r, 0, 3, "phone 'bad'");
	run_free(&r);

	static const char tab[] = " PHONE \tname\n+442079460958\tLiz\n";
	import(&r, tab, strlen(tab), 0, 0);
	assert_counts(&r, 1, 1, 0, 0);
	assert_string_equal(S(ROW(&r, 0), "name"), "Liz");
	assert_string_equal(S(ROW(&r, 0), "timezone"), "Europe/London");
	run_free(&r);

	/* Old Mac line ends (CR alone) count as lines too. */
	static const char cr[] = "phone\r4155552671\rnope\r";
	import(&r, cr, strlen(cr), 0, 0);
	assert_counts(&r, 2, 1, 0, 1);
	assert_error(&r, 0, 3, "nope");
	run_free(&r);
}

static void
test_header_rules(void **state)
{
	(void) state;
	run r;
	static const char nophone[] = "name,email\nAnn,a@x.org\n";
	import(&r, nophone, strlen(nophone), 0, 0);
	assert_int_equal(r.rv, CX_EINVAL);
	assert_non_null(strstr(r.fatal, "no 'phone' column"));
	assert_non_null(strstr(r.fatal, "name, email"));
	run_free(&r);

	static const char twice[] = "phone,Phone\n1,2\n";
	import(&r, twice, strlen(twice), 0, 0);
	assert_int_equal(r.rv, CX_EINVAL);
	assert_non_null(strstr(r.fatal, "appears twice"));
	run_free(&r);

	import(&r, "", 0, 0, 0);
	assert_int_equal(r.rv, CX_EINVAL);
	assert_non_null(strstr(r.fatal, "empty"));
	run_free(&r);

	static const char only[] = "phone,name\r\n";
	import(&r, only, strlen(only), 0, 0);
	assert_int_equal(r.rv, CX_OK);
	assert_counts(&r, 0, 0, 0, 0);
	run_free(&r);

	static const char emptycol[] = "phone,,x\n";
	import(&r, emptycol, strlen(emptycol), 0, 0);
	assert_int_equal(r.rv, CX_EINVAL);
	assert_non_null(strstr(r.fatal, "column 2 has an empty name"));
	run_free(&r);
}

static void
test_ragged_blank_utf8(void **state)
{
	(void) state;
	static const char csv[] =
	    "phone,name,city\n"
	    "4155552671,Ann\n"              /* short: city empty */
	    "\n"
	    ",,\n"                          /* all empty: ignored */
	    "2125550100,Bob,NY,extra\n"     /* long: invalid, line 5 */
	    "3125550100,\xC3\x28,Chi\n"     /* invalid UTF-8, line 6 */
	    "3125550101,Z\xC3\xBC,Chi\n";   /* valid UTF-8 */
	run r;
	import(&r, csv, strlen(csv), 0, 0);
	assert_int_equal(r.rv, CX_OK);
	assert_counts(&r, 4, 2, 0, 2);
	assert_string_equal(S(json_object_get(ROW(&r, 0), "metadata"),
	    "city"), "");
	assert_error(&r, 0, 5, "4 cells, the header 3");
	assert_error(&r, 1, 6, "column 'name' is not valid UTF-8");
	assert_string_equal(S(ROW(&r, 1), "name"), "Z\xC3\xBC");
	run_free(&r);
}

static void
test_phones_and_duplicates(void **state)
{
	(void) state;
	static const char csv[] =
	    "phone,notes\n"
	    "4155552671,a\n"
	    "\"(415) 555-2671\",\"same number,\nother format\"\n"
	    "12,short\n"                    /* line 5 */
	    ",no phone\n"                   /* line 6 */
	    "+49 30 901820,berlin\n"
	    "+1 111 111 1111,invalid area\n"; /* line 8 */
	run r;
	import(&r, csv, strlen(csv), 0, 0);
	assert_counts(&r, 6, 2, 1, 3);
	assert_error(&r, 0, 5, "too short");
	assert_error(&r, 1, 6, "phone is empty");
	assert_error(&r, 2, 8, "invalid for region US");
	assert_string_equal(S(ROW(&r, 1), "timezone"), "Europe/Berlin");
	run_free(&r);
}

static void
test_timezone_tags_metadata(void **state)
{
	(void) state;
	static const char csv[] =
	    "Phone,Timezone,Tags,Plan,Agent Name\n"
	    "4155552671,America/New_York,\"VIP| gold ,vip,,east\",pro,Kim\n"
	    "2125550100,,,free,\n"
	    "8085550123,Mars/Olympus,,x,\n"   /* line 4 */
	    "3035550100,  Europe/Paris ,solo,x,\n";
	run r;
	import(&r, csv, strlen(csv), 0, 0);
	assert_counts(&r, 4, 3, 0, 1);
	json_t *a = ROW(&r, 0);
	assert_string_equal(S(a, "timezone"), "America/New_York");
	json_t *tags = json_object_get(a, "tags");
	assert_int_equal(json_array_size(tags), 3);
	assert_string_equal(json_string_value(json_array_get(tags, 0)), "vip");
	assert_string_equal(json_string_value(json_array_get(tags, 1)), "gold");
	assert_string_equal(json_string_value(json_array_get(tags, 2)), "east");
	json_t *meta = json_object_get(a, "metadata");
	assert_int_equal(json_object_size(meta), 2);
	assert_string_equal(S(meta, "Plan"), "pro");
	assert_string_equal(S(meta, "Agent Name"), "Kim");
	/* No zone given: derived from 212. */
	assert_string_equal(S(ROW(&r, 1), "timezone"), "America/New_York");
	assert_int_equal(json_array_size(json_object_get(ROW(&r, 1), "tags")),
	    0);
	assert_error(&r, 0, 4, "timezone 'Mars/Olympus'");
	assert_string_equal(S(ROW(&r, 2), "timezone"), "Europe/Paris");
	run_free(&r);

	char many[2048] = "phone,tags\n4155552671,\"";
	for (int i = 0; i < 51; i++) {
		char t[8];
		snprintf(t, sizeof(t), "t%d|", i);
		strcat(many, t);
	}
	strcat(many, "\"\n");
	import(&r, many, strlen(many), 0, 0);
	assert_counts(&r, 1, 0, 0, 1);
	assert_error(&r, 0, 2, "at most 50");
	run_free(&r);
}

/* The same file in every chunk size gives the same rows and errors. */
static void
test_chunking_and_batches(void **state)
{
	(void) state;
	static const char csv[] =
	    "\xEF\xBB\xBF" "phone;name;note\r\n"
	    "4155552671;\"A;\r\nB\";\"x\"\"y\"\r\n"
	    "\r\n"
	    "bad;C;z\r\n"
	    "2125550100;D;\"multi\rline\"\r\n"
	    "2125550101;E;e\r\n"
	    "2125550100;dup;f";
	run whole;
	import(&whole, csv, strlen(csv), 0, 0);
	assert_counts(&whole, 5, 3, 1, 1);
	assert_error(&whole, 0, 5, "phone 'bad'");
	char *want = json_dumps(whole.m.rows, JSON_SORT_KEYS);
	for (size_t chunk = 1; chunk <= 9; chunk++) {
		run r;
		import(&r, csv, strlen(csv), chunk, 2);
		assert_counts(&r, 5, 3, 1, 1);
		assert_error(&r, 0, 5, "phone 'bad'");
		char *got = json_dumps(r.m.rows, JSON_SORT_KEYS);
		assert_string_equal(got, want);
		/* 4 valid rows in batches of 2. */
		assert_int_equal(r.m.calls, 2);
		assert_int_equal(r.m.progress, 2);
		free(got);
		run_free(&r);
	}
	assert_string_equal(S(ROW(&whole, 0), "name"), "A;\r\nB");
	assert_string_equal(S(json_object_get(ROW(&whole, 0), "metadata"),
	    "note"), "x\"y");
	free(want);
	run_free(&whole);
}

static void
test_error_cap(void **state)
{
	(void) state;
	size_t cap = 150 * 8 + 16;
	char *csv = malloc(cap);
	assert_non_null(csv);
	size_t o = (size_t) snprintf(csv, cap, "phone\n");
	for (int i = 0; i < 150; i++) {
		o += (size_t) snprintf(csv + o, cap - o, "x%d\n", i);
	}
	run r;
	import(&r, csv, o, 0, 0);
	assert_counts(&r, 150, 0, 0, 150);
	assert_int_equal(json_array_size(r.errors), CXI_CSV_ERRORS_MAX);
	assert_error(&r, 99, 101, "x99");
	run_free(&r);
	free(csv);
}

static int
setup(void **state)
{
	(void) state;
	static const char t[] = "+1\tAmerica/New_York\n+1415\tAmerica/"
	    "Los_Angeles\n+1808\tPacific/Honolulu\n+44\tEurope/London\n"
	    "+49\tEurope/Berlin\n";
	char why[256];
	return (cxi_phonezones_parse("t", t, strlen(t), &zones, why,
	            sizeof(why)) == CX_OK ? 0 : -1);
}

static int
teardown(void **state)
{
	(void) state;
	cxi_phonezones_free(zones);
	return (0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quoting),
	    cmocka_unit_test(test_bom_crlf_semicolon_tab),
	    cmocka_unit_test(test_header_rules),
	    cmocka_unit_test(test_ragged_blank_utf8),
	    cmocka_unit_test(test_phones_and_duplicates),
	    cmocka_unit_test(test_timezone_tags_metadata),
	    cmocka_unit_test(test_chunking_and_batches),
	    cmocka_unit_test(test_error_cap),
	};
	return (cmocka_run_group_tests(tests, setup, teardown));
}
