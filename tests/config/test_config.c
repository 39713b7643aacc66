/*
 * test_config.c - YAML tree, daemon config and plugin settings.
 *
 * argv[1] is the directory of bad-config fixtures (each starts with
 * "# expect: <line>:<col>: <substring>"), argv[2] conf/callixo.yaml.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "config.h"

static const char *bad_dir;
static const char *default_conf;
static char tmpdir[] = "/tmp/cx_config_test.XXXXXX";

/* --- a fake loader: descriptors picked by the plugin file name --- */

static const char *const modes[] = {"fast", "slow", NULL};
static const cx_setting strict_schema[] = {
	CX_SETTING_STR("account", CX_SET_REQUIRED, NULL, "Account id"),
	CX_SETTING_SECRET("token", 0, "API token"),
	CX_SETTING_INT("max_bytes", 0, "1024", 1, 1000000, "Size cap"),
	CX_SETTING_DURATION("timeout", 0, "10s", 100, 60000, "Timeout"),
	CX_SETTING_ENUM("mode", 0, "fast", modes, "Speed"),
	CX_SETTING_BOOL("fsync", 0, "false", "Sync writes"),
	CX_SETTING_LIST("topics", 0, "Topics"),
	CX_SETTING_OBJECT("extra", 0, "Free-form extras"),
	CX_SETTING_STR("label", 0, "${CX_T_NEVER_EXPANDED}", "Label"),
	CX_SETTINGS_END,
};
static const cx_setting eventlog_schema[] = {
	CX_SETTING_STR("file", 0, "events.jsonl", "Output file"),
	CX_SETTING_LIST("topics", 0, "Event types to record"),
	CX_SETTING_INT("max_bytes", 0, "10485760", 1, 1073741824, "Rotate size"),
	CX_SETTING_BOOL("fsync", 0, "false", "fsync after each line"),
	CX_SETTINGS_END,
};

static cx_err
strict_validate(const json_t *s, char *err, size_t len)
{
	if (json_integer_value(json_object_get(s, "max_bytes")) == 666) {
		snprintf(err, len, "max_bytes 666 is cursed");
		return (CX_EINVAL);
	}
	return (CX_OK);
}

static const cx_plugin strict_desc = {.magic = CX_PLUGIN_MAGIC,
    .abi_major = CX_ABI_MAJOR, .abi_minor = CX_ABI_MINOR,
    .size = sizeof(cx_plugin), .kind = CX_KIND_GENERIC, .name = "strict",
    .settings = strict_schema, .validate = strict_validate};
static const cx_plugin eventlog_desc = {.magic = CX_PLUGIN_MAGIC,
    .abi_major = CX_ABI_MAJOR, .abi_minor = CX_ABI_MINOR,
    .size = sizeof(cx_plugin), .kind = CX_KIND_GENERIC, .name = "eventlog",
    .settings = eventlog_schema};
static const cx_plugin storage_desc = {.magic = CX_PLUGIN_MAGIC,
    .abi_major = CX_ABI_MAJOR, .abi_minor = CX_ABI_MINOR,
    .size = sizeof(cx_plugin), .kind = CX_KIND_STORAGE, .name = "kindmis"};

static int
fake_schema(void *arg, const char *path, const cx_plugin **desc, char *why,
    size_t whylen)
{
	const char *base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	(*(int *) arg)++;
	if (strcmp(base, "missing.so") == 0) {
		snprintf(why, whylen, "cannot open plugin: No such file or "
		    "directory");
		return (-1);
	}
	*desc = strcmp(base, "strict.so") == 0 ? &strict_desc :
	    strcmp(base, "kindmis.so") == 0 ? &storage_desc : &eventlog_desc;
	return (0);
}

/* For the shipped default config: the eventlog schema is checked here;
 * other plugins are skipped (return 1), as the daemon does for plugins it
 * cannot open; their own tests check their schemas. */
static int
default_schema(void *arg, const char *path, const cx_plugin **desc,
    char *why, size_t whylen)
{
	const char *base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	if (strcmp(base, "eventlog.so") != 0) {
		return (1);
	}
	return (fake_schema(arg, path, desc, why, whylen));
}

/* --- helpers --- */

static char *
write_tmp(const char *name, const char *text)
{
	char *path = NULL;
	assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return (path);
}

