/*
 * testkit.c - an in-process Callixo core for plugin unit tests.
 *
 * Nothing here is a fake: the kit runs the daemon's own settings
 * validation, plugin manager, nng bus and HTTP server, on a private bus
 * namespace and an ephemeral port, so a plugin that passes here behaves
 * the same under callixod.
 */
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <callixo/testkit.h>

#include "bus.h"
#include "conformance.h"
#include "config.h"
#include "http.h"
#include "httpc.h"
#include "loader.h"
#include "manager.h"

#define TK_MAX_SERVICES 16

struct cx_testkit {
	char ns[64];
	char dir[PATH_MAX];
	cxi_bus *bus;
	cxi_http *http;
	cxi_manager *mgr;
	cxi_bus_client *client;
	cxi_bus_client *services[TK_MAX_SERVICES];
	size_t n_services;
	cxi_module_cache *cache;
	const cx_plugin *desc;
	cxi_plugin_conf pc;
	cxi_config cfg;
	bool started;
	char err[4096];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	json_t *events;
};

static _Atomic unsigned tk_seq;

static void
set_err(cx_testkit *tk, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tk->err, sizeof(tk->err), fmt, ap);
	va_end(ap);
}

const char *
cx_testkit_error(const cx_testkit *tk)
{
	return (tk->err);
}

static void
capture(void *arg, const cx_msg *ev)
{
	cx_testkit *tk = arg;
	json_t *env = json_pack("{s:s, s:s, s:I, s:s?, s:O}", "type", ev->type,
	    "id", ev->id, "time_ms", (json_int_t) ev->time_ms, "account",
	    ev->account, "data", ev->data);
	if (env == NULL) {
		return;
	}
	pthread_mutex_lock(&tk->mu);
	json_array_append_new(tk->events, env);
	pthread_cond_broadcast(&tk->cv);
	pthread_mutex_unlock(&tk->mu);
}

cx_err
cx_testkit_new(cx_testkit **out)
{
	char why[256];
	cx_testkit *tk = calloc(1, sizeof(*tk));
	if (tk == NULL) {
		return (CX_ENOMEM);
	}
	pthread_mutex_init(&tk->mu, NULL);
	pthread_cond_init(&tk->cv, NULL);
	tk->events = json_array();
	snprintf(tk->ns, sizeof(tk->ns), "tk%d-%u", (int) getpid(),
	    atomic_fetch_add(&tk_seq, 1));
	const char *tmp = getenv("TMPDIR");
	snprintf(tk->dir, sizeof(tk->dir), "%s/cxtk.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(tk->dir) == NULL) {
		tk->dir[0] = '\0';
		cx_testkit_free(tk);
		return (CX_EIO);
	}
	cxi_http_opts ho = {.listen = "http://127.0.0.1:0",
	    .max_body = 1 << 20, .request_timeout_ms = 10000, .workers = 2};
	if (cxi_bus_open(&tk->bus, tk->ns, NULL) != 0 ||
	    cxi_http_start(&tk->http, &ho, why, sizeof(why)) != 0 ||
	    (tk->cache = cxi_module_cache_new()) == NULL) {
		cx_testkit_free(tk);
		return (CX_EIO);
	}
	cxi_manager_opts mo = {.bus = tk->bus, .bus_ns = tk->ns,
	    .http = tk->http, .data_dir = tk->dir};
	if (cxi_manager_new(&tk->mgr, &mo) != 0 ||
	    cxi_bus_client_open(&tk->client, "testkit", tk->ns, NULL) != 0 ||
	    cxi_bus_subscribe(tk->client, "*", capture, tk) != CX_OK) {
		cx_testkit_free(tk);
		return (CX_EIO);
	}
	*out = tk;
	return (CX_OK);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return (remove(path));
}

