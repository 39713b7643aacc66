/*
 * fuzz_retell_event.c - the webhook JSON parser and the call.event
 * builder on arbitrary bytes (they only ever see bodies whose signature
 * checked out, but a key can leak and Retell's payload grows).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "retell.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *root = NULL;
	rt_hook_info info;
	char err[160];
	if (retell_event_parse(data, size, &root, &info, err, sizeof(err)) !=
	    CX_OK) {
		if (root != NULL || err[0] == '\0') {
			abort();
		}
		return (0);
	}
	if (info.call_id[0] == '\0' || info.event[0] == '\0') {
		abort();
	}
	json_t *ev = retell_event_build(root, &info, "retell");
	if (ev == NULL) {
		/* Only an input too large for the core may give nothing. */
		if (size <= RT_EVENT_MAX / 2) {
			abort();
		}
		json_decref(root);
		return (0);
	}
	char *text = json_dumps(ev, JSON_COMPACT);
	if (text == NULL || strlen(text) > RT_EVENT_MAX) {
		abort();
	}
	free(text);
	const char *st, *oc;
	retell_call_status(json_object_get(root, "call"), &st, &oc);
	if (st == NULL) {
		abort();
	}
	json_decref(ev);
	json_decref(root);
	return (0);
}
