/*
 * test_admin.c - the admin socket in-process, and callixoctl run as a
 * subprocess against an in-test server answering canned replies.
 *
 * argv[1] is the path of the callixoctl build under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "admin.h"

extern char **environ;

static const char *ctl_path;
static char dir[64];
static char sock_path[128];

/* What the in-test daemon saw and what it answers. */
static struct {
	char cmd[64];
	json_t *args;      /* copy of the last args */
	const char *reply; /* canned full reply; NULL: echo args */
	int sleep_ms;
	int return_null;
} srv;

static json_t *
handler(void *arg, const char *cmd, const json_t *args)
{
	(void)arg;
	snprintf(srv.cmd, sizeof(srv.cmd), "%s", cmd);
	json_decref(srv.args);
	srv.args = json_deep_copy(args);
	if (srv.sleep_ms > 0) {
		usleep((useconds_t)srv.sleep_ms * 1000);
	}
	if (srv.return_null) {
		return (NULL);
	}
	if (srv.reply != NULL) {
		json_t *r = json_loads(srv.reply, 0, NULL);
		assert_non_null(r);
		return (r);
	}
	return (cxi_admin_ok(json_deep_copy(args)));
}

static int
setup(void **state)
{
	(void)state;
	/* Short and under /tmp: sun_path holds only 108 bytes. */
	snprintf(dir, sizeof(dir), "/tmp/cxadm.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		return (-1);
	}
	snprintf(sock_path, sizeof(sock_path), "%s/admin.sock", dir);
	memset(&srv, 0, sizeof(srv));
	return (0);
}

static int
teardown(void **state)
{
	(void)state;
	json_decref(srv.args);
	srv.args = NULL;
	char p[256];
	static const char *const names[] = { "admin.sock", "out", "err",
		"plain", "conf.yaml" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		(void)unlink(p);
	}
	return (rmdir(dir));
}

static cxi_admin *
start_ok(void)
{
	cxi_admin *a = NULL;
	char why[256] = "";
	int rv = cxi_admin_start(&a, sock_path, handler, NULL, why,
	    sizeof(why));
	if (rv != 0) {
		fail_msg("cxi_admin_start: %s", why);
	}
	assert_non_null(a);
	return (a);
}

