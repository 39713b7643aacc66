/*
 * test_retell_unit.c - the retell plugin's pure parts, compiled in: the
 * x-retell-signature parser's edges (what retell-sdk 5.66.1's verify
 * accepts and refuses) and the disconnection_reason mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "retell.h"

static const char hex64[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static bool
parses(const char *fmt, const char *a)
{
	char h[200];
	uint64_t ts;
	uint8_t d[32];
	snprintf(h, sizeof(h), fmt, a);
	return (retell_sig_parse(h, &ts, d));
}

static void
test_sig_parse(void **unused)
{
	(void) unused;
	uint64_t ts;
	uint8_t d[32];
	assert_true(parses("v=1795000000000,d=%s", hex64));
	assert_true(parses("V=1795000000000,D=%s", hex64));
	assert_true(parses("v=1,d=%s", "00112233445566778899AABBCCDDEEFF"
	                               "00112233445566778899AABBCCDDEEFF"));
	/* The SDK's regex is anchored and has no room for spaces. */
	assert_false(parses(" v=1,d=%s", hex64));
	assert_false(parses("v=1, d=%s", hex64));
	assert_false(parses("v=1,d=%s ", hex64));
	assert_false(parses("v=1,d=%s0", hex64));
	assert_false(parses("v=1,d=%.63s", hex64));
	assert_false(parses("v=,d=%s", hex64));
	assert_false(parses("v=-1,d=%s", hex64));
	assert_false(parses("v=1.5,d=%s", hex64));
	assert_false(parses("d=%s,v=1", hex64));
	assert_false(parses("v=1,d=%.62sgg", hex64));
	assert_false(parses("t=1,v1=%s", hex64));
	assert_false(retell_sig_parse("", &ts, d));
	assert_false(retell_sig_parse(NULL, &ts, d));
	/* Number.MAX_SAFE_INTEGER is the largest v; leading zeros are fine
	 * (the value is what counts, as Number() reads it). */
	assert_true(parses("v=9007199254740991,d=%s", hex64));
	assert_false(parses("v=9007199254740992,d=%s", hex64));
	assert_false(parses("v=99999999999999999999999,d=%s", hex64));
	char h[200];
	snprintf(h, sizeof(h), "v=000000000000000000000042,d=%s", hex64);
	assert_true(retell_sig_parse(h, &ts, d));
	assert_int_equal(ts, 42);
	assert_int_equal(d[0], 0x00);
	assert_int_equal(d[1], 0x11);
	assert_int_equal(d[31], 0xff);
}

/* A vector made with the official SDK (retell-sdk 5.66.1,
 * symmetric.sign('{"a":1}', "key_x", 1795000000000)). */
static void
test_sig_vector(void **unused)
{
	(void) unused;
	char made[96];
	const char *body = "{\"a\":1}";
	retell_sig_make("key_x", (const uint8_t *) body, strlen(body),
	    1795000000000ULL, made);
	assert_string_equal(made, "v=1795000000000,d="
	    "00571f6d90284af28ad5e07792df7f955d10fa74ef3c9039fa6a4e02c4a0b1bc");
	uint64_t ts;
	uint8_t d[32];
	assert_true(retell_sig_parse(made, &ts, d));
	assert_true(retell_sig_check("key_x", (const uint8_t *) body,
	    strlen(body), ts, d));
	assert_false(retell_sig_check("key_y", (const uint8_t *) body,
	    strlen(body), ts, d));
	assert_false(retell_sig_check("key_x", (const uint8_t *) body,
	    strlen(body), ts + 1, d));
	assert_false(retell_sig_check("", (const uint8_t *) body,
	    strlen(body), ts, d));
	assert_false(retell_sig_check("key_x", (const uint8_t *) "{\"a\":2}",
	    7, ts, d));
}

static void
expect(const char *call_json, const char *status, const char *outcome)
{
	json_t *c = json_loads(call_json, 0, NULL);
	const char *s, *o;
	assert_non_null(c);
	retell_call_status(c, &s, &o);
	assert_string_equal(s, status);
	if (outcome == NULL) {
		assert_null(o);
	} else {
		assert_non_null(o);
		assert_string_equal(o, outcome);
	}
	json_decref(c);
}