static cxi_config *
load(const char *text, bool schema, cxi_errlist *errs)
{
	int calls = 0;
	char *path = write_tmp("c.yaml", text);
	cxi_config *cfg = cxi_config_load(path, schema ? fake_schema : NULL,
	    &calls, errs);
	free(path);
	return (cfg);
}

/* True when some message has position line:col and contains sub. */
static bool
has_err(const cxi_errlist *e, size_t line, size_t col, const char *sub)
{
	char pos[64];
	snprintf(pos, sizeof(pos), ":%zu:%zu: ", line, col);
	for (size_t i = 0; i < e->n; i++) {
		if (strstr(e->msgs[i], pos) != NULL &&
		    strstr(e->msgs[i], sub) != NULL) {
			return (true);
		}
	}
	return (false);
}

static void
dump(const cxi_errlist *e)
{
	for (size_t i = 0; i < e->n; i++) {
		fprintf(stderr, "  %s\n", e->msgs[i]);
	}
}

#define ASSERT_ERR(e, l, c, s)                                          \
	do {                                                            \
		if (!has_err((e), (l), (c), (s))) {                     \
			dump(e);                                        \
			fail_msg("no error %d:%d: %s", (l), (c), (s));  \
		}                                                       \
	} while (0)

/* --- tests --- */

static void
test_default_conf(void **st)
{
	cxi_errlist e = {0};
	(void) st;
	unsetenv("CALLIXO_DATA_DIR");
	unsetenv("CALLIXO_PLUGIN_DIR");
	cxi_config *cfg = cxi_config_load(default_conf, NULL, NULL, &e);
	dump(&e);
	assert_non_null(cfg);
	assert_string_equal(cfg->listen, "http://127.0.0.1:8080");
	assert_null(cfg->tls_cert);
	assert_null(cfg->tls_key);
	assert_int_equal(cfg->max_body, 1048576);
	assert_int_equal(cfg->request_timeout_ms, 30000);
	assert_int_equal(cfg->shutdown_grace_ms, 10000);
	assert_int_equal(cfg->log_level, CX_LOG_INFO);
	assert_int_equal(cfg->log_format, CXI_LOG_LOGFMT);
	char *dir = strdup(default_conf);
	*strrchr(dir, '/') = '\0';
	char want[4096];
	snprintf(want, sizeof(want), "%s/../var", dir);
	assert_string_equal(cfg->data_dir, want);
	snprintf(want, sizeof(want), "%s/../var/admin.sock", dir);
	assert_string_equal(cfg->admin_socket, want);
	free(dir);
	assert_non_null(cfg->plugin_dir);
	/* The embedded default: the SQLite store (required), the local
	 * blob store, and the event log. */
	const cxi_plugin_conf *db = cxi_config_plugin(cfg, "sqlite");
	assert_non_null(db);
	assert_int_equal(db->kind, CX_KIND_STORAGE);
	assert_true(db->required);
	assert_true(cfg->migrate_auto);
	const cxi_plugin_conf *pc = cxi_config_plugin(cfg, "eventlog");
	assert_non_null(pc);
	assert_int_equal(pc->kind, CX_KIND_GENERIC);
	assert_true(pc->enabled);
	assert_false(pc->required);
	assert_int_equal(pc->isolation, CXI_ISO_INPROC);
	assert_null(pc->settings);
	assert_non_null(pc->settings_yaml);
	snprintf(want, sizeof(want), "%s/eventlog.so", cfg->plugin_dir);
	assert_string_equal(pc->path, want);
	assert_null(cxi_config_plugin(cfg, "nope"));
	cxi_config_free(cfg);

	/* Environment overrides, and the eventlog schema applied. */
	int calls = 0;
	setenv("CALLIXO_DATA_DIR", "/srv/cx", 1);
	setenv("CALLIXO_PLUGIN_DIR", "/opt/cxp", 1);
	cfg = cxi_config_load(default_conf, default_schema, &calls, &e);
	dump(&e);
	assert_non_null(cfg);
	assert_int_equal(calls, 1);
	assert_string_equal(cfg->data_dir, "/srv/cx");
	assert_string_equal(cfg->admin_socket, "/srv/cx/admin.sock");
	pc = cxi_config_plugin(cfg, "eventlog");
	assert_string_equal(pc->path, "/opt/cxp/eventlog.so");
	char *js = json_dumps(pc->settings, JSON_SORT_KEYS |
	    JSON_COMPACT);
	assert_string_equal(js, "{\"file\":\"events.jsonl\",\"fsync\":false,"
	    "\"max_bytes\":10485760,\"topics\":[\"*\"]}");
	free(js);
	cxi_config_free(cfg);
	unsetenv("CALLIXO_DATA_DIR");
	unsetenv("CALLIXO_PLUGIN_DIR");
	cxi_errlist_clear(&e);
}

