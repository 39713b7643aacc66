/*
 * fuzz_admin.c - raw bytes into the admin request path, exactly as a
 * local client can send them: parse, dispatch to a handler, serialise
 * the reply. Crashes, leaks and replies that do not serialise fail.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"

static json_t *
echo(void *arg, const char *cmd, const json_t *args)
{
	(void)arg;
	/* Exercise what real handlers do with a request. */
	if (strcmp(cmd, "fail") == 0) {
		return (cxi_admin_fail("no such thing: %s",
		    json_string_value(json_object_get(args, "name"))
		    ? json_string_value(json_object_get(args, "name"))
		    : "(none)"));
	}
	return (cxi_admin_ok(json_pack("{s:s,s:O}", "cmd", cmd, "args",
	    (json_t *)args)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *req;
	const char *cmd;
	const json_t *args;
	char why[256];
	if (cxi_admin_parse_request(data, size, &req, &cmd, &args, why,
	    sizeof(why)) == 0) {
		if (cmd == NULL || !json_is_object(args)) {
			abort();
		}
		json_decref(req);
	} else if (strncmp(why, "malformed request: ", 19) != 0) {
		abort();
	}

	json_t *reply = cxi_admin_dispatch(data, size, echo, NULL);
	if (reply == NULL) {
		abort();
	}
	char *text = json_dumps(reply, JSON_COMPACT);
	if (text == NULL) {
		abort();
	}
	free(text);
	json_decref(reply);
	return (0);
}
