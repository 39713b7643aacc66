/*
 * daemon_config.c - loading, checking, describing and reloading.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "daemon_int.h"
#include "log.h"
#include "notify.h"

void
cxi_d_print_errors(const cxi_errlist *errs, bool to_log)
{
	for (size_t i = 0; i < errs->n; i++) {
		if (to_log) {
			cxi_error("config", "%s", errs->msgs[i]);
		} else {
			fprintf(stderr, "%s\n", errs->msgs[i]);
		}
	}
}

json_t *
cxi_d_errors_json(const cxi_errlist *errs)
{
	json_t *a = json_array();
	for (size_t i = 0; i < errs->n; i++) {
		json_array_append_new(a, json_string(errs->msgs[i]));
	}
	return (a);
}

/* At start and reload a plugin whose object cannot be opened is not a
 * config error: the loader reports it when it starts the plugin, and only
 * a required plugin stops the daemon. --check-config stays strict. */
static int
lenient_schema(void *cache, const char *path, const cx_plugin **desc,
    char *why, size_t whylen)
{
	return (cxi_module_cache_schema(cache, path, desc, why, whylen) == 0 ?
	        0 :
	        1);
}

cxi_config *
cxi_d_load_with(const char *path, cxi_module_cache **cache, cxi_errlist *errs,
    bool strict)
{
	*cache = cxi_module_cache_new();
	if (*cache == NULL) {
		cxi_errlist_add(errs, path, 0, 0, "out of memory");
		return (NULL);
	}
	cxi_config *cfg = cxi_config_load(path,
	    strict ? cxi_module_cache_schema : lenient_schema, *cache, errs);
	if (cfg == NULL) {
		cxi_module_cache_free(*cache);
		*cache = NULL;
	}
	return (cfg);
}

cxi_config *
cxi_d_load(const char *path, cxi_module_cache **cache, cxi_errlist *errs)
{
	return (cxi_d_load_with(path, cache, errs, false));
}

int
cxi_daemon_check_config(const char *path)
{
	cxi_errlist errs = {0};
	cxi_module_cache *cache;
	cxi_config *cfg = cxi_d_load_with(path, &cache, &errs, true);
	cxi_d_print_errors(&errs, false);
	cxi_errlist_clear(&errs);
	if (cfg == NULL) {
		return (1);
	}
	printf("%s: configuration is valid (%zu plugins)\n", path,
	    cfg->n_plugins);
	cxi_config_free(cfg);
	cxi_module_cache_free(cache);
	return (0);
}

static const char *
type_name(cx_setting_type t)
{
	static const char *const n[] = {"?", "string", "int", "bool",
	    "duration", "enum", "list", "object"};
	return (t >= 1 && t <= CX_SET_OBJECT ? n[t] : "?");
}

int
cxi_daemon_describe(const char *plugin)
{
	char path[PATH_MAX], why[512];
	if (strchr(plugin, '/') != NULL) {
		snprintf(path, sizeof(path), "%s", plugin);
	} else {
		const char *dir = getenv("CALLIXO_PLUGIN_DIR");
		snprintf(path, sizeof(path), "%s/%s.so", dir ? dir : CX_PLUGIN_DIR,
		    plugin);
	}
	cxi_module *m;
	if (cxi_module_open(path, &m, why, sizeof(why)) != 0) {
		fprintf(stderr, "%s: %s\n", path, why);
		return (1);
	}
	const cx_plugin *d = cxi_module_desc(m);
	printf("%s %s (kind %s, ABI %u.%u)\n  %s\n\nsettings:\n", d->name,
	    d->version ? d->version : "", cx_plugin_kind_name(d->kind),
	    d->abi_major, d->abi_minor, d->summary ? d->summary : "");
	for (const cx_setting *s = d->settings; s && s->key; s++) {
		printf("  %-20s %-8s%s%s%s default=%s\n      %s\n", s->key,
		    type_name(s->type),
		    s->flags & CX_SET_REQUIRED ? " required" : "",
		    s->flags & CX_SET_SECRET ? " secret" : "",
		    s->flags & CX_SET_RELOADABLE ? " reloadable" : "",
		    s->def ? s->def : "-", s->description);
	}
	cxi_module_close(m);
	return (0);
}

void
cxi_d_log_report(const char *what, const cxi_apply_report *r)
{
	char *s[5];
	json_t *l[5] = {r->started, r->stopped, r->reconfigured, r->restarted,
	    r->failed};
	for (int i = 0; i < 5; i++) {
		s[i] = json_dumps(l[i], JSON_COMPACT);
	}
	const char *kv[] = {"started", s[0] ? s[0] : "", "stopped",
	    s[1] ? s[1] : "", "reconfigured", s[2] ? s[2] : "", "restarted",
	    s[3] ? s[3] : "", "failed", s[4] ? s[4] : "", NULL};
	cxi_log_line(json_array_size(r->failed) ? CX_LOG_WARN : CX_LOG_INFO,
	    "component", "core", what, kv);
	for (int i = 0; i < 5; i++) {
		free(s[i]);
	}
}

json_t *
cxi_d_reload(cxd *d)
{
	cxi_errlist errs = {0};
	cxi_module_cache *cache;
	cxi_notify("RELOADING=1");
	cxi_info("core", "reloading configuration from %s", d->config_path);
	cxi_config *cfg = cxi_d_load(d->config_path, &cache, &errs);
	if (cfg == NULL) {
		cxi_d_print_errors(&errs, true);
		cxi_error("core",
		    "config reload rejected (%zu errors); the running "
		    "configuration stays in force",
		    errs.n);
		json_t *r = json_pack("{s:b, s:o}", "applied", 0, "errors",
		    cxi_d_errors_json(&errs));
		cxi_errlist_clear(&errs);
		cxi_notify("READY=1");
		return (r);
	}
	const char *fixed[][2] = {{d->cfg->listen, cfg->listen},
	    {d->cfg->data_dir, cfg->data_dir},
	    {d->cfg->admin_socket, cfg->admin_socket}};
	for (size_t i = 0; i < 3; i++) {
		if (strcmp(fixed[i][0], fixed[i][1]) != 0) {
			cxi_warn("core", "'%s' changed to '%s': this needs a "
			    "restart; the old value stays in force",
			    fixed[i][0], fixed[i][1]);
		}
	}
	cxi_log_setup(cfg->log_level, cfg->log_format);
	d->migrate_auto = cfg->migrate_auto;
	cxi_apply_report rep;
	cxi_apply_report_init(&rep);
	cxi_manager_apply(d->mgr, cfg, &rep);
	cxi_d_log_report("config reloaded", &rep);
	json_t *r = cxi_apply_report_json(&rep);
	json_object_set_new(r, "applied", json_true());
	json_object_set_new(r, "errors", json_array());
	cxi_apply_report_clear(&rep);
	/* Keep the listener-level settings the daemon actually runs with. */
	char *keep[3] = {cfg->listen, cfg->data_dir, cfg->admin_socket};
	cfg->listen = d->cfg->listen;
	cfg->data_dir = d->cfg->data_dir;
	cfg->admin_socket = d->cfg->admin_socket;
	d->cfg->listen = keep[0];
	d->cfg->data_dir = keep[1];
	d->cfg->admin_socket = keep[2];
	cxi_config_free(d->cfg);
	cxi_module_cache_free(d->cache);
	d->cfg = cfg;
	d->cache = cache;
	cxi_d_update_ready(d);
	cxi_manager_publish(d->mgr, CX_TOPIC_CONFIG_RELOADED,
	    json_pack("{s:s}", "file", d->config_path));
	cxi_notify("READY=1");
	return (r);
}
