/*
 * test_sessions.c - session tokens over the embedded store (the
 * `sessions` table of a real SQLite driver, run by a real manager): only
 * hashes stored, idle timeout, absolute lifetime, logout, logout-all,
 * malformed tokens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bus.h"
#include "manager.h"
#include "migrate.h"
#include "sessions.h"

#define MIN (60 * 1000LL)
#define HOUR (60 * MIN)

static const char *sqlite_so;

typedef struct rig {
	char dir[64];
	cxi_bus *bus;
	cxi_manager *mgr;
	cxi_plugin_conf pc;
	cxi_config cfg;
	cxi_sessions *ss;
} rig;

static int
migrate_hook(void *arg, const cxi_db *db, char *why, size_t whylen)
{
	(void) arg;
	return (cxi_migrate_up(db, NULL, why, whylen));
}

/* Sessions reference accounts (foreign key): make one. */
static void
make_account(rig *r, const char *id)
{
	cxi_db db;
	cxi_dbc c;
	char email[64];
	snprintf(email, sizeof(email), "%s@example.com", id);
	assert_true(cxi_manager_db_hold(r->mgr, &db));
	assert_int_equal(cxi_db_acquire(&db, 1000, &c), CX_OK);
	cx_db_value p[] = {CX_DB_V_TEXT(id), CX_DB_V_TEXT(email)};
	assert_int_equal(cxi_db_exec(&c, "INSERT INTO accounts (id, name, "
	                                 "email, email_norm, password_hash, "
	                                 "created_at, updated_at) VALUES ($1, "
	                                 "'N', $2, $2, 'x', 0, 0)",
	                     p, 2, NULL, NULL),
	    CX_OK);
	cxi_db_release(&c);
	cxi_manager_unhold(r->mgr);
}

static rig *
rig_new(void)
{
	static int seq;
	char ns[16];
	rig *r = calloc(1, sizeof(*r));
	snprintf(ns, sizeof(ns), "sess%d", seq++);
	snprintf(r->dir, sizeof(r->dir), "/tmp/cxsessXXXXXX");
	assert_non_null(mkdtemp(r->dir));
	assert_int_equal(cxi_bus_open(&r->bus, ns, NULL), 0);
	cxi_manager_opts mo = {.bus = r->bus, .bus_ns = ns,
	    .data_dir = r->dir, .on_storage = migrate_hook};
	assert_int_equal(cxi_manager_new(&r->mgr, &mo), 0);
	r->pc.name = strdup("sqlite");
	r->pc.path = strdup(sqlite_so);
	r->pc.kind = CX_KIND_STORAGE;
	r->pc.enabled = true;
	r->pc.required = true;
	r->pc.settings = json_pack("{s:s, s:i, s:I, s:i, s:s}", "file",
	    "callixo.db", "pool_size", 2, "busy_timeout", (json_int_t) 5000,
	    "statement_cache", 16, "synchronous", "normal");
	r->cfg.file = "test";
	r->cfg.data_dir = r->dir;
	r->cfg.plugins = &r->pc;
	r->cfg.n_plugins = 1;
	assert_int_equal(cxi_manager_apply(r->mgr, &r->cfg, NULL), 0);
	assert_int_equal(cxi_sessions_new(&r->ss, r->mgr, 30 * MIN, 12 * HOUR),
	    CX_OK);
	make_account(r, "acc_a");
	make_account(r, "acc_b");
	return (r);
}

static void
rig_free(rig *r)
{
	cxi_sessions_free(r->ss);
	cxi_manager_free(r->mgr);
	cxi_bus_close(r->bus);
	json_decref(r->pc.settings);
	free(r->pc.name);
	free(r->pc.path);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	assert_int_equal(system(cmd), 0);
	free(r);
}

/* The store holds the hash, never the token. */
static bool
db_contains(rig *r, const char *needle)
{
	char path[128], cmd[400];
	snprintf(path, sizeof(path), "%s/plugins/sqlite/callixo.db", r->dir);
	snprintf(cmd, sizeof(cmd), "cat '%s' '%s-wal' 2>/dev/null | grep -qF '%s'",
	    path, path, needle);
	return (system(cmd) == 0);
}

