/*
 * daemon_admin.c - what callixoctl asks, and the storage hook.
 *
 * Read-only commands are answered on the admin thread. Commands that
 * change the running set (reload, enable, disable) are handed to the main
 * thread, which owns the manager's lifecycle calls.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accounts_admin.h"
#include "daemon_int.h"
#include "log.h"
#include "migrate.h"

void
cxi_d_update_ready(cxd *d)
{
	cxi_http_set_ready(d->http,
	    cxi_manager_ready(d->mgr) && !d->schema_pending);
}

/* A storage driver came up: check its schema before anything uses it.
 * A schema newer than this build knows, or a changed migration, fails
 * the driver (and so the start, when it is required). */
int
cxi_d_on_storage(void *arg, const cxi_db *db, char *why, size_t whylen)
{
	cxd *d = arg;
	json_t *st;
	if (cxi_migrate_status(db, &st, why, whylen) != 0) {
		return (-1);
	}
	const char *problem = json_string_value(json_object_get(st, "problem"));
	json_int_t pending = json_integer_value(json_object_get(st, "pending"));
	if (problem != NULL) {
		snprintf(why, whylen, "%s", problem);
		json_decref(st);
		return (-1);
	}
	json_decref(st);
	d->schema_pending = false;
	if (pending == 0) {
		return (0);
	}
	if (!d->migrate_auto) {
		cxi_warn("storage", "%lld schema migrations are pending and "
		    "storage.migrate is manual: run `callixoctl migrate up`; "
		    "not ready until then", (long long) pending);
		d->schema_pending = true;
		return (0);
	}
	json_t *done;
	if (cxi_migrate_up(db, &done, why, whylen) != 0) {
		return (-1);
	}
	size_t i;
	json_t *n;
	json_array_foreach (done, i, n) {
		cxi_info("storage", "applied migration %s", json_string_value(n));
	}
	json_decref(done);
	return (0);
}

static json_t *
migrate_cmd(cxd *d, bool up)
{
	cxi_db db;
	char why[512];
	if (!cxi_manager_db_hold(d->mgr, &db)) {
		return (cxi_admin_fail("no storage plugin is running"));
	}
	json_t *st = NULL, *done = NULL, *r;
	if (up && cxi_migrate_up(&db, &done, why, sizeof(why)) != 0) {
		cxi_manager_unhold(d->mgr);
		cxi_error("storage", "%s", why);
		return (cxi_admin_fail("%s", why));
	}
	if (cxi_migrate_status(&db, &st, why, sizeof(why)) != 0) {
		cxi_manager_unhold(d->mgr);
		json_decref(done);
		return (cxi_admin_fail("%s", why));
	}
	cxi_manager_unhold(d->mgr);
	if (json_integer_value(json_object_get(st, "pending")) == 0 &&
	    json_object_get(st, "problem") == NULL) {
		d->schema_pending = false;
		cxi_d_update_ready(d);
	}
	if (up) {
		size_t i;
		json_t *n;
		json_array_foreach (done, i, n) {
			cxi_info("storage", "applied migration %s",
			    json_string_value(n));
		}
		r = json_pack("{s:o, s:o}", "applied", done, "status", st);
	} else {
		r = st;
	}
	return (cxi_admin_ok(r));
}

/* Re-encrypts stored credentials under the first vault key. The admin
 * server starts after the API and stops before it, so d->api is set. */
static json_t *
vault_rotate(cxd *d)
{
	char why[512] = "";
	size_t done = 0, failed = 0;
	if (d->api == NULL) {
		return (cxi_admin_fail("the API is not running"));
	}
	if (cxi_api_vault_rotate(d->api, &done, &failed, why, sizeof(why)) !=
	    CX_OK) {
		return (cxi_admin_fail("%s", why));
	}
	return (cxi_admin_ok(json_pack("{s:I, s:I}", "rotated",
	    (json_int_t) done, "failed", (json_int_t) failed)));
}

/* Re-reads the config; applies it whole or not at all. */

static json_t *
status_json(cxd *d)
{
	json_t *list = cxi_manager_list(d->mgr);
	int running = 0, failed = 0;
	size_t i;
	json_t *p;
	json_array_foreach (list, i, p) {
		const char *st = json_string_value(json_object_get(p, "state"));
		running += strcmp(st, "running") == 0;
		failed += strcmp(st, "failed") == 0 ||
		    strcmp(st, "restarting") == 0;
	}
	bool ready = cxi_manager_ready(d->mgr);
	bool degraded = cxi_manager_degraded(d->mgr);
	json_t *r = json_pack("{s:s, s:I, s:s, s:s, s:s, s:{s:i, s:i, s:i}, "
	                      "s:b, s:i}",
	    "version", CX_VERSION, "uptime_s",
	    (json_int_t) (time(NULL) - d->started), "state",
	    !ready ? "starting" : degraded ? "degraded" : "ready", "listen",
	    cxi_http_url(d->http), "config", d->config_path, "plugins",
	    "running", running, "failed", failed, "total",
	    (int) json_array_size(list), "degraded", degraded, "pid",
	    (int) getpid());
	json_decref(list);
	return (r);
}

static int
route_append(void *arg, const char *owner, const char *method,
    const char *path)
{
	json_t *e = json_pack("{s:s, s:s, s:s}", "method", method, "path",
	    path, "owner", owner);
	/* json_array_append_new frees e on failure. */
	return (e == NULL || json_array_append_new(arg, e) != 0 ? CX_ENOMEM :
	    0);
}