/* auth: defaults, the cookie mode resolved from the listen address, and
 * explicit values. */
static void
test_auth(void **st)
{
	cxi_errlist e = {0};
	(void) st;
	cxi_config *cfg = load("data_dir: /d\n", true, &e);
	assert_non_null(cfg);
	assert_int_equal(cfg->auth_cookie_mode, CXI_COOKIE_AUTO);
	assert_false(cfg->auth_cookie_secure); /* default: 127.0.0.1 */
	assert_int_equal(cfg->n_auth_origins, 0);
	assert_int_equal(cfg->auth_idle_ms, 30 * 60 * 1000);
	assert_int_equal(cfg->auth_absolute_ms, 12 * 3600 * 1000);
	assert_int_equal(cfg->auth_opslimit, 2);
	assert_int_equal(cfg->auth_memlimit, 64 << 20);
	assert_int_equal(cfg->auth_hash_workers, 2);
	assert_true(cfg->auth_common_default);
	assert_non_null(strstr(cfg->auth_common_passwords,
	    "common-passwords.txt"));
	cxi_config_free(cfg);

	cfg = load("server: {listen: 'http://10.0.0.5:80'}\n"
	    "data_dir: /d\n", true, &e);
	assert_non_null(cfg);
	assert_true(cfg->auth_cookie_secure); /* auto, not loopback */
	cxi_config_free(cfg);

	cfg = load("data_dir: /d\n"
	    "auth:\n"
	    "  cookie_secure: always\n"
	    "  allowed_origins: [https://app.example.com, "
	    "'http://localhost:3000']\n"
	    "  idle_timeout: 5m\n"
	    "  absolute_timeout: 1h\n"
	    "  argon2: {opslimit: 1, memlimit_mib: 46}\n"
	    "  common_passwords: /etc/cp.txt\n"
	    "  hash_workers: 3\n", true, &e);
	if (cfg == NULL) {
		dump(&e);
	}
	assert_non_null(cfg);
	assert_true(cfg->auth_cookie_secure);
	assert_int_equal(cfg->n_auth_origins, 2);
	assert_string_equal(cfg->auth_origins[1], "http://localhost:3000");
	assert_int_equal(cfg->auth_idle_ms, 5 * 60 * 1000);
	assert_int_equal(cfg->auth_absolute_ms, 3600 * 1000);
	assert_int_equal(cfg->auth_opslimit, 1);
	assert_int_equal(cfg->auth_memlimit, 46 << 20);
	assert_string_equal(cfg->auth_common_passwords, "/etc/cp.txt");
	assert_false(cfg->auth_common_default);
	assert_int_equal(cfg->auth_hash_workers, 3);
	cxi_config_free(cfg);

	/* never is fine on loopback plain HTTP. */
	cfg = load("data_dir: /d\nauth: {cookie_secure: never}\n", true, &e);
	assert_non_null(cfg);
	assert_false(cfg->auth_cookie_secure);
	cxi_config_free(cfg);
	cxi_errlist_clear(&e);
}

