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
	/* The API sees the runtime first (its handlers kick the dialer
	 * through it); the dialer starts last, once events can arrive. */
	if (api != NULL) {
		cxi_api_set_calling(api, c);
	}
	cx_err rv = cxi_dialer_start(&c->dialer, c, why, whylen);
	if (rv != CX_OK) {
		cxi_calling_stop(c);
		return (rv);
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
	/* The dialer first: it places calls the other parts follow. */
	cxi_dialer_stop(c->dialer);
	c->dialer = NULL;
	if (c->api != NULL) {
		cxi_api_set_calling(c->api, NULL);
	}
	json_decref(c->dialer_conf.provider_cps);
	sodium_memzero(c->master_key, sizeof(c->master_key));
	free(c->data_dir);
	free(c);
}
