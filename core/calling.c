/*
 * calling.c - starts and stops the calling runtime (calling.h) and hands
 * it to the API. Parts start in dependency order: events first (so a
 * plugin's webhook for a call is never refused once calls can be
 * placed), then customer webhooks, then the dialer; they stop in
 * reverse.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "callevents.h"
#include "calling.h"
#include "dialer.h"
#include "log.h"

cx_err
cxi_calling_start(cxi_calling **out, cxi_manager *mgr, cxi_http *http,
    cxi_api *api, const cxi_config *cfg,
    const uint8_t master_key[CXI_MASTER_KEY_BYTES],
    const char *master_key_id, char *why, size_t whylen)
{
	cxi_calling *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->data_dir = strdup(cfg->data_dir)) == NULL) {
		free(c);
		snprintf(why, whylen, "calling: out of memory");
		return (CX_ENOMEM);
	}
	c->mgr = mgr;
	c->http = http;
	c->api = api;
	memcpy(c->master_key, master_key, CXI_MASTER_KEY_BYTES);
	snprintf(c->master_key_id, sizeof(c->master_key_id), "%s",
	    master_key_id);
	c->dialer_conf = cfg->dialer;
	c->dialer_conf.provider_cps = cfg->dialer.provider_cps != NULL ?
	    json_deep_copy(cfg->dialer.provider_cps) : json_object();
	if (c->dialer_conf.provider_cps == NULL) {
		cxi_calling_stop(c);
		snprintf(why, whylen, "calling: out of memory");
		return (CX_ENOMEM);
	}
	if (c->dialer_conf.tick_ms <= 0) {
		/* A config built by hand (the test kit): the defaults. */
		c->dialer_conf.tick_ms = 500;
		c->dialer_conf.account_max_concurrency = 10;
		c->dialer_conf.dispatch_timeout_ms = 15000;
		c->dialer_conf.reconcile_after_ms = 30000;
		c->dialer_conf.max_call_duration_ms = 2 * 3600 * 1000;
		c->dialer_conf.dispatch_workers = 4;
		c->dialer_conf.dispatch_backoff_ms = 1000;
	}
	c->hooks_conf = (cxi_outhooks_conf){
	    .allow_private = cfg->hooks_allow_private,
	    .allow_http = cfg->hooks_allow_http,
	    .timeout_ms = cfg->hooks_timeout_ms,
	    .max_age_ms = cfg->hooks_max_age_ms,
	    .backoff_ms = cfg->hooks_backoff_ms,
	    .backoff_max_ms = cfg->hooks_backoff_max_ms,
	    .workers = cfg->hooks_workers,
	    .retention_days = cfg->hooks_retention_days,
	};
	/* Events first: once calls can be placed, a provider's callback
	 * must find its handler. Then customer webhooks. */
	cx_err rv = cxi_callevents_start(&c->events, c, why, whylen);
	if (rv == CX_OK) {
		rv = cxi_outhooks_start(&c->hooks, c, why, whylen);
	}
	/* The dialer last, once events can be received. */
	if (rv == CX_OK) {
		rv = cxi_dialer_start(&c->dialer, c, why, whylen);
	}
	if (rv != CX_OK) {
		cxi_calling_stop(c);
		return (rv);
	}
	if (api != NULL) {
		cxi_api_set_calling(api, c);
	}
	*out = c;
	return (CX_OK);
}

void
cxi_calling_stop(cxi_calling *c)
{
	if (c == NULL) {
		return;
	}
	if (c->api != NULL) {
		cxi_api_set_calling(c->api, NULL);
	}
	/* The dialer first: it places the calls the other parts follow. */
	cxi_dialer_stop(c->dialer);
	c->dialer = NULL;
	cxi_outhooks_stop(c->hooks);
	/* Events last: the dialer and outhooks may still report to it. */
	cxi_callevents_stop(c->events);
	json_decref(c->dialer_conf.provider_cps);
	sodium_memzero(c->master_key, sizeof(c->master_key));
	free(c->data_dir);
	free(c);
}
