/*
 * manager.c - the set of running plugin instances and config diffs.
 *
 * Instances are kept in start order; stopping walks it backwards, so a
 * plugin started after another (and possibly using it) stops first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stddef.h>

#include <callixo/blob.h>
#include <callixo/session.h>

#include "instance.h"
#include "log.h"

struct cxi_manager {
	cxi_manager_opts opts;
	char *data_dir, *ipc_dir, *plugin_host, *ns;
	cxi_bus_client *core;
	pthread_mutex_t mu; /* guards inst/n against admin and metrics */
	/* Requests borrow the storage and blob drivers under a read lock;
	 * stopping either takes the write lock, so it waits for them. */
	pthread_rwlock_t drivers;
	cxi_instance *db_inst;
	cxi_instance *blob_inst;
	cxi_instance *session_inst;
	cxi_instance **inst;
	size_t n;
	/* Handlers of the core's own service by request type (calls,
	 * recordings, ...), registered once at start-up. */
	struct core_route {
		const char *type;
		cx_service_fn fn;
		void *arg;
	} routes[CXI_MANAGER_ROUTES_MAX];
	size_t n_routes;
};

static char *
dup_or_null(const char *s)
{
	return (s ? strdup(s) : NULL);
}

static cxi_instance *find(cxi_manager *m, const char *name, size_t *idx);

/* Counters of isolated plugins arrive as events from their process. */
static void
on_metric(void *arg, const cx_msg *ev)
{
	cxi_manager *m = arg;
	const char *plugin, *metric;
	json_int_t delta;
	if (json_unpack((json_t *) ev->data, "{s:s, s:s, s:I}", "plugin",
	        &plugin, "metric", &metric, "delta", &delta) != 0) {
		return;
	}
	pthread_mutex_lock(&m->mu);
	bool known = find(m, plugin, NULL) != NULL;
	pthread_mutex_unlock(&m->mu);
	if (known) {
		cxi_http_metric_add(m->opts.http, plugin, metric, delta);
	}
}

int
cxi_manager_new(cxi_manager **out, const cxi_manager_opts *opts)
{
	cxi_manager *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return (ENOMEM);
	}
	m->opts = *opts;
	m->data_dir = dup_or_null(opts->data_dir);
	m->ipc_dir = dup_or_null(opts->ipc_dir);
	m->plugin_host = dup_or_null(opts->plugin_host);
	m->ns = dup_or_null(opts->bus_ns ? opts->bus_ns : "");
	m->opts.data_dir = m->data_dir;
	m->opts.ipc_dir = m->ipc_dir;
	m->opts.plugin_host = m->plugin_host;
	m->opts.bus_ns = m->ns;
	if (m->opts.hello_timeout_ms <= 0) {
		m->opts.hello_timeout_ms = 10000;
	}
	pthread_mutex_init(&m->mu, NULL);
	pthread_rwlock_init(&m->drivers, NULL);
	char run[4096];
	snprintf(run, sizeof(run), "%s/run", m->data_dir);
	if (mkdir(run, 0700) != 0 && errno != EEXIST) {
		cxi_error("core", "cannot create %s: %s", run, strerror(errno));
		cxi_manager_free(m);
		return (errno);
	}
	/* The core's own client also listens on ipc, so isolated plugins
	 * can announce themselves, and reaches their services over ipc. */
	if (cxi_bus_client_open(&m->core, "core", m->ns, NULL) != 0 ||
	    (m->ipc_dir != NULL &&
	        cxi_bus_client_set_ipc_dir(m->core, m->ipc_dir) != CX_OK) ||
	    cxi_bus_serve(m->core, cxi_manager_core_service, m) != CX_OK ||
	    (m->opts.http != NULL &&
	        cxi_bus_subscribe(m->core, "cx.metric", on_metric, m) !=
	            CX_OK)) {
		cxi_error("core", "cannot join the bus as 'core'");
		cxi_manager_free(m);
		return (EIO);
	}
	*out = m;
	return (0);
}

