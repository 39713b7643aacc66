/*
 * isolated.c - plugins that run in a callixo-plugin-host child.
 *
 * The child loads the plugin, joins the bus over ipc:// and announces
 * itself to the core's "core" service with the routes it registered. Only
 * then is the instance running: its routes are served by forwarding each
 * request over the bus. When the child dies the supervisor restarts it
 * with backoff; the core only logs and marks the instance restarting, so
 * a crashing plugin never takes the daemon down.
 */
#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "httpwire.h"
#include "instance.h"
#include "log.h"

#define PROXY_TIMEOUT_MS 15000
#define STOP_GRACE_MS 5000

static cx_err
proxy_http(void *arg, const cx_http_req *req, cx_http_resp *resp)
{
	cxi_instance *in = arg;
	json_t *j = cxi_httpwire_req_encode(req);
	json_t *reply = NULL;
	if (j == NULL) {
		cxi_http_error(resp, 500, "internal", "cannot encode request");
		return (CX_OK);
	}
	cx_err rv = cxi_bus_call(in->core_bus, in->name, CX_SVC_HTTP_REQUEST,
	    NULL, j, PROXY_TIMEOUT_MS, &reply);
	if (rv != CX_OK || cxi_httpwire_resp_decode(reply, resp) != 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "plugin %s did not answer: %s",
		    in->name, rv != CX_OK ? cx_strerror(rv) : "malformed reply");
		cxi_http_error(resp, rv == CX_ETIMEDOUT ? 504 : 502,
		    "plugin_unavailable", msg);
	}
	json_decref(reply);
	return (CX_OK);
}

static void
describe_exit(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status)) {
		snprintf(buf, len, "crashed: killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		snprintf(buf, len, "could not execute the plugin host");
	} else {
		snprintf(buf, len, "exited with status %d",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
}

static void
on_child_exit(void *arg, pid_t pid, int status, int restart_in_ms,
    unsigned restarts)
{
	cxi_instance *in = arg;
	char why[256], ms[32], pids[32], nr[32];
	if (restart_in_ms < 0) {
		return; /* we stopped it */
	}
	describe_exit(status, why, sizeof(why));
	snprintf(ms, sizeof(ms), "%d", restart_in_ms);
	snprintf(pids, sizeof(pids), "%d", (int) pid);
	snprintf(nr, sizeof(nr), "%u", restarts);
	const char *kv[] = {"path", in->path, "reason", why, "pid", pids,
	    "restart_in_ms", ms, "restarts", nr, NULL};
	cxi_log_line(CX_LOG_ERROR, "plugin", in->name,
	    "isolated plugin died; restarting", kv);
	pthread_mutex_lock(&in->mu);
	snprintf(in->error, sizeof(in->error), "%s", why);
	in->hello_pid = 0;
	in->st = CXI_INST_RESTARTING;
	in->died = true;
	pthread_cond_broadcast(&in->cv); /* a start waiting for hello */
	pthread_mutex_unlock(&in->mu);
	if (in->opts->http != NULL) {
		cxi_http_routes_drop(in->opts->http, in->name);
	}
	json_t *ev = json_pack("{s:s, s:s}", "name", in->name, "reason", why);
	cxi_bus_publish(in->core_bus, CX_TOPIC_PLUGIN_FAILED, NULL, ev);
}

static int
write_settings(cxi_instance *in, char *why, size_t whylen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/run/%s.settings.json",
	    in->opts->data_dir, in->name);
	/* 0600: settings may hold secrets. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, whylen, "cannot write %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	int rv = json_dumpfd(in->settings, fd, JSON_COMPACT);
	if (close(fd) != 0 || rv != 0) {
		snprintf(why, whylen, "cannot write %s", path);
		unlink(path);
		return (-1);
	}
	free(in->settings_file);
	in->settings_file = strdup(path);
	return (in->settings_file ? 0 : -1);
}

int
cxi_isolated_start(cxi_instance *in)
{
	char why[512], dir[4096];
	if (write_settings(in, why, sizeof(why)) != 0) {
		cxi_instance_fail(in, why);
		return (-1);
	}
	/* host.h promises the directory before init, in either isolation;
	 * the child may not create it under a stricter sandbox. */
	snprintf(dir, sizeof(dir), "%s/plugins", in->opts->data_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(why, sizeof(why), "cannot create %s: %s", dir,
		    strerror(errno));
		cxi_instance_fail(in, why);
		return (-1);
	}
	snprintf(dir, sizeof(dir), "%s/plugins/%s", in->opts->data_dir,
	    in->name);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(why, sizeof(why), "cannot create data dir %s: %s",
		    dir, strerror(errno));
		cxi_instance_fail(in, why);
		return (-1);
	}
	const char *argv[] = {in->opts->plugin_host, "--name", in->name,
	    "--path", in->path, "--kind", cx_plugin_kind_name(in->kind),
	    "--bus-ns", in->opts->bus_ns, "--ipc-dir", in->opts->ipc_dir,
	    "--data-dir", dir, "--settings", in->settings_file, NULL};
	cxi_super_opts so = {
	    .argv = argv,
	    .backoff_min_ms = 200,
	    .backoff_max_ms = 30000,
	    .stable_ms = 10000,
	    .on_exit = on_child_exit,
	    .arg = in,
	};
	pthread_mutex_lock(&in->mu);
	in->hello_pid = 0;
	in->died = false;
	pthread_mutex_unlock(&in->mu);
	if (cxi_super_start(&in->sup, &so) != 0) {
		cxi_instance_fail(in, "cannot start the plugin host process");
		return (-1);
	}
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += in->opts->hello_timeout_ms / 1000;
	dl.tv_nsec += (long) (in->opts->hello_timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&in->mu);
	/* Stop waiting at the first death: the supervisor keeps retrying
	 * with backoff, and start-up need not wait for it. */
	while (in->hello_pid == 0 && !in->died) {
		if (pthread_cond_timedwait(&in->cv, &in->mu, &dl) == ETIMEDOUT) {
			break;
		}
	}
	bool up = in->hello_pid != 0;
	pthread_mutex_unlock(&in->mu);
	if (!up) {
		/* Leave the supervisor running: a plugin that crashes at
		 * start-up keeps being retried with backoff. */
		if (in->error[0] != '\0') {
			snprintf(why, sizeof(why), "died during start: %s",
			    in->error);
		} else {
			snprintf(why, sizeof(why),
			    "did not come up within %d ms",
			    in->opts->hello_timeout_ms);
		}
		cxi_instance_fail(in, why);
		in->st = CXI_INST_RESTARTING;
		return (-1);
	}
	return (0);
}