static void
test_minimal_and_explicit(void **st)
{
	cxi_errlist e = {0};
	(void) st;
	cxi_config *cfg = load("data_dir: /d\n", true, &e);
	assert_non_null(cfg);
	assert_string_equal(cfg->admin_socket, "/d/admin.sock");
	assert_int_equal(cfg->n_plugins, 0);
	cxi_config_free(cfg);

	cfg = load("server:\n"
	    "  listen: https://0.0.0.0:8443\n"
	    "  tls: {cert: tls/c.pem, key: /k.pem}\n"
	    "  max_body_bytes: 0x100\n"
	    "  request_timeout: 250ms\n"
	    "  shutdown_grace: 1500\n"
	    "data_dir: var\n"
	    "log: {level: debug, format: json}\n"
	    "admin: {socket: /run/a.sock}\n"
	    "plugin_dir: plugins\n"
	    "plugins:\n"
	    "  - name: p-1_x\n"
	    "    kind: payment\n"
	    "    enabled: false\n"
	    "    required: TRUE\n"
	    "    isolation: process\n"
	    "    settings: {anything: [goes]}\n"
	    "  - {name: rel, kind: policy, path: lib/rel.so, enabled: no}\n",
	    true, &e);
	/* "no" is not a YAML 1.2 boolean. */
	assert_null(cfg);
	ASSERT_ERR(&e, 18, 58, "expected a boolean for 'enabled', got 'no'");
	cxi_errlist_clear(&e);
	cfg = load("server:\n"
	    "  listen: https://0.0.0.0:8443\n"
	    "  tls: {cert: tls/c.pem, key: /k.pem}\n"
	    "  max_body_bytes: 0x100\n"
	    "  request_timeout: 250ms\n"
	    "  shutdown_grace: 1500\n"
	    "data_dir: var\n"
	    "log: {level: debug, format: json}\n"
	    "admin: {socket: /run/a.sock}\n"
	    "plugin_dir: plugins\n"
	    "plugins:\n"
	    "  - name: p-1_x\n"
	    "    kind: payment\n"
	    "    enabled: false\n"
	    "    required: TRUE\n"
	    "    isolation: process\n"
	    "    settings: {anything: [goes]}\n"
	    "  - {name: rel, kind: policy, path: lib/rel.so, enabled: false}\n",
	    true, &e);
	dump(&e);
	assert_non_null(cfg);
	char want[256];
	snprintf(want, sizeof(want), "%s/tls/c.pem", tmpdir);
	assert_string_equal(cfg->tls_cert, want);
	assert_string_equal(cfg->tls_key, "/k.pem");
	assert_int_equal(cfg->max_body, 256);
	assert_int_equal(cfg->request_timeout_ms, 250);
	assert_int_equal(cfg->shutdown_grace_ms, 1500);
	snprintf(want, sizeof(want), "%s/var", tmpdir);
	assert_string_equal(cfg->data_dir, want);
	assert_int_equal(cfg->log_level, CX_LOG_DEBUG);
	assert_int_equal(cfg->log_format, CXI_LOG_JSON);
	assert_string_equal(cfg->admin_socket, "/run/a.sock");
	snprintf(want, sizeof(want), "%s/plugins/p-1_x.so", tmpdir);
	assert_string_equal(cfg->plugins[0].path, want);
	assert_int_equal(cfg->plugins[0].kind, CX_KIND_PAYMENT);
	assert_false(cfg->plugins[0].enabled);
	assert_true(cfg->plugins[0].required);
	assert_int_equal(cfg->plugins[0].isolation, CXI_ISO_PROCESS);
	/* Disabled plugins are not validated against a schema. */
	assert_null(cfg->plugins[0].settings);
	snprintf(want, sizeof(want), "%s/lib/rel.so", tmpdir);
	assert_string_equal(cfg->plugins[1].path, want);
	cxi_config_free(cfg);
	cxi_errlist_clear(&e);
}

static void
test_env(void **st)
{
	cxi_errlist e = {0};
	(void) st;
	setenv("CX_T_A", "alpha", 1);
	setenv("CX_T_EMPTY", "", 1);
	unsetenv("CX_T_UNSET");
	cxi_config *cfg = load("data_dir: /${CX_T_A}/${CX_T_UNSET:-def}/"
	    "${CX_T_EMPTY:-e}/$$HOME/$${CX_T_A}/a$b\n"
	    "server: {max_body_bytes: '${CX_T_N:-77}'}\n", false, &e);
	dump(&e);
	assert_non_null(cfg);
	assert_string_equal(cfg->data_dir, "/alpha/def/e/$HOME/${CX_T_A}/a$b");
	assert_int_equal(cfg->max_body, 77);
	cxi_config_free(cfg);

	cfg = load("data_dir: /x/${CX_T_UNSET}\n"
	    "log: {level: \"${CX_T_UNSET2}\"}\n"
	    "admin: {socket: ${CX_T_A\n", false, &e);
	assert_null(cfg);
	cxi_errlist_clear(&e);
	cfg = load("data_dir: /x/${CX_T_UNSET}\n"
	    "log: {level: \"${CX_T_UNSET2}\"}\n"
	    "admin: {socket: \"${CX_T_A\"}\n", false, &e);
	assert_null(cfg);
	ASSERT_ERR(&e, 1, 11, "environment variable 'CX_T_UNSET' is not set");
	ASSERT_ERR(&e, 2, 14, "'CX_T_UNSET2'");
	ASSERT_ERR(&e, 3, 17, "unterminated '${'");
	assert_int_equal(e.n, 3);
	cxi_errlist_clear(&e);
	unsetenv("CX_T_A");
	unsetenv("CX_T_EMPTY");
}

