/*
 * host.h - the cx_host table behind one plugin instance.
 *
 * The same code backs an in-process plugin and a plugin running in
 * callixo-plugin-host: only the route and metric sinks differ (the daemon
 * registers routes with its HTTP server; the child keeps them and reports
 * them to the daemon, which forwards requests over the bus).
 */
#ifndef CXI_HOST_H
#define CXI_HOST_H

#include <stdbool.h>

#include <callixo/host.h>
#include "bus.h"

typedef struct cxi_hostctx cxi_hostctx;

typedef struct cxi_host_sinks {
	int (*route_add)(void *arg, const char *plugin, const char *method,
	    const char *subpath, cx_http_fn fn, void *fnarg);
	void (*metric_add)(void *arg, const char *plugin, const char *metric,
	    int64_t delta);
	void *arg;
} cxi_host_sinks;

/* `bus` stays owned by the caller and must outlive the context. */
int cxi_hostctx_new(cxi_hostctx **out, const char *name,
    const char *data_dir, cxi_bus_client *bus, const cxi_host_sinks *sinks);
const cx_host *cxi_hostctx_table(const cxi_hostctx *hc);
/* Cancels every timer and waits for running timer callbacks. */
void cxi_hostctx_quiesce(cxi_hostctx *hc);
void cxi_hostctx_free(cxi_hostctx *hc);
/* Whether the plugin registered a policy answer (so a survey should
 * wait until its respondent has joined). */
bool cxi_hostctx_answers_policy(const cxi_hostctx *hc);

#endif