void
cx_testkit_free(cx_testkit *tk)
{
	if (tk == NULL) {
		return;
	}
	if (tk->mgr != NULL) {
		cxi_manager_free(tk->mgr);
	}
	if (tk->client != NULL) {
		cxi_bus_client_close(tk->client);
	}
	for (size_t i = 0; i < tk->n_services; i++) {
		cxi_bus_client_close(tk->services[i]);
	}
	if (tk->http != NULL) {
		cxi_http_stop(tk->http);
	}
	if (tk->bus != NULL) {
		cxi_bus_close(tk->bus);
	}
	cxi_module_cache_free(tk->cache);
	json_decref(tk->pc.settings);
	free(tk->pc.name);
	free(tk->pc.path);
	json_decref(tk->events);
	if (tk->dir[0] != '\0') {
		nftw(tk->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	pthread_cond_destroy(&tk->cv);
	pthread_mutex_destroy(&tk->mu);
	free(tk);
}

/* Validates a YAML settings text against the plugin's schema, exactly as
 * a `settings:` block in callixo.yaml would be. */
static json_t *
validate(cx_testkit *tk, const char *yaml)
{
	cxi_errlist errs = {0};
	cxi_ynode *root = NULL;
	if (yaml != NULL && yaml[strspn(yaml, " \t\r\n")] != '\0') {
		root = cxi_yaml_parse("settings", yaml, strlen(yaml), &errs);
		if (root == NULL) {
			goto fail;
		}
		if (root->type != CXI_Y_MAP) {
			cxi_errlist_add(&errs, "settings", root->line, root->col,
			    "settings must be a mapping");
			goto fail;
		}
	}
	json_t *s = cxi_settings_validate_desc("settings", root, 1, 1,
	    tk->desc->name, tk->desc, NULL, &errs);
	if (s == NULL || errs.n > 0) {
		json_decref(s);
		goto fail;
	}
	cxi_ynode_free(root);
	return (s);
fail:
	tk->err[0] = '\0';
	for (size_t i = 0; i < errs.n; i++) {
		size_t l = strlen(tk->err);
		snprintf(tk->err + l, sizeof(tk->err) - l, "%s%s",
		    i ? "\n" : "", errs.msgs[i]);
	}
	cxi_errlist_clear(&errs);
	cxi_ynode_free(root);
	return (NULL);
}

cx_err
cx_testkit_load(cx_testkit *tk, const char *path, const char *settings_yaml)
{
	char why[512];
	if (tk->pc.name != NULL) {
		set_err(tk, "a plugin is already loaded in this test kit");
		return (CX_EEXIST);
	}
	if (cxi_module_cache_schema(tk->cache, path, &tk->desc, why,
	        sizeof(why)) != 0) {
		set_err(tk, "%s: %s", path, why);
		return (CX_EINVAL);
	}
	json_t *s = validate(tk, settings_yaml);
	if (s == NULL) {
		return (CX_ECONFIG);
	}
	tk->pc.name = strdup(tk->desc->name);
	tk->pc.path = strdup(path);
	if (tk->pc.name == NULL || tk->pc.path == NULL) {
		json_decref(s);
		return (CX_ENOMEM);
	}
	tk->pc.kind = tk->desc->kind;
	tk->pc.enabled = true;
	tk->pc.required = true;
	tk->pc.isolation = CXI_ISO_INPROC;
	tk->pc.settings = s;
	tk->cfg.file = "testkit";
	tk->cfg.data_dir = tk->dir;
	tk->cfg.plugins = &tk->pc;
	tk->cfg.n_plugins = 1;
	return (CX_OK);
}

static cx_err
apply(cx_testkit *tk)
{
	cxi_apply_report r;
	cxi_apply_report_init(&r);
	int rv = cxi_manager_apply(tk->mgr, &tk->cfg, &r);
	bool failed = json_array_size(r.failed) > 0;
	cxi_apply_report_clear(&r);
	if (rv != 0 || failed) {
		json_t *list = cxi_manager_list(tk->mgr);
		json_t *p = json_array_get(list, 0);
		set_err(tk, "plugin '%s' did not start: %s", tk->pc.name,
		    p ? json_string_value(json_object_get(p, "error")) :
		        "unknown");
		json_decref(list);
		return (CX_EINVAL);
	}
	return (CX_OK);
}

cx_err
cx_testkit_start(cx_testkit *tk)
{
	if (tk->pc.name == NULL) {
		set_err(tk, "no plugin loaded");
		return (CX_EINVAL);
	}
	cx_err rv = apply(tk);
	tk->started = rv == CX_OK;
	return (rv);
}

cx_err
cx_testkit_reconfigure(cx_testkit *tk, const char *settings_yaml)
{
	if (!tk->started) {
		set_err(tk, "plugin not started");
		return (CX_EINVAL);
	}
	json_t *s = validate(tk, settings_yaml);
	if (s == NULL) {
		return (CX_ECONFIG);
	}
	json_decref(tk->pc.settings);
	tk->pc.settings = s;
	return (apply(tk));
}

static json_t *
parse_data(cx_testkit *tk, const char *data_json)
{
	if (data_json == NULL || data_json[0] == '\0') {
		return (json_object());
	}
	json_error_t e;
	json_t *j = json_loads(data_json, 0, &e);
	if (j == NULL || !json_is_object(j)) {
		set_err(tk, "data is not a JSON object: %s",
		    j ? "wrong type" : e.text);
		json_decref(j);
		return (NULL);
	}
	return (j);
}

cx_err
cx_testkit_publish(cx_testkit *tk, const char *type, const char *account,
    const char *data_json)
{
	json_t *d = parse_data(tk, data_json);
	return (d ? cxi_bus_publish(tk->client, type, account, d) : CX_EINVAL);
}

static bool
type_matches(const char *want, const char *type)
{
	size_t n = strlen(want);
	if (strcmp(want, "*") == 0) {
		return (true);
	}
	if (n >= 2 && strcmp(want + n - 2, ".*") == 0) {
		return (strncmp(want, type, n - 1) == 0);
	}
	return (strcmp(want, type) == 0);
}

cx_err
cx_testkit_wait_event(cx_testkit *tk, const char *type, int timeout_ms,
    json_t **envelope)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long) (timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&tk->mu);
	for (;;) {
		size_t i;
		json_t *e;
		json_array_foreach (tk->events, i, e) {
			if (type_matches(type, json_string_value(
			                           json_object_get(e, "type")))) {
				*envelope = json_incref(e);
				json_array_remove(tk->events, i);
				pthread_mutex_unlock(&tk->mu);
				return (CX_OK);
			}
		}
		if (pthread_cond_timedwait(&tk->cv, &tk->mu, &dl) != 0) {
			pthread_mutex_unlock(&tk->mu);
			set_err(tk, "no '%s' event within %d ms", type,
			    timeout_ms);
			return (CX_ETIMEDOUT);
		}
	}
}