/* Stops an instance; a storage or blob driver is first withdrawn from
 * the requests that borrow it. */
static void
stop_inst(cxi_manager *m, cxi_instance *in)
{
	if (in == m->db_inst || in == m->blob_inst || in == m->session_inst) {
		pthread_rwlock_wrlock(&m->drivers);
		if (in == m->db_inst) {
			m->db_inst = NULL;
		} else if (in == m->blob_inst) {
			m->blob_inst = NULL;
		} else {
			m->session_inst = NULL;
		}
		pthread_rwlock_unlock(&m->drivers);
	}
	cxi_instance_stop(in);
}

/* Starts an instance; a storage driver must also pass the storage hook
 * (schema migrations) before anything may use it. */
static int
start_inst(cxi_manager *m, cxi_instance *in)
{
	int rv = cxi_instance_start(in);
	if (rv != 0 || in->desc == NULL) {
		return (rv);
	}
	if (in->kind == CX_KIND_STORAGE) {
		cxi_db db = {in->desc->kind_ops, in->state};
		char why[512] = "";
		if (db.ops == NULL || ((const cx_storage_ops *) db.ops)->size <
		                          offsetof(cx_storage_ops, rows_free) +
		                              sizeof(void *)) {
			snprintf(why, sizeof(why), "storage plugin has no or an "
			                           "incomplete cx_storage_ops");
		} else if (m->opts.on_storage != NULL &&
		    m->opts.on_storage(m->opts.hook_arg, &db, why,
		        sizeof(why)) != 0) {
			/* why is set by the hook */
		} else {
			why[0] = '\0';
		}
		if (why[0] != '\0') {
			cxi_instance_stop(in);
			cxi_instance_fail(in, why);
			return (-1);
		}
		pthread_rwlock_wrlock(&m->drivers);
		m->db_inst = in;
		pthread_rwlock_unlock(&m->drivers);
	} else if (in->kind == CX_KIND_BLOB) {
		const cx_blob_ops *b = in->desc->kind_ops;
		if (b == NULL || b->size < offsetof(cx_blob_ops, remove_prefix) +
		                               sizeof(void *)) {
			cxi_instance_stop(in);
			cxi_instance_fail(in, "blob plugin has no or an "
			                      "incomplete cx_blob_ops");
			return (-1);
		}
		pthread_rwlock_wrlock(&m->drivers);
		m->blob_inst = in;
		pthread_rwlock_unlock(&m->drivers);
	} else if (in->kind == CX_KIND_SESSION) {
		const cx_session_ops *so = in->desc->kind_ops;
		if (so == NULL || so->size < offsetof(cx_session_ops,
		                                  list_account) + sizeof(void *)) {
			cxi_instance_stop(in);
			cxi_instance_fail(in, "session plugin has no or an "
			                      "incomplete cx_session_ops");
			return (-1);
		}
		pthread_rwlock_wrlock(&m->drivers);
		m->session_inst = in;
		pthread_rwlock_unlock(&m->drivers);
	}
	return (0);
}

bool
cxi_manager_db_hold(cxi_manager *m, cxi_db *out)
{
	pthread_rwlock_rdlock(&m->drivers);
	if (m->db_inst == NULL) {
		pthread_rwlock_unlock(&m->drivers);
		return (false);
	}
	out->ops = m->db_inst->desc->kind_ops;
	out->state = m->db_inst->state;
	return (true);
}

bool
cxi_manager_blob_hold(cxi_manager *m, const cx_blob_ops **ops, void **state)
{
	pthread_rwlock_rdlock(&m->drivers);
	if (m->blob_inst == NULL) {
		pthread_rwlock_unlock(&m->drivers);
		return (false);
	}
	*ops = m->blob_inst->desc->kind_ops;
	*state = m->blob_inst->state;
	return (true);
}

bool
cxi_manager_session_hold(cxi_manager *m, const cx_session_ops **ops,
    void **state)
{
	pthread_rwlock_rdlock(&m->drivers);
	if (m->session_inst == NULL) {
		pthread_rwlock_unlock(&m->drivers);
		return (false);
	}
	*ops = m->session_inst->desc->kind_ops;
	*state = m->session_inst->state;
	return (true);
}

