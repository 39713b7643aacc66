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

#include "daemon.h"
#include "daemon_int.h"
#include "log.h"
#include "notify.h"

/* HUPs within this long of the last reload are coalesced into one. */
#define RELOAD_COALESCE_MS 2000

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
	/* The API borrows the manager's drivers and the calling runtime:
	 * its handlers finish first, then the runtime (which uses the
	 * API's vault), then the API. */
	if (d->http != NULL) {
		cxi_http_api_routes_drop(d->http);
	}
	cxi_calling_stop(d->calling);
	d->calling = NULL;
	cxi_api_stop(d->api);
	d->api = NULL;
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
	d->cfg = cxi_d_load(d->config_path, &d->cache, &errs);
	if (d->cfg == NULL) {
		cxi_d_print_errors(&errs, true);
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
	    .on_storage = cxi_d_on_storage,
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
	if (cxi_api_start(&d->api, d->http, d->mgr, d->cfg, why,
	        sizeof(why)) != CX_OK) {
		cxi_error("core", "%s", why);
		return (-1);
	}
	if (cxi_calling_start(&d->calling, d->mgr, d->http, d->api, d->cfg,
	        d->master_key, d->master_key_id, why, sizeof(why)) != CX_OK) {
		cxi_error("core", "%s", why);
		return (-1);
	}
	if (cxi_admin_start(&d->admin, d->cfg->admin_socket, cxi_d_admin_handle, d,
	        why, sizeof(why)) != 0) {
		cxi_error("core", "%s", why);
		return (-1);
	}
		cxi_d_update_ready(d);
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
			cxi_d_run_pending(&d);
		}
		/* HUPs that come within two seconds of the last reload are
		 * coalesced into one, applied when the window ends. */
		if (reload_due && (last_reload.tv_sec == 0 ||
		                      elapsed_ms(&last_reload) >=
		                          RELOAD_COALESCE_MS)) {
			reload_due = false;
			json_decref(cxi_d_reload(&d));
			clock_gettime(CLOCK_MONOTONIC, &last_reload);
		}
		cxi_d_update_ready(&d);
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
	cxi_d_run_pending(&d);
	shutdown_all(&d);
	cxi_info("core", "stopped");
	return (0);
}
