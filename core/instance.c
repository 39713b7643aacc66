/*
 * instance.c - start, reconfigure and stop one in-process plugin.
 *
 * Stopping follows one order so a plugin never sees a callback after its
 * stop: routes are dropped (waiting for running handlers), bus handlers
 * quiesced, timers cancelled, then stop, bus close and fini, and only
 * then is the object unloaded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "instance.h"
#include "log.h"

static const char *const state_names[] = {"stopped", "starting", "running",
    "stopping", "failed", "declined", "restarting", "disabled"};

const char *
cxi_inst_state_name(cxi_inst_state s)
{
	return (s >= 0 && s <= CXI_INST_DISABLED ? state_names[s] : "unknown");
}

cxi_instance *
cxi_instance_new(const cxi_plugin_conf *pc, const cxi_manager_opts *opts,
    cxi_bus_client *core_bus)
{
	cxi_instance *in = calloc(1, sizeof(*in));
	if (in == NULL) {
		return (NULL);
	}
	in->name = strdup(pc->name);
	in->path = strdup(pc->path);
	if (in->name == NULL || in->path == NULL) {
		free(in->name);
		free(in->path);
		free(in);
		return (NULL);
	}
	in->kind = pc->kind;
	in->required = pc->required;
	in->iso = pc->isolation;
	in->settings = pc->settings ? json_deep_copy(pc->settings) : json_object();
	in->opts = opts;
	in->core_bus = core_bus;
	pthread_mutex_init(&in->mu, NULL);
	pthread_cond_init(&in->cv, NULL);
	return (in);
}

void
cxi_instance_free(cxi_instance *in)
{
	if (in == NULL) {
		return;
	}
	cxi_instance_stop(in);
	json_decref(in->settings);
	pthread_cond_destroy(&in->cv);
	pthread_mutex_destroy(&in->mu);
	free(in->name);
	free(in->path);
	free(in);
}

void
cxi_instance_fail(cxi_instance *in, const char *reason)
{
	snprintf(in->error, sizeof(in->error), "%s", reason);
	in->st = CXI_INST_FAILED;
	const char *kv[] = {"path", in->path, "reason", reason,
	    "required", in->required ? "true" : "false", NULL};
	cxi_log_line(CX_LOG_ERROR, "plugin", in->name, "plugin failed", kv);
}

static int
mkdir_p(const char *path)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int) sizeof(tmp)) {
		return (ENAMETOOLONG);
	}
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
				return (errno);
			}
			*p = '/';
		}
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
		return (errno);
	}
	return (0);
}

static int
route_sink(void *arg, const char *plugin, const char *method,
    const char *subpath, cx_http_fn fn, void *fnarg)
{
	cxi_http *http = arg;
	if (http == NULL) {
		return (ENOTSUP);
	}
	return (cxi_http_route_add(http, plugin, method, subpath, fn, fnarg));
}

static void
metric_sink(void *arg, const char *plugin, const char *metric, int64_t delta)
{
	if (arg != NULL) {
		cxi_http_metric_add(arg, plugin, metric, delta);
	}
}

/* Releases whatever an in-process start got to, in reverse order. */
static void
teardown(cxi_instance *in, bool initialised)
{
	if (in->opts->http != NULL) {
		cxi_http_routes_drop(in->opts->http, in->name);
	}
	if (in->bus != NULL) {
		cxi_bus_client_quiesce(in->bus);
	}
	if (in->hc != NULL) {
		cxi_hostctx_quiesce(in->hc);
	}
	if (initialised && in->desc->stop != NULL &&
	    in->st != CXI_INST_FAILED) {
		in->desc->stop(in->state);
	}
	if (in->bus != NULL) {
		cxi_bus_client_close(in->bus);
		in->bus = NULL;
	}
	if (initialised && in->desc->fini != NULL) {
		in->desc->fini(in->state);
	}
	cxi_hostctx_free(in->hc);
	in->hc = NULL;
	free(in->state);
	in->state = NULL;
	cxi_module_close(in->mod);
	in->mod = NULL;
	in->desc = NULL;
}

