/*
 * fuzz_dg_parse.c - Deepgram's answers through the plugin's parsers:
 * the 200 body with every combination of the options that change what
 * is expected, and the error-body summary. Whatever the bytes, the
 * parser returns a reply or CX_EPROTO with a reason, never crashes, and
 * a reply always has the contract's shape.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int mode = 0; mode < 4; mode++) {
		json_t *out = NULL;
		char why[DG_MSG_MAX];
		cx_err e = dg_parse_result((const char *) data, size, mode & 1,
		    mode & 2, &out, why, sizeof(why));
		if (e == CX_OK) {
			const json_t *tr = json_object_get(out, "transcript");
			if (!json_is_string(json_object_get(tr, "text")) ||
			    !json_is_array(json_object_get(tr, "utterances")) ||
			    !json_is_string(json_object_get(out, "request_id"))) {
				abort();
			}
			json_decref(out);
		} else if (out != NULL || (e == CX_EPROTO && why[0] == '\0')) {
			abort();
		}
	}
	char msg[DG_MSG_MAX];
	dg_parse_error((const char *) data, size, msg, sizeof(msg));
	if (msg[0] == '\0' || strlen(msg) >= sizeof(msg)) {
		abort();
	}
	char tiny[8];
	dg_parse_error((const char *) data, size, tiny, sizeof(tiny));
	return (0);
}
