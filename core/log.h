/*
 * log.h - structured log lines on stderr.
 *
 * One line per event, logfmt by default:
 *   time=2026-11-25T12:00:00.123Z level=info component=core msg="ready"
 * or one JSON object per line with format "json". Plugins log through the
 * host table, which tags lines with plugin=<name> instead of component=.
 * Values are escaped so a hostile string cannot forge a second line.
 */
#ifndef CXI_LOG_H
#define CXI_LOG_H

#include <stdarg.h>
#include <callixo/host.h>

typedef enum cxi_log_format {
	CXI_LOG_LOGFMT = 0,
	CXI_LOG_JSON = 1,
} cxi_log_format;

void cxi_log_setup(cx_log_level min, cxi_log_format fmt);
int cxi_log_level_parse(const char *s, cx_log_level *out);

/* tag is "component" or "plugin"; who is its value. Extra key/value
 * string pairs follow `kv`, NULL-terminated; kv itself may be NULL. */
void cxi_log_line(cx_log_level lvl, const char *tag, const char *who,
    const char *msg, const char *const *kv);

void cxi_logf(cx_log_level lvl, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cxi_logv(cx_log_level lvl, const char *tag, const char *who,
    const char *fmt, va_list ap);

#define cxi_info(c, ...) cxi_logf(CX_LOG_INFO, (c), __VA_ARGS__)
#define cxi_warn(c, ...) cxi_logf(CX_LOG_WARN, (c), __VA_ARGS__)
#define cxi_error(c, ...) cxi_logf(CX_LOG_ERROR, (c), __VA_ARGS__)
#define cxi_debug(c, ...) cxi_logf(CX_LOG_DEBUG, (c), __VA_ARGS__)

#endif