cx_err
cx_testkit_request(cx_testkit *tk, const char *type, const char *data_json,
    int timeout_ms, json_t **reply)
{
	json_t *d = parse_data(tk, data_json);
	if (d == NULL) {
		return (CX_EINVAL);
	}
	return (cxi_bus_call(tk->client, tk->pc.name, type, NULL, d,
	    timeout_ms, reply));
}

cx_err
cx_testkit_survey(cx_testkit *tk, const char *type, const char *data_json,
    int deadline_ms, cx_verdict *verdict)
{
	json_t *d = parse_data(tk, data_json);
	if (d == NULL) {
		return (CX_EINVAL);
	}
	/* A respondent joins the surveyor asynchronously: a survey sent the
	 * moment after start could miss it. Wait (within the deadline) until
	 * every plugin that answers policy has joined. */
	size_t want = cxi_manager_policy_answerers(tk->mgr);
	for (int waited = 0; waited < deadline_ms; waited += 5) {
		cxi_bus_stats st;
		cxi_bus_stats_get(tk->bus, &st);
		if (st.respondents >= want) {
			break;
		}
		struct timespec ts = {0, 5 * 1000000L};
		nanosleep(&ts, NULL);
	}
	char reason[256];
	*verdict = cxi_bus_survey(tk->bus, type, NULL, d, deadline_ms, NULL, 0,
	    NULL, reason, sizeof(reason));
	return (CX_OK);
}

cx_err
cx_testkit_serve(cx_testkit *tk, const char *service, cx_service_fn fn,
    void *arg)
{
	/* "core" is the manager's own service: the test stands in for the
	 * core's handlers (call.event, ...), not for the plugin hello. */
	if (strcmp(service, "core") == 0) {
		return (cxi_manager_core_route(tk->mgr, "*", fn, arg));
	}
	if (tk->n_services == TK_MAX_SERVICES) {
		return (CX_ENOMEM);
	}
	cxi_bus_client *c;
	if (cxi_bus_client_open(&c, service, tk->ns, NULL) != 0) {
		return (CX_EIO);
	}
	cx_err rv = cxi_bus_serve(c, fn, arg);
	if (rv != CX_OK) {
		cxi_bus_client_close(c);
		return (rv);
	}
	tk->services[tk->n_services++] = c;
	return (CX_OK);
}

cx_err
cx_testkit_http(cx_testkit *tk, const char *method, const char *path,
    const char *const *headers, const char *req_body, size_t req_len,
    int *status, char **body, size_t *body_len)
{
	char url[1024];
	snprintf(url, sizeof(url), "%s%s", cxi_http_url(tk->http), path);
	if (cxi_httpc_do(method, url, headers, req_body, req_len, status,
	        body, body_len) != 0) {
		set_err(tk, "HTTP %s %s failed", method, path);
		return (CX_EIO);
	}
	return (CX_OK);
}

int
cx_testkit_storage_conformance(const char *plugin_so,
    const char *settings_yaml)
{
	return (cxt_storage_conformance(plugin_so, settings_yaml));
}
