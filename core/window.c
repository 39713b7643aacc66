/*
 * window.c - calling windows on ICU's C calendar API (window.h).
 *
 * next_open never steps time forward minute by minute: it converts each
 * window's local start on each of the next eight local days to an
 * instant (both readings of a repeated wall time, the skipped one moved
 * to the next valid instant) and keeps the earliest that is not in the
 * past and really is inside the windows.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "window.h"

int
cxi_weekday_bit(const char *name)
{
	static const char *const days[] = {"sun", "mon", "tue", "wed", "thu",
	    "fri", "sat"};
	static const char *const full[] = {"sunday", "monday", "tuesday",
	    "wednesday", "thursday", "friday", "saturday"};
	for (int i = 0; name != NULL && i < 7; i++) {
		if (strcasecmp(name, days[i]) == 0 ||
		    strcasecmp(name, full[i]) == 0) {
			return (i);
		}
	}
	return (-1);
}

/* Zone names are Area/Location[/More] made of letters, digits, '_',
 * '-', '+': never a path that leaves the tz directory. */
static bool
zone_shape_ok(const char *z)
{
	size_t n = strlen(z);
	if (n == 0 || n >= CXI_TZ_MAX || !isalpha((unsigned char) z[0]) ||
	    strstr(z, "..") != NULL || z[n - 1] == '/') {
		return (false);
	}
	for (const char *p = z; *p; p++) {
		if (!isalnum((unsigned char) *p) && strchr("/_-+", *p) == NULL) {
			return (false);
		}
	}
	return (true);
}

static UCalendar *
cal_open(const char *zone)
{
	UChar uz[CXI_TZ_MAX];
	UErrorCode st = U_ZERO_ERROR;
	if (zone == NULL || !zone_shape_ok(zone)) {
		return (NULL);
	}
	u_uastrncpy(uz, zone, CXI_TZ_MAX - 1);
	uz[CXI_TZ_MAX - 1] = 0;
	/* An unknown id silently becomes "Etc/Unknown" (GMT): check that
	 * ICU resolved the name we gave. */
	UChar canon[CXI_TZ_MAX];
	UBool sys = 0;
	ucal_getCanonicalTimeZoneID(uz, -1, canon, CXI_TZ_MAX, &sys, &st);
	if (U_FAILURE(st) || !sys) {
		return (NULL);
	}
	st = U_ZERO_ERROR;
	UCalendar *c = ucal_open(uz, -1, "en_US_POSIX", UCAL_GREGORIAN, &st);
	if (U_FAILURE(st)) {
		if (c != NULL) {
			ucal_close(c);
		}
		return (NULL);
	}
	return (c);
}

bool
cxi_tz_valid(const char *zone)
{
	if (zone == NULL || !zone_shape_ok(zone)) {
		return (false);
	}
	UCalendar *c = cal_open(zone);
	if (c == NULL) {
		return (false);
	}
	ucal_close(c);
	const char *dir = getenv("TZDIR");
	char path[256];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/%s", dir != NULL && dir[0] != '\0' ?
	    dir : "/usr/share/zoneinfo", zone);
	return (stat(path, &sb) == 0 && S_ISREG(sb.st_mode));
}

/* Local weekday bit and minute of the day of `ms`. */
static int
local_at(UCalendar *c, int64_t ms, int *wbit, int *minute)
{
	UErrorCode st = U_ZERO_ERROR;
	ucal_setMillis(c, (UDate) ms, &st);
	int dow = ucal_get(c, UCAL_DAY_OF_WEEK, &st);
	int h = ucal_get(c, UCAL_HOUR_OF_DAY, &st);
	int m = ucal_get(c, UCAL_MINUTE, &st);
	if (U_FAILURE(st)) {
		return (-1);
	}
	*wbit = dow - UCAL_SUNDAY;
	*minute = h * 60 + m;
	return (0);
}