void
cxi_manager_unhold(cxi_manager *m)
{
	pthread_rwlock_unlock(&m->drivers);
}

void
cxi_manager_stop_all(cxi_manager *m)
{
	for (size_t i = m->n; i-- > 0;) {
		stop_inst(m, m->inst[i]);
	}
}

void
cxi_manager_free(cxi_manager *m)
{
	if (m == NULL) {
		return;
	}
	cxi_manager_stop_all(m);
	/* The core client goes before the instances: its service handler
	 * looks instances up. */
	if (m->core != NULL) {
		cxi_bus_client_close(m->core);
	}
	for (size_t i = 0; i < m->n; i++) {
		cxi_instance_free(m->inst[i]);
	}
	free(m->inst);
	pthread_rwlock_destroy(&m->drivers);
	pthread_mutex_destroy(&m->mu);
	free(m->data_dir);
	free(m->ipc_dir);
	free(m->plugin_host);
	free(m->ns);
	free(m);
}

static cxi_instance *
find(cxi_manager *m, const char *name, size_t *idx)
{
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->inst[i]->name, name) == 0) {
			if (idx != NULL) {
				*idx = i;
			}
			return (m->inst[i]);
		}
	}
	return (NULL);
}

static int
append(cxi_manager *m, cxi_instance *in)
{
	pthread_mutex_lock(&m->mu);
	cxi_instance **ni = realloc(m->inst, (m->n + 1) * sizeof(*ni));
	if (ni == NULL) {
		pthread_mutex_unlock(&m->mu);
		return (ENOMEM);
	}
	m->inst = ni;
	m->inst[m->n++] = in;
	pthread_mutex_unlock(&m->mu);
	return (0);
}

static void
remove_at(cxi_manager *m, size_t idx)
{
	pthread_mutex_lock(&m->mu);
	cxi_instance *in = m->inst[idx];
	memmove(&m->inst[idx], &m->inst[idx + 1],
	    (m->n - idx - 1) * sizeof(*m->inst));
	m->n--;
	pthread_mutex_unlock(&m->mu);
	cxi_instance_free(in);
}

void
cxi_apply_report_init(cxi_apply_report *r)
{
	r->started = json_array();
	r->stopped = json_array();
	r->reconfigured = json_array();
	r->restarted = json_array();
	r->failed = json_array();
}

void
cxi_apply_report_clear(cxi_apply_report *r)
{
	json_decref(r->started);
	json_decref(r->stopped);
	json_decref(r->reconfigured);
	json_decref(r->restarted);
	json_decref(r->failed);
	memset(r, 0, sizeof(*r));
}

json_t *
cxi_apply_report_json(const cxi_apply_report *r)
{
	return (json_pack("{s:O, s:O, s:O, s:O, s:O}", "started", r->started,
	    "stopped", r->stopped, "reconfigured", r->reconfigured,
	    "restarted", r->restarted, "failed", r->failed));
}

static void
note(json_t *list, const char *name)
{
	if (list != NULL) {
		json_array_append_new(list, json_string(name));
	}
}

/* Whether the instance must be rebuilt rather than kept or reconfigured. */
static bool
identity_changed(const cxi_instance *in, const cxi_plugin_conf *pc)
{
	return (strcmp(in->path, pc->path) != 0 || in->kind != pc->kind ||
	    in->iso != pc->isolation);
}

static int
start_new(cxi_manager *m, const cxi_plugin_conf *pc, cxi_apply_report *r,
    json_t *list)
{
	cxi_instance *in = cxi_instance_new(pc, &m->opts, m->core);
	if (in == NULL || append(m, in) != 0) {
		cxi_instance_free(in);
		return (-1);
	}
	int rv = start_inst(m, in);
	note(rv == 0 ? list : r ? r->failed : NULL, pc->name);
	return (rv < 0 && pc->required ? -1 : 0);
}

