/*
 * plugin_host.c - callixo-plugin-host: runs one plugin in its own process.
 *
 * The daemon starts this for plugins configured with isolation: process.
 * It loads the plugin with the same loader and host table as the daemon,
 * joins the bus over ipc://, and announces itself (with the HTTP routes
 * the plugin registered) to the core's "core" service. HTTP requests for
 * those routes come back as CX_SVC_HTTP_REQUEST service requests. If the
 * plugin crashes, only this process dies; the daemon restarts it.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "bus.h"
#include "host.h"
#include "http.h"
#include "httpwire.h"
#include "loader.h"
#include "log.h"

typedef struct route {
	char *method, *subpath;
	cx_http_fn fn;
	void *arg;
} route;

typedef struct child {
	const char *name;
	cxi_bus_client *bus;
	cx_host table; /* copy of the host table with `serve` wrapped */
	cx_service_fn plugin_fn;
	void *plugin_arg;
	pthread_mutex_t mu;
	route *routes;
	size_t n_routes;
} child;

static child g; /* one plugin per process: the process is the instance */

static int
route_add(void *arg, const char *plugin, const char *method,
    const char *subpath, cx_http_fn fn, void *fnarg)
{
	(void) arg;
	(void) plugin;
	pthread_mutex_lock(&g.mu);
	route *nr = realloc(g.routes, (g.n_routes + 1) * sizeof(*nr));
	if (nr == NULL) {
		pthread_mutex_unlock(&g.mu);
		return (-1);
	}
	g.routes = nr;
	route *r = &g.routes[g.n_routes];
	r->method = strdup(method);
	r->subpath = strdup(subpath);
	r->fn = fn;
	r->arg = fnarg;
	if (r->method == NULL || r->subpath == NULL) {
		free(r->method);
		free(r->subpath);
		pthread_mutex_unlock(&g.mu);
		return (-1);
	}
	g.n_routes++;
	pthread_mutex_unlock(&g.mu);
	return (0);
}

static void
metric_add(void *arg, const char *plugin, const char *metric, int64_t delta)
{
	(void) arg;
	cxi_bus_publish(g.bus, "cx.metric", NULL,
	    json_pack("{s:s, s:s, s:I}", "plugin", plugin, "metric", metric,
	        "delta", (json_int_t) delta));
}

static bool
route_match(const route *r, const cx_http_req *req)
{
	if (strcmp(r->method, req->method) != 0) {
		return (false);
	}
	size_t n = strlen(r->subpath);
	if (n > 0 && r->subpath[n - 1] == '/') {
		return (strncmp(r->subpath, req->subpath, n) == 0);
	}
	return (strcmp(r->subpath, req->subpath) == 0);
}

static cx_err
serve_http(const json_t *data, json_t **reply)
{
	cx_http_req req;
	if (cxi_httpwire_req_decode(data, &req) != 0) {
		*reply = json_pack("{s:s}", "message", "malformed request");
		return (CX_EPROTO);
	}
	cx_http_resp resp = {.status = 200};
	snprintf(resp.content_type, sizeof(resp.content_type),
	    "application/json");
	cx_http_fn fn = NULL;
	void *arg = NULL;
	pthread_mutex_lock(&g.mu);
	for (size_t i = 0; i < g.n_routes; i++) {
		if (route_match(&g.routes[i], &req)) {
			fn = g.routes[i].fn;
			arg = g.routes[i].arg;
			break;
		}
	}
	pthread_mutex_unlock(&g.mu);
	if (fn == NULL) {
		cxi_http_error(&resp, 404, "not_found", "no route for this "
		    "method and path");
	} else if (fn(arg, &req, &resp) != CX_OK && resp.body == NULL) {
		cxi_http_error(&resp, 500, "internal", "plugin handler failed");
	}
	*reply = cxi_httpwire_resp_encode(&resp);
	free(resp.body);
	cxi_httpwire_req_release(&req);
	return (*reply ? CX_OK : CX_ENOMEM);
}

static cx_err
dispatch(void *arg, const cx_msg *req, json_t **reply)
{
	(void) arg;
	if (strcmp(req->type, CX_SVC_HTTP_REQUEST) == 0) {
		return (serve_http(req->data, reply));
	}
	if (g.plugin_fn == NULL) {
		*reply = json_pack("{s:s}", "message",
		    "this plugin answers no requests");
		return (CX_ENOENT);
	}
	return (g.plugin_fn(g.plugin_arg, req, reply));
}

static cx_err
wrapped_serve(const cx_host *h, cx_service_fn fn, void *arg)
{
	(void) h;
	g.plugin_fn = fn;
	g.plugin_arg = arg;
	return (CX_OK);
}

