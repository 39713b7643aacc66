/*
 * test_campaign_conf.c - a campaign's config JSON (core/campaign_conf.c):
 * defaults, every field's checks with the field named in the error,
 * draft versus complete, retry rules and voicemail templates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "campaign_conf.h"

#define FULL                                                              \
	"{\"telephony\":\"twilio\",\"agent\":\"https://agent.example.com/x\"," \
	"\"from_numbers\":[\"+15550100001\",\"+15550100002\"]"

static cx_err
parse(const char *text, bool complete, cxi_campaign_conf *cc, char *why,
    size_t whylen)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (j == NULL) {
		fail_msg("bad test JSON %s: %s", text, e.text);
	}
	why[0] = '\0';
	cx_err rv = cxi_campaign_conf_parse(j, complete, cc, why, whylen);
	json_decref(j);
	return (rv);
}

/* The config is refused and the message starts with `field`. */
static void
refused(const char *text, const char *field)
{
	cxi_campaign_conf cc;
	char why[256];
	cx_err rv = parse(text, false, &cc, why, sizeof(why));
	if (rv != CX_EINVAL || strncmp(why, field, strlen(field)) != 0) {
		fail_msg("%s: got %d '%s', expected an error about %s", text,
		    rv, why, field);
	}
}

static void
test_defaults(void **state)
{
	(void) state;
	cxi_campaign_conf cc;
	char why[256];
	assert_int_equal(parse(FULL "}", true, &cc, why, sizeof(why)), CX_OK);
	assert_string_equal(cc.telephony, "twilio");
	assert_int_equal(cc.n_from, 2);
	assert_string_equal(cc.from[1], "+15550100002");
	assert_true(cc.record);
	assert_true(cc.disclosure);
	assert_false(cc.vm_message);
	assert_int_equal(cc.max_concurrency, 5);
	assert_true(cc.cps == 1.0);
	assert_string_equal(cc.tz_fallback, "UTC");
	assert_int_equal(cc.breaker_min_calls, 5);
	assert_true(cc.breaker_ratio == 0.5);
	assert_int_equal(cc.breaker_window_s, 120);
	assert_int_equal(cc.windows.n, 0);
	/* No retry unless asked for. */
	assert_int_equal(cxi_campaign_retry(&cc, "busy")->max_attempts, 1);
	assert_null(cxi_campaign_retry(&cc, "answered"));
	assert_true(json_is_true(json_object_get(cc.analysis, "summary")));
	cxi_campaign_conf_free(&cc);
}

static void
test_everything(void **state)
{
	(void) state;
	cxi_campaign_conf cc;
	char why[256];
	const char *t = FULL ",\"credential\":\"eu\",\"record\":false,"
	    "\"recording_disclosure\":false,\"voicemail\":{\"action\":"
	    "\"message\",\"message\":\"Hi {{name}}, call {{ phone }}\"},"
	    "\"max_concurrency\":3,\"calls_per_second\":0.5,\"retry\":{"
	    "\"no_answer\":{\"after_minutes\":30,\"max_attempts\":3},"
	    "\"voicemail\":{\"after_minutes\":120,\"max_attempts\":2}},"
	    "\"analysis\":{\"summary\":false,\"fields\":[{\"name\":"
	    "\"interested\",\"type\":\"boolean\",\"description\":\"d\"},"
	    "{\"name\":\"tier\",\"type\":\"enum\",\"choices\":[\"a\",\"b\"]}]},"
	    "\"windows\":[{\"start_minute\":540,\"end_minute\":720},"
	    "{\"start_minute\":780,\"end_minute\":1200}],\"weekdays\":"
	    "[\"mon\",\"fri\"],\"timezone_fallback\":\"Europe/Berlin\","
	    "\"breaker\":{\"min_calls\":10,\"failure_ratio\":0.3,"
	    "\"window_seconds\":60}}";
	assert_int_equal(parse(t, true, &cc, why, sizeof(why)), CX_OK);
	assert_string_equal(cc.credential, "eu");
	assert_false(cc.record);
	assert_true(cc.vm_message);
	assert_int_equal(cc.max_concurrency, 3);
	assert_true(cc.cps == 0.5);
	const cxi_retry_rule *r = cxi_campaign_retry(&cc, "no_answer");
	assert_int_equal(r->after_minutes, 30);
	assert_int_equal(r->max_attempts, 3);
	assert_int_equal(cxi_campaign_retry(&cc, "failed")->max_attempts, 1);
	assert_int_equal(cc.windows.n, 2);
	assert_int_equal(cc.windows.weekdays, (1u << 1) | (1u << 5));
	assert_string_equal(cc.tz_fallback, "Europe/Berlin");
	assert_int_equal(cc.breaker_min_calls, 10);
	assert_int_equal(json_array_size(json_object_get(cc.analysis,
	    "fields")), 2);
	assert_false(json_is_true(json_object_get(cc.analysis, "summary")));
	json_t *vars = json_pack("{s:s, s:s}", "name", "Ada", "phone",
	    "+4930123");
	char *m = cxi_template_render(cc.vm_template, vars);
	assert_string_equal(m, "Hi Ada, call +4930123");
	free(m);
	json_decref(vars);
	cxi_campaign_conf_free(&cc);
}

