/*
 * test_twilio.c - the Twilio plugin's REST side in the SDK test kit,
 * against the fake Twilio (fake_twilio.py). Run by twilio_harness.sh:
 *
 *   twilio_harness.sh test_twilio <twilio.so>
 *
 * What goes on the wire for a call, error mapping (4xx with Twilio's
 * code, 429, 5xx, no connection, timeout), a timed-out create found
 * again by lookup (queued and dialled, across pages), and hangup.
 * The webhooks are in test_twilio_hooks.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include <callixo/telephony.h>

#include "twilio_rig.h"

static const char *
jstr(const json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Places a call; returns the reply (caller frees) and sets *rv. */
static json_t *
place(cx_testkit *tk, const char *call_id, const char *to,
    const char *extra, cx_err *rv)
{
	char data[2048];
	snprintf(data, sizeof(data), "{\"v\":1, \"call_id\":\"%s\", \"to\":"
	    "\"%s\", \"from\":\"+15005550006\", \"agent\":"
	    "\"https://agent.example.test/twiml?campaign=c1\"%s%s}", call_id,
	    to, extra ? ", " : "", extra ? extra : "");
	json_t *reply = NULL;
	*rv = cx_testkit_request(tk, CX_SVC_CALL_PLACE, data, 5000, &reply);
	return (reply);
}

static char *
place_ok(cx_testkit *tk, const char *call_id, const char *extra)
{
	cx_err rv;
	json_t *r = place(tk, call_id, "+15551230001", extra, &rv);
	if (rv != CX_OK) {
		fail_msg("place: %s %s", cx_strerror(rv), jstr(r, "message"));
	}
	assert_string_equal(jstr(r, "status"), CX_CALL_QUEUED);
	char *sid = strdup(jstr(r, "provider_call_id"));
	assert_int_equal(strlen(sid), 34);
	assert_int_equal(strncmp(sid, "CA", 2), 0);
	json_decref(r);
	return (sid);
}

static const char *
one(const json_t *pairs, const char *name)
{
	json_t *v = rig_values(pairs, name);
	static char buf[2048];
	if (json_array_size(v) != 1) {
		fail_msg("%s sent %zu times", name, json_array_size(v));
	}
	snprintf(buf, sizeof(buf), "%s", json_string_value(json_array_get(v,
	    0)));
	json_decref(v);
	return (buf);
}

static void
place_wire(void **st)
{
	(void) st;
	rig_core core;
	rig_core_init(&core);
	char *y = rig_yaml(NULL);
	cx_testkit *tk = rig_kit(y, &core);
	char *sid = place_ok(tk, "call_w1", "\"record\":true, \"disclosure\":"
	    "true, \"machine_detection\":true, \"voicemail\":{\"action\":"
	    "\"message\", \"message\":\"Hi Ada & co, call back!\"}, "
	    "\"variables\":{\"name\":\"Ada L\u00f6velace\", \"note\":"
	    "\"a&b=c?d\", \"cx_call\":\"spoofed\"}");
	json_t *c = rig_last_create();
	json_t *p = json_object_get(c, "params");
	assert_string_equal(jstr(c, "account"), rig_env("TWILIO_SID1"));
	assert_string_equal(one(p, "To"), "+15551230001");
	assert_string_equal(one(p, "From"), "+15005550006");
	assert_string_equal(one(p, "Url"),
	    "https://agent.example.test/twiml?campaign=c1&name=Ada%20L%C3%B6"
	    "velace&note=a%26b%3Dc%3Fd&cx_call=call_w1&cx_disclosure=true&"
	    "cx_voicemail=message&cx_voicemail_message=Hi%20Ada%20%26%20co%2C"
	    "%20call%20back%21");
	assert_string_equal(one(p, "Method"), "POST");
	assert_string_equal(one(p, "StatusCallback"),
	    RIG_PUBLIC_URL "/webhooks/twilio/status?cx_call=call_w1");
	assert_string_equal(one(p, "StatusCallbackMethod"), "POST");
	json_t *ev = rig_values(p, "StatusCallbackEvent");
	json_t *want = json_pack("[s,s,s,s]", "initiated", "ringing",
	    "answered", "completed");
	assert_true(json_equal(ev, want));
	json_decref(ev);
	json_decref(want);
	assert_string_equal(one(p, "Record"), "true");
	assert_string_equal(one(p, "RecordingStatusCallback"),
	    RIG_PUBLIC_URL "/webhooks/twilio/recording?cx_call=call_w1");
	assert_string_equal(one(p, "RecordingStatusCallbackMethod"), "POST");
	ev = rig_values(p, "RecordingStatusCallbackEvent");
	assert_int_equal(json_array_size(ev), 2);
	assert_string_equal(json_string_value(json_array_get(ev, 0)),
	    "completed");
	json_decref(ev);
	assert_string_equal(one(p, "MachineDetection"), "DetectMessageEnd");
	json_decref(c);
	free(sid);

	/* No recording, no voicemail message: no Record, and the
	 * operator's AMD mode only when the campaign asks for it. */
	sid = place_ok(tk, "call_w2", "\"record\":false, "
	    "\"machine_detection\":true, \"voicemail\":{\"action\":"
	    "\"hangup\"}");
	c = rig_last_create();
	p = json_object_get(c, "params");
	assert_string_equal(one(p, "MachineDetection"), "Enable");
	ev = rig_values(p, "Record");
	assert_int_equal(json_array_size(ev), 0);
	json_decref(ev);
	json_decref(c);
	free(sid);
	sid = place_ok(tk, "call_w3", NULL);
	c = rig_last_create();
	ev = rig_values(json_object_get(c, "params"), "MachineDetection");
	assert_int_equal(json_array_size(ev), 0);
	json_decref(ev);
	json_decref(c);
	free(sid);
	cx_testkit_free(tk);
	free(y);
	rig_core_free(&core);
}

