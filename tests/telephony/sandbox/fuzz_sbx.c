/*
 * fuzz_sbx.c - the sandbox's two parsers: place requests (JSON from the
 * bus, checked as a provider would) and journal lines (a file that a
 * crash may have torn). A request the check accepts is also turned into
 * a script and a plan, which read the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sbx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sbx_record r;
	(void) sbx_journal_parse((const char *) data, size, &r);

	json_error_t e;
	json_t *req = json_loadb((const char *) data, size, 0, &e);
	char err[256];
	if (req != NULL && sbx_request_check(req, err, sizeof(err))) {
		const char *id = json_string_value(json_object_get(req,
		    "call_id"));
		sbx_config c = {.weights = {70, 10, 8, 8, 4}, .dial_max = 10,
		    .ring_max = 10, .talk_min = 1000, .talk_max = 5000,
		    .speed = 1};
		for (int oc = SBX_ANSWERED; oc <= SBX_VOICEMAIL; oc++) {
			json_t *sc = sbx_script_make(req, (sbx_outcome) oc, 1, id,
			    oc == SBX_ANSWERED ? 3000 : 0);
			json_t *ev = json_object();
			sbx_script_finish(sc, sbx_script_length(sc) / 2, true, ev);
			json_decref(ev);
			sbx_plan p;
			sbx_plan_make(&c, id, req, sbx_script_length(sc), &p);
			json_decref(sc);
		}
	}
	json_decref(req);
	return (0);
}
