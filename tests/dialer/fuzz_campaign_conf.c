/*
 * fuzz_campaign_conf.c - fuzz target for a campaign's config
 * (core/campaign_conf.c), which is customer JSON. Any input ends in
 * CX_OK or CX_EINVAL with a reason, never a crash; an accepted config
 * keeps its invariants (windows ordered and in range, from numbers
 * present when complete) and its voicemail template renders.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "campaign_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const json_t *j, bool complete)
{
	cxi_campaign_conf cc;
	char why[256] = "";
	cx_err rv = cxi_campaign_conf_parse(j, complete, &cc, why, sizeof(why));
	if (rv != CX_OK) {
		if (rv != CX_EINVAL || why[0] == '\0') {
			abort();
		}
		return;
	}
	for (size_t i = 0; i < cc.windows.n; i++) {
		if (cc.windows.w[i].start_minute < 0 ||
		    cc.windows.w[i].end_minute > CXI_DAY_MINUTES ||
		    cc.windows.w[i].start_minute >= cc.windows.w[i].end_minute) {
			abort();
		}
	}
	if ((complete && (cc.n_from == 0 || cc.telephony == NULL ||
	                     cc.agent == NULL)) ||
	    cc.max_concurrency < 1 || !(cc.cps > 0) || cc.analysis == NULL) {
		abort();
	}
	json_t *vars = json_pack("{s:s, s:s}", "name", "Ada", "phone", "+1555");
	char *m = cxi_template_render(cc.vm_template, vars);
	if (m == NULL) {
		abort();
	}
	free(m);
	json_decref(vars);
	cxi_campaign_conf_free(&cc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *) data, size, 0, NULL);
	if (j == NULL) {
		return (0);
	}
	check(j, false);
	check(j, true);
	json_decref(j);
	return (0);
}