static void
test_round_trip(void **state)
{
	(void)state;
	cxi_admin *a = start_ok();

	struct stat st;
	assert_int_equal(stat(sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	json_t *args = json_pack("{s:i,s:s}", "x", 42, "s", "h\xc3\xa9");
	json_t *reply = NULL;
	char why[256];
	assert_int_equal(cxi_admin_request(sock_path, "echo", args, 2000,
	    &reply, why, sizeof(why)), 0);
	assert_string_equal(srv.cmd, "echo");
	assert_true(json_equal(srv.args, args));
	assert_true(json_is_true(json_object_get(reply, "ok")));
	assert_true(json_equal(json_object_get(reply, "result"), args));
	json_decref(reply);

	/* Without args the handler still gets an object. */
	assert_int_equal(cxi_admin_request(sock_path, "status", NULL, 2000,
	    &reply, why, sizeof(why)), 0);
	assert_true(json_is_object(srv.args));
	assert_int_equal(json_object_size(srv.args), 0);
	json_decref(reply);
	json_decref(args);

	cxi_admin_stop(a);
	assert_int_equal(lstat(sock_path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

/* Sends raw bytes the way a broken client would and returns the reply. */
static json_t *
raw_request(const char *text)
{
	nng_socket s;
	char url[160];
	snprintf(url, sizeof(url), "ipc://%s", sock_path);
	assert_int_equal(nng_req0_open(&s), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 2000), 0);
	assert_int_equal(nng_dial(s, url, NULL, 0), 0);
	assert_int_equal(nng_send(s, (void *)text, strlen(text), 0), 0);
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(nng_recv(s, &buf, &len, NNG_FLAG_ALLOC), 0);
	json_t *r = json_loadb(buf, len, 0, NULL);
	nng_free(buf, len);
	nng_close(s);
	assert_non_null(r);
	return (r);
}

static void
expect_malformed(const char *text, const char *needle)
{
	json_t *r = raw_request(text);
	assert_true(json_is_false(json_object_get(r, "ok")));
	const char *err = json_string_value(json_object_get(r, "error"));
	assert_non_null(err);
	if (strncmp(err, "malformed request: ", 19) != 0 ||
	    strstr(err, needle) == NULL) {
		fail_msg("for %s: unexpected error \"%s\"", text, err);
	}
	json_decref(r);
}

static void
test_malformed(void **state)
{
	(void)state;
	cxi_admin *a = start_ok();
	expect_malformed("not json", "");
	expect_malformed("{\"cmd\":", "");
	expect_malformed("[1,2]", "expected a JSON object");
	expect_malformed("{\"cmd\":1}", "\"cmd\" must be a string");
	expect_malformed("{}", "\"cmd\" must be a string");
	expect_malformed("{\"cmd\":\"\"}", "\"cmd\" is empty");
	expect_malformed("{\"cmd\":\"x\",\"args\":[]}",
	    "\"args\" must be an object");
	expect_malformed("{\"cmd\":\"x\",\"extra\":1}", "unknown key");
	expect_malformed("{\"cmd\":\"a\",\"cmd\":\"b\"}", "duplicate");
	expect_malformed("\xff\xfe{", "");
	/* The handler never saw any of them. */
	assert_string_equal(srv.cmd, "");

	/* A well-formed request still works after all that. */
	json_t *r = raw_request("{\"cmd\":\"ping\"}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	assert_string_equal(srv.cmd, "ping");
	cxi_admin_stop(a);
}

static void
test_handler_null(void **state)
{
	(void)state;
	srv.return_null = 1;
	cxi_admin *a = start_ok();
	json_t *reply = NULL;
	char why[256];
	assert_int_equal(cxi_admin_request(sock_path, "x", NULL, 2000,
	    &reply, why, sizeof(why)), 0);
	assert_true(json_is_false(json_object_get(reply, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(reply,
	    "error")), "internal error"));
	json_decref(reply);
	cxi_admin_stop(a);
}

/* Leaves a socket file behind with nobody listening, as a crashed
 * daemon does. */
static void
make_stale_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(strlen(sock_path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock_path, strlen(sock_path));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	struct stat st;
	assert_int_equal(stat(sock_path, &st), 0);
}

static void
test_stale_socket(void **state)
{
	(void)state;
	make_stale_socket();

	/* A client finds nobody there. */
	json_t *reply = NULL;
	char why[256];
	assert_int_equal(cxi_admin_request(sock_path, "status", NULL, 2000,
	    &reply, why, sizeof(why)), CXI_ADMIN_NOT_RUNNING);
	assert_null(reply);
	assert_non_null(strstr(why, "callixod is not running"));

	/* The daemon replaces it. */
	cxi_admin *a = start_ok();
	assert_int_equal(cxi_admin_request(sock_path, "status", NULL, 2000,
	    &reply, why, sizeof(why)), 0);
	json_decref(reply);
	struct stat st;
	assert_int_equal(stat(sock_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	cxi_admin_stop(a);
}

static void
test_not_a_socket(void **state)
{
	(void)state;
	snprintf(sock_path, sizeof(sock_path), "%s/plain", dir);
	int fd = open(sock_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);
	cxi_admin *a = NULL;
	char why[256];
	assert_int_equal(cxi_admin_start(&a, sock_path, handler, NULL, why,
	    sizeof(why)), -1);
	assert_null(a);
	assert_non_null(strstr(why, "not a socket"));
	struct stat st;
	assert_int_equal(stat(sock_path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void
test_in_use(void **state)
{
	(void)state;
	cxi_admin *a = start_ok();
	cxi_admin *b = NULL;
	char why[256], want[256];
	assert_int_equal(cxi_admin_start(&b, sock_path, handler, NULL, why,
	    sizeof(why)), -1);
	assert_null(b);
	snprintf(want, sizeof(want), "admin socket %s in use by a running "
	    "daemon", sock_path);
	assert_string_equal(why, want);

	/* The first daemon is unharmed. */
	json_t *reply = NULL;
	if (cxi_admin_request(sock_path, "status", NULL, 2000, &reply, why,
	    sizeof(why)) != 0) {
		fail_msg("request after refused start: %s", why);
	}
	json_decref(reply);
	cxi_admin_stop(a);
}

static void
test_no_daemon(void **state)
{
	(void)state;
	json_t *reply = NULL;
	char why[256], want[256];
	assert_int_equal(cxi_admin_request(sock_path, "status", NULL, 2000,
	    &reply, why, sizeof(why)), CXI_ADMIN_NOT_RUNNING);
	snprintf(want, sizeof(want), "callixod is not running (no admin "
	    "socket at %s)", sock_path);
	assert_string_equal(why, want);
	assert_null(reply);
}

static void
test_timeout(void **state)
{
	(void)state;
	srv.sleep_ms = 1200;
	cxi_admin *a = start_ok();
	json_t *reply = NULL;
	char why[256];
	assert_int_equal(cxi_admin_request(sock_path, "slow", NULL, 300,
	    &reply, why, sizeof(why)), -1);
	assert_string_equal(why, "no answer from callixod within 0.3 s");
	assert_null(reply);
	/* Stop waits for the handler in progress, then shuts down. */
	cxi_admin_stop(a);
}

static void
test_helpers(void **state)
{
	(void)state;
	json_t *r = cxi_admin_fail("bad %s %d", "thing", 7);
	assert_string_equal(json_string_value(json_object_get(r, "error")),
	    "bad thing 7");
	assert_true(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	r = cxi_admin_fail("near '%s'", "\xff\xfe");
	assert_string_equal(json_string_value(json_object_get(r, "error")),
	    "near '?" "?'");
	json_decref(r);
	r = cxi_admin_ok(NULL);
	assert_true(json_is_null(json_object_get(r, "result")));
	json_decref(r);
}

/* ---- callixoctl as a subprocess ---------------------------------- */

struct run {
	int code;
	char out[8192];
	char err[8192];
};

static void
slurp(const char *name, char *buf, size_t cap)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Runs callixoctl with the given arguments (NULL-terminated). */
static void
run_ctl(struct run *r, ...)
{
	char *argv[16];
	int n = 0;
	argv[n++] = (char *)ctl_path;
	va_list ap;
	va_start(ap, r);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && n < 15) {
		argv[n++] = (char *)a;
	}
	va_end(ap);
	argv[n] = NULL;

	char out[256], err[256];
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(err, sizeof(err), "%s/err", dir);
	posix_spawn_file_actions_t fa;
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, out,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, err,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	pid_t pid;
	assert_int_equal(posix_spawn(&pid, ctl_path, &fa, NULL, argv,
	    environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	r->code = WEXITSTATUS(st);
	slurp("out", r->out, sizeof(r->out));
	slurp("err", r->err, sizeof(r->err));
}

static void
expect_in(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL) {
		fail_msg("\"%s\" not found in:\n%s", needle, hay);
	}
}

static void
test_ctl_status(void **state)
{
	(void)state;
	srv.reply = "{\"ok\":true,\"result\":{\"version\":\"0.1.0\","
	    "\"uptime_s\":3661,\"state\":\"degraded\",\"listen\":"
	    "\"http://127.0.0.1:8080\",\"config\":\"/etc/c.yaml\","
	    "\"plugins\":{\"running\":2,\"failed\":1,\"total\":3},"
	    "\"degraded\":true}}";
	cxi_admin *a = start_ok();
	struct run r;
	run_ctl(&r, "-s", sock_path, "status", NULL);
	assert_int_equal(r.code, 0);
	assert_string_equal(srv.cmd, "status");
	assert_string_equal(r.out,
	    "callixod 0.1.0\n"
	    "state:    degraded\n"
	    "uptime:   1h 1m 1s\n"
	    "listen:   http://127.0.0.1:8080\n"
	    "config:   /etc/c.yaml\n"
	    "plugins:  2 running, 1 failed, 3 total\n");

	/* --json prints the result itself. */
	run_ctl(&r, "--json", "--socket", sock_path, "status", NULL);
	assert_int_equal(r.code, 0);
	json_t *got = json_loads(r.out, 0, NULL);
	json_t *want = json_loads(srv.reply, 0, NULL);
	assert_true(json_equal(got, json_object_get(want, "result")));
	json_decref(got);
	json_decref(want);

	/* The environment names the socket when -s does not. */
	assert_int_equal(setenv("CALLIXO_ADMIN_SOCKET", sock_path, 1), 0);
	run_ctl(&r, "status", NULL);
	assert_int_equal(unsetenv("CALLIXO_ADMIN_SOCKET"), 0);
	assert_int_equal(r.code, 0);
	expect_in(r.out, "state:    degraded");
	cxi_admin_stop(a);
}

static void
test_ctl_plugins(void **state)
{
	(void)state;
	srv.reply = "{\"ok\":true,\"result\":["
	    "{\"name\":\"echo\",\"kind\":\"http\",\"version\":\"1.2.3\","
	    "\"state\":\"running\",\"isolation\":\"process\","
	    "\"required\":true,\"error\":null},"
	    "{\"name\":\"metrics-exporter\",\"kind\":\"bus\",\"version\":"
	    "\"0.1\",\"state\":\"failed\",\"isolation\":\"in-process\","
	    "\"required\":false,\"error\":\"init failed: port busy\"}]}";
	cxi_admin *a = start_ok();
	struct run r;
	run_ctl(&r, "-s", sock_path, "plugins", NULL);
	assert_int_equal(r.code, 0);
	assert_string_equal(srv.cmd, "plugins");
	assert_string_equal(r.out,
	    "NAME              KIND  VERSION  STATE    ISOLATION\n"
	    "echo              http  1.2.3    running  process\n"
	    "metrics-exporter  bus   0.1      failed   in-process\n"
	    "metrics-exporter: init failed: port busy\n");
	cxi_admin_stop(a);
}

static void
test_ctl_reload(void **state)
{
	(void)state;
	srv.reply = "{\"ok\":true,\"result\":{\"applied\":false,"
	    "\"started\":[],\"stopped\":[],\"reconfigured\":[],"
	    "\"restarted\":[],\"errors\":[\"c.yaml:3:5: unknown key 'prot'\","
	    "\"c.yaml:9:1: plugin 'x' not found\"]}}";
	cxi_admin *a = start_ok();
	struct run r;
	run_ctl(&r, "-s", sock_path, "reload", NULL);
	assert_int_equal(r.code, 1);
	assert_string_equal(srv.cmd, "reload");
	assert_string_equal(r.out, "");
	expect_in(r.err, "reload rejected");
	expect_in(r.err, "  c.yaml:3:5: unknown key 'prot'\n");
	expect_in(r.err, "  c.yaml:9:1: plugin 'x' not found\n");

	run_ctl(&r, "--json", "-s", sock_path, "reload", NULL);
	assert_int_equal(r.code, 1);
	expect_in(r.out, "\"applied\": false");

	srv.reply = "{\"ok\":true,\"result\":{\"applied\":true,"
	    "\"started\":[\"foo\"],\"stopped\":[],\"reconfigured\":[\"a\","
	    "\"b\"],\"restarted\":[],\"errors\":[]}}";
	run_ctl(&r, "-s", sock_path, "reload", NULL);
	assert_int_equal(r.code, 0);
	assert_string_equal(r.out, "reloaded: started 1 (foo), stopped 0, "
	    "reconfigured 2 (a b), restarted 0\n");

	/* The daemon refusing outright (e.g. a reload already running). */
	srv.reply = "{\"ok\":false,\"error\":\"a reload is in progress\"}";
	run_ctl(&r, "-s", sock_path, "reload", NULL);
	assert_int_equal(r.code, 1);
	assert_string_equal(r.err,
	    "callixoctl: reload: a reload is in progress\n");
	cxi_admin_stop(a);
}

static void
test_ctl_enable(void **state)
{
	(void)state;
	srv.reply = "{\"ok\":true,\"result\":{\"name\":\"echo\","
	    "\"state\":\"running\"}}";
	cxi_admin *a = start_ok();
	struct run r;
	run_ctl(&r, "-s", sock_path, "plugin", "enable", "echo", NULL);
	assert_int_equal(r.code, 0);
	assert_string_equal(srv.cmd, "enable");
	assert_string_equal(json_string_value(json_object_get(srv.args,
	    "name")), "echo");
	assert_string_equal(r.out, "enabled echo: now running (runtime "
	    "only: not saved to the config file; the next reload restores "
	    "the config)\n");

	srv.reply = "{\"ok\":false,\"error\":\"no plugin named 'nope'\"}";
	run_ctl(&r, "-s", sock_path, "plugin", "disable", "nope", NULL);
	assert_int_equal(r.code, 1);
	assert_string_equal(srv.cmd, "disable");
	expect_in(r.err, "no plugin named 'nope'");
	cxi_admin_stop(a);
}

static void
test_ctl_check_config(void **state)
{
	(void)state;
	char conf[256];
	snprintf(conf, sizeof(conf), "%s/conf.yaml", dir);
	int fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	close(fd);

	/* No daemon: exit 3 and point at the offline check. */
	struct run r;
	run_ctl(&r, "-s", sock_path, "check-config", conf, NULL);
	assert_int_equal(r.code, 3);
	expect_in(r.err, "callixod is not running");
	expect_in(r.err, "callixod --check-config -c ");

	srv.reply = "{\"ok\":true,\"result\":{\"valid\":false,\"errors\":"
	    "[\"conf.yaml:1:1: empty document\"]}}";
	cxi_admin *a = start_ok();
	run_ctl(&r, "-s", sock_path, "check-config", conf, NULL);
	assert_int_equal(r.code, 1);
	assert_string_equal(srv.cmd, "check-config");
	const char *f = json_string_value(json_object_get(srv.args, "file"));
	assert_non_null(f);
	assert_int_equal(f[0], '/');
	expect_in(r.out, ": 1 error\n  conf.yaml:1:1: empty document\n");
	srv.reply = "{\"ok\":true,\"result\":{\"valid\":true,\"errors\":[]}}";
	run_ctl(&r, "-s", sock_path, "check-config", conf, NULL);
	assert_int_equal(r.code, 0);
	expect_in(r.out, "configuration is valid");

	/* A missing file is caught before asking anyone. */
	run_ctl(&r, "-s", sock_path, "check-config", "/nonexistent.yaml",
	    NULL);
	assert_int_equal(r.code, 1);
	expect_in(r.err, "No such file");
	cxi_admin_stop(a);
}

static void
test_ctl_not_running(void **state)
{
	(void)state;
	struct run r;
	run_ctl(&r, "-s", sock_path, "status", NULL);
	assert_int_equal(r.code, 3);
	assert_string_equal(r.out, "");
	expect_in(r.err, "callixod is not running (no admin socket at ");

	/* A stale file left by a crash reads the same. */
	make_stale_socket();
	run_ctl(&r, "-s", sock_path, "plugins", NULL);
	assert_int_equal(r.code, 3);
	expect_in(r.err, "callixod is not running");
}

static void
test_ctl_usage(void **state)
{
	(void)state;
	struct run r;
	run_ctl(&r, NULL);
	assert_int_equal(r.code, 2);
	expect_in(r.err, "missing command");
	run_ctl(&r, "frobnicate", NULL);
	assert_int_equal(r.code, 2);
	expect_in(r.err, "unknown command");
	run_ctl(&r, "plugin", "enable", NULL);
	assert_int_equal(r.code, 2);
	run_ctl(&r, "--bogus", "status", NULL);
	assert_int_equal(r.code, 2);
	run_ctl(&r, "-t", "zero", "status", NULL);
	assert_int_equal(r.code, 2);
	run_ctl(&r, "--help", NULL);
	assert_int_equal(r.code, 0);
	expect_in(r.out, "CALLIXO_ADMIN_SOCKET");
	expect_in(r.out, "./var/admin.sock");
	run_ctl(&r, "--version", NULL);
	assert_int_equal(r.code, 0);
	expect_in(r.out, "callixoctl ");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CALLIXOCTL\n", argv[0]);
		return (2);
	}
	ctl_path = argv[1];
	/* A test failing mid-way must not leave ctl inheriting this. */
	(void)unsetenv("CALLIXO_ADMIN_SOCKET");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_handler_null, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_not_a_socket, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_daemon, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helpers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctl_status, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ctl_plugins, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ctl_reload, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ctl_enable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ctl_check_config, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ctl_not_running, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ctl_usage, setup,
		    teardown),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