static int
start_inproc(cxi_instance *in)
{
	char why[512], dir[4096];
	if (cxi_module_open(in->path, &in->mod, why, sizeof(why)) != 0) {
		cxi_instance_fail(in, why);
		return (-1);
	}
	in->desc = cxi_module_desc(in->mod);
	if (in->desc->kind != in->kind) {
		snprintf(why, sizeof(why),
		    "kind mismatch: configured as %s, plugin is %s",
		    cx_plugin_kind_name(in->kind),
		    cx_plugin_kind_name(in->desc->kind));
		goto fail;
	}
	snprintf(in->version, sizeof(in->version), "%s",
	    in->desc->version ? in->desc->version : "");
	snprintf(in->summary, sizeof(in->summary), "%s",
	    in->desc->summary ? in->desc->summary : "");
	in->state = calloc(1, in->desc->state_size ? in->desc->state_size : 1);
	if (in->state == NULL) {
		snprintf(why, sizeof(why), "out of memory for state");
		goto fail;
	}
	if (snprintf(dir, sizeof(dir), "%s/plugins/%s", in->opts->data_dir,
	        in->name) >= (int) sizeof(dir) ||
	    mkdir_p(dir) != 0) {
		snprintf(why, sizeof(why), "cannot create data dir %s: %s",
		    dir, strerror(errno));
		goto fail;
	}
	if (cxi_bus_client_open(&in->bus, in->name, in->opts->bus_ns,
	        NULL) != 0) {
		snprintf(why, sizeof(why), "cannot join the bus");
		goto fail;
	}
	cxi_host_sinks sinks = {route_sink, metric_sink, in->opts->http};
	if (cxi_hostctx_new(&in->hc, in->name, dir, in->bus, &sinks) != 0) {
		snprintf(why, sizeof(why), "out of memory for host");
		goto fail;
	}
	cx_err rv = in->desc->init(in->state, cxi_hostctx_table(in->hc),
	    in->settings);
	if (rv == CX_EDECLINE) {
		teardown(in, false);
		in->st = CXI_INST_DECLINED;
		snprintf(in->error, sizeof(in->error), "declined by init");
		const char *kv[] = {"path", in->path, NULL};
		cxi_log_line(CX_LOG_WARN, "plugin", in->name,
		    "plugin declined to start", kv);
		return (1);
	}
	if (rv != CX_OK) {
		snprintf(why, sizeof(why), "init failed: %s", cx_strerror(rv));
		goto fail;
	}
	if (in->desc->start != NULL && (rv = in->desc->start(in->state)) != CX_OK) {
		snprintf(why, sizeof(why), "start failed: %s", cx_strerror(rv));
		in->st = CXI_INST_FAILED;
		teardown(in, true);
		cxi_instance_fail(in, why);
		return (-1);
	}
	return (0);
fail:
	teardown(in, false);
	cxi_instance_fail(in, why);
	return (-1);
}

int
cxi_instance_start(cxi_instance *in)
{
	in->error[0] = '\0';
	in->st = CXI_INST_STARTING;
	int rv = in->iso == CXI_ISO_PROCESS ? cxi_isolated_start(in) :
	                                       start_inproc(in);
	if (rv != 0) {
		return (rv);
	}
	in->st = CXI_INST_RUNNING;
	const char *kv[] = {"path", in->path, "version", in->version,
	    "isolation", in->iso == CXI_ISO_PROCESS ? "process" : "inproc",
	    NULL};
	cxi_log_line(CX_LOG_INFO, "plugin", in->name, "plugin started", kv);
	json_t *ev = json_pack("{s:s, s:s}", "name", in->name, "kind",
	    cx_plugin_kind_name(in->kind));
	cxi_bus_publish(in->core_bus, CX_TOPIC_PLUGIN_STARTED, NULL, ev);
	return (0);
}

void
cxi_instance_stop(cxi_instance *in)
{
	int st = in->st;
	if (in->iso == CXI_ISO_PROCESS) {
		if (in->sup == NULL) {
			return;
		}
		in->st = CXI_INST_STOPPING;
		cxi_isolated_stop(in);
	} else {
		if (in->mod == NULL) {
			return;
		}
		in->st = CXI_INST_STOPPING;
		teardown(in, true);
	}
	in->st = st == CXI_INST_DISABLED ? CXI_INST_DISABLED : CXI_INST_STOPPED;
	const char *kv[] = {"path", in->path, NULL};
	cxi_log_line(CX_LOG_INFO, "plugin", in->name, "plugin stopped", kv);
	json_t *ev = json_pack("{s:s}", "name", in->name);
	cxi_bus_publish(in->core_bus, CX_TOPIC_PLUGIN_STOPPED, NULL, ev);
}

/* Settings keys whose values differ between a and b. */
static bool
only_reloadable_changed(const cx_setting *schema, const json_t *a,
    const json_t *b)
{
	const char *key;
	json_t *v;
	json_object_foreach ((json_t *) b, key, v) {
		if (json_equal(v, json_object_get(a, key))) {
			continue;
		}
		bool ok = false;
		for (const cx_setting *s = schema; s && s->key; s++) {
			if (strcmp(s->key, key) == 0) {
				ok = (s->flags & CX_SET_RELOADABLE) != 0;
				break;
			}
		}
		if (!ok) {
			return (false);
		}
	}
	json_object_foreach ((json_t *) a, key, v) {
		if (json_object_get(b, key) == NULL) {
			return (false);
		}
	}
	return (true);
}

int
cxi_instance_reconfigure(cxi_instance *in, json_t *settings)
{
	if (in->iso == CXI_ISO_PROCESS || in->desc == NULL ||
	    in->st != CXI_INST_RUNNING || in->desc->reconfigure == NULL ||
	    !only_reloadable_changed(in->desc->settings, in->settings,
	        settings)) {
		return (1);
	}
	cx_err rv = in->desc->reconfigure(in->state, settings);
	if (rv != CX_OK) {
		const char *kv[] = {"path", in->path, "reason",
		    cx_strerror(rv), NULL};
		cxi_log_line(CX_LOG_WARN, "plugin", in->name,
		    "reconfigure refused; restarting instead", kv);
		return (1);
	}
	/* The plugin may keep pointers into the old object until this
	 * call returned; now it holds the new one. */
	json_decref(in->settings);
	in->settings = json_incref(settings);
	cxi_log_line(CX_LOG_INFO, "plugin", in->name, "plugin reconfigured",
	    NULL);
	return (0);
}