static void
test_secret_files(void **st)
{
	cxi_errlist e = {0};
	int calls = 0;
	(void) st;
	char *sec = write_tmp("token.txt", "s3cret\r\n\n");
	char *path = write_tmp("c.yaml", "data_dir: /d\n"
	    "plugins:\n"
	    "  - name: strict\n"
	    "    kind: generic\n"
	    "    settings:\n"
	    "      account_file: ./token.txt\n"
	    "      token_file: token.txt\n"
	    "      extra: {inner_file: token.txt, n: 1}\n");
	cxi_config *cfg = cxi_config_load(path, fake_schema, &calls, &e);
	dump(&e);
	assert_non_null(cfg);
	const cxi_plugin_conf *pc = &cfg->plugins[0];
	assert_string_equal(json_string_value(json_object_get(pc->settings,
	    "token")), "s3cret");
	assert_string_equal(json_string_value(json_object_get(pc->settings,
	    "account")), "s3cret");
	assert_int_equal(json_array_size(pc->file_keys), 3);
	json_t *red = cxi_settings_redacted_keys(pc->settings, strict_schema,
	    pc->file_keys);
	char *js = json_dumps(red, JSON_SORT_KEYS | JSON_COMPACT);
	assert_null(strstr(js, "s3cret"));
	assert_non_null(strstr(js, "\"token\":\"***\""));
	assert_non_null(strstr(js, "\"account\":\"***\""));
	assert_non_null(strstr(js, "\"extra\":\"***\""));
	free(js);
	json_decref(red);
	/* Without file_keys only the declared secret goes. */
	red = cxi_settings_redacted(pc->settings, strict_schema);
	assert_string_equal(json_string_value(json_object_get(red, "token")),
	    "***");
	assert_string_equal(json_string_value(json_object_get(red, "account")),
	    "s3cret");
	json_decref(red);
	cxi_config_free(cfg);
	free(path);

	cfg = load("data_dir: /d\n"
	    "admin:\n"
	    "  socket_file: nope.txt\n"
	    "log:\n"
	    "  level: info\n"
	    "  level_file: token.txt\n"
	    "  format_file: [a]\n", false, &e);
	assert_null(cfg);
	char *msg = NULL;
	assert_true(asprintf(&msg, "cannot read 'socket_file' from "
	    "'%s/nope.txt': No such file or directory", tmpdir) > 0);
	ASSERT_ERR(&e, 3, 16, msg);
	free(msg);
	ASSERT_ERR(&e, 6, 3, "both 'level' and 'level_file' given (other at "
	    "5:3)");
	ASSERT_ERR(&e, 7, 3, "expected a file path for 'format_file'");
	cxi_errlist_clear(&e);
	unlink(sec);
	free(sec);
}