static void
test_lifecycle(void **state)
{
	(void) state;
	rig *r = rig_new();
	char tok[CXI_SESSION_TOKEN_LEN + 1], tok2[CXI_SESSION_TOKEN_LEN + 1];
	cx_session s;
	int64_t t0 = 1800000000000LL;

	assert_int_equal(cxi_sessions_create(r->ss, "acc_a", "{\"ip\":\"1.2.3.4\"}",
	                     t0, tok), CX_OK);
	assert_int_equal(strlen(tok), CXI_SESSION_TOKEN_LEN);
	char hash[65];
	cxi_session_hash(tok, hash);
	assert_true(db_contains(r, hash));
	assert_false(db_contains(r, tok));

	/* 29 minutes idle: fine; and that counts as activity. */
	assert_int_equal(cxi_sessions_check(r->ss, tok, t0 + 29 * MIN, &s),
	    CX_OK);
	assert_string_equal(s.account, "acc_a");
	assert_non_null(strstr(s.data, "1.2.3.4"));
	free(s.data);
	/* 31 minutes after that activity: gone. */
	assert_int_equal(cxi_sessions_check(r->ss, tok, t0 + 60 * MIN + 1, &s),
	    CX_ENOENT);
	assert_false(db_contains(r, hash) &&
	    cxi_sessions_check(r->ss, tok, t0 + 29 * MIN, &s) == CX_OK);

	/* Absolute lifetime: active every 20 minutes, still gone at 12 h. */
	assert_int_equal(cxi_sessions_create(r->ss, "acc_a", NULL, t0, tok2),
	    CX_OK);
	int64_t t;
	for (t = t0 + 20 * MIN; t < t0 + 12 * HOUR; t += 20 * MIN) {
		assert_int_equal(cxi_sessions_check(r->ss, tok2, t, &s), CX_OK);
		free(s.data);
	}
	assert_int_equal(cxi_sessions_check(r->ss, tok2, t0 + 12 * HOUR + 1000,
	                     &s), CX_ENOENT);

	/* Logout ends it at once. */
	assert_int_equal(cxi_sessions_create(r->ss, "acc_a", NULL, t0, tok),
	    CX_OK);
	assert_int_equal(cxi_sessions_end(r->ss, tok), CX_OK);
	assert_int_equal(cxi_sessions_check(r->ss, tok, t0 + 1, &s), CX_ENOENT);
	rig_free(r);
}

static void
test_logout_all_and_malformed(void **state)
{
	(void) state;
	rig *r = rig_new();
	char a1[44], a2[44], b1[44];
	cx_session s;
	int64_t t0 = 1800000000000LL;
	assert_int_equal(cxi_sessions_create(r->ss, "acc_a", NULL, t0, a1), 0);
	assert_int_equal(cxi_sessions_create(r->ss, "acc_a", NULL, t0, a2), 0);
	assert_int_equal(cxi_sessions_create(r->ss, "acc_b", NULL, t0, b1), 0);
	assert_string_not_equal(a1, a2);
	size_t n = 0;
	assert_int_equal(cxi_sessions_end_account(r->ss, "acc_a", &n), CX_OK);
	assert_int_equal(n, 2);
	assert_int_equal(cxi_sessions_check(r->ss, a1, t0 + 1, &s), CX_ENOENT);
	assert_int_equal(cxi_sessions_check(r->ss, a2, t0 + 1, &s), CX_ENOENT);
	assert_int_equal(cxi_sessions_check(r->ss, b1, t0 + 1, &s), CX_OK);
	free(s.data);
	/* Malformed tokens never reach the store. */
	const char *bad[] = {"", "short", "' OR 1=1 --",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", NULL};
	for (size_t i = 0; bad[i] != NULL; i++) {
		assert_int_equal(cxi_sessions_check(r->ss, bad[i], t0, &s),
		    CX_ENOENT);
	}
	assert_int_equal(cxi_sessions_check(r->ss, NULL, t0, &s), CX_ENOENT);
	rig_free(r);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_sessions SQLITE_PLUGIN.so\n");
		return (2);
	}
	sqlite_so = argv[1];
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lifecycle),
	    cmocka_unit_test(test_logout_all_and_malformed),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
