/*
 * config_webhooks.c - the `webhooks:` section: how customer webhooks
 * are delivered (outhooks.c).
 *
 *   webhooks:
 *     allow_private: false   # loopback/private/link-local targets
 *     allow_http: false      # plain http:// endpoint URLs
 *     timeout: 10s           # one attempt, connect to last byte
 *     max_age: 24h           # retries stop this long after queueing
 *     backoff: 30s           # first retry delay, doubled each time
 *     backoff_max: 1h        # ... up to this (both +-20% jitter)
 *     workers: 4             # attempts in flight at once
 *     retention_days: 30     # finished deliveries are then deleted
 *
 * The two allow_ switches exist for tests and local setups; on a
 * production host they would let any account reach internal services
 * (SSRF), so they are off by default and a start with either on logs a
 * warning.
 */
#include "config_int.h"

void
cxi_cfg_webhooks(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *wh)
{
	static const char *const keys[] = {"allow_private", "allow_http",
	    "timeout", "max_age", "backoff", "backoff_max", "workers", "retention_days", NULL};
	long long v;

	cfg->hooks_allow_private = false;
	cfg->hooks_allow_http = false;
	cfg->hooks_timeout_ms = 10 * 1000;
	cfg->hooks_max_age_ms = 24 * 3600 * 1000;
	cfg->hooks_backoff_ms = 30 * 1000;
	cfg->hooks_backoff_max_ms = 3600 * 1000;
	cfg->hooks_workers = 4;
	cfg->hooks_retention_days = 30;
	if (cxi_cfg_map(cc, wh, "webhooks") <= 0) {
		return;
	}
	cxi_cfg_keys(cc, wh, keys, "in webhooks");
	cxi_cfg_bool(cc, wh, "allow_private", &cfg->hooks_allow_private);
	cxi_cfg_bool(cc, wh, "allow_http", &cfg->hooks_allow_http);
	cxi_cfg_dur(cc, wh, "timeout", 1000, &cfg->hooks_timeout_ms);
	if (cfg->hooks_timeout_ms > 120 * 1000) {
		const cxi_ynode *n = cxi_ynode_get(wh, "timeout");
		CXI_CERR(cc, n->line, n->col, "webhooks.timeout must be at most "
		    "2m (a slow endpoint holds a delivery worker that long)");
	}
	cxi_cfg_dur(cc, wh, "max_age", 1000, &cfg->hooks_max_age_ms);
	cxi_cfg_dur(cc, wh, "backoff", 1000, &cfg->hooks_backoff_ms);
	cxi_cfg_dur(cc, wh, "backoff_max", 1000, &cfg->hooks_backoff_max_ms);
	if (cfg->hooks_backoff_max_ms < cfg->hooks_backoff_ms) {
		const cxi_ynode *n = cxi_ynode_get(wh, "backoff_max");
		CXI_CERR(cc, n != NULL ? n->line : wh->line,
		    n != NULL ? n->col : wh->col, "webhooks.backoff_max must "
		    "not be shorter than webhooks.backoff");
	}
	if (cxi_cfg_int(cc, wh, "workers", 1, 64, &v) == 1) {
		cfg->hooks_workers = (int) v;
	}
	if (cxi_cfg_int(cc, wh, "retention_days", 1, 3650, &v) == 1) {
		cfg->hooks_retention_days = (int) v;
	}
}
