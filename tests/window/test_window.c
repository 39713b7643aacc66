/*
 * test_window.c - calling windows (core/window.c) at fixed instants,
 * with the expected values taken from the tz database (Python's
 * zoneinfo): spring-forward gaps and the repeated fall-back hour in
 * America/New_York and Europe/Berlin, a half-hour zone (Asia/Kolkata),
 * weekdays, and zone names that must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "window.h"

#define NY "America/New_York"
#define BER "Europe/Berlin"
#define KOL "Asia/Kolkata"
#define MIN 60000LL

static cxi_windows
win(int s, int e, unsigned days)
{
	cxi_windows w = {.n = 1, .weekdays = days};
	w.w[0].start_minute = s;
	w.w[0].end_minute = e;
	return (w);
}

static bool
is_open(const cxi_windows *w, const char *zone, int64_t t)
{
	bool open = false;
	assert_int_equal(cxi_window_is_open(w, zone, t, &open), CX_OK);
	return (open);
}

static int64_t
next_open(const cxi_windows *w, const char *zone, int64_t t)
{
	int64_t n = -1;
	assert_int_equal(cxi_window_next_open(w, zone, t, &n), CX_OK);
	return (n);
}

#define MON_FRI 0x3eu

static void
test_business_hours(void **state)
{
	(void) state;
	cxi_windows w = win(540, 1020, MON_FRI);
	/* Monday 2024-03-11 08:59 EDT, then 09:00. */
	assert_false(is_open(&w, NY, 1710161940000LL));
	assert_true(is_open(&w, NY, 1710162000000LL));
	assert_int_equal(next_open(&w, NY, 1710161940000LL), 1710162000000LL);
	/* Open: next_open is now. */
	assert_int_equal(next_open(&w, NY, 1710162000000LL + 5 * MIN),
	    1710162000000LL + 5 * MIN);
	/* 17:00 is the exclusive end. */
	assert_true(is_open(&w, NY, 1710162000000LL + 8 * 60 * MIN - 1));
	assert_false(is_open(&w, NY, 1710162000000LL + 8 * 60 * MIN));
}

static void
test_weekend_skipped(void **state)
{
	(void) state;
	cxi_windows w = win(540, 1020, MON_FRI);
	/* Saturday 2024-03-16 10:00 EDT: closed until Monday 09:00. */
	assert_false(is_open(&w, NY, 1710597600000LL));
	assert_int_equal(next_open(&w, NY, 1710597600000LL), 1710766800000LL);
	/* All day on weekends only. */
	cxi_windows we = {.n = 0, .weekdays = 0x41u};
	assert_true(is_open(&we, NY, 1710597600000LL));
	assert_false(is_open(&we, NY, 1710162000000LL));
}

static void
test_spring_forward_new_york(void **state)
{
	(void) state;
	/* 2024-03-10: 02:00 EST jumps to 03:00 EDT. A window from 02:00
	 * opens at the first real instant after the gap. */
	cxi_windows w = win(120, 240, 0);
	assert_false(is_open(&w, NY, 1710053940000LL)); /* 01:59 EST */
	assert_int_equal(next_open(&w, NY, 1710053940000LL), 1710054000000LL);
	assert_true(is_open(&w, NY, 1710054000000LL));  /* 03:00 EDT */
	/* A window wholly inside the gap does not exist that day. */
	cxi_windows gap = win(150, 170, 0);
	assert_int_equal(next_open(&gap, NY, 1710053940000LL),
	    1710138600000LL); /* 2024-03-11 02:30 EDT */
}

static void
test_fall_back_new_york(void **state)
{
	(void) state;
	/* 2024-11-03: 01:00-02:00 happens twice (EDT, then EST). */
	cxi_windows w = win(90, 100, 0);
	assert_true(is_open(&w, NY, 1730612100000LL));  /* 01:35 EDT */
	assert_true(is_open(&w, NY, 1730615700000LL));  /* 01:35 EST */
	/* 01:45 EDT, after the first 01:30-01:40: it opens again an hour
	 * later, at 01:30 EST, not the next day. */
	assert_false(is_open(&w, NY, 1730612700000LL));
	assert_int_equal(next_open(&w, NY, 1730612700000LL), 1730615400000LL);
}

static void
test_spring_forward_berlin(void **state)
{
	(void) state;
	/* 2024-03-31: 02:00 CET jumps to 03:00 CEST. From 01:00 CET. */
	cxi_windows gap = win(120, 180, 0);
	assert_int_equal(next_open(&gap, BER, 1711843200000LL),
	    1711929600000LL); /* 2024-04-01 02:00 CEST */
	cxi_windows w = win(150, 240, 0);
	assert_int_equal(next_open(&w, BER, 1711843200000LL),
	    1711846800000LL); /* 03:00 CEST */
}

static void
test_half_hour_zone(void **state)
{
	(void) state;
	cxi_windows w = win(540, 1020, 0);
	/* Monday 2024-06-03 08:59 IST = 03:29Z. */
	assert_false(is_open(&w, KOL, 1717385340000LL));
	assert_true(is_open(&w, KOL, 1717385400000LL));
	assert_int_equal(next_open(&w, KOL, 1717385340000LL), 1717385400000LL);
	/* The same instant is inside 9-17 in UTC only after 09:00Z. */
	assert_false(is_open(&w, "UTC", 1717385400000LL));
}

static void
test_several_windows(void **state)
{
	(void) state;
	cxi_windows w = {.n = 2};
	w.w[0] = (cxi_window){540, 720};   /* 09-12 */
	w.w[1] = (cxi_window){840, 1080};  /* 14-18 */
	/* 2024-03-11 12:30 EDT: closed, next 14:00. */
	int64_t t = 1710162000000LL + 210 * MIN;
	assert_false(is_open(&w, NY, t));
	assert_int_equal(next_open(&w, NY, t), 1710162000000LL + 300 * MIN);
}

static void
test_zone_names(void **state)
{
	(void) state;
	cxi_windows w = win(540, 1020, 0);
	bool open;
	int64_t n;
	assert_true(cxi_tz_valid(NY));
	assert_true(cxi_tz_valid(KOL));
	assert_true(cxi_tz_valid("UTC"));
	assert_false(cxi_tz_valid("Mars/Olympus_Mons"));
	assert_false(cxi_tz_valid("../../etc/passwd"));
	assert_false(cxi_tz_valid("America/New_York "));
	assert_false(cxi_tz_valid(""));
	assert_false(cxi_tz_valid(NULL));
	assert_int_equal(cxi_window_is_open(&w, "Mars/Olympus_Mons", 0, &open),
	    CX_EINVAL);
	assert_int_equal(cxi_window_next_open(&w, "Nowhere", 0, &n),
	    CX_EINVAL);
}

static void
test_weekday_names(void **state)
{
	(void) state;
	assert_int_equal(cxi_weekday_bit("sun"), 0);
	assert_int_equal(cxi_weekday_bit("Mon"), 1);
	assert_int_equal(cxi_weekday_bit("saturday"), 6);
	assert_int_equal(cxi_weekday_bit("funday"), -1);
	assert_int_equal(cxi_weekday_bit(NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_business_hours),
	    cmocka_unit_test(test_weekend_skipped),
	    cmocka_unit_test(test_spring_forward_new_york),
	    cmocka_unit_test(test_fall_back_new_york),
	    cmocka_unit_test(test_spring_forward_berlin),
	    cmocka_unit_test(test_half_hour_zone),
	    cmocka_unit_test(test_several_windows),
	    cmocka_unit_test(test_zone_names),
	    cmocka_unit_test(test_weekday_names),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