static void
expect_error(cx_testkit *tk, const char *mode, const char *to, cx_err want,
    const char *msg_part)
{
	char ctl[128];
	if (mode != NULL) {
		snprintf(ctl, sizeof(ctl), "{\"create\":\"%s\"}", mode);
		json_decref(rig_fake("POST", "/_test/next", ctl));
	}
	cx_err rv;
	json_t *r = place(tk, "call_e1", to, NULL, &rv);
	if (rv != want) {
		fail_msg("mode %s: got %s, want %s", mode ? mode : "-",
		    cx_strerror(rv), cx_strerror(want));
	}
	if (msg_part != NULL) {
		const char *m = jstr(r, "message");
		if (m == NULL || strstr(m, msg_part) == NULL) {
			fail_msg("message %s lacks %s", m ? m : "(none)",
			    msg_part);
		}
	}
	json_decref(r);
}

static void
place_errors(void **st)
{
	(void) st;
	rig_core core;
	rig_core_init(&core);
	char *y = rig_yaml(NULL);
	cx_testkit *tk = rig_kit(y, &core);
	expect_error(tk, "400", "+15551230001", CX_EINVAL,
	    "twilio 21211: The 'To' number +15551230001 is not a valid");
	expect_error(tk, NULL, "12", CX_EINVAL, "twilio 21211");
	expect_error(tk, "429", "+15551230001", CX_EBUSY, "twilio 20429");
	expect_error(tk, "500", "+15551230001", CX_EIO, "twilio 20500");
	expect_error(tk, "502html", "+15551230001", CX_EIO, "HTTP 502");
	/* The contract's own checks, before anything reaches Twilio. */
	cx_err rv;
	json_t *r = NULL;
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_PLACE,
	                     "{\"call_id\":\"c/1\", \"to\":\"+1555\", "
	                     "\"from\":\"+1\", \"agent\":\"https://a\"}",
	                     5000, &r),
	    CX_EINVAL);
	json_decref(r);
	r = NULL;
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_PLACE,
	                     "{\"call_id\":\"c1\", \"to\":\"+1555\", "
	                     "\"from\":\"+1\", \"agent\":\"ftp://a\"}",
	                     5000, &r),
	    CX_EINVAL);
	json_decref(r);
	/* Wrong vault credentials: Twilio says 20003. */
	r = place(tk, "call_e2", "+15551230001", "\"credentials\":{"
	    "\"account_sid\":\"AC00000000000000000000000000000001\", "
	    "\"auth_token\":\"wrong\"}", &rv);
	assert_int_equal(rv, CX_EINVAL);
	assert_non_null(strstr(jstr(r, "message"), "twilio 20003"));
	json_decref(r);
	cx_testkit_free(tk);
	free(y);

	/* Nothing listens: the call cannot exist, retry later. */
	char *closed = NULL;
	assert_true(asprintf(&closed, "account_sid: %s\nauth_token: %s\n"
	                              "api_base: http://127.0.0.1:1\n"
	                              "public_url: %s\n",
	                rig_env("TWILIO_SID1"), rig_env("TWILIO_TOKEN1"),
	                RIG_PUBLIC_URL) > 0);
	tk = rig_kit(closed, &core);
	expect_error(tk, NULL, "+15551230001", CX_EIO, "cannot reach");
	cx_testkit_free(tk);
	free(closed);
	rig_core_free(&core);
}

