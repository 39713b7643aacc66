/*
 * test_twilio_unit.c - the Twilio plugin's pure parts, compiled in: the
 * form parser, the X-Twilio-Signature computation (Twilio's documented
 * example, as twilio-node computes it), the port variants the SDK
 * accepts, UTF-16 ordering, and callback -> call.event mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "twilio.h"

static twilio_form
parse(const char *s)
{
	twilio_form f = {0};
	char err[128];
	if (!twilio_form_parse(s, strlen(s), &f, err, sizeof(err))) {
		fail_msg("parse %s: %s", s, err);
	}
	return (f);
}

static void
parse_rejects(const char *s, const char *why)
{
	twilio_form f = {0};
	char err[128] = "";
	assert_false(twilio_form_parse(s, strlen(s), &f, err, sizeof(err)));
	assert_non_null(strstr(err, why));
	assert_int_equal(f.n, 0);
}

static void
form_parsing(void **st)
{
	(void) st;
	twilio_form f = parse("A=1&B=&C&D=a+b%20c%26d%3D&&E=%C3%A9");
	assert_int_equal(f.n, 5);
	assert_string_equal(twilio_form_get(&f, "A"), "1");
	assert_string_equal(twilio_form_get(&f, "B"), "");
	assert_string_equal(twilio_form_get(&f, "C"), "");
	assert_string_equal(twilio_form_get(&f, "D"), "a b c&d=");
	assert_string_equal(twilio_form_get(&f, "E"), "\xc3\xa9");
	assert_null(twilio_form_get(&f, "Z"));
	twilio_form_free(&f);
	f = parse("");
	assert_int_equal(f.n, 0);
	twilio_form_free(&f);
	parse_rejects("A=%zz", "percent-escape");
	parse_rejects("A=%4", "percent-escape");
	parse_rejects("A=%", "percent-escape");
	parse_rejects("A=%00", "NUL");
	parse_rejects("=x", "without a name");
	parse_rejects("A=%C3", "UTF-8");
	parse_rejects("A=%ED%A0%80", "UTF-8"); /* a surrogate */
	parse_rejects("A=%C0%AF", "UTF-8");    /* overlong */
}