static void
test_draft_and_complete(void **state)
{
	(void) state;
	cxi_campaign_conf cc;
	char why[256];
	assert_int_equal(parse("{}", false, &cc, why, sizeof(why)), CX_OK);
	cxi_campaign_conf_free(&cc);
	assert_int_equal(cxi_campaign_conf_parse(NULL, false, &cc, why,
	    sizeof(why)), CX_OK);
	cxi_campaign_conf_free(&cc);
	assert_int_equal(parse("{\"agent\":\"agent_1\"}", true, &cc, why,
	    sizeof(why)), CX_EINVAL);
	assert_string_equal(why, "config.telephony is required");
	assert_int_equal(parse("{\"telephony\":\"retell\",\"agent\":"
	    "\"agent_1\"}", true, &cc, why, sizeof(why)), CX_EINVAL);
	assert_string_equal(why, "config.from_numbers is required");
}

static void
test_errors_name_the_field(void **state)
{
	(void) state;
	refused("{\"nope\":1}", "config.nope");
	refused("{\"telephony\":\"a b\"}", "config.telephony");
	refused("{\"telephony\":7}", "config.telephony");
	refused("{\"agent\":\"ftp://x\"}", "config.agent");
	refused("{\"agent\":\"https://\"}", "config.agent");
	refused("{\"from_numbers\":[]}", "config.from_numbers");
	refused("{\"from_numbers\":[\"+15550100001\",\"5550100\"]}",
	    "config.from_numbers[1]");
	refused("{\"credential\":\"\"}", "config.credential");
	refused("{\"record\":\"yes\"}", "config.record");
	refused("{\"recording_disclosure\":1}", "config.recording_disclosure");
	refused("{\"voicemail\":{\"action\":\"sing\"}}",
	    "config.voicemail.action");
	refused("{\"voicemail\":{\"action\":\"message\"}}",
	    "config.voicemail.message");
	refused("{\"voicemail\":{\"action\":\"hangup\",\"x\":1}}",
	    "config.voicemail.x");
	refused("{\"max_concurrency\":0}", "config.max_concurrency");
	refused("{\"calls_per_second\":0}", "config.calls_per_second");
	refused("{\"calls_per_second\":\"fast\"}", "config.calls_per_second");
	refused("{\"retry\":{\"declined\":{}}}", "config.retry.declined");
	refused("{\"retry\":{\"busy\":{\"max_attempts\":0}}}",
	    "config.retry.busy.max_attempts");
	refused("{\"retry\":{\"busy\":{\"after_minutes\":-1}}}",
	    "config.retry.busy.after_minutes");
	refused("{\"analysis\":{\"fields\":[{\"name\":\"Bad Name\","
	        "\"type\":\"string\"}]}}", "config.analysis.fields[0].name");
	refused("{\"analysis\":{\"fields\":[{\"name\":\"x\",\"type\":"
	        "\"date\"}]}}", "config.analysis.fields[0].type");
	refused("{\"analysis\":{\"fields\":[{\"name\":\"x\",\"type\":"
	        "\"enum\"}]}}", "config.analysis.fields[0].choices");
	refused("{\"analysis\":{\"fields\":[{\"name\":\"x\",\"type\":"
	        "\"string\",\"choices\":[\"a\"]}]}}",
	    "config.analysis.fields[0].choices");
	refused("{\"analysis\":{\"fields\":[{\"name\":\"x\",\"type\":"
	        "\"string\"},{\"name\":\"x\",\"type\":\"number\"}]}}",
	    "config.analysis.fields[1].name");
	refused("{\"windows\":[{\"start_minute\":600,\"end_minute\":600}]}",
	    "config.windows[0]");
	refused("{\"windows\":[{\"start_minute\":0,\"end_minute\":1441}]}",
	    "config.windows[0].end_minute");
	refused("{\"windows\":[{\"start_minute\":0}]}", "config.windows[0]");
	refused("{\"weekdays\":[\"mon\",\"someday\"]}", "config.weekdays[1]");
	refused("{\"weekdays\":[]}", "config.weekdays");
	refused("{\"timezone_fallback\":\"Mars/Base\"}",
	    "config.timezone_fallback");
	refused("{\"breaker\":{\"failure_ratio\":1.5}}",
	    "config.breaker.failure_ratio");
	refused("{\"breaker\":{\"min_calls\":0}}", "config.breaker.min_calls");
	refused("[1]", "config must be an object");
}

static void
test_template(void **state)
{
	(void) state;
	json_t *vars = json_pack("{s:s, s:s}", "name", "Ada", "plan", "gold");
	const char *cases[][2] = {
	    {"plain", "plain"},
	    {"{{name}} has {{plan}}", "Ada has gold"},
	    {"{{missing}}!", "!"},
	    {"{{ name }}", "Ada"},
	    {"open {{name", "open {{name"},
	    {"{{}}x", "x"},
	    {"", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = cxi_template_render(cases[i][0], vars);
		assert_non_null(out);
		assert_string_equal(out, cases[i][1]);
		free(out);
	}
	json_decref(vars);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_everything),
	    cmocka_unit_test(test_draft_and_complete),
	    cmocka_unit_test(test_errors_name_the_field),
	    cmocka_unit_test(test_template),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
