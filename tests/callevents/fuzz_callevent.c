/*
 * fuzz_callevent.c - fuzz target for what a telephony plugin can feed
 * the core: the call.event validator (the input as JSON), and the Range
 * header parser of the recording download (the input as a header
 * value). Neither may crash, leak or accept what it should refuse: an
 * accepted event must have the required fields with the right types.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "callevents.h"
#include "httprange.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	json_t *ev = json_loadb((const char *) data, size, JSON_DECODE_ANY,
	    NULL);
	if (ev != NULL && cxi_callevent_validate(ev, why, sizeof(why)) ==
	    CX_OK) {
		if (!json_is_string(json_object_get(ev, "provider")) ||
		    !json_is_string(json_object_get(ev, "event_id")) ||
		    !json_is_integer(json_object_get(ev, "seq")) ||
		    !json_is_string(json_object_get(ev, "status"))) {
			abort();
		}
	}
	json_decref(ev);
	char *hdr = malloc(size + 1);
	if (hdr == NULL) {
		return (0);
	}
	memcpy(hdr, data, size);
	hdr[size] = '\0';
	int64_t a = -1, b = -1;
	for (int64_t len = 0; len < 3000; len += 997) {
		if (cxi_http_range(hdr, len, &a, &b) == 1 &&
		    (a < 0 || b < a || b >= len)) {
			abort();
		}
	}
	free(hdr);
	return (0);
}