void
cxi_isolated_stop(cxi_instance *in)
{
	if (in->opts->http != NULL) {
		cxi_http_routes_drop(in->opts->http, in->name);
	}
	cxi_super_stop(in->sup, STOP_GRACE_MS);
	in->sup = NULL;
	if (in->settings_file != NULL) {
		unlink(in->settings_file);
		free(in->settings_file);
		in->settings_file = NULL;
	}
}

int
cxi_isolated_hello(cxi_instance *in, const json_t *data, char *why,
    size_t whylen)
{
	json_int_t pid;
	json_t *routes;
	const char *version = "";
	if (json_unpack((json_t *) data, "{s:I, s:o, s?s}", "pid", &pid,
	        "routes", &routes, "version", &version) != 0 ||
	    !json_is_array(routes)) {
		snprintf(why, whylen, "malformed hello");
		return (-1);
	}
	if (in->sup == NULL || (pid_t) pid != cxi_super_pid(in->sup)) {
		snprintf(why, whylen, "hello from unexpected pid %lld",
		    (long long) pid);
		return (-1);
	}
	if (in->opts->http != NULL) {
		cxi_http_routes_drop(in->opts->http, in->name);
		for (size_t i = 0; i < json_array_size(routes); i++) {
			const char *m, *p;
			if (json_unpack(json_array_get(routes, i), "{s:s, s:s}",
			        "method", &m, "subpath", &p) != 0 ||
			    cxi_http_route_add(in->opts->http, in->name, m, p,
			        proxy_http, in) != 0) {
				snprintf(why, whylen, "bad route in hello");
				return (-1);
			}
		}
	}
	pthread_mutex_lock(&in->mu);
	bool restarted = in->st == CXI_INST_RESTARTING;
	snprintf(in->version, sizeof(in->version), "%s", version);
	in->hello_pid = (pid_t) pid;
	if (restarted) {
		in->st = CXI_INST_RUNNING;
		in->error[0] = '\0';
	}
	pthread_cond_broadcast(&in->cv);
	pthread_mutex_unlock(&in->mu);
	if (restarted) {
		const char *kv[] = {"path", in->path, NULL};
		cxi_log_line(CX_LOG_INFO, "plugin", in->name,
		    "isolated plugin is back", kv);
	}
	return (0);
}
