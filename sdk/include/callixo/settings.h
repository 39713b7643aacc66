/*
 * callixo/settings.h - plugin settings declared by the plugin, validated
 * by the core.
 *
 * A plugin never parses YAML. It declares a table of cx_setting entries;
 * the core checks the operator's `settings:` block against it (unknown
 * keys, types, ranges, enums, required keys), applies defaults, expands
 * ${ENV} and *_file secrets, and hands the plugin a validated jansson
 * object whose every declared key is present (absent optional keys with
 * no default are JSON null). Values flagged CX_SET_SECRET are redacted
 * from every log line and from `callixoctl` output.
 */
#ifndef CALLIXO_SETTINGS_H
#define CALLIXO_SETTINGS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cx_setting_type {
	CX_SET_STRING = 1,
	CX_SET_INT,      /* JSON integer, checked against [min, max] */
	CX_SET_BOOL,
	CX_SET_DURATION, /* "250ms", "10s", "5m", "2h" or an integer of ms */
	CX_SET_ENUM,     /* string, one of `choices` */
	CX_SET_LIST,     /* list of strings */
	CX_SET_OBJECT,   /* free-form mapping, passed through as JSON */
} cx_setting_type;

enum {
	CX_SET_REQUIRED = 1u << 0,   /* must be given by the operator */
	CX_SET_SECRET = 1u << 1,     /* never logged, shown as "***" */
	CX_SET_RELOADABLE = 1u << 2, /* may change via reconfigure */
};

/* One declared key. Since ABI 1.0. */
typedef struct cx_setting {
	const char *key;
	cx_setting_type type;
	uint32_t flags;
	const char *def;         /* default as YAML text, or NULL */
	int64_t min, max;        /* INT and DURATION (ms); both 0 = unbounded */
	const char *const *choices; /* ENUM: NULL-terminated */
	const char *description; /* required: shown by `callixod --describe` */
} cx_setting;

#define CX_SETTING_STR(k, fl, d, desc) {(k), CX_SET_STRING, (fl), (d), 0, 0, NULL, (desc)}
#define CX_SETTING_SECRET(k, fl, desc) {(k), CX_SET_STRING, (fl) | CX_SET_SECRET, NULL, 0, 0, NULL, (desc)}
#define CX_SETTING_INT(k, fl, d, lo, hi, desc) {(k), CX_SET_INT, (fl), (d), (lo), (hi), NULL, (desc)}
#define CX_SETTING_BOOL(k, fl, d, desc) {(k), CX_SET_BOOL, (fl), (d), 0, 0, NULL, (desc)}
#define CX_SETTING_DURATION(k, fl, d, lo, hi, desc) {(k), CX_SET_DURATION, (fl), (d), (lo), (hi), NULL, (desc)}
#define CX_SETTING_ENUM(k, fl, d, ch, desc) {(k), CX_SET_ENUM, (fl), (d), 0, 0, (ch), (desc)}
#define CX_SETTING_LIST(k, fl, desc) {(k), CX_SET_LIST, (fl), NULL, 0, 0, NULL, (desc)}
#define CX_SETTING_OBJECT(k, fl, desc) {(k), CX_SET_OBJECT, (fl), NULL, 0, 0, NULL, (desc)}
#define CX_SETTINGS_END {NULL, 0, 0, NULL, 0, 0, NULL, NULL}

#ifdef __cplusplus
}
#endif
#endif
