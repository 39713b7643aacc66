/*
 * daemon.c - callixod's main loop.
 *
 * All signals are blocked in every thread and taken synchronously by the
 * main thread with sigtimedwait, so the reload and shutdown code runs as
 * ordinary code, never inside a signal handler. Admin commands that
 * change the running set (reload, enable, disable) are handed to the main
 * thread too: the manager's lifecycle calls come from one thread only.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "bus.h"
#include "config.h"
#include "daemon.h"
#include "http.h"
#include "loader.h"
#include "log.h"
#include "manager.h"
#include "masterkey.h"
#include "migrate.h"
#include "notify.h"

#define RELOAD_COALESCE_MS 2000

typedef struct job {
	const char *cmd;
	const json_t *args;
	json_t *reply;
	bool done;
} job;

typedef struct cxd {
	char *config_path;
	cxi_config *cfg;
	cxi_module_cache *cache;
	cxi_bus *bus;
	cxi_http *http;
	cxi_manager *mgr;
	cxi_admin *admin;
	pthread_t main_thread;
	time_t started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	job *pending; /* one admin job at a time: the admin socket is serial */
	bool stopping; /* refuse new jobs: the main loop no longer runs them */
	bool migrate_auto;
	_Atomic bool schema_pending; /* manual mode, migrations not applied */
	uint8_t master_key[CXI_MASTER_KEY_BYTES];
	char master_key_id[9];
} cxd;

static void
print_errors(const cxi_errlist *errs, bool to_log)
{
	for (size_t i = 0; i < errs->n; i++) {
		if (to_log) {
			cxi_error("config", "%s", errs->msgs[i]);
		} else {
			fprintf(stderr, "%s\n", errs->msgs[i]);
		}
	}
}

static json_t *
errors_json(const cxi_errlist *errs)
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