static void
test_mapping(void **unused)
{
	(void) unused;
	expect("{\"call_status\":\"registered\"}", "queued", NULL);
	expect("{\"call_status\":\"ongoing\"}", "in_progress", NULL);
	const char *answered[] = {"user_hangup", "agent_hangup", "inactivity",
	    "max_duration_reached", "call_transfer", "transfer_bridged",
	    "transfer_cancelled", "call_take_over"};
	char j[256];
	for (size_t i = 0; i < sizeof(answered) / sizeof(answered[0]); i++) {
		snprintf(j, sizeof(j), "{\"call_status\":\"ended\","
		    "\"disconnection_reason\":\"%s\"}", answered[i]);
		expect(j, "completed", "answered");
	}
	expect("{\"call_status\":\"ended\",\"disconnection_reason\":"
	       "\"voicemail_reached\"}", "completed", "voicemail");
	expect("{\"call_status\":\"ended\",\"disconnection_reason\":"
	       "\"ivr_reached\"}", "completed", "voicemail");
	/* Never connected: Retell may say not_connected or ended. */
	const char *cs[] = {"not_connected", "ended"};
	for (int i = 0; i < 2; i++) {
		snprintf(j, sizeof(j), "{\"call_status\":\"%s\","
		    "\"disconnection_reason\":\"dial_no_answer\"}", cs[i]);
		expect(j, "no_answer", "no_answer");
		snprintf(j, sizeof(j), "{\"call_status\":\"%s\","
		    "\"disconnection_reason\":\"dial_busy\"}", cs[i]);
		expect(j, "busy", "busy");
		snprintf(j, sizeof(j), "{\"call_status\":\"%s\","
		    "\"disconnection_reason\":\"dial_failed\"}", cs[i]);
		expect(j, "failed", "failed");
	}
	expect("{\"disconnection_reason\":\"user_declined\"}", "busy", "busy");
	const char *failed[] = {"invalid_destination",
	    "telephony_provider_permission_denied",
	    "telephony_provider_unavailable", "sip_routing_error",
	    "concurrency_limit_reached", "no_concurrency_fallback",
	    "no_valid_payment", "scam_detected", "marked_as_spam",
	    "registered_call_timeout", "error_llm_websocket_open",
	    "error_asr", "error_retell", "error_unknown",
	    "error_user_not_joined", "error_no_audio_received"};
	for (size_t i = 0; i < sizeof(failed) / sizeof(failed[0]); i++) {
		snprintf(j, sizeof(j), "{\"call_status\":\"ended\","
		    "\"disconnection_reason\":\"%s\"}", failed[i]);
		expect(j, "failed", "failed");
	}
	/* Our hang-up: canceled unless someone was talking. */
	expect("{\"call_status\":\"ended\",\"disconnection_reason\":"
	       "\"manual_stopped\"}", "canceled", "canceled");
	expect("{\"call_status\":\"ended\",\"disconnection_reason\":"
	       "\"manual_stopped\",\"start_timestamp\":1795000000000,"
	       "\"duration_ms\":30000}", "completed", "answered");
	/* A reason Retell adds tomorrow: call_status decides. */
	expect("{\"call_status\":\"ended\",\"disconnection_reason\":"
	       "\"brand_new_reason\"}", "completed", "answered");
	expect("{\"call_status\":\"not_connected\",\"disconnection_reason\":"
	       "\"brand_new_reason\"}", "failed", "failed");
	expect("{\"call_status\":\"error\"}", "failed", "failed");
	/* The analysis heard a machine the dialling did not. */
	expect("{\"call_status\":\"ended\",\"disconnection_reason\":"
	       "\"agent_hangup\",\"call_analysis\":{\"in_voicemail\":true}}",
	    "completed", "voicemail");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sig_parse),
	    cmocka_unit_test(test_sig_vector),
	    cmocka_unit_test(test_mapping),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
