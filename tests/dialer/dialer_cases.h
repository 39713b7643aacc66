/*
 * dialer_cases.h - what the dialer test files share: the fast dialer
 * settings, a campaign config builder and small database helpers
 * (dialer_cases.c), and the cases of test_dialer_flow.c.
 */
#ifndef DIALER_CASES_H
#define DIALER_CASES_H

#include "dialer_rig.h"

#define DIALER_FAST                                                      \
	"  tick: 50ms\n  dispatch_timeout: 1s\n  reconcile_after: 200ms\n" \
	"  dispatch_backoff: 100ms\n"

#define CONF(extra)                                                    \
	"{\"telephony\":\"faketel\",\"agent\":\"agent_test\","         \
	"\"from_numbers\":[\"+15550009001\",\"+15550009002\"]" extra "}"

#define LIVE "('dispatching', 'unknown', 'queued', 'ringing', 'in_progress')"

/* COUNT-like query with the campaign (or NULL: no parameter). */
int64_t count(rig *r, const char *sql, const char *campaign);
/* Calls of the campaign in a live status. */
int64_t live_of(rig *r, const char *campaign);
const char *campaign_status(rig *r, const char *id, char *buf, size_t len);
/* Ends every queued call of the campaign (outcome NULL: derived). */
void finish_queued(rig *r, const char *campaign, const char *status,
    const char *outcome);
void finish_call(rig *r, const char *call, const char *status,
    const char *outcome);
/* Waits until count(sql, arg) == n, else fails the case. */
void wait_count(rig *r, const char *sql, const char *arg, int64_t n, int ms);
void wait_status(rig *r, const char *campaign, const char *status, int ms);
/* Every call row was created at the provider at most once. */
void assert_no_double_calls(rig *r);

/* test_dialer_flow.c */
void test_retry_policy(void **state);
void test_breaker(void **state);
void test_policy_deny(void **state);
void test_cancel(void **state);
void test_cancel_queued(void **state);
void test_windows(void **state);
void test_request_content(void **state);
void test_api(void **state);

#endif