static void
test_settings(void **st)
{
	cxi_errlist e = {0};
	(void) st;
	setenv("CX_T_PORT", "42", 1);
	cxi_ynode *n;
	const char *y = "account: 123\n"
	    "max_bytes: ${CX_T_PORT}\n"
	    "timeout: 30s\n"
	    "topics: [call.*, 7]\n"
	    "extra: {i: 1, q: '1', b: true, n: ~, f: 1.5, s: x, l: [1, a],"
	    " h: 0x10, inf: .inf}\n"
	    "label:\n";
	n = cxi_yaml_parse("s.yaml", y, strlen(y), &e);
	assert_non_null(n);
	json_t *j = cxi_settings_validate("s.yaml", n, 1, 1, "strict",
	    strict_schema, &e);
	dump(&e);
	assert_non_null(j);
	char *js = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(js, "{\"account\":\"123\",\"extra\":{\"b\":true,"
	    "\"f\":1.5,\"h\":16,\"i\":1,\"inf\":\".inf\",\"l\":[1,\"a\"],"
	    "\"n\":null,\"q\":\"1\",\"s\":\"x\"},\"fsync\":false,"
	    "\"label\":\"${CX_T_NEVER_EXPANDED}\",\"max_bytes\":42,"
	    "\"mode\":\"fast\",\"timeout\":30000,\"token\":null,"
	    "\"topics\":[\"call.*\",\"7\"]}");
	free(js);
	json_t *red = cxi_settings_redacted(j, strict_schema);
	assert_true(json_is_null(json_object_get(red, "token")));
	json_decref(red);
	json_decref(j);
	cxi_ynode_free(n);

	/* Every problem at once. */
	y = "acount: x\n"
	    "max_bytes: 5000000\n"
	    "timeout: 50ms\n"
	    "mode: medium\n"
	    "fsync: maybe\n"
	    "topics: {a: b}\n"
	    "extra: [1]\n"
	    "token: {x: 1}\n"
	    "zzzzzzzz: 1\n";
	n = cxi_yaml_parse("s.yaml", y, strlen(y), &e);
	assert_non_null(n);
	j = cxi_settings_validate("s.yaml", n, 9, 9, "strict", strict_schema,
	    &e);
	assert_null(j);
	ASSERT_ERR(&e, 1, 1, "plugin 'strict': unknown key 'acount' in "
	    "settings (did you mean 'account'?); valid keys: account, token, "
	    "max_bytes, timeout, mode, fsync, topics, extra, label");
	ASSERT_ERR(&e, 9, 1, "unknown key 'zzzzzzzz' in settings; valid keys:");
	ASSERT_ERR(&e, 2, 12, "'max_bytes' must be between 1 and 1000000, "
	    "got 5000000");
	ASSERT_ERR(&e, 3, 10, "'timeout' must be between 100ms and 60000ms, "
	    "got 50ms");
	ASSERT_ERR(&e, 4, 7, "invalid value 'medium' for 'mode'; expected one "
	    "of: fast, slow");
	ASSERT_ERR(&e, 5, 8, "expected a boolean for 'fsync', got 'maybe'");
	ASSERT_ERR(&e, 6, 9, "expected a list for 'topics', got a mapping");
	ASSERT_ERR(&e, 7, 8, "expected a mapping for 'extra', got a sequence");
	ASSERT_ERR(&e, 8, 8, "expected a scalar for 'token', got a mapping");
	ASSERT_ERR(&e, 9, 9, "missing required setting 'account'");
	assert_int_equal(e.n, 10);
	cxi_errlist_clear(&e);
	cxi_ynode_free(n);

	/* No settings given at all: defaults, nulls, the required key. */
	j = cxi_settings_validate("s.yaml", NULL, 4, 5, NULL, eventlog_schema,
	    &e);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "topics")));
	assert_int_equal(json_integer_value(json_object_get(j, "max_bytes")),
	    10485760);
	json_decref(j);
	j = cxi_settings_validate("s.yaml", NULL, 4, 5, NULL, strict_schema,
	    &e);
	assert_null(j);
	ASSERT_ERR(&e, 4, 5, "missing required setting 'account'");
	cxi_errlist_clear(&e);
	unsetenv("CX_T_PORT");
}

