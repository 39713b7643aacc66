/*
 * test_loader.c - the loader with purpose-built bad plugins, and the
 * plugin manager's lifecycle: start, reconfigure, restart, stop, failure
 * modes, and process isolation with a plugin that aborts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "config.h"
#include "http.h"
#include "httpc.h"
#include "loader.h"
#include "manager.h"

static char plugdir[4096];
static char hostbin[4096];

static void
plugin_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s.so", plugdir, name);
}

static void
expect_refused(const char *path, const char *reason)
{
	cxi_module *m = NULL;
	char why[512] = "";
	assert_int_equal(cxi_module_open(path, &m, why, sizeof(why)), -1);
	assert_null(m);
	if (strstr(why, reason) == NULL) {
		fail_msg("%s: expected '%s', got '%s'", path, reason, why);
	}
}

static void
test_refusals(void **state)
{
	(void) state;
	char p[4200];
	expect_refused("/nonexistent/plugin.so", "file not found");
	char tmp[] = "/tmp/cxnotelfXXXXXX";
	int fd = mkstemp(tmp);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello, not an ELF\n", 18), 18);
	close(fd);
	expect_refused(tmp, "not a shared object");
	unlink(tmp);
	plugin_path(p, sizeof(p), "missing_symbol");
	expect_refused(p, "descriptor symbol cx_plugin_entry missing");
	plugin_path(p, sizeof(p), "wrong_abi");
	expect_refused(p, "ABI mismatch: plugin built for ABI 2.0");
	plugin_path(p, sizeof(p), "bad_magic");
	expect_refused(p, "bad magic");
}

static void
test_good_descriptor(void **state)
{
	(void) state;
	char p[4200], why[256];
	cxi_module *m;
	plugin_path(p, sizeof(p), "lifecycle");
	assert_int_equal(cxi_module_open(p, &m, why, sizeof(why)), 0);
	const cx_plugin *d = cxi_module_desc(m);
	assert_string_equal(d->name, "lifecycle");
	assert_int_equal(d->kind, CX_KIND_GENERIC);
	assert_int_equal(d->abi_major, CX_ABI_MAJOR);
	for (const cx_setting *s = d->settings; s->key; s++) {
		assert_non_null(s->description);
	}
	cxi_module_close(m);
}

/* Every shipped plugin documents every setting (style: "a test fails on
 * any undescribed key"), and its schema is well formed. */
static void
test_schemas_documented(void **state)
{
	(void) state;
	char dir[4200], p[4400], why[512];
	const char *b = getenv("CALLIXO_BUILD_ROOT");
	snprintf(dir, sizeof(dir), "%s/plugins", b);
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	int seen = 0;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (n < 4 || strcmp(e->d_name + n - 3, ".so") != 0) {
			continue;
		}
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		cxi_module *m;
		assert_int_equal(cxi_module_open(p, &m, why, sizeof(why)), 0);
		if (cxi_settings_schema_check(cxi_module_desc(m)->settings, why,
		        sizeof(why)) != 0) {
			fail_msg("%s: %s", p, why);
		}
		cxi_module_close(m);
		seen++;
	}
	closedir(d);
	assert_true(seen > 0);
	const char *extra[] = {"lifecycle", "hello"};
	for (size_t i = 0; i < 2; i++) {
		cxi_module *m;
		plugin_path(p, sizeof(p), extra[i]);
		assert_int_equal(cxi_module_open(p, &m, why, sizeof(why)), 0);
		assert_int_equal(cxi_settings_schema_check(
		                     cxi_module_desc(m)->settings, why, sizeof(why)),
		    0);
		cxi_module_close(m);
	}
}

/* A core in miniature: bus, HTTP on an ephemeral port, manager. */
typedef struct rig {
	char dir[64];
	char ns[32];
	cxi_bus *bus;
	cxi_http *http;
	cxi_manager *mgr;
	cxi_plugin_conf pc[2];
	cxi_config cfg;
} rig;