static void
docs_vector(void **st)
{
	(void) st;
	/* Twilio's docs example; twilio-node gives this signature. */
	const char *url = "https://mycompany.com/myapp.php?foo=1&bar=2";
	twilio_form f = parse("To=%2B18005551212&From=%2B12349013030&"
	                      "Digits=1234&Caller=%2B12349013030&"
	                      "CallSid=CA1234567890ABCDE");
	char sig[TWILIO_SIG_LEN];
	assert_true(twilio_sig_compute("12345", url, &f, sig));
	assert_string_equal(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
	assert_true(twilio_sig_verify("12345", url, &f,
	    "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	/* Signed with the default port, checked without (and back). */
	assert_true(twilio_sig_compute("12345",
	    "https://mycompany.com:443/myapp.php?foo=1&bar=2", &f, sig));
	assert_true(twilio_sig_verify("12345", url, &f, sig));
	assert_true(twilio_sig_verify("12345",
	    "https://mycompany.com:443/myapp.php?foo=1&bar=2", &f,
	    "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	/* Any explicit port may be dropped, as the SDK does. */
	assert_true(twilio_sig_verify("12345",
	    "https://mycompany.com:8443/myapp.php?foo=1&bar=2", &f,
	    "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	assert_false(twilio_sig_verify("12346", url, &f,
	    "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	assert_false(twilio_sig_verify("12345",
	    "https://mycompany.com/myapp.php?foo=1&bar=3", &f,
	    "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	assert_false(twilio_sig_verify("12345", url, &f, ""));
	assert_false(twilio_sig_verify("12345", url, &f,
	    "0/KCTR6DLpKmkAf8muzZqo1nDgQ"));
	assert_false(twilio_sig_verify("12345", url, &f, NULL));
	twilio_form_free(&f);
}

static void
repeated_and_empty(void **st)
{
	(void) st;
	/* Duplicate values count once; empty values still add the name. */
	twilio_form a = parse("E=b&E=a&E=b&Z=&A=1");
	twilio_form b = parse("A=1&Z=&E=a&E=b");
	char sa[TWILIO_SIG_LEN], sb[TWILIO_SIG_LEN], sc[TWILIO_SIG_LEN];
	assert_true(twilio_sig_compute("t", "https://x/", &a, sa));
	assert_true(twilio_sig_compute("t", "https://x/", &b, sb));
	assert_string_equal(sa, sb);
	twilio_form c = parse("A=1&E=a&E=b");
	assert_true(twilio_sig_compute("t", "https://x/", &c, sc));
	assert_string_not_equal(sa, sc);
	twilio_form_free(&a);
	twilio_form_free(&b);
	twilio_form_free(&c);
}

static void
utf16_order(void **st)
{
	(void) st;
	assert_true(twilio_utf16_cmp("B", "a") < 0); /* uppercase first */
	assert_true(twilio_utf16_cmp("ab", "abc") < 0);
	assert_int_equal(twilio_utf16_cmp("x", "x"), 0);
	/* U+1F600 (a surrogate pair) sorts before U+FF21 in UTF-16, after
	 * it in code point order. */
	assert_true(twilio_utf16_cmp("\xf0\x9f\x98\x80", "\xef\xbc\xa1") < 0);
	assert_true(twilio_utf16_cmp("\xc3\xa9", "\xf0\x9f\x98\x80") < 0);
}

static json_t *
event_hint(const char *body, bool rec, const char *hint,
    twilio_ev_kind want)
{
	twilio_form f = parse(body);
	json_t *ev = NULL;
	char err[128] = "";
	twilio_ev_kind k = twilio_event_build(&f, rec, "twilio", "call_1", hint,
	    &ev, err, sizeof(err));
	twilio_form_free(&f);
	if (k != want) {
		fail_msg("%s: kind %d, want %d (%s)", body, k, want, err);
	}
	return (ev);
}

static json_t *
event(const char *body, bool rec, twilio_ev_kind want)
{
	return (event_hint(body, rec, NULL, want));
}

static const char *
s(const json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

static void
status_mapping(void **st)
{
	(void) st;
	json_t *ev = event("CallSid=CA1&CallStatus=in-progress&SequenceNumber"
	                   "=2&AnsweredBy=human&Timestamp=Tue%2C+24+Nov+2026+"
	                   "10%3A00%3A00+%2B0000", false, TWILIO_EV_STATUS);
	assert_string_equal(s(ev, "status"), CX_CALL_IN_PROGRESS);
	assert_string_equal(s(ev, "event_id"), "CA1:in-progress:2");
	assert_string_equal(s(ev, "call_id"), "call_1");
	assert_string_equal(s(ev, "provider"), "twilio");
	assert_int_equal(json_integer_value(json_object_get(ev, "seq")), 2);
	assert_int_equal(json_integer_value(json_object_get(ev, "at_ms")),
	    1795514400000LL);
	assert_int_equal(json_integer_value(json_object_get(ev,
	    "answered_at")), 1795514400000LL);
	assert_true(json_is_false(json_object_get(ev, "voicemail")));
	assert_null(json_object_get(ev, "outcome"));
	assert_string_equal(s(json_object_get(ev, "raw"), "AnsweredBy"),
	    "human");
	json_decref(ev);

	static const char *const cases[][3] = {
	    {"completed&AnsweredBy=human", CX_CALL_COMPLETED, "answered"},
	    {"completed", CX_CALL_COMPLETED, "answered"},
	    {"completed&AnsweredBy=machine_end_beep", CX_CALL_COMPLETED,
	        "voicemail"},
	    {"completed&AnsweredBy=machine_start", CX_CALL_COMPLETED,
	        "voicemail"},
	    {"completed&AnsweredBy=fax", CX_CALL_COMPLETED, "failed"},
	    {"completed&AnsweredBy=unknown", CX_CALL_COMPLETED, "answered"},
	    {"busy", CX_CALL_BUSY, "busy"},
	    {"no-answer", CX_CALL_NO_ANSWER, "no_answer"},
	    {"failed&SipResponseCode=503", CX_CALL_FAILED, "failed"},
	    {"canceled", CX_CALL_CANCELED, "canceled"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[256];
		snprintf(body, sizeof(body), "CallSid=CA1&SequenceNumber=3&"
		    "CallDuration=42&CallStatus=%s", cases[i][0]);
		ev = event(body, false, TWILIO_EV_STATUS);
		assert_string_equal(s(ev, "status"), cases[i][1]);
		assert_string_equal(s(ev, "outcome"), cases[i][2]);
		assert_int_equal(json_integer_value(json_object_get(ev,
		    "duration_ms")), 42000);
		json_decref(ev);
	}
	ev = event("CallSid=CA1&CallStatus=failed&SipResponseCode=503", false,
	    TWILIO_EV_STATUS);
	assert_string_equal(s(ev, "disconnection_reason"), "sip 503");
	/* Without SequenceNumber the status orders the events. */
	assert_int_equal(json_integer_value(json_object_get(ev, "seq")), 3);
	assert_string_equal(s(ev, "event_id"), "CA1:failed:-");
	json_decref(ev);
	ev = event("CallSid=CA1&CallStatus=initiated&SequenceNumber=0", false,
	    TWILIO_EV_STATUS);
	assert_string_equal(s(ev, "status"), CX_CALL_QUEUED);
	json_decref(ev);
	ev = event("CallSid=CA1&CallStatus=completed&SequenceNumber=3&"
	           "RecordingSid=RE1&RecordingUrl=https%3A%2F%2Fx%2FRE1",
	    false, TWILIO_EV_STATUS);
	assert_true(json_is_true(json_object_get(ev, "recording_pending")));
	json_decref(ev);
	/* AnsweredBy seen on an earlier callback of the call. */
	ev = event_hint("CallSid=CA1&CallStatus=completed", false,
	    "machine_end_silence", TWILIO_EV_STATUS);
	assert_string_equal(s(ev, "outcome"), CX_OUTCOME_VOICEMAIL);
	json_decref(ev);
	ev = event_hint("CallSid=CA1&CallStatus=completed&AnsweredBy=human",
	    false, "machine_start", TWILIO_EV_STATUS);
	assert_string_equal(s(ev, "outcome"), CX_OUTCOME_ANSWERED);
	json_decref(ev);
	assert_null(event("CallSid=CA1&CallStatus=teleported", false,
	    TWILIO_EV_IGNORE));
	assert_null(event("CallStatus=ringing", false, TWILIO_EV_BAD));
	assert_null(event("CallSid=CA1", false, TWILIO_EV_BAD));
	assert_null(event("CallSid=C%2FA&CallStatus=ringing", false,
	    TWILIO_EV_BAD));
	assert_null(event("CallSid=CA1&CallStatus=ringing&SequenceNumber=x",
	    false, TWILIO_EV_BAD));
}

static void
recording_mapping(void **st)
{
	(void) st;
	json_t *ev = event("CallSid=CA1&RecordingSid=RE9&RecordingStatus="
	                   "completed&RecordingUrl=https%3A%2F%2Fapi%2FRE9",
	    true, TWILIO_EV_RECORDING);
	assert_string_equal(s(ev, "event_id"), "CA1:recording:RE9:completed");
	assert_true(json_is_true(json_object_get(ev, "recording_pending")));
	/* A finished recording proves an answered, ended call; seq 0 so
	 * it never overrides the status callbacks. */
	assert_string_equal(s(ev, "status"), CX_CALL_COMPLETED);
	assert_int_equal(json_integer_value(json_object_get(ev, "seq")), 0);
	assert_null(json_object_get(ev, "outcome"));
	json_decref(ev);
	ev = event_hint("CallSid=CA1&RecordingSid=RE9&RecordingStatus="
	                "completed&RecordingUrl=u", true, "machine_end_beep",
	    TWILIO_EV_RECORDING);
	assert_string_equal(s(ev, "outcome"), CX_OUTCOME_VOICEMAIL);
	json_decref(ev);
	ev = event("CallSid=CA1&RecordingSid=RE9&RecordingStatus=absent",
	    true, TWILIO_EV_RECORDING);
	assert_true(json_is_false(json_object_get(ev, "recording_pending")));
	assert_string_equal(s(ev, "status"), CX_CALL_QUEUED);
	json_decref(ev);
	assert_null(event("CallSid=CA1&RecordingStatus=completed", true,
	    TWILIO_EV_BAD));
	assert_null(event("CallSid=CA1&RecordingSid=RE9&RecordingStatus="
	                  "completed", true, TWILIO_EV_BAD));
	assert_null(event("CallSid=CA1&RecordingSid=..%2Fx&RecordingStatus="
	                  "completed&RecordingUrl=u", true, TWILIO_EV_BAD));
}

static void
dates(void **st)
{
	(void) st;
	int64_t ms;
	assert_true(twilio_rfc2822_ms("Tue, 24 Nov 2026 10:00:00 +0000", &ms));
	assert_int_equal(ms, 1795514400000LL);
	assert_true(twilio_rfc2822_ms("24 Nov 2026 11:00:00 +0100", &ms));
	assert_int_equal(ms, 1795514400000LL);
	assert_false(twilio_rfc2822_ms("", &ms));
	assert_false(twilio_rfc2822_ms(NULL, &ms));
	assert_false(twilio_rfc2822_ms("2026-11-24T10:00:00Z", &ms));
	assert_false(twilio_rfc2822_ms("Tue, 24 Nov 2026 10:00:00 +0000x",
	    &ms));
	assert_string_equal(twilio_status_map("no-answer"), CX_CALL_NO_ANSWER);
	assert_null(twilio_status_map("paused"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(form_parsing),
	    cmocka_unit_test(docs_vector),
	    cmocka_unit_test(repeated_and_empty),
	    cmocka_unit_test(utf16_order),
	    cmocka_unit_test(status_mapping),
	    cmocka_unit_test(recording_mapping),
	    cmocka_unit_test(dates),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