static void
test_schema_check(void **st)
{
	char why[256];
	static const cx_setting undocumented[] = {
		CX_SETTING_STR("a", 0, NULL, "A"),
		CX_SETTING_INT("b", 0, NULL, 0, 0, " "),
		CX_SETTINGS_END,
	};
	static const cx_setting bad_default[] = {
		CX_SETTING_INT("n", 0, "ten", 0, 0, "N"),
		CX_SETTINGS_END,
	};
	static const cx_setting twice[] = {
		CX_SETTING_STR("a", 0, NULL, "A"),
		CX_SETTING_BOOL("a", 0, NULL, "A again"),
		CX_SETTINGS_END,
	};
	(void) st;
	assert_int_equal(cxi_settings_schema_check(strict_schema, why,
	    sizeof(why)), 0);
	assert_int_equal(cxi_settings_schema_check(eventlog_schema, why,
	    sizeof(why)), 0);
	assert_int_equal(cxi_settings_schema_check(NULL, why, sizeof(why)), 0);
	assert_int_equal(cxi_settings_schema_check(undocumented, why,
	    sizeof(why)), -1);
	assert_string_equal(why, "'b' has no description");
	assert_int_equal(cxi_settings_schema_check(bad_default, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "'n' has an invalid default"));
	assert_int_equal(cxi_settings_schema_check(twice, why, sizeof(why)),
	    -1);
	assert_string_equal(why, "'a' is declared twice");
}

static void
test_schema_fn(void **st)
{
	cxi_errlist e = {0};
	(void) st;
	cxi_config *cfg = load("data_dir: /d\n"
	    "plugins:\n"
	    "  - name: missing\n"
	    "    kind: generic\n"
	    "  - name: kindmis\n"
	    "    kind: generic\n"
	    "  - name: strict\n"
	    "    kind: generic\n"
	    "    settings: {account: a, max_bytes: 666}\n"
	    "  - name: eventlog\n"
	    "    kind: generic\n"
	    "    enabled: false\n"
	    "    settings: {whatever: 1}\n", true, &e);
	assert_null(cfg);
	ASSERT_ERR(&e, 3, 5, "plugin 'missing': cannot open plugin");
	ASSERT_ERR(&e, 6, 11, "plugin 'kindmis': configured kind 'generic' "
	    "but");
	ASSERT_ERR(&e, 6, 11, "is of kind 'storage'");
	ASSERT_ERR(&e, 9, 5, "plugin 'strict': max_bytes 666 is cursed");
	assert_int_equal(e.n, 3);
	cxi_errlist_clear(&e);
}

static void
test_multiple_errors(void **st)
{
	cxi_errlist e = {0};
	(void) st;
	cxi_config *cfg = load("server:\n"
	    "  listn: x\n"
	    "  tls: {key: k}\n"
	    "  request_timeout: -1s\n"
	    "log: {level: loud, formt: json}\n"
	    "plugins:\n"
	    "  - name: a\n"
	    "    kind: generic\n"
	    "  - name: a\n"
	    "    kind: blob\n"
	    "  - name: b\n"
	    "    kind: generic\n"
	    "    settings: {max_bytes: lots}\n", true, &e);
	assert_null(cfg);
	ASSERT_ERR(&e, 2, 3, "unknown key 'listn' in server (did you mean "
	    "'listen'?)");
	ASSERT_ERR(&e, 3, 8, "only 'key' given");
	ASSERT_ERR(&e, 4, 20, "expected a duration for 'request_timeout'");
	ASSERT_ERR(&e, 5, 14, "invalid value 'loud' for 'level'");
	ASSERT_ERR(&e, 5, 20, "unknown key 'formt' in log (did you mean "
	    "'format'?)");
	ASSERT_ERR(&e, 1, 1, "missing required key 'data_dir'");
	ASSERT_ERR(&e, 9, 11, "duplicate plugin name 'a' (first defined at "
	    "7:11)");
	ASSERT_ERR(&e, 13, 27, "plugin 'b': expected an integer for "
	    "'max_bytes', got 'lots'");
	assert_int_equal(e.n, 8);
	cxi_errlist_clear(&e);
}