static rig *
rig_new(void)
{
	static int seq;
	rig *r = calloc(1, sizeof(*r));
	char why[256];
	snprintf(r->dir, sizeof(r->dir), "/tmp/cxloaderXXXXXX");
	assert_non_null(mkdtemp(r->dir));
	char ipc[128];
	snprintf(ipc, sizeof(ipc), "%s/run", r->dir);
	assert_int_equal(mkdir(ipc, 0700), 0);
	snprintf(r->ns, sizeof(r->ns), "ld%d", seq++);
	assert_int_equal(cxi_bus_open(&r->bus, r->ns, ipc), 0);
	cxi_http_opts ho = {.listen = "http://127.0.0.1:0", .max_body = 65536,
	    .request_timeout_ms = 10000, .workers = 2};
	assert_int_equal(cxi_http_start(&r->http, &ho, why, sizeof(why)), 0);
	cxi_manager_opts mo = {.bus = r->bus, .bus_ns = r->ns,
	    .http = r->http, .data_dir = r->dir, .ipc_dir = ipc,
	    .plugin_host = hostbin, .hello_timeout_ms = 8000};
	assert_int_equal(cxi_manager_new(&r->mgr, &mo), 0);
	r->cfg.file = "test";
	r->cfg.data_dir = r->dir;
	r->cfg.plugins = r->pc;
	return (r);
}

static void
rig_free(rig *r)
{
	cxi_manager_free(r->mgr);
	cxi_http_stop(r->http);
	cxi_bus_close(r->bus);
	for (size_t i = 0; i < 2; i++) {
		json_decref(r->pc[i].settings);
		free(r->pc[i].name);
		free(r->pc[i].path);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	assert_int_equal(system(cmd), 0);
	free(r);
}

static void
rig_plugin(rig *r, size_t i, const char *name, const char *fail,
    const char *crash, int gen, const char *label, bool required,
    cxi_isolation iso)
{
	char p[4200];
	plugin_path(p, sizeof(p), "lifecycle");
	cxi_plugin_conf *pc = &r->pc[i];
	free(pc->name);
	free(pc->path);
	json_decref(pc->settings);
	pc->name = strdup(name);
	pc->path = strdup(p);
	pc->kind = CX_KIND_GENERIC;
	pc->enabled = true;
	pc->required = required;
	pc->isolation = iso;
	pc->settings = json_pack("{s:s, s:s, s:i, s:s, s:s}", "fail", fail,
	    "crash", crash, "generation", gen, "label", label, "token",
	    "s3cr3t");
	if (r->cfg.n_plugins <= i) {
		r->cfg.n_plugins = i + 1;
	}
}

static char *
slurp(const char *dir, const char *name)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/plugins/%s/lifecycle.log", dir, name);
	FILE *f = fopen(p, "r");
	if (f == NULL) {
		return (strdup(""));
	}
	char *buf = calloc(1, 4096);
	size_t n = fread(buf, 1, 4095, f);
	buf[n] = '\0';
	fclose(f);
	return (buf);
}

static const char *
state_of(rig *r, const char *name)
{
	static char st[32];
	json_t *l = cxi_manager_list(r->mgr);
	size_t i;
	json_t *p;
	st[0] = '\0';
	json_array_foreach (l, i, p) {
		if (strcmp(json_string_value(json_object_get(p, "name")), name) ==
		    0) {
			snprintf(st, sizeof(st), "%s",
			    json_string_value(json_object_get(p, "state")));
		}
	}
	json_decref(l);
	return (st);
}

