/*
 * hello_test - unit test of the hello plugin with the Callixo test kit.
 *
 * No daemon runs: the kit loads hello.so into an in-process core and the
 * test drives it through the bus and HTTP, then checks what it answers
 * and publishes. Run: ./hello_test ./hello.so
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <callixo/testkit.h>

static int failures;

#define CHECK(cond)                                                      \
	do {                                                             \
		if (!(cond)) {                                           \
			fprintf(stderr, "%s:%d: check failed: %s\n",     \
			    __FILE__, __LINE__, #cond);                  \
			failures++;                                      \
		}                                                        \
	} while (0)

static const char *
str(const json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));
	return (s ? s : "");
}

int
main(int argc, char **argv)
{
	const char *so = argc > 1 ? argv[1] : "./hello.so";
	cx_testkit *tk;
	json_t *reply = NULL, *ev = NULL;

	/* Settings are validated exactly as callixod would. */
	CHECK(cx_testkit_new(&tk) == CX_OK);
	CHECK(cx_testkit_load(tk, so, "greting: Hi\n") == CX_ECONFIG);
	CHECK(strstr(cx_testkit_error(tk), "greting") != NULL);
	CHECK(strstr(cx_testkit_error(tk), "did you mean 'greeting'") != NULL);
	cx_testkit_free(tk);

	CHECK(cx_testkit_new(&tk) == CX_OK);
	CHECK(cx_testkit_load(tk, so,
	          "greeting: Hi\nblocked: [mallory]\n") == CX_OK);
	CHECK(cx_testkit_start(tk) == CX_OK);

	/* A service request, and the event it publishes. */
	CHECK(cx_testkit_request(tk, "hello.greet", "{\"who\":\"ann\"}", 2000,
	          &reply) == CX_OK);
	CHECK(strcmp(str(reply, "message"), "Hi, ann") == 0);
	json_decref(reply);
	CHECK(cx_testkit_wait_event(tk, "hello.greeted", 2000, &ev) == CX_OK);
	CHECK(strcmp(str(json_object_get(ev, "data"), "who"), "ann") == 0);
	json_decref(ev);

	/* Bad input gets the plugin's own error. */
	reply = NULL;
	CHECK(cx_testkit_request(tk, "hello.greet", "{}", 2000, &reply) ==
	    CX_EINVAL);
	CHECK(strstr(str(reply, "message"), "who") != NULL);
	json_decref(reply);

	/* Policy survey: deny wins for blocked names. */
	cx_verdict v;
	CHECK(cx_testkit_survey(tk, "policy.greet", "{\"who\":\"mallory\"}",
	          500, &v) == CX_OK);
	CHECK(v == CX_POLICY_DENY);
	CHECK(cx_testkit_survey(tk, "policy.greet", "{\"who\":\"bob\"}", 500,
	          &v) == CX_OK);
	CHECK(v == CX_POLICY_ALLOW);

	/* Events it subscribes to, seen through its webhook route. */
	CHECK(cx_testkit_publish(tk, "call.completed", "acc_1", "{}") == CX_OK);
	int status = 0;
	char *body = NULL;
	size_t len = 0;
	const char *hdrs[] = {"Content-Type: text/plain", NULL};
	for (int i = 0; i < 50; i++) {
		free(body);
		body = NULL;
		CHECK(cx_testkit_http(tk, "POST", "/webhooks/hello/ping?x=1", hdrs,
		          "abc", 3, &status, &body, &len) == CX_OK);
		if (body != NULL && strstr(body, "\"calls_seen\":1") != NULL) {
			break;
		}
	}
	CHECK(status == 200);
	CHECK(body != NULL && strstr(body, "\"bytes\":3") != NULL);
	CHECK(body != NULL && strstr(body, "\"calls_seen\":1") != NULL);
	CHECK(body != NULL && strstr(body, "\"query\":\"x=1\"") != NULL);
	free(body);

	/* A reload with a new greeting goes through reconfigure. */
	CHECK(cx_testkit_reconfigure(tk, "greeting: Howdy\n") == CX_OK);
	CHECK(cx_testkit_request(tk, "hello.greet", "{\"who\":\"ann\"}", 2000,
	          &reply) == CX_OK);
	CHECK(strcmp(str(reply, "message"), "Howdy, ann") == 0);
	json_decref(reply);

	cx_testkit_free(tk);
	if (failures) {
		fprintf(stderr, "hello_test: %d checks failed\n", failures);
		return (1);
	}
	printf("hello_test: all checks passed\n");
	return (0);
}