static void
test_yaml_tree(void **st)
{
	cxi_errlist e = {0};
	bool b;
	long long v;
	(void) st;
	const char *y = "a:\n  - x\n  - 'true'\nb: -0x1\nc: 0o17\nd: ~\n"
	    "e: \"\"\nf: 9223372036854775808\ng: -9223372036854775808\n";
	cxi_ynode *n = cxi_yaml_parse("t.yaml", y, strlen(y), &e);
	assert_non_null(n);
	assert_int_equal(n->type, CXI_Y_MAP);
	const cxi_ynode *a = cxi_ynode_get(n, "a");
	assert_int_equal(a->type, CXI_Y_SEQ);
	assert_int_equal(a->items[1]->line, 3);
	assert_int_equal(a->items[1]->col, 5);
	assert_true(a->items[1]->quoted);
	assert_int_equal(cxi_ynode_bool(a->items[1], &b), 0);
	assert_true(b);
	assert_int_equal(cxi_ynode_int(cxi_ynode_get(n, "b"), &v), -1);
	assert_int_equal(cxi_ynode_int(cxi_ynode_get(n, "c"), &v), 0);
	assert_int_equal(v, 15);
	assert_true(cxi_ynode_is_null(cxi_ynode_get(n, "d")));
	assert_false(cxi_ynode_is_null(cxi_ynode_get(n, "e")));
	assert_int_equal(cxi_ynode_int(cxi_ynode_get(n, "f"), &v), -1);
	assert_int_equal(cxi_ynode_int(cxi_ynode_get(n, "g"), &v), 0);
	assert_true(v < 0);
	assert_string_equal(cxi_ynode_kind_name(a), "a sequence");
	cxi_ynode *c = cxi_ynode_dup(n);
	assert_string_equal(cxi_ynode_get(c, "a")->items[0]->value, "x");
	cxi_ynode_free(c);
	cxi_ynode_free(n);

	/* Deep nesting is refused, not recursed into. */
	char deep[400];
	memset(deep, '[', 200);
	memset(deep + 200, ']', 200);
	n = cxi_yaml_parse("d.yaml", deep, sizeof(deep), &e);
	assert_null(n);
	assert_non_null(strstr(e.msgs[0], "nesting deeper than"));
	cxi_errlist_clear(&e);

	/* Errors without positions; a file that is not there. */
	cxi_errlist_add(&e, "f", 0, 0, "plain %d", 1);
	cxi_errlist_add(&e, "f", 3, 0, "line only");
	assert_string_equal(e.msgs[0], "f: plain 1");
	assert_string_equal(e.msgs[1], "f:3: line only");
	cxi_errlist_clear(&e);
	assert_null(cxi_config_load("/nonexistent/c.yaml", NULL, NULL, &e));
	assert_string_equal(e.msgs[0], "/nonexistent/c.yaml: cannot read "
	    "config: No such file or directory");
	cxi_errlist_clear(&e);
}

static void
test_fixtures(void **st)
{
	(void) st;
	DIR *d = opendir(bad_dir);
	int count = 0, failed = 0;
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0) {
			continue;
		}
		char path[4096], line[1024];
		snprintf(path, sizeof(path), "%s/%s", bad_dir, de->d_name);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		assert_non_null(fgets(line, sizeof(line), f));
		fclose(f);
		line[strcspn(line, "\n")] = '\0';
		unsigned ln, col;
		int off = 0;
		if (sscanf(line, "# expect: %u:%u: %n", &ln, &col, &off) != 2 ||
		    off == 0) {
			fail_msg("%s: no '# expect: L:C: text' first line", path);
		}
		cxi_errlist e = {0};
		int calls = 0;
		cxi_config *cfg = cxi_config_load(path, fake_schema, &calls,
		    &e);
		if (cfg != NULL || !has_err(&e, ln, col, line + off)) {
			fprintf(stderr, "%s: want %u:%u: %s\n", de->d_name, ln,
			    col, line + off);
			dump(&e);
			failed++;
		}
		cxi_config_free(cfg);
		cxi_errlist_clear(&e);
		count++;
	}
	closedir(d);
	assert_int_equal(failed, 0);
	assert_true(count >= 30);
}

static int
setup(void **st)
{
	(void) st;
	return (mkdtemp(tmpdir) == NULL ? -1 : 0);
}

static int
teardown(void **st)
{
	char cmd[128];
	(void) st;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return (system(cmd) == 0 ? 0 : -1);
}

int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s BAD_DIR CALLIXO_YAML\n", argv[0]);
		return (2);
	}
	bad_dir = argv[1];
	default_conf = argv[2];
	unsetenv("CALLIXO_TEST_SURELY_UNSET");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_conf),
		cmocka_unit_test(test_minimal_and_explicit),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_secret_files),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_schema_check),
		cmocka_unit_test(test_schema_fn),
		cmocka_unit_test(test_multiple_errors),
		cmocka_unit_test(test_yaml_tree),
		cmocka_unit_test(test_fixtures),
	};
	return (cmocka_run_group_tests(tests, setup, teardown));
}