static void
test_lifecycle_inproc(void **state)
{
	(void) state;
	rig *r = rig_new();
	cxi_apply_report rep;
	rig_plugin(r, 0, "lc", "none", "none", 1, "a", true, CXI_ISO_INPROC);
	cxi_apply_report_init(&rep);
	assert_int_equal(cxi_manager_apply(r->mgr, &r->cfg, &rep), 0);
	assert_int_equal(json_array_size(rep.started), 1);
	cxi_apply_report_clear(&rep);
	assert_string_equal(state_of(r, "lc"), "running");
	assert_true(cxi_manager_ready(r->mgr));

	/* Its route is served. */
	char url[256], *body = NULL;
	int status = 0;
	snprintf(url, sizeof(url), "%s/webhooks/lc/hit", cxi_http_url(r->http));
	assert_int_equal(cxi_httpc_do("POST", url, NULL, "abc", 3, &status,
	                     &body, NULL), 0);
	assert_int_equal(status, 200);
	assert_non_null(strstr(body, "\"bytes\":3"));
	free(body);

	/* A reloadable key changes: reconfigure, no restart. */
	rig_plugin(r, 0, "lc", "none", "none", 2, "a", true, CXI_ISO_INPROC);
	cxi_apply_report_init(&rep);
	assert_int_equal(cxi_manager_apply(r->mgr, &r->cfg, &rep), 0);
	assert_int_equal(json_array_size(rep.reconfigured), 1);
	cxi_apply_report_clear(&rep);

	/* A non-reloadable key changes: restart. */
	rig_plugin(r, 0, "lc", "none", "none", 2, "b", true, CXI_ISO_INPROC);
	cxi_apply_report_init(&rep);
	assert_int_equal(cxi_manager_apply(r->mgr, &r->cfg, &rep), 0);
	assert_int_equal(json_array_size(rep.restarted), 1);
	cxi_apply_report_clear(&rep);

	/* Removed from the config: stopped and unloaded. */
	r->cfg.n_plugins = 0;
	cxi_apply_report_init(&rep);
	assert_int_equal(cxi_manager_apply(r->mgr, &r->cfg, &rep), 0);
	assert_int_equal(json_array_size(rep.stopped), 1);
	cxi_apply_report_clear(&rep);
	char *log = slurp(r->dir, "lc");
	assert_string_equal(log,
	    "init 1\nstart 1\nreconfigure 2\nstop 2\nfini 2\n"
	    "init 2\nstart 2\nstop 2\nfini 2\n");
	free(log);
	/* And its route is gone. */
	assert_int_equal(cxi_httpc_do("POST", url, NULL, "abc", 3, &status,
	                     &body, NULL), 0);
	assert_int_equal(status, 404);
	free(body);
	rig_free(r);
}

static void
test_stop_order(void **state)
{
	(void) state;
	rig *r = rig_new();
	rig_plugin(r, 0, "first", "none", "none", 1, "a", false,
	    CXI_ISO_INPROC);
	rig_plugin(r, 1, "second", "none", "none", 1, "a", false,
	    CXI_ISO_INPROC);
	assert_int_equal(cxi_manager_apply(r->mgr, &r->cfg, NULL), 0);
	json_t *l = cxi_manager_list(r->mgr);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(l, 0), "name")), "first");
	json_decref(l);
	cxi_manager_stop_all(r->mgr);
	assert_string_equal(state_of(r, "first"), "stopped");
	assert_string_equal(state_of(r, "second"), "stopped");
	rig_free(r);
}

static void
test_failures(void **state)
{
	(void) state;
	rig *r = rig_new();
	/* Optional plugin whose init fails: runs on, degraded. */
	rig_plugin(r, 0, "bad", "init", "none", 1, "a", false, CXI_ISO_INPROC);
	assert_int_equal(cxi_manager_apply(r->mgr, &r->cfg, NULL), 0);
	assert_string_equal(state_of(r, "bad"), "failed");
	assert_true(cxi_manager_degraded(r->mgr));
	assert_true(cxi_manager_ready(r->mgr));
	/* Declining is not a failure of the system. */
	rig_plugin(r, 0, "bad", "decline", "none", 1, "a", false,
	    CXI_ISO_INPROC);
	assert_int_equal(cxi_manager_apply(r->mgr, &r->cfg, NULL), 0);
	assert_string_equal(state_of(r, "bad"), "declined");
	/* Required plugin failing start: apply reports it. */
	rig_plugin(r, 0, "bad", "start", "none", 1, "a", true, CXI_ISO_INPROC);
	assert_int_equal(cxi_manager_apply(r->mgr, &r->cfg, NULL), -1);
	assert_false(cxi_manager_ready(r->mgr));
	char *log = slurp(r->dir, "bad");
	/* init failed (no stop/fini for a failed init), declined, then init
	 * and start, whose failure still gets fini. */
	assert_non_null(strstr(log, "init 1\ninit 1\ninit 1\nstart 1\nfini 1\n"));
	free(log);
	rig_free(r);
}

