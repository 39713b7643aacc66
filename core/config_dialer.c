/*
 * config_dialer.c - the `dialer:` section: how the core's dialer
 * (dialer.c) paces and reconciles calls.
 *
 *   dialer:
 *     tick: 500ms                   # how often due leads are looked for
 *     account_max_concurrency: 10   # live calls per account, all campaigns
 *     dispatch_timeout: 15s         # how long one place_call may take
 *     reconcile_after: 30s          # a timed-out dispatch waits this long
 *                                   # before the provider is asked about it
 *     max_call_duration: 2h         # a live call older than this is
 *                                   # looked up at the provider
 *     dispatch_workers: 4           # place_call requests in flight at once
 *     dispatch_backoff: 1s          # first wait after a 429/5xx/no plugin;
 *                                   # doubles per try, at most 5 minutes
 *     provider_cps: {twilio: 1}     # calls per second per telephony
 *                                   # plugin instance (optional)
 */
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

/* Calls per second are decimal (0.5 = one call every two seconds). */
static int
cps_value(cxi_cctx *cc, const cxi_ynode *n, const char *name, double *out)
{
	char *end = NULL;
	if (n->type != CXI_Y_SCALAR || n->value == NULL || n->value[0] == '\0') {
		CXI_CERR(cc, n->line, n->col, "expected a number of calls per "
		    "second for dialer.provider_cps.%s", name);
		return (-1);
	}
	double v = strtod(n->value, &end);
	if (*end != '\0' || !(v > 0.0) || v > 10000.0) {
		CXI_CERR(cc, n->line, n->col, "dialer.provider_cps.%s must be "
		    "a number above 0 and at most 10000, got '%s'", name,
		    n->value);
		return (-1);
	}
	*out = v;
	return (0);
}

static void
cfg_cps(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *m)
{
	if (cxi_cfg_map(cc, m, "provider_cps") <= 0) {
		return;
	}
	for (size_t i = 0; i < m->n; i++) {
		double v;
		if (cps_value(cc, m->items[i], m->keys[i], &v) != 0) {
			continue;
		}
		if (json_object_set_new(cfg->dialer.provider_cps, m->keys[i],
		        json_real(v)) != 0) {
			CXI_CERR(cc, 0, 0, "out of memory");
			return;
		}
	}
}

void
cxi_cfg_dialer(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *d)
{
	static const char *const keys[] = {"tick", "account_max_concurrency",
	    "dispatch_timeout", "reconcile_after", "max_call_duration",
	    "dispatch_workers", "dispatch_backoff", "provider_cps", NULL};
	cxi_dialer_conf *dc = &cfg->dialer;
	long long v;

	dc->tick_ms = 500;
	dc->account_max_concurrency = 10;
	dc->dispatch_timeout_ms = 15 * 1000;
	dc->reconcile_after_ms = 30 * 1000;
	dc->max_call_duration_ms = 2 * 3600 * 1000;
	dc->dispatch_workers = 4;
	dc->dispatch_backoff_ms = 1000;
	if ((dc->provider_cps = json_object()) == NULL) {
		CXI_CERR(cc, 0, 0, "out of memory");
		return;
	}
	if (cxi_cfg_map(cc, d, "dialer") <= 0) {
		return;
	}
	cxi_cfg_keys(cc, d, keys, "in dialer");
	cxi_cfg_dur(cc, d, "tick", 10, &dc->tick_ms);
	if (cxi_cfg_int(cc, d, "account_max_concurrency", 1, 100000, &v) ==
	    1) {
		dc->account_max_concurrency = (int) v;
	}
	cxi_cfg_dur(cc, d, "dispatch_timeout", 100, &dc->dispatch_timeout_ms);
	cxi_cfg_dur(cc, d, "reconcile_after", 0, &dc->reconcile_after_ms);
	cxi_cfg_dur(cc, d, "max_call_duration", 1000,
	    &dc->max_call_duration_ms);
	if (cxi_cfg_int(cc, d, "dispatch_workers", 1, 256, &v) == 1) {
		dc->dispatch_workers = (int) v;
	}
	cxi_cfg_dur(cc, d, "dispatch_backoff", 10, &dc->dispatch_backoff_ms);
	cfg_cps(cc, cfg, cxi_ynode_get(d, "provider_cps"));
}
