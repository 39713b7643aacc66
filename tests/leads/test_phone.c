/*
 * test_phone.c - phone normalization through the libphonenumber shim
 * (core/phone.h): E.164 out, the number's region, and a reason for every
 * refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "phone.h"

static void
expect_ok(const char *raw, const char *def, const char *want,
    const char *want_region)
{
	char e164[CXI_E164_MAX], region[3], why[160] = "";
	int rv = cxi_phone_normalize(raw, def, e164, sizeof(e164), region, why,
	    sizeof(why));
	if (rv != 0) {
		fail_msg("'%s' (%s): refused: %s", raw, def ? def : "-", why);
	}
	assert_string_equal(e164, want);
	assert_string_equal(region, want_region);
}

static void
expect_bad(const char *raw, const char *def, const char *why_part)
{
	char e164[CXI_E164_MAX], region[3], why[160] = "";
	int rv = cxi_phone_normalize(raw, def, e164, sizeof(e164), region, why,
	    sizeof(why));
	if (rv == 0) {
		fail_msg("'%s' (%s) accepted as %s", raw, def ? def : "-", e164);
	}
	if (strstr(why, why_part) == NULL) {
		fail_msg("'%s': reason '%s' lacks '%s'", raw, why, why_part);
	}
}

static void
test_national_and_international(void **state)
{
	(void) state;
	expect_ok("(415) 555-2671", "US", "+14155552671", "US");
	expect_ok("415.555.2671", "us", "+14155552671", "US");
	expect_ok("+1 212 555 0100", "DE", "+12125550100", "US");
	expect_ok("030 901820", "DE", "+4930901820", "DE");
	expect_ok("0044 20 7946 0958", "DE", "+442079460958", "GB");
	/* 00 is not the international prefix from the US (011 is). */
	expect_ok("011 49 30 901820", "US", "+4930901820", "DE");
	expect_ok("+44 20 7946 0958", NULL, "+442079460958", "GB");
	expect_ok("020 7946 0958", "GB", "+442079460958", "GB");
	expect_ok("+61 2 9374 4000", "US", "+61293744000", "AU");
	expect_ok("  +33 1 42 68 53 00  ", "US", "+33142685300", "FR");
	/* Toronto is NANP too, but its own region. */
	expect_ok("416-555-0199", "US", "+14165550199", "CA");
}

static void
test_refusals(void **state)
{
	(void) state;
	expect_bad("", "US", "empty");
	expect_bad("hello", "US", "not a phone number");
	expect_bad("12", "US", "too short");
	expect_bad("+1 415 555 26711234567", "US", "too long");
	expect_bad("415 555 2671", NULL, "no +country code");
	expect_bad("+999 1234 5678", "US", "country code");
	/* 0 is not a valid first digit of a German subscriber number after
	 * the trunk prefix is gone; the reason names the region. */
	expect_bad("+49 0000 000", "US", "DE");
	expect_bad("+1 111 111 1111", "US", "US");
	char big[200];
	memset(big, '5', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect_bad(big, "US", "too long");
}

static void
test_regions(void **state)
{
	(void) state;
	assert_true(cxi_phone_region_ok("US"));
	assert_true(cxi_phone_region_ok("de"));
	assert_false(cxi_phone_region_ok("XX"));
	assert_false(cxi_phone_region_ok("USA"));
	assert_false(cxi_phone_region_ok(""));
	assert_false(cxi_phone_region_ok(NULL));
	/* An unknown default region only parses +... numbers. */
	expect_ok("+14155552671", "XX", "+14155552671", "US");
	expect_bad("4155552671", "XX", "no +country code");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_national_and_international),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_regions),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