static bool
inside(const cxi_windows *w, int wbit, int minute)
{
	if (w->weekdays != 0 && (w->weekdays & (1u << wbit)) == 0) {
		return (false);
	}
	if (w->n == 0) {
		return (true);
	}
	for (size_t i = 0; i < w->n; i++) {
		if (minute >= w->w[i].start_minute &&
		    minute < w->w[i].end_minute) {
			return (true);
		}
	}
	return (false);
}

static int
open_at(UCalendar *c, const cxi_windows *w, int64_t ms, bool *open)
{
	int wbit, minute;
	if (local_at(c, ms, &wbit, &minute) != 0) {
		return (-1);
	}
	*open = inside(w, wbit, minute);
	return (0);
}

cx_err
cxi_window_is_open(const cxi_windows *w, const char *zone, int64_t now_ms,
    bool *open)
{
	UCalendar *c = cal_open(zone);
	if (c == NULL) {
		return (CX_EINVAL);
	}
	int rv = open_at(c, w, now_ms, open);
	ucal_close(c);
	return (rv == 0 ? CX_OK : CX_EINVAL);
}

/* The instant of local y-m-d (day may overflow: lenient) at `minute`,
 * with a repeated wall time read as its `rep` occurrence. */
static int
wall_to_ms(UCalendar *c, int y, int mon, int d, int minute,
    UCalendarWallTimeOption rep, int64_t *out)
{
	UErrorCode st = U_ZERO_ERROR;
	ucal_setAttribute(c, UCAL_REPEATED_WALL_TIME, rep);
	ucal_setAttribute(c, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
	ucal_clear(c);
	ucal_setDateTime(c, y, mon, d, minute / 60, minute % 60, 0, &st);
	UDate ms = ucal_getMillis(c, &st);
	if (U_FAILURE(st)) {
		return (-1);
	}
	*out = (int64_t) ms;
	return (0);
}

cx_err
cxi_window_next_open(const cxi_windows *w, const char *zone, int64_t now_ms,
    int64_t *next_ms)
{
	static const cxi_window all_day = {0, CXI_DAY_MINUTES};
	UCalendar *c = cal_open(zone);
	if (c == NULL) {
		return (CX_EINVAL);
	}
	bool open = false;
	cx_err rv = CX_ENOENT;
	UErrorCode st = U_ZERO_ERROR;
	if (open_at(c, w, now_ms, &open) != 0) {
		rv = CX_EINVAL;
		goto out;
	}
	if (open) {
		*next_ms = now_ms;
		rv = CX_OK;
		goto out;
	}
	ucal_setMillis(c, (UDate) now_ms, &st);
	int y = ucal_get(c, UCAL_YEAR, &st);
	int mon = ucal_get(c, UCAL_MONTH, &st);
	int d = ucal_get(c, UCAL_DATE, &st);
	if (U_FAILURE(st)) {
		rv = CX_EINVAL;
		goto out;
	}
	int64_t best = 0;
	size_t nw = w->n == 0 ? 1 : w->n;
	/* Eight days: today, and a full week after it. */
	for (int k = 0; k <= 8; k++) {
		for (size_t i = 0; i < nw; i++) {
			const cxi_window *win = w->n == 0 ? &all_day : &w->w[i];
			static const UCalendarWallTimeOption reps[] = {
			    UCAL_WALLTIME_FIRST, UCAL_WALLTIME_LAST};
			for (size_t r = 0; r < 2; r++) {
				int64_t t;
				bool in = false;
				if (wall_to_ms(c, y, mon, d + k,
				        win->start_minute, reps[r], &t) != 0 ||
				    open_at(c, w, t, &in) != 0) {
					rv = CX_EINVAL;
					goto out;
				}
				if (t >= now_ms && in &&
				    (rv != CX_OK || t < best)) {
					best = t;
					rv = CX_OK;
				}
			}
		}
		if (rv == CX_OK) {
			break; /* later days only start later */
		}
	}
	if (rv == CX_OK) {
		*next_ms = best;
	}
out:
	ucal_close(c);
	return (rv);
}
