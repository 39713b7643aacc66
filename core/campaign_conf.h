/*
 * campaign_conf.h - a campaign's `config` JSON, checked and typed.
 *
 *   {"telephony": "twilio", "agent": "agent_123" | "https://...",
 *    "from_numbers": ["+15550100"], "credential": "default",
 *    "record": true, "recording_disclosure": true,
 *    "voicemail": {"action": "hangup" | "message",
 *                  "message": "Hi {{name}}, ..."},
 *    "max_concurrency": 5, "calls_per_second": 1,
 *    "retry": {"no_answer": {"after_minutes": 60, "max_attempts": 3},
 *              "busy": ..., "voicemail": ..., "failed": ...},
 *    "analysis": {"summary": true, "fields": [{"name", "type",
 *                 "description", "choices"}]},
 *    "windows": [{"start_minute": 540, "end_minute": 1200}],
 *    "weekdays": ["mon", "tue", "wed", "thu", "fri"],
 *    "timezone_fallback": "America/New_York",
 *    "breaker": {"min_calls": 5, "failure_ratio": 0.5,
 *                "window_seconds": 120},
 *    "artifacts_wait_s": 600}
 *
 * Every error names the field ("config.from_numbers[1]: ..."). A draft
 * may be incomplete; starting a campaign needs the complete form.
 */
#ifndef CXI_CAMPAIGN_CONF_H
#define CXI_CAMPAIGN_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <callixo/error.h>

#include "window.h"

#define CXI_FROM_MAX 100
#define CXI_ANALYSIS_FIELDS_MAX 32

/* Retry rule per outcome; max_attempts counts every call, the first
 * included (1: never retried). */
typedef struct cxi_retry_rule {
	int after_minutes;
	int max_attempts;
} cxi_retry_rule;

typedef enum cxi_retry_kind {
	CXI_RETRY_NO_ANSWER = 0,
	CXI_RETRY_BUSY,
	CXI_RETRY_VOICEMAIL,
	CXI_RETRY_FAILED,
	CXI_RETRY_KINDS
} cxi_retry_kind;

typedef struct cxi_campaign_conf {
	json_t *src;               /* the config (a reference); strings below
	                            * point into it */
	const char *telephony;     /* plugin instance; NULL in a draft */
	const char *agent;
	const char *from[CXI_FROM_MAX];
	size_t n_from;
	const char *credential;    /* vault entry name, or NULL */
	bool record;
	bool disclosure;
	bool vm_message;           /* voicemail action "message" */
	const char *vm_template;   /* its template */
	int max_concurrency;
	double cps;
	cxi_retry_rule retry[CXI_RETRY_KINDS];
	json_t *analysis;          /* {"summary", "fields"} as sent to the
	                            * plugin (borrowed from src or built) */
	cxi_windows windows;
	const char *tz_fallback;
	int breaker_min_calls;
	double breaker_ratio;
	int breaker_window_s;
	/* How long a finished call waits for its recording, transcript and
	 * summary before call.completed goes out without them. */
	int artifacts_wait_s;
} cxi_campaign_conf;

/* Checks `cfg` (NULL or {} is an empty draft). complete: the fields a
 * running campaign needs must be there. Defaults are applied. On error
 * nothing needs freeing. */
cx_err cxi_campaign_conf_parse(const json_t *cfg, bool complete,
    cxi_campaign_conf *out, char *why, size_t whylen);
void cxi_campaign_conf_free(cxi_campaign_conf *cc);

/* The retry rule for an outcome name ("no_answer", "busy",
 * "voicemail", "failed"), or NULL for outcomes never retried. */
const cxi_retry_rule *cxi_campaign_retry(const cxi_campaign_conf *cc,
    const char *outcome);

/* Replaces {{key}} (spaces allowed inside the braces) with the string
 * value of `vars`[key]; an unknown key becomes "". malloc'd, or NULL
 * when out of memory. */
char *cxi_template_render(const char *tpl, const json_t *vars);

#endif
