/*
 * test_retell_unit.c - the retell plugin's pure parts, compiled in: the
 * x-retell-signature parser's edges (what retell-sdk 5.66.1's verify
 * accepts and refuses), the disconnection_reason mapping, and every
 * call.event we build passing the core's own validator (the one the
 * core runs before it stores anything), long calls included.
 *
 *   test_retell_unit <corpus_event dir>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdlib.h>

#include "callevents.h"
#include "retell.h"

static const char *corpus_dir;

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

/* Builds the event of a body and runs the core's validator on it. */
static json_t *
build_valid(const char *body, size_t len)
{
	json_t *root;
	rt_hook_info info;
	char err[160], why[256];
	assert_int_equal(retell_event_parse((const uint8_t *) body, len, &root,
	                     &info, err, sizeof(err)),
	    CX_OK);
	json_t *ev = retell_event_build(root, &info, "retell");
	json_decref(root);
	assert_non_null(ev);
	if (cxi_callevent_validate(ev, why, sizeof(why)) != CX_OK) {
		fail_msg("the core refuses our event: %s", why);
	}
	return (ev);
}

static void
test_corpus_events_validate(void **unused)
{
	(void) unused;
	DIR *d = opendir(corpus_dir);
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "retell-", 7) != 0) {
			continue;
		}
		char path[1024], *buf = calloc(1, 1 << 20);
		snprintf(path, sizeof(path), "%s/%s", corpus_dir, e->d_name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		assert_non_null(buf);
		size_t len = fread(buf, 1, (1 << 20) - 1, f);
		fclose(f);
		json_decref(build_valid(buf, len));
		free(buf);
		n++;
	}
	closedir(d);
	assert_true(n >= 7);
}

/* An hour-long call: 30000 words with timings, and the tool-call copy
 * of the transcript, well over the core's 1 MiB. */
static void
test_long_call_fits(void **unused)
{
	(void) unused;
	json_t *tobj = json_array(), *twt = json_array();
	char word[32];
	for (int u = 0; u < 600; u++) {
		json_t *words = json_array();
		for (int w = 0; w < 50; w++) {
			double t = u * 6.0 + w * 0.1;
			snprintf(word, sizeof(word), "word%d", w);
			json_array_append_new(words, json_pack("{s:s, s:f, s:f}",
			    "word", word, "start", t, "end", t + 0.08));
		}
		json_t *utt = json_pack("{s:s, s:s, s:o}", "role",
		    u % 2 ? "user" : "agent", "content",
		    "a sentence of about fifty words said in this turn",
		    "words", words);
		json_array_append(tobj, utt);
		json_array_append_new(twt, utt);
	}
	json_t *root = json_pack("{s:s, s:{s:s, s:s, s:s, s:I, s:I, s:I, s:s, "
	    "s:o, s:o, s:{s:s}, s:s}}", "event", "call_ended", "call",
	    "call_id", "call_long", "call_status", "ended",
	    "disconnection_reason", "user_hangup", "start_timestamp",
	    (json_int_t) 1795000000000LL, "end_timestamp",
	    (json_int_t) 1795003600000LL, "duration_ms", (json_int_t) 3600000,
	    "transcript", "Agent: ...", "transcript_object", tobj,
	    "transcript_with_tool_calls", twt, "metadata", "cx_call_id",
	    "call_00000000000000000000000001", "recording_url",
	    "https://recordings.example/long.wav");
	char *body = json_dumps(root, 0);
	json_decref(root);
	assert_non_null(body);
	assert_true(strlen(body) > 2 * 1024 * 1024);
	json_t *ev = build_valid(body, strlen(body));
	free(body);
	assert_int_equal(json_array_size(json_object_get(json_object_get(ev,
	                     "transcript"), "utterances")), 600);
	assert_true(json_is_array(json_object_get(json_object_get(ev, "raw"),
	    "cx_dropped")));
	assert_string_equal(json_string_value(json_object_get(ev, "call_id")),
	    "call_00000000000000000000000001");
	json_decref(ev);
}

/* Metadata that is not one of our call ids is not passed on as one. */
static void
test_foreign_metadata(void **unused)
{
	(void) unused;
	const char *bodies[] = {
	    "{\"event\":\"call_started\",\"call\":{\"call_id\":\"r1\","
	    "\"call_status\":\"ongoing\",\"metadata\":{\"cx_call_id\":"
	    "\"crm-4711\"}}}",
	    "{\"event\":\"call_started\",\"call\":{\"call_id\":\"r2\","
	    "\"call_status\":\"ongoing\",\"metadata\":{\"cx_call_id\":"
	    "\"call_with space\"}}}",
	    "{\"event\":\"call_started\",\"call\":{\"call_id\":\"r3\","
	    "\"call_status\":\"ongoing\"}}"};
	for (int i = 0; i < 3; i++) {
		json_t *ev = build_valid(bodies[i], strlen(bodies[i]));
		assert_null(json_object_get(ev, "call_id"));
		json_decref(ev);
	}
}

int
main(int argc, char **argv)
{
	corpus_dir = argc > 1 ? argv[1] : ".";
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sig_parse),
	    cmocka_unit_test(test_sig_vector),
	    cmocka_unit_test(test_mapping),
	    cmocka_unit_test(test_corpus_events_validate),
	    cmocka_unit_test(test_long_call_fits),
	    cmocka_unit_test(test_foreign_metadata),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