static json_t *
lookup(cx_testkit *tk, const char *to, int64_t since_ms, const char *pcid)
{
	char data[512];
	if (pcid != NULL) {
		snprintf(data, sizeof(data), "{\"v\":1, \"call_id\":\"x\", "
		    "\"provider_call_id\":\"%s\"}", pcid);
	} else {
		snprintf(data, sizeof(data), "{\"v\":1, \"call_id\":\"x\", "
		    "\"to\":\"%s\", \"from\":\"+15005550006\", \"since_ms\":"
		    "%lld}", to, (long long) since_ms);
	}
	json_t *r = NULL;
	cx_err rv = cx_testkit_request(tk, CX_SVC_CALL_LOOKUP, data, 5000, &r);
	if (rv != CX_OK) {
		fail_msg("lookup: %s %s", cx_strerror(rv), jstr(r, "message"));
	}
	return (r);
}

static void
timeout_then_lookup(void **st)
{
	(void) st;
	rig_core core;
	rig_core_init(&core);
	char *y = rig_yaml(NULL);
	cx_testkit *tk = rig_kit(y, &core);
	int64_t since = now_ms();
	/* Twilio creates the call but answers after our 1 s timeout. */
	json_decref(rig_fake("POST", "/_test/next", "{\"create\":\"slow\"}"));
	cx_err rv;
	json_t *r = place(tk, "call_t1", "+15551239999", NULL, &rv);
	assert_int_equal(rv, CX_ETIMEDOUT);
	json_decref(r);
	json_t *st2 = rig_fake("GET", "/_test/state", NULL);
	json_t *calls = json_object_get(st2, "calls");
	const char *created = jstr(json_array_get(calls,
	    json_array_size(calls) - 1), "sid");
	/* Still queued (no start time): found through the Status query. */
	r = lookup(tk, "+15551239999", since, NULL);
	assert_true(json_is_true(json_object_get(r, "found")));
	assert_string_equal(jstr(r, "provider_call_id"), created);
	assert_string_equal(jstr(r, "status"), CX_CALL_QUEUED);
	json_decref(r);
	/* Once dialled it has a start time; found through StartTime>. */
	char ctl[256];
	snprintf(ctl, sizeof(ctl), "{\"sid\":\"%s\", \"status\":\"ringing\", "
	    "\"start_time\":\"%s\"}", created, jstr(json_array_get(calls,
	    json_array_size(calls) - 1), "date_created"));
	json_decref(rig_fake("POST", "/_test/call", ctl));
	r = lookup(tk, "+15551239999", since, NULL);
	assert_true(json_is_true(json_object_get(r, "found")));
	assert_string_equal(jstr(r, "provider_call_id"), created);
	assert_string_equal(jstr(r, "status"), CX_CALL_RINGING);
	json_decref(r);
	/* An attempt dispatched later than the call is not this call. */
	r = lookup(tk, "+15551239999", now_ms() + 600000, NULL);
	assert_true(json_is_false(json_object_get(r, "found")));
	json_decref(r);
	r = lookup(tk, NULL, 0, created);
	assert_string_equal(jstr(r, "status"), CX_CALL_RINGING);
	json_decref(r);
	r = lookup(tk, NULL, 0, "CA0123456789abcdef0123456789abcdef");
	assert_true(json_is_false(json_object_get(r, "found")));
	json_decref(r);
	json_decref(st2);
	cx_testkit_free(tk);
	free(y);
	rig_core_free(&core);
}

