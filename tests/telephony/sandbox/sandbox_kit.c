/*
 * sandbox_kit.c - see sandbox_kit.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <callixo/telephony.h>

#include "sandbox_kit.h"

const char *plugin_path;

cx_testkit *
kit(const char *yaml, fake_core *f)
{
	cx_testkit *tk;
	assert_int_equal(cx_testkit_new(&tk), CX_OK);
	if (cx_testkit_load(tk, plugin_path, yaml) != CX_OK) {
		fail_msg("load: %s", cx_testkit_error(tk));
	}
	assert_int_equal(cx_testkit_serve(tk, "core", fake_serve, f), CX_OK);
	if (cx_testkit_start(tk) != CX_OK) {
		fail_msg("start: %s", cx_testkit_error(tk));
	}
	return (tk);
}

char *
place_json(const char *call_id, int n, const char *extra)
{
	char *s = NULL;
	assert_true(asprintf(&s, "{\"v\":1, \"call_id\":\"%s\", "
	                         "\"to\":\"+1415555%04d\", \"from\":\"+14155550000\", "
	                         "\"agent\":\"agent_123\", \"record\":true, "
	                         "\"disclosure\":true, \"machine_detection\":true, "
	                         "\"voicemail\":{\"action\":\"message\", \"message\":"
	                         "\"Hi {{name}}, please call us back.\"}, "
	                         "\"variables\":{\"name\":\"Ada\", \"company\":\"Acme\"}, "
	                         "\"analysis\":{\"summary\":true, \"fields\":["
	                         "{\"name\":\"interested\",\"type\":\"boolean\"}, "
	                         "{\"name\":\"score\",\"type\":\"number\"}, "
	                         "{\"name\":\"objection\",\"type\":\"string\"}, "
	                         "{\"name\":\"next_step\",\"type\":\"enum\", "
	                         "\"choices\":[\"callback\",\"email\",\"none\"]}]}%s}",
	                call_id, n + 1, extra ? extra : "") > 0);
	return (s);
}

/* Places a call; returns the provider call id (caller frees). */
char *
place(cx_testkit *tk, const char *call_id, int n, const char *extra)
{
	char *req = place_json(call_id, n, extra);
	json_t *reply = NULL;
	cx_err rv = cx_testkit_request(tk, CX_SVC_CALL_PLACE, req, T_MS, &reply);
	free(req);
	if (rv != CX_OK) {
		fail_msg("place %s: %s %s", call_id, cx_strerror(rv),
		    json_string_value(json_object_get(reply, "message")));
	}
	assert_string_equal(json_string_value(json_object_get(reply, "status")),
	    "queued");
	const char *pcid = json_string_value(json_object_get(reply,
	    "provider_call_id"));
	assert_non_null(pcid);
	assert_true(strncmp(pcid, "SBX", 3) == 0);
	char *out = strdup(pcid);
	json_decref(reply);
	return (out);
}

const char *
s_of(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return (s != NULL ? s : "");
}

/* The statuses a call goes through, by outcome. */
json_t *
lookup(cx_testkit *tk, const char *data)
{
	json_t *r = NULL;
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_LOOKUP, data, T_MS,
	                     &r), CX_OK);
	return (r);
}

cx_err
hangup(cx_testkit *tk, const char *data, json_t **reply)
{
	return (cx_testkit_request(tk, CX_SVC_CALL_HANGUP, data, T_MS, reply));
}

/* Slow calls that stay live, found by lookup before and after a
 * restart; the restart reports the live one failed. */