/* What the HTTP server answers right now, plugin routes included: the
 * ground truth docs/openapi.yaml is checked against. */
static json_t *
routes_json(cxd *d)
{
	json_t *list = json_array();
	if (list == NULL) {
		return (cxi_admin_fail("out of memory"));
	}
	int rv = cxi_http_routes_list(d->http, route_append, list);
	if (rv != 0) {
		json_decref(list);
		return (cxi_admin_fail("cannot list routes: %s",
		    cx_strerror(rv)));
	}
	return (cxi_admin_ok(list));
}

/* Runs on the main thread: commands that change the running set. */
static json_t *
run_job(cxd *d, const char *cmd, const json_t *args)
{
	if (strcmp(cmd, "reload") == 0) {
		return (cxi_admin_ok(cxi_d_reload(d)));
	}
	const char *name = json_string_value(json_object_get(args, "name"));
	if (name == NULL) {
		return (cxi_admin_fail("'%s' needs args.name", cmd));
	}
	bool en = strcmp(cmd, "enable") == 0;
	char why[512];
	const cxi_plugin_conf *pc = cxi_config_plugin(d->cfg, name);
	if (en && pc != NULL && pc->settings == NULL) {
		/* Disabled in the file, so its settings were never checked:
		 * validate them now, exactly as a reload would. */
		const cx_plugin *desc;
		cxi_errlist errs = {0};
		if (cxi_module_cache_schema(d->cache, pc->path, &desc, why,
		        sizeof(why)) != 0) {
			return (cxi_admin_fail("plugin '%s' (%s): %s", name,
			    pc->path, why));
		}
		if (cxi_config_plugin_check(d->cfg, (cxi_plugin_conf *) pc,
		        desc, &errs) != 0) {
			json_t *r = cxi_admin_fail("plugin '%s': %s", name,
			    errs.n ? errs.msgs[0] : "invalid settings");
			cxi_errlist_clear(&errs);
			return (r);
		}
	}
	if (cxi_manager_set_enabled(d->mgr, d->cfg, name, en, why,
	        sizeof(why)) != 0) {
		return (cxi_admin_fail("%s", why));
	}
	cxi_info("core", "plugin %s %s at runtime (not saved to the config)",
	    name, en ? "enabled" : "disabled");
	cxi_d_update_ready(d);
	return (cxi_admin_ok(json_pack("{s:s, s:s, s:b}", "name", name,
	    "state", en ? "running" : "disabled", "runtime_only", 1)));
}

json_t *
cxi_d_admin_handle(void *arg, const char *cmd, const json_t *args)
{
	cxd *d = arg;
	if (strcmp(cmd, "status") == 0) {
		return (cxi_admin_ok(status_json(d)));
	}
	if (strcmp(cmd, "plugins") == 0) {
		return (cxi_admin_ok(cxi_manager_list(d->mgr)));
	}
	if (strcmp(cmd, "routes") == 0) {
		return (routes_json(d));
	}
	if (strcmp(cmd, "migrate-status") == 0 ||
	    strcmp(cmd, "migrate-up") == 0) {
		return (migrate_cmd(d, strcmp(cmd, "migrate-up") == 0));
	}
	if (strncmp(cmd, "account-", 8) == 0) {
		return (cxi_accounts_admin(d->api, d->mgr, cmd, args));
	}
	if (strcmp(cmd, "vault-rotate") == 0) {
		return (vault_rotate(d));
	}
	if (strcmp(cmd, "check-config") == 0) {
		const char *file = json_string_value(
		    json_object_get(args, "file"));
		if (file == NULL) {
			return (cxi_admin_fail("check-config needs args.file"));
		}
		cxi_errlist errs = {0};
		cxi_module_cache *cache;
		cxi_config *cfg = cxi_d_load_with(file, &cache, &errs, true);
		json_t *r = json_pack("{s:b, s:o}", "valid", cfg != NULL,
		    "errors", cxi_d_errors_json(&errs));
		cxi_errlist_clear(&errs);
		if (cfg != NULL) {
			cxi_config_free(cfg);
			cxi_module_cache_free(cache);
		}
		return (cxi_admin_ok(r));
	}
	if (strcmp(cmd, "reload") != 0 && strcmp(cmd, "enable") != 0 &&
	    strcmp(cmd, "disable") != 0) {
		return (cxi_admin_fail("unknown command '%s'", cmd));
	}
	job j = {.cmd = cmd, .args = args};
	pthread_mutex_lock(&d->mu);
	if (d->stopping) {
		pthread_mutex_unlock(&d->mu);
		return (cxi_admin_fail("callixod is shutting down"));
	}
	d->pending = &j;
	pthread_kill(d->main_thread, SIGUSR1);
	while (!j.done) {
		pthread_cond_wait(&d->cv, &d->mu);
	}
	pthread_mutex_unlock(&d->mu);
	return (j.reply);
}

void
cxi_d_run_pending(cxd *d)
{
	pthread_mutex_lock(&d->mu);
	job *j = d->pending;
	d->pending = NULL;
	pthread_mutex_unlock(&d->mu);
	if (j == NULL) {
		return;
	}
	json_t *reply = run_job(d, j->cmd, j->args);
	pthread_mutex_lock(&d->mu);
	j->reply = reply;
	j->done = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}