int
cxi_manager_apply(cxi_manager *m, const cxi_config *cfg, cxi_apply_report *r)
{
	int rv = 0;
	/* 1. Stop what is gone or disabled, in reverse start order. */
	for (size_t i = m->n; i-- > 0;) {
		cxi_instance *in = m->inst[i];
		const cxi_plugin_conf *pc = cxi_config_plugin(cfg, in->name);
		if (pc != NULL && pc->enabled && !identity_changed(in, pc)) {
			continue;
		}
		bool was_up = in->st != CXI_INST_STOPPED;
		stop_inst(m, in);
		if (pc != NULL && pc->enabled) {
			continue; /* restarted below with the new identity */
		}
		note(r && was_up ? r->stopped : NULL, in->name);
		remove_at(m, i);
	}
	/* 2. Start, reconfigure or restart in config order; the drivers
	 * (storage, blob) go first, since other plugins may use them. */
	for (size_t k = 0; k < 2 * cfg->n_plugins; k++) {
		const cxi_plugin_conf *pc = &cfg->plugins[k % cfg->n_plugins];
		bool driver = pc->kind == CX_KIND_STORAGE ||
		    pc->kind == CX_KIND_BLOB || pc->kind == CX_KIND_SESSION;
		if (!pc->enabled || driver != (k < cfg->n_plugins)) {
			continue;
		}
		size_t idx;
		cxi_instance *in = find(m, pc->name, &idx);
		if (in == NULL) {
			if (start_new(m, pc, r, r ? r->started : NULL) != 0) {
				rv = -1;
			}
			continue;
		}
		if (in->st == CXI_INST_DISABLED) {
			continue; /* disabled at runtime: stays so until enabled */
		}
		bool same = json_equal(in->settings, pc->settings);
		bool down = in->st == CXI_INST_STOPPED ||
		    in->st == CXI_INST_FAILED || in->st == CXI_INST_DECLINED;
		if (same && !down && !identity_changed(in, pc)) {
			in->required = pc->required;
			continue;
		}
		if (!down && !same &&
		    cxi_instance_reconfigure(in, pc->settings) == 0) {
			in->required = pc->required;
			note(r ? r->reconfigured : NULL, pc->name);
			continue;
		}
		/* Restart: settings changed without reconfigure, identity
		 * changed, or a failed instance gets another chance. */
		stop_inst(m, in);
		remove_at(m, idx);
		if (start_new(m, pc, r, r ? r->restarted : NULL) != 0) {
			rv = -1;
		}
	}
	return (rv);
}

int
cxi_manager_set_enabled(cxi_manager *m, const cxi_config *cfg,
    const char *name, bool enabled, char *why, size_t whylen)
{
	cxi_instance *in = find(m, name, NULL);
	const cxi_plugin_conf *pc = cxi_config_plugin(cfg, name);
	if (in == NULL && pc == NULL) {
		snprintf(why, whylen, "no plugin named '%s' in the config",
		    name);
		return (-1);
	}
	if (!enabled) {
		if (in == NULL || in->st == CXI_INST_DISABLED) {
			snprintf(why, whylen, "plugin '%s' is not running", name);
			return (-1);
		}
		stop_inst(m, in);
		in->st = CXI_INST_DISABLED;
		return (0);
	}
	if (in != NULL && in->st == CXI_INST_RUNNING) {
		snprintf(why, whylen, "plugin '%s' is already running", name);
		return (-1);
	}
	if (pc == NULL || pc->settings == NULL) {
		snprintf(why, whylen, "plugin '%s' has no validated settings",
		    name);
		return (-1);
	}
	if (in == NULL) {
		return (start_new(m, pc, NULL, NULL) == 0 &&
		           find(m, name, NULL)->st == CXI_INST_RUNNING ?
		        0 :
		        (snprintf(why, whylen, "plugin '%s' failed to start: %s",
		             name, find(m, name, NULL)->error),
		            -1));
	}
	in->st = CXI_INST_STOPPED;
	if (start_inst(m, in) != 0) {
		snprintf(why, whylen, "plugin '%s' failed to start: %s", name,
		    in->error);
		return (-1);
	}
	return (0);
}