static void
lookup_pages(void **st)
{
	(void) st;
	rig_core core;
	rig_core_init(&core);
	char *y = rig_yaml(NULL);
	cx_testkit *tk = rig_kit(y, &core);
	/* An older call to the same number, then ours; one per page. */
	json_t *old = place(tk, "call_p0", "+15551237777", NULL,
	    &(cx_err){0});
	json_decref(old);
	rig_sleep_ms(2100);
	int64_t since = now_ms();
	char *mine = NULL;
	json_t *r = place(tk, "call_p1", "+15551237777", NULL, &(cx_err){0});
	mine = strdup(jstr(r, "provider_call_id"));
	json_decref(r);
	json_decref(rig_fake("POST", "/_test/config",
	    "{\"max_page_size\":1}"));
	r = lookup(tk, "+15551237777", since, NULL);
	json_decref(rig_fake("POST", "/_test/config",
	    "{\"max_page_size\":1000}"));
	assert_true(json_is_true(json_object_get(r, "found")));
	assert_string_equal(jstr(r, "provider_call_id"), mine);
	json_decref(r);
	free(mine);
	cx_testkit_free(tk);
	free(y);
	rig_core_free(&core);
}

static const char *
last_update_status(const char *sid)
{
	static char out[32];
	json_t *st = rig_fake("GET", "/_test/state", NULL);
	json_t *ups = json_object_get(st, "updates");
	out[0] = '\0';
	size_t i;
	json_t *u;
	json_array_foreach(ups, i, u) {
		if (strcmp(jstr(u, "sid"), sid) == 0) {
			json_t *v = rig_values(json_object_get(u, "params"),
			    "Status");
			snprintf(out, sizeof(out), "%s",
			    json_string_value(json_array_get(v, 0)));
			json_decref(v);
		}
	}
	json_decref(st);
	return (out);
}

static void
hangup(void **st)
{
	(void) st;
	rig_core core;
	rig_core_init(&core);
	char *y = rig_yaml(NULL);
	cx_testkit *tk = rig_kit(y, &core);
	char *sid = place_ok(tk, "call_h1", NULL);
	char data[256];
	snprintf(data, sizeof(data), "{\"v\":1, \"call_id\":\"call_h1\", "
	    "\"provider_call_id\":\"%s\"}", sid);
	json_t *r = NULL;
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_HANGUP, data, 5000,
	                     &r),
	    CX_OK);
	json_decref(r);
	assert_string_equal(last_update_status(sid), "canceled");
	free(sid);
	sid = place_ok(tk, "call_h2", NULL);
	char ctl[128];
	snprintf(ctl, sizeof(ctl), "{\"sid\":\"%s\", \"status\":"
	    "\"in-progress\"}", sid);
	json_decref(rig_fake("POST", "/_test/call", ctl));
	snprintf(data, sizeof(data), "{\"v\":1, \"call_id\":\"call_h2\", "
	    "\"provider_call_id\":\"%s\"}", sid);
	r = NULL;
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_HANGUP, data, 5000,
	                     &r),
	    CX_OK);
	json_decref(r);
	assert_string_equal(last_update_status(sid), "completed");
	/* Already over: nothing to send. */
	r = NULL;
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_HANGUP, data, 5000,
	                     &r),
	    CX_OK);
	json_decref(r);
	free(sid);
	r = NULL;
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_HANGUP,
	                     "{\"v\":1, \"provider_call_id\":"
	                     "\"CA0123456789abcdef0123456789abcdef\"}",
	                     5000, &r),
	    CX_ENOENT);
	json_decref(r);
	cx_testkit_free(tk);
	free(y);
	rig_core_free(&core);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s <twilio.so>\n", argv[0]);
		return (2);
	}
	rig_plugin = argv[1];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(place_wire),
	    cmocka_unit_test(place_errors),
	    cmocka_unit_test(timeout_then_lookup),
	    cmocka_unit_test(lookup_pages),
	    cmocka_unit_test(hangup),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return (rc);
}
