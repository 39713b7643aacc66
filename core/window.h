/*
 * window.h - calling windows: when a lead may be called, in the lead's
 * own time zone.
 *
 * A window set is a list of [start_minute, end_minute) ranges of local
 * wall-clock time since midnight (0..1440) plus the weekdays they apply
 * on. An instant is inside the set when its local weekday is one of the
 * days and its local minute of the day falls in a range. Local time
 * comes from ICU's calendar (ucal_*) on the named IANA zone, so DST is
 * exact: a range in the spring-forward gap opens at the first valid
 * instant after it, and the repeated fall-back hour is open both times
 * it occurs.
 */
#ifndef CXI_WINDOW_H
#define CXI_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <callixo/error.h>

#define CXI_WINDOWS_MAX 16
#define CXI_TZ_MAX 64
#define CXI_DAY_MINUTES 1440

typedef struct cxi_window {
	int start_minute; /* 0..1439 */
	int end_minute;   /* start+1..1440, exclusive */
} cxi_window;

typedef struct cxi_windows {
	cxi_window w[CXI_WINDOWS_MAX];
	size_t n;          /* 0: all day */
	unsigned weekdays; /* bit 0 Sunday .. bit 6 Saturday; 0: every day */
} cxi_windows;

/* "mon".."sun" (also full names, any case) -> bit; -1 if unknown. */
int cxi_weekday_bit(const char *name);

/* Whether `zone` is an IANA zone ICU knows and the system tz database
 * (/usr/share/zoneinfo, or $TZDIR) has a file for. */
bool cxi_tz_valid(const char *zone);

/* *open: `now_ms` is inside the windows in `zone`. CX_EINVAL for an
 * unknown zone. */
cx_err cxi_window_is_open(const cxi_windows *w, const char *zone,
    int64_t now_ms, bool *open);

/* The first instant >= now_ms inside the windows (now_ms itself when
 * open). CX_ENOENT when the set never opens (no valid day), CX_EINVAL
 * for an unknown zone. */
cx_err cxi_window_next_open(const cxi_windows *w, const char *zone,
    int64_t now_ms, int64_t *next_ms);

#endif
