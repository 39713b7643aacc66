/*
 * log.c - structured log lines (logfmt or JSON) on stderr.
 *
 * A line is built whole in a local buffer and written with one write(2),
 * so lines from concurrent threads and from plugin-host children sharing
 * our stderr never interleave.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static _Atomic int log_min = CX_LOG_INFO;
static _Atomic int log_fmt = CXI_LOG_LOGFMT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
cxi_log_setup(cx_log_level min, cxi_log_format fmt)
{
	atomic_store(&log_min, (int) min);
	atomic_store(&log_fmt, (int) fmt);
}

int
cxi_log_level_parse(const char *s, cx_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (cx_log_level) i;
			return (0);
		}
	}
	return (-1);
}

typedef struct line {
	char buf[4096];
	size_t len;
} line;

static void
put(line *l, const char *s, size_t n)
{
	/* Keep room for the newline; truncate rather than split a line. */
	if (l->len + n > sizeof(l->buf) - 2) {
		n = sizeof(l->buf) - 2 - l->len;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void
puts_(line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* Escapes a value. Control characters become \n, \t or \u00XX, so no value
 * can start a forged line of its own. */
static void
put_escaped(line *l, const char *v)
{
	char tmp[8];
	for (const unsigned char *p = (const unsigned char *) v; *p; p++) {
		switch (*p) {
		case '"':
			puts_(l, "\\\"");
			break;
		case '\\':
			puts_(l, "\\\\");
			break;
		case '\n':
			puts_(l, "\\n");
			break;
		case '\r':
			puts_(l, "\\r");
			break;
		case '\t':
			puts_(l, "\\t");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
				puts_(l, tmp);
			} else {
				put(l, (const char *) p, 1);
			}
		}
	}
}

static bool
needs_quotes(const char *v)
{
	if (*v == '\0') {
		return (true);
	}
	for (const unsigned char *p = (const unsigned char *) v; *p; p++) {
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		    *p == 0x7f) {
			return (true);
		}
	}
	return (false);
}

static void
put_kv(line *l, const char *k, const char *v, bool json)
{
	if (json) {
		puts_(l, l->len > 1 ? ",\"" : "\"");
		put_escaped(l, k);
		puts_(l, "\":\"");
		put_escaped(l, v);
		puts_(l, "\"");
		return;
	}
	if (l->len > 0) {
		puts_(l, " ");
	}
	puts_(l, k);
	puts_(l, "=");
	if (needs_quotes(v)) {
		puts_(l, "\"");
		put_escaped(l, v);
		puts_(l, "\"");
	} else {
		puts_(l, v);
	}
}

void
cxi_log_line(cx_log_level lvl, const char *tag, const char *who,
    const char *msg, const char *const *kv)
{
	if ((int) lvl < atomic_load(&log_min)) {
		return;
	}
	bool json = atomic_load(&log_fmt) == CXI_LOG_JSON;
	struct timespec ts;
	struct tm tm;
	char when[96];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

	line l = {.len = 0};
	if (json) {
		puts_(&l, "{");
	}
	put_kv(&l, "time", when, json);
	put_kv(&l, "level", level_names[lvl < 0 || lvl > 3 ? 1 : lvl], json);
	put_kv(&l, tag, who, json);
	put_kv(&l, "msg", msg, json);
	for (size_t i = 0; kv != NULL && kv[i] != NULL && kv[i + 1] != NULL;
	     i += 2) {
		put_kv(&l, kv[i], kv[i + 1], json);
	}
	if (json) {
		puts_(&l, "}");
	}
	l.buf[l.len++] = '\n';
	/* stderr may be a closed pipe; there is nowhere to report that. */
	ssize_t rv = write(STDERR_FILENO, l.buf, l.len);
	(void) rv;
}

void
cxi_logv(cx_log_level lvl, const char *tag, const char *who, const char *fmt,
    va_list ap)
{
	if ((int) lvl < atomic_load(&log_min)) {
		return;
	}
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	cxi_log_line(lvl, tag, who, msg, NULL);
}

void
cxi_logf(cx_log_level lvl, const char *component, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cxi_logv(lvl, "component", component, fmt, ap);
	va_end(ap);
}
