/*
 * test_twilio_contract.c - every call.event the Twilio plugin builds
 * passes the core's own validator (cxi_callevent_validate, the check
 * call.event requests go through): all statuses and AMD answers, the
 * recording callbacks, and call ids the core would refuse (left out).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "callevents.h"
#include "twilio.h"

static void
accepted(const char *body, bool rec, const char *call_id, const char *hint)
{
	twilio_form f = {0};
	char err[256] = "";
	assert_true(twilio_form_parse(body, strlen(body), &f, err, sizeof(err)));
	json_t *ev = NULL;
	twilio_ev_kind k = twilio_event_build(&f, rec, "twilio", call_id, hint,
	    &ev, err, sizeof(err));
	twilio_form_free(&f);
	if (k != TWILIO_EV_STATUS && k != TWILIO_EV_RECORDING) {
		fail_msg("%s: not built: %s", body, err);
	}
	char why[256] = "";
	if (cxi_callevent_validate(ev, why, sizeof(why)) != CX_OK) {
		char *d = json_dumps(ev, JSON_COMPACT);
		fail_msg("core refuses %s: %s", d, why);
	}
	json_decref(ev);
}

static void
status_events(void **st)
{
	(void) st;
	static const char *const statuses[] = {"queued", "initiated",
	    "ringing", "in-progress", "completed", "busy", "no-answer",
	    "failed", "canceled"};
	static const char *const amd[] = {"", "&AnsweredBy=human",
	    "&AnsweredBy=machine_end_beep", "&AnsweredBy=fax",
	    "&AnsweredBy=unknown"};
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		for (size_t a = 0; a < sizeof(amd) / sizeof(amd[0]); a++) {
			char body[1024];
			snprintf(body, sizeof(body), "AccountSid=AC1&CallSid="
			    "CA0123456789abcdef0123456789abcdef&CallStatus=%s&"
			    "SequenceNumber=%zu&Timestamp=Tue%%2C+24+Nov+2026+"
			    "10%%3A00%%3A00+%%2B0000&CallDuration=42&Duration=1&"
			    "SipResponseCode=486&ToCity=&RecordingSid=RE1&"
			    "RecordingUrl=https%%3A%%2F%%2Fapi%%2FRE1%s",
			    statuses[i], i, amd[a]);
			accepted(body, false, "call_abc", NULL);
			accepted(body, false, NULL, "machine_start");
		}
	}
	/* No SequenceNumber, no Timestamp. */
	accepted("CallSid=CA1&CallStatus=completed", false, "call_1", NULL);
	/* A call id the core would refuse is left out. */
	accepted("CallSid=CA1&CallStatus=ringing", false, "not-ours", NULL);
	accepted("CallSid=CA1&CallStatus=ringing", false, "call_\x01", NULL);
}

static void
recording_events(void **st)
{
	(void) st;
	const char *done = "AccountSid=AC1&CallSid=CA1&RecordingSid=RE1&"
	                   "RecordingUrl=https%3A%2F%2Fapi%2FRE1&"
	                   "RecordingStatus=completed&RecordingDuration=41";
	accepted(done, true, "call_1", NULL);
	accepted(done, true, "call_1", "machine_end_beep");
	accepted(done, true, NULL, "human");
	accepted("CallSid=CA1&RecordingSid=RE1&RecordingStatus=absent", true,
	    "call_1", NULL);
	accepted("CallSid=CA1&RecordingSid=RE1&RecordingStatus=failed&"
	         "ErrorCode=13617", true, "call_1", NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(status_events),
	    cmocka_unit_test(recording_events),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
