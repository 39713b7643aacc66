/*
 * test_phonezone.c - the shipped conf/phone-zones.tsv (every zone exists,
 * longest prefix wins, NANP area codes, the documented country picks) and
 * the loader's file:line errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phonezone.h"

static cxi_phonezones *shipped;

static int
setup(void **state)
{
	(void) state;
	char path[1024], why[512] = "";
	const char *src = getenv("CALLIXO_SOURCE_ROOT");
	snprintf(path, sizeof(path), "%s/conf/phone-zones.tsv",
	    src != NULL ? src : ".");
	if (cxi_phonezones_load(path, &shipped, why, sizeof(why)) != CX_OK) {
		fprintf(stderr, "cannot load %s: %s\n", path, why);
		return (-1);
	}
	return (0);
}

static int
teardown(void **state)
{
	(void) state;
	cxi_phonezones_free(shipped);
	return (0);
}

#define ZONE(num, want) \
	assert_string_equal(cxi_phonezones_lookup(shipped, (num)), (want))

static void
test_nanp(void **state)
{
	(void) state;
	ZONE("+12125550100", "America/New_York");   /* 212 Manhattan */
	ZONE("+14155552671", "America/Los_Angeles"); /* 415 San Francisco */
	ZONE("+18085550123", "Pacific/Honolulu");    /* 808 Hawaii */
	ZONE("+13125550100", "America/Chicago");     /* 312 Chicago */
	ZONE("+13035550100", "America/Denver");      /* 303 Denver */
	ZONE("+16025550100", "America/Phoenix");     /* 602 Arizona: no DST */
	ZONE("+19075550100", "America/Anchorage");   /* 907 Alaska */
	ZONE("+14165550199", "America/Toronto");     /* 416 Toronto */
	ZONE("+13065550100", "America/Regina");      /* 306 Saskatchewan */
	ZONE("+17875550100", "America/Puerto_Rico"); /* 787 */
	/* An area code opened after the source data: the +1 default. */
	ZONE("+13505550100", "America/New_York");
}

static void
test_countries(void **state)
{
	(void) state;
	ZONE("+442079460958", "Europe/London");
	ZONE("+441534123456", "Europe/Jersey");     /* finer prefix wins */
	ZONE("+4930901820", "Europe/Berlin");
	ZONE("+33142685300", "Europe/Paris");
	/* +61: Sydney for the country and mobiles; Perth, Brisbane,
	 * Adelaide by area code. */
	ZONE("+61412345678", "Australia/Sydney");
	ZONE("+61293744000", "Australia/Sydney");
	ZONE("+61892223333", "Australia/Perth");
	ZONE("+61733334444", "Australia/Brisbane");
	ZONE("+61882223333", "Australia/Adelaide");
	ZONE("+79161234567", "Europe/Moscow");     /* Russian mobile */
	ZONE("+74232123456", "Asia/Vladivostok");
	ZONE("+77012345678", "Asia/Almaty");       /* Kazakh mobile */
	ZONE("+5511912345678", "America/Sao_Paulo");
	ZONE("+559281234567", "America/Manaus");
	ZONE("+529981234567", "America/Cancun");
	ZONE("+81312345678", "Asia/Tokyo");
	ZONE("+919812345678", "Asia/Kolkata");
	assert_null(cxi_phonezones_lookup(shipped, "+80012345678"));
	assert_null(cxi_phonezones_lookup(shipped, "4930901820"));
	assert_null(cxi_phonezones_lookup(NULL, "+4930901820"));
	assert_true(cxi_phonezones_count(shipped) > 600);
}

static void
expect_err(const char *text, const char *part)
{
	cxi_phonezones *z = NULL;
	char why[512] = "";
	cx_err rv = cxi_phonezones_parse("t.tsv", text, strlen(text), &z, why,
	    sizeof(why));
	if (rv == CX_OK) {
		cxi_phonezones_free(z);
		fail_msg("accepted: %s", text);
	}
	assert_null(z);
	if (strstr(why, part) == NULL) {
		fail_msg("'%s' lacks '%s'", why, part);
	}
}

static void
test_loader(void **state)
{
	(void) state;
	cxi_phonezones *z = NULL;
	char why[256] = "";
	const char *ok = "# comment\n\n+1\tAmerica/New_York\r\n"
	    "+1808 Pacific/Honolulu   # trailing comment\n";
	assert_int_equal(cxi_phonezones_parse("t.tsv", ok, strlen(ok), &z, why,
	                     sizeof(why)), CX_OK);
	assert_int_equal(cxi_phonezones_count(z), 2);
	assert_string_equal(cxi_phonezones_lookup(z, "+18085550123"),
	    "Pacific/Honolulu");
	assert_string_equal(cxi_phonezones_lookup(z, "+18"),
	    "America/New_York");
	cxi_phonezones_free(z);

	expect_err("+1\tAmerica/New_York\n+1\tEurope/Berlin\n",
	    "t.tsv:2: prefix +1 was already given at line 1");
	expect_err("\n\n+49\tEurope/Berlinn\n", "t.tsv:3: unknown time zone "
	    "'Europe/Berlinn'");
	expect_err("49\tEurope/Berlin\n", "t.tsv:1: expected +<digits>");
	expect_err("+049\tEurope/Berlin\n", "t.tsv:1: the prefix");
	expect_err("+1234567890123456\tEurope/Berlin\n", "t.tsv:1: the prefix");
	expect_err("+49\n", "t.tsv:1: expected a tab");
	expect_err("+49\tEurope/Berlin extra\n", "t.tsv:1: unexpected text");
	expect_err("+49\t../../etc/passwd\n", "t.tsv:1: unknown time zone");
	expect_err("# only comments\n", "no prefixes");
	assert_int_equal(cxi_phonezones_load("/nonexistent/zones.tsv", &z, why,
	                     sizeof(why)), CX_ENOENT);
	assert_non_null(strstr(why, "/nonexistent/zones.tsv"));
}

static void
test_tz_exists(void **state)
{
	(void) state;
	assert_true(cxi_tz_exists("Europe/Berlin"));
	assert_true(cxi_tz_exists("UTC"));
	assert_true(cxi_tz_exists("America/Argentina/Buenos_Aires"));
	assert_false(cxi_tz_exists("Europe/Nowhere"));
	assert_false(cxi_tz_exists("Europe"));        /* a directory */
	assert_false(cxi_tz_exists("../zoneinfo/UTC"));
	assert_false(cxi_tz_exists("/etc/localtime"));
	assert_false(cxi_tz_exists("Europe//Berlin"));
	assert_false(cxi_tz_exists(""));
	assert_false(cxi_tz_exists(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nanp),
	    cmocka_unit_test(test_countries),
	    cmocka_unit_test(test_loader),
	    cmocka_unit_test(test_tz_exists),
	};
	return (cmocka_run_group_tests(tests, setup, teardown));
}