static void
test_isolated_crash(void **state)
{
	(void) state;
	rig *r = rig_new();
	rig_plugin(r, 0, "iso", "none", "none", 1, "a", true, CXI_ISO_PROCESS);
	assert_int_equal(cxi_manager_apply(r->mgr, &r->cfg, NULL), 0);
	assert_string_equal(state_of(r, "iso"), "running");

	/* Its route is served from another process. */
	char url[256], *body = NULL;
	int status = 0;
	snprintf(url, sizeof(url), "%s/webhooks/iso/hit", cxi_http_url(r->http));
	assert_int_equal(cxi_httpc_do("POST", url, NULL, "xyz", 3, &status,
	                     &body, NULL), 0);
	assert_int_equal(status, 200);
	json_t *j = json_loads(body, 0, NULL);
	free(body);
	int pid1 = (int) json_integer_value(json_object_get(j, "pid"));
	json_decref(j);
	assert_true(pid1 > 0 && pid1 != (int) getpid());

	/* Make it abort; the core stays up and the supervisor restarts it. */
	cxi_bus_client *c;
	char ipc[128];
	snprintf(ipc, sizeof(ipc), "%s/run", r->dir);
	assert_int_equal(cxi_bus_client_open(&c, "tester", r->ns, NULL), 0);
	assert_int_equal(cxi_bus_client_set_ipc_dir(c, ipc), CX_OK);
	json_t *reply = NULL;
	cx_err rv = cxi_bus_call(c, "iso", "lifecycle.crash", NULL, NULL, 1000,
	    &reply);
	assert_int_not_equal(rv, CX_OK);
	json_decref(reply);
	int pid2 = 0;
	for (int i = 0; i < 100 && pid2 == 0; i++) {
		usleep(100 * 1000);
		if (strcmp(state_of(r, "iso"), "running") != 0) {
			continue;
		}
		if (cxi_httpc_do("POST", url, NULL, "", 0, &status, &body,
		        NULL) == 0 &&
		    status == 200) {
			j = json_loads(body, 0, NULL);
			int p = (int) json_integer_value(json_object_get(j,
			    "pid"));
			pid2 = p != pid1 ? p : 0;
			json_decref(j);
		}
		free(body);
		body = NULL;
	}
	assert_true(pid2 > 0);
	cxi_bus_client_close(c);

	/* A plugin that aborts in init under isolation: the core runs on. */
	rig_plugin(r, 1, "crashy", "none", "init", 1, "a", false,
	    CXI_ISO_PROCESS);
	assert_int_equal(cxi_manager_apply(r->mgr, &r->cfg, NULL), 0);
	assert_string_equal(state_of(r, "crashy"), "restarting");
	assert_string_equal(state_of(r, "iso"), "running");
	rig_free(r);
}

int
main(void)
{
	const char *b = getenv("CALLIXO_BUILD_ROOT");
	if (b == NULL) {
		fprintf(stderr, "CALLIXO_BUILD_ROOT is not set\n");
		return (1);
	}
	snprintf(plugdir, sizeof(plugdir), "%s/tests/plugins", b);
	snprintf(hostbin, sizeof(hostbin), "%s/core/callixo-plugin-host", b);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_good_descriptor),
	    cmocka_unit_test(test_schemas_documented),
	    cmocka_unit_test(test_lifecycle_inproc),
	    cmocka_unit_test(test_stop_order),
	    cmocka_unit_test(test_failures),
	    cmocka_unit_test(test_isolated_crash),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