static int
announce(const cx_plugin *d)
{
	json_t *routes = json_array();
	for (size_t i = 0; i < g.n_routes; i++) {
		json_array_append_new(routes, json_pack("{s:s, s:s}", "method",
		    g.routes[i].method, "subpath", g.routes[i].subpath));
	}
	json_t *reply = NULL;
	cx_err rv = cxi_bus_call(g.bus, "core", "cx.plugin.hello", NULL,
	    json_pack("{s:s, s:I, s:s, s:s, s:o}", "name", g.name, "pid",
	        (json_int_t) getpid(), "version", d->version ? d->version : "",
	        "kind", cx_plugin_kind_name(d->kind), "routes", routes),
	    10000, &reply);
	if (rv != CX_OK) {
		const char *m = json_string_value(json_object_get(reply,
		    "message"));
		cxi_logf(CX_LOG_ERROR, "plugin-host",
		    "%s: the daemon refused our hello: %s%s%s", g.name,
		    cx_strerror(rv), m ? ": " : "", m ? m : "");
	}
	json_decref(reply);
	return (rv == CX_OK ? 0 : -1);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"name", 1, NULL, 'n'},
	    {"path", 1, NULL, 'p'}, {"kind", 1, NULL, 'k'},
	    {"bus-ns", 1, NULL, 'b'}, {"ipc-dir", 1, NULL, 'i'},
	    {"data-dir", 1, NULL, 'd'}, {"settings", 1, NULL, 's'},
	    {NULL, 0, NULL, 0}};
	const char *path = NULL, *kind = NULL, *ns = "", *ipc = NULL,
	           *dir = NULL, *sfile = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': g.name = optarg; break;
		case 'p': path = optarg; break;
		case 'k': kind = optarg; break;
		case 'b': ns = optarg; break;
		case 'i': ipc = optarg; break;
		case 'd': dir = optarg; break;
		case 's': sfile = optarg; break;
		default: return (2);
		}
	}
	if (!g.name || !path || !kind || !ipc || !dir || !sfile) {
		fprintf(stderr, "callixo-plugin-host is started by callixod; "
		                "it needs --name --path --kind --ipc-dir "
		                "--data-dir --settings\n");
		return (2);
	}
	/* If the daemon dies, so do we: an orphan would hold bus names. */
	pid_t parent = getppid();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent) {
		return (1);
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_mutex_init(&g.mu, NULL);
	const char *lvl = getenv("CALLIXO_LOG_LEVEL");
	cx_log_level ll = CX_LOG_INFO;
	if (lvl != NULL) {
		cxi_log_level_parse(lvl, &ll);
	}
	cxi_log_setup(ll, CXI_LOG_LOGFMT);

	char why[512];
	json_error_t jerr;
	json_t *settings = json_load_file(sfile, 0, &jerr);
	cxi_module *mod = NULL;
	cxi_hostctx *hc = NULL;
	void *state = NULL;
	const cx_plugin *d = NULL;
	int code = 1;
	bool inited = false;
	if (settings == NULL) {
		cxi_logf(CX_LOG_ERROR, "plugin-host", "%s: settings %s: %s",
		    g.name, sfile, jerr.text);
		goto out;
	}
	if (cxi_module_open(path, &mod, why, sizeof(why)) != 0) {
		cxi_logf(CX_LOG_ERROR, "plugin-host", "%s: %s: %s", g.name,
		    path, why);
		goto out;
	}
	d = cxi_module_desc(mod);
	if (strcmp(cx_plugin_kind_name(d->kind), kind) != 0) {
		cxi_logf(CX_LOG_ERROR, "plugin-host",
		    "%s: kind mismatch: configured as %s, plugin is %s", g.name,
		    kind, cx_plugin_kind_name(d->kind));
		goto out;
	}
	if (cxi_bus_client_open(&g.bus, g.name, ns, ipc) != 0) {
		cxi_logf(CX_LOG_ERROR, "plugin-host", "%s: cannot join the bus "
		    "in %s", g.name, ipc);
		goto out;
	}
	cxi_host_sinks sinks = {route_add, metric_add, NULL};
	if (cxi_hostctx_new(&hc, g.name, dir, g.bus, &sinks) != 0 ||
	    (state = calloc(1, d->state_size ? d->state_size : 1)) == NULL) {
		goto out;
	}
	g.table = *cxi_hostctx_table(hc);
	g.table.serve = wrapped_serve;
	cx_err rv = d->init(state, &g.table, settings);
	if (rv != CX_OK) {
		cxi_logf(CX_LOG_ERROR, "plugin-host", "%s: init failed: %s",
		    g.name, cx_strerror(rv));
		code = rv == CX_EDECLINE ? 3 : 1;
		goto out;
	}
	inited = true;
	if (d->start != NULL && (rv = d->start(state)) != CX_OK) {
		cxi_logf(CX_LOG_ERROR, "plugin-host", "%s: start failed: %s",
		    g.name, cx_strerror(rv));
		goto out;
	}
	if (cxi_bus_serve(g.bus, dispatch, NULL) != CX_OK || announce(d) != 0) {
		goto out;
	}
	int sig;
	sigwait(&set, &sig);
	code = 0;
out:
	if (g.bus != NULL) {
		cxi_bus_client_quiesce(g.bus);
	}
	if (hc != NULL) {
		cxi_hostctx_quiesce(hc);
	}
	if (inited && d->stop != NULL) {
		d->stop(state);
	}
	if (g.bus != NULL) {
		cxi_bus_client_close(g.bus);
	}
	if (inited && d->fini != NULL) {
		d->fini(state);
	}
	cxi_hostctx_free(hc);
	free(state);
	cxi_module_close(mod);
	json_decref(settings);
	for (size_t i = 0; i < g.n_routes; i++) {
		free(g.routes[i].method);
		free(g.routes[i].subpath);
	}
	free(g.routes);
	return (code);
}