json_t *
cxi_manager_list(cxi_manager *m)
{
	json_t *arr = json_array();
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n; i++) {
		cxi_instance *in = m->inst[i];
		pthread_mutex_lock(&in->mu);
		json_array_append_new(arr,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:i}",
		        "name", in->name, "kind", cx_plugin_kind_name(in->kind),
		        "version", in->version, "state",
		        cxi_inst_state_name(in->st), "isolation",
		        in->iso == CXI_ISO_PROCESS ? "process" : "inproc",
		        "required", in->required, "error", in->error, "path",
		        in->path, "restarts",
		        in->sup ? (int) cxi_super_restarts(in->sup) : 0));
		pthread_mutex_unlock(&in->mu);
	}
	pthread_mutex_unlock(&m->mu);
	return (arr);
}

bool
cxi_manager_ready(cxi_manager *m)
{
	bool ok = true;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n; i++) {
		if (m->inst[i]->required &&
		    m->inst[i]->st != CXI_INST_RUNNING) {
			ok = false;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return (ok);
}

bool
cxi_manager_degraded(cxi_manager *m)
{
	bool deg = false;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n; i++) {
		int st = m->inst[i]->st;
		if (st != CXI_INST_RUNNING && st != CXI_INST_DISABLED) {
			deg = true;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return (deg);
}

void
cxi_manager_metrics(void *arg, char **buf, size_t *len, size_t *cap)
{
	cxi_manager *m = arg;
	cxi_http_buf_printf(buf, len, cap,
	    "# HELP callixo_plugin_up 1 if the plugin instance is running.\n"
	    "# TYPE callixo_plugin_up gauge\n");
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n; i++) {
		cxi_instance *in = m->inst[i];
		cxi_http_buf_printf(buf, len, cap,
		    "callixo_plugin_up{plugin=\"%s\",kind=\"%s\",state=\"%s\"} "
		    "%d\n",
		    in->name, cx_plugin_kind_name(in->kind),
		    cxi_inst_state_name(in->st), in->st == CXI_INST_RUNNING);
	}
	pthread_mutex_unlock(&m->mu);
	cxi_bus_stats st;
	cxi_bus_stats_get(m->opts.bus, &st);
	cxi_http_buf_printf(buf, len, cap,
	    "# HELP callixo_bus_messages_total Messages through the bus "
	    "broker.\n"
	    "# TYPE callixo_bus_messages_total counter\n"
	    "callixo_bus_messages_total{pattern=\"event_in\"} %llu\n"
	    "callixo_bus_messages_total{pattern=\"event_out\"} %llu\n"
	    "callixo_bus_messages_total{pattern=\"survey\"} %llu\n"
	    "# TYPE callixo_policy_denies_total counter\n"
	    "callixo_policy_denies_total %llu\n"
	    "# TYPE callixo_policy_timeouts_total counter\n"
	    "callixo_policy_timeouts_total %llu\n",
	    (unsigned long long) st.events_in,
	    (unsigned long long) st.events_out,
	    (unsigned long long) st.surveys,
	    (unsigned long long) st.survey_denies,
	    (unsigned long long) st.survey_timeouts);
}

cx_verdict
cxi_manager_survey(cxi_manager *m, const char *type, const char *account,
    json_t *data, int deadline_ms, char *reason, size_t reason_len)
{
	/* Copy the names: the survey waits up to its deadline, and the
	 * instance table must not stay locked that long. */
	char names[64][64];
	const char *req[64];
	size_t nreq = 0;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n && nreq < 64; i++) {
		cxi_instance *in = m->inst[i];
		if (in->kind == CX_KIND_POLICY && in->required &&
		    in->st != CXI_INST_DISABLED) {
			snprintf(names[nreq], sizeof(names[nreq]), "%s",
			    in->name);
			req[nreq] = names[nreq];
			nreq++;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return (cxi_bus_survey(m->opts.bus, type, account, data, deadline_ms,
	    req, nreq, NULL, reason, reason_len));
}

cx_err
cxi_manager_core_service(void *arg, const cx_msg *req, json_t **reply)
{
	cxi_manager *m = arg;
	char why[256];
	if (strcmp(req->type, "cx.plugin.hello") != 0) {
		pthread_mutex_lock(&m->mu);
		struct core_route r = {NULL, NULL, NULL};
		for (size_t i = 0; i < m->n_routes; i++) {
			/* An exact type wins over the catch-all "*". */
			if (strcmp(m->routes[i].type, req->type) == 0 ||
			    (r.fn == NULL &&
			        strcmp(m->routes[i].type, "*") == 0)) {
				r = m->routes[i];
			}
		}
		pthread_mutex_unlock(&m->mu);
		if (r.fn != NULL) {
			return (r.fn(r.arg, req, reply));
		}
		*reply = json_pack("{s:s}", "message", "unknown request type");
		return (CX_ENOENT);
	}
	const char *name = json_string_value(json_object_get(req->data, "name"));
	pthread_mutex_lock(&m->mu);
	cxi_instance *in = name ? find(m, name, NULL) : NULL;
	int rv = in == NULL || in->iso != CXI_ISO_PROCESS ?
	    (snprintf(why, sizeof(why), "unknown isolated plugin"), -1) :
	    cxi_isolated_hello(in, req->data, why, sizeof(why));
	pthread_mutex_unlock(&m->mu);
	if (rv != 0) {
		*reply = json_pack("{s:s}", "message", why);
		return (CX_EINVAL);
	}
	return (CX_OK);
}

void
cxi_manager_publish(cxi_manager *m, const char *type, json_t *data)
{
	cxi_bus_publish(m->core, type, NULL, data);
}

size_t
cxi_manager_policy_answerers(cxi_manager *m)
{
	size_t n = 0;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n; i++) {
		cxi_instance *in = m->inst[i];
		if (in->st == CXI_INST_RUNNING && in->hc != NULL &&
		    cxi_hostctx_answers_policy(in->hc)) {
			n++;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return (n);
}

cx_err
cxi_manager_core_route(cxi_manager *m, const char *type, cx_service_fn fn,
    void *arg)
{
	cx_err rv = CX_OK;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n_routes; i++) {
		if (strcmp(m->routes[i].type, type) == 0) {
			m->routes[i].fn = fn;
			m->routes[i].arg = arg;
			pthread_mutex_unlock(&m->mu);
			return (CX_OK);
		}
	}
	if (m->n_routes == CXI_MANAGER_ROUTES_MAX) {
		rv = CX_ENOMEM;
	} else {
		m->routes[m->n_routes++] = (struct core_route) {type, fn, arg};
	}
	pthread_mutex_unlock(&m->mu);
	return (rv);
}

cx_err
cxi_manager_call(cxi_manager *m, const char *service, const char *type,
    const char *account, json_t *data, int timeout_ms, json_t **reply)
{
	return (cxi_bus_call(m->core, service, type, account, data, timeout_ms,
	    reply));
}

bool
cxi_manager_running(cxi_manager *m, const char *name, cx_plugin_kind kind,
    char *data_dir, size_t dlen)
{
	pthread_mutex_lock(&m->mu);
	cxi_instance *in = find(m, name, NULL);
	bool ok = in != NULL && in->kind == kind &&
	    atomic_load(&in->st) == CXI_INST_RUNNING;
	if (ok && data_dir != NULL) {
		snprintf(data_dir, dlen, "%s/plugins/%s", m->data_dir,
		    in->name);
	}
	pthread_mutex_unlock(&m->mu);
	return (ok);
}

bool
cxi_manager_first_of_kind(cxi_manager *m, cx_plugin_kind kind, char *name,
    size_t len)
{
	bool found = false;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n && !found; i++) {
		cxi_instance *in = m->inst[i];
		if (in->kind == kind &&
		    atomic_load(&in->st) == CXI_INST_RUNNING) {
			snprintf(name, len, "%s", in->name);
			found = true;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return (found);
}