static cxi_config *
load_with(const char *path, cxi_module_cache **cache, cxi_errlist *errs,
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

static cxi_config *
load(const char *path, cxi_module_cache **cache, cxi_errlist *errs)
{
	return (load_with(path, cache, errs, false));
}

int
cxi_daemon_check_config(const char *path)
{
	cxi_errlist errs = {0};
	cxi_module_cache *cache;
	cxi_config *cfg = load_with(path, &cache, &errs, true);
	print_errors(&errs, false);
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

static void
log_report(const char *what, const cxi_apply_report *r)
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

static void
update_ready(cxd *d)
{
	cxi_http_set_ready(d->http,
	    cxi_manager_ready(d->mgr) && !d->schema_pending);
}

/* A storage driver came up: check its schema before anything uses it.
 * A schema newer than this build knows, or a changed migration, fails
 * the driver (and so the start, when it is required). */
static int
on_storage(void *arg, const cxi_db *db, char *why, size_t whylen)
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
		update_ready(d);
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

/* Re-reads the config; applies it whole or not at all. */
static json_t *
reload(cxd *d)
{
	cxi_errlist errs = {0};
	cxi_module_cache *cache;
	cxi_notify("RELOADING=1");
	cxi_info("core", "reloading configuration from %s", d->config_path);
	cxi_config *cfg = load(d->config_path, &cache, &errs);
	if (cfg == NULL) {
		print_errors(&errs, true);
		cxi_error("core",
		    "config reload rejected (%zu errors); the running "
		    "configuration stays in force",
		    errs.n);
		json_t *r = json_pack("{s:b, s:o}", "applied", 0, "errors",
		    errors_json(&errs));
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
	log_report("config reloaded", &rep);
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
	update_ready(d);
	cxi_manager_publish(d->mgr, CX_TOPIC_CONFIG_RELOADED,
	    json_pack("{s:s}", "file", d->config_path));
	cxi_notify("READY=1");
	return (r);
}

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

/* Runs on the main thread: commands that change the running set. */
static json_t *
run_job(cxd *d, const char *cmd, const json_t *args)
{
	if (strcmp(cmd, "reload") == 0) {
		return (cxi_admin_ok(reload(d)));
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
	update_ready(d);
	return (cxi_admin_ok(json_pack("{s:s, s:s, s:b}", "name", name,
	    "state", en ? "running" : "disabled", "runtime_only", 1)));
}

static json_t *
admin_handle(void *arg, const char *cmd, const json_t *args)
{
	cxd *d = arg;
	if (strcmp(cmd, "status") == 0) {
		return (cxi_admin_ok(status_json(d)));
	}
	if (strcmp(cmd, "plugins") == 0) {
		return (cxi_admin_ok(cxi_manager_list(d->mgr)));
	}
	if (strcmp(cmd, "migrate-status") == 0 ||
	    strcmp(cmd, "migrate-up") == 0) {
		return (migrate_cmd(d, strcmp(cmd, "migrate-up") == 0));
	}
	if (strcmp(cmd, "check-config") == 0) {
		const char *file = json_string_value(
		    json_object_get(args, "file"));
		if (file == NULL) {
			return (cxi_admin_fail("check-config needs args.file"));
		}
		cxi_errlist errs = {0};
		cxi_module_cache *cache;
		cxi_config *cfg = load_with(file, &cache, &errs, true);
		json_t *r = json_pack("{s:b, s:o}", "valid", cfg != NULL,
		    "errors", errors_json(&errs));
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

static void
run_pending(cxd *d)
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

static int
make_dir(const char *path)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		cxi_error("core", "cannot create data_dir %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	return (0);
}

/* Finds callixo-plugin-host next to our own executable (the build tree),
 * else at its installed path. */
static void
plugin_host_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			snprintf(buf, len, "%s/callixo-plugin-host", self);
			if (access(buf, X_OK) == 0) {
				return;
			}
		}
	}
	snprintf(buf, len, "%s", CX_PLUGIN_HOST);
}

static void
shutdown_all(cxd *d)
{
	if (d->admin != NULL) {
		cxi_admin_stop(d->admin);
	}
	if (d->mgr != NULL) {
		cxi_manager_free(d->mgr);
	}
	if (d->http != NULL) {
		cxi_http_stop(d->http);
	}
	if (d->bus != NULL) {
		cxi_bus_close(d->bus);
	}
	cxi_config_free(d->cfg);
	cxi_module_cache_free(d->cache);
	sodium_memzero(d->master_key, sizeof(d->master_key));
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
}

static int
start(cxd *d)
{
	char why[512], ipc[PATH_MAX], host[PATH_MAX];
	cxi_errlist errs = {0};
	d->cfg = load(d->config_path, &d->cache, &errs);
	if (d->cfg == NULL) {
		print_errors(&errs, true);
		cxi_errlist_clear(&errs);
		cxi_error("core", "invalid configuration %s; not starting",
		    d->config_path);
		return (-1);
	}
	cxi_log_setup(d->cfg->log_level, d->cfg->log_format);
	cxi_info("core", "callixod %s starting with %s", CX_VERSION,
	    d->config_path);
	snprintf(ipc, sizeof(ipc), "%s/run", d->cfg->data_dir);
	if (make_dir(d->cfg->data_dir) != 0 || make_dir(ipc) != 0) {
		return (-1);
	}
	if (cxi_master_key_load(d->cfg, d->master_key, d->master_key_id, why,
	        sizeof(why)) != 0) {
		cxi_error("core", "%s", why);
		return (-1);
	}
	d->migrate_auto = d->cfg->migrate_auto;
	if (cxi_bus_open(&d->bus, "", ipc) != 0) {
		cxi_error("core", "cannot open the message bus in %s", ipc);
		return (-1);
	}
	cxi_http_opts ho = {
	    .listen = d->cfg->listen,
	    .tls_cert = d->cfg->tls_cert,
	    .tls_key = d->cfg->tls_key,
	    .max_body = d->cfg->max_body,
	    .request_timeout_ms = d->cfg->request_timeout_ms,
	    .workers = 4,
	};
	if (cxi_http_start(&d->http, &ho, why, sizeof(why)) != 0) {
		cxi_error("core", "%s", why);
		return (-1);
	}
	plugin_host_path(host, sizeof(host));
	cxi_manager_opts mo = {
	    .bus = d->bus,
	    .bus_ns = "",
	    .http = d->http,
	    .data_dir = d->cfg->data_dir,
	    .ipc_dir = ipc,
	    .plugin_host = host,
	    .on_storage = on_storage,
	    .hook_arg = d,
	};
	if (cxi_manager_new(&d->mgr, &mo) != 0) {
		return (-1);
	}
	cxi_http_set_metrics(d->http, cxi_manager_metrics, d->mgr);
	if (cxi_manager_apply(d->mgr, d->cfg, NULL) != 0) {
		cxi_error("core", "a required plugin failed to start; "
		                  "refusing to run");
		return (-1);
	}
	if (cxi_admin_start(&d->admin, d->cfg->admin_socket, admin_handle, d,
	        why, sizeof(why)) != 0) {
		cxi_error("core", "%s", why);
		return (-1);
	}
		update_ready(d);
	cxi_info("core", "listening on %s", cxi_http_url(d->http));
	if (cxi_manager_degraded(d->mgr)) {
		cxi_warn("core", "running degraded: some optional plugins are "
		                 "not running (see callixoctl plugins)");
	}
	cxi_info("core", "ready");
	cxi_notify("READY=1");
	return (0);
}

static int
elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((int) ((now.tv_sec - since->tv_sec) * 1000 +
	    (now.tv_nsec - since->tv_nsec) / 1000000));
}

int
cxi_daemon_run(const char *config_path)
{
	cxd d = {0};
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	/* Before any thread exists, so every thread inherits the mask. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.main_thread = pthread_self();
	d.started = time(NULL);
	pthread_mutex_init(&d.mu, NULL);
	pthread_cond_init(&d.cv, NULL);
	d.config_path = (char *) config_path;
	if (start(&d) != 0) {
		shutdown_all(&d);
		return (1);
	}
	struct timespec last_reload = {0};
	bool reload_due = false;
	for (;;) {
		struct timespec tick = {0, 500 * 1000000};
		int sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			cxi_info("core", "received %s; draining",
			    sig == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		}
		if (sig == SIGHUP) {
			reload_due = true;
		}
		if (sig == SIGUSR1) {
			run_pending(&d);
		}
		/* HUPs that come within two seconds of the last reload are
		 * coalesced into one, applied when the window ends. */
		if (reload_due && (last_reload.tv_sec == 0 ||
		                      elapsed_ms(&last_reload) >=
		                          RELOAD_COALESCE_MS)) {
			reload_due = false;
			json_decref(reload(&d));
			clock_gettime(CLOCK_MONOTONIC, &last_reload);
		}
		update_ready(&d);
	}
	cxi_notify("STOPPING=1");
	int left = cxi_http_drain(d.http, d.cfg->shutdown_grace_ms);
	if (left > 0) {
		cxi_warn("core", "%d requests still running after %d ms; "
		    "stopping anyway", left, d.cfg->shutdown_grace_ms);
	}
	/* Answer an admin job that raced with shutdown, so its thread can
	 * finish before the admin socket closes. */
	pthread_mutex_lock(&d.mu);
	d.stopping = true;
	pthread_mutex_unlock(&d.mu);
	run_pending(&d);
	shutdown_all(&d);
	cxi_info("core", "stopped");
	return (0);
}
