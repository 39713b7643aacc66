/*
 * test_sandbox_core.c - the sandbox against the real core: a manager
 * running SQLite, the fs blob store and the sandbox, with the core's call
 * events runtime (core/callevents.c) answering call.event and
 * call.recording. Calls are placed as the dialer places them; each must
 * end in the store with its outcome, times, transcript, summary and an
 * encrypted recording, through the contract alone.
 *
 *   test_sandbox_core <sqlite.so> <fs.so> <sandbox.so>
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <callixo/telephony.h>

#include "bus.h"
#include "callevents.h"
#include "calling.h"
#include "config.h"
#include "errlist.h"
#include "loader.h"
#include "manager.h"
#include "migrate.h"
#include "repo.h"
#include "yamltree.h"

static const char *so_sqlite, *so_fs, *so_sandbox;

typedef struct core {
	char dir[64];
	cxi_bus *bus;
	cxi_manager *mgr;
	cxi_plugin_conf pc[3];
	cxi_config cfg;
	cxi_calling cl;
	cxi_db db;
	char account[32];
} core;

static int
migrate_hook(void *arg, const cxi_db *db, char *why, size_t whylen)
{
	(void) arg;
	return (cxi_migrate_up(db, NULL, why, whylen));
}

static void
conf(cxi_plugin_conf *pc, const char *name, const char *path,
    cx_plugin_kind kind, json_t *settings)
{
	pc->name = strdup(name);
	pc->path = strdup(path);
	pc->kind = kind;
	pc->enabled = true;
	pc->required = true;
	pc->settings = settings;
}

/* The sandbox's settings from YAML, validated and completed with the
 * defaults exactly as callixod does for a config file. */
static json_t *
sandbox_settings(const char *yaml)
{
	cxi_module_cache *cache = cxi_module_cache_new();
	const cx_plugin *desc = NULL;
	char why[256] = "";
	assert_int_equal(cxi_module_cache_schema(cache, so_sandbox, &desc, why,
	                     sizeof(why)), 0);
	cxi_errlist errs = {0};
	cxi_ynode *node = cxi_yaml_parse("settings", yaml, strlen(yaml), &errs);
	assert_non_null(node);
	json_t *s = cxi_settings_validate_desc("settings", node, 1, 1,
	    "sandbox", desc, NULL, &errs);
	if (s == NULL || errs.n > 0) {
		fail_msg("settings: %s", errs.n > 0 ? errs.msgs[0] : "?");
	}
	cxi_ynode_free(node);
	cxi_errlist_clear(&errs);
	cxi_module_cache_free(cache);
	return (s);
}

static core *
core_new(json_t *sandbox_settings)
{
	static int seq;
	char ns[16], why[256] = "";
	core *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	snprintf(ns, sizeof(ns), "sbxc%d", seq++);
	const char *tmp = getenv("TMPDIR");
	snprintf(r->dir, sizeof(r->dir), "%s/cxsbxXXXXXX",
	    tmp != NULL && strlen(tmp) < 40 ? tmp : P_tmpdir);
	assert_non_null(mkdtemp(r->dir));
	assert_int_equal(cxi_bus_open(&r->bus, ns, NULL), 0);
	cxi_manager_opts mo = {.bus = r->bus, .bus_ns = ns,
	    .data_dir = r->dir, .on_storage = migrate_hook};
	assert_int_equal(cxi_manager_new(&r->mgr, &mo), 0);
	conf(&r->pc[0], "sqlite", so_sqlite, CX_KIND_STORAGE,
	    json_pack("{s:s, s:i, s:I, s:i, s:s}", "file", "callixo.db",
	        "pool_size", 4, "busy_timeout", (json_int_t) 5000,
	        "statement_cache", 16, "synchronous", "normal"));
	conf(&r->pc[1], "fs", so_fs, CX_KIND_BLOB,
	    json_pack("{s:b, s:I}", "fsync", 0, "stale_tmp_age",
	        (json_int_t) 600000));
	conf(&r->pc[2], "sandbox", so_sandbox, CX_KIND_TELEPHONY,
	    sandbox_settings);
	r->cfg.file = "test";
	r->cfg.data_dir = r->dir;
	r->cfg.plugins = r->pc;
	r->cfg.n_plugins = 3;
	/* The events runtime first, as the daemon starts it before the
	 * dialer: the sandbox's first events find it. */
	r->cl.mgr = r->mgr;
	r->cl.data_dir = r->dir;
	randombytes_buf(r->cl.master_key, sizeof(r->cl.master_key));
	cxi_blobcrypt_key_id(r->cl.master_key, r->cl.master_key_id);
	assert_int_equal(cxi_manager_apply(r->mgr, &r->cfg, NULL), 0);
	assert_true(cxi_manager_db_hold(r->mgr, &r->db));
	cxi_manager_unhold(r->mgr);
	assert_int_equal(cxi_callevents_start(&r->cl.events, &r->cl, why,
	                     sizeof(why)), CX_OK);
	snprintf(r->account, sizeof(r->account), "acc_sbx%d", seq);
	cx_db_value p[] = {CX_DB_V_TEXT(r->account)};
	cxi_dbc c;
	assert_int_equal(cxi_db_acquire(&r->db, 1000, &c), CX_OK);
	assert_int_equal(cxi_db_exec(&c, "INSERT INTO accounts (id, name, "
	                                 "email, email_norm, password_hash, "
	                                 "created_at, updated_at) VALUES ($1, "
	                                 "'N', $1, $1, 'x', 0, 0)",
	                     p, 1, NULL, NULL), CX_OK);
	cxi_db_release(&c);
	return (r);
}

static void
core_free(core *r)
{
	cxi_callevents_stop(r->cl.events);
	cxi_manager_free(r->mgr);
	cxi_bus_close(r->bus);
	for (size_t i = 0; i < 3; i++) {
		json_decref(r->pc[i].settings);
		free(r->pc[i].name);
		free(r->pc[i].path);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	assert_int_equal(system(cmd), 0);
	free(r);
}

static const char *
S(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return (s != NULL ? s : "");
}

/* Creates the call row and places it, as the dialer does; returns the
 * call id (caller frees). */
static char *
dial(core *r, const char *campaign, int n)
{
	char why[256] = "", to[20];
	snprintf(to, sizeof(to), "+1415555%04d", n);
	json_t *row = NULL;
	json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s}", "campaign_id",
	    campaign, "provider", "sandbox", "status", "queued", "to_number",
	    to, "from_number", "+14155550000");
	assert_int_equal(cxi_repo_create(&r->db, &cxi_ent_call, r->account, f,
	                     &row, why, sizeof(why)), CX_OK);
	json_decref(f);
	char *id = strdup(S(row, "id"));
	json_decref(row);
	json_t *req = json_pack("{s:i, s:s, s:s, s:s, s:s, s:b, s:b, "
	                        "s:{s:s, s:s}, s:{s:s}, s:{s:b, s:[{s:s, s:s}]}}",
	    "v", 1, "call_id", id, "to", to, "from", "+14155550000", "agent",
	    "agent_sbx", "record", 1, "disclosure", 1, "voicemail", "action",
	    "message", "message", "Please call us back.", "variables", "name",
	    "Ada", "analysis", "summary", 1, "fields", "name", "interested",
	    "type", "boolean");
	json_t *reply = NULL;
	assert_int_equal(cxi_manager_call(r->mgr, "sandbox", CX_SVC_CALL_PLACE,
	                     r->account, req, 5000, &reply), CX_OK);
	/* The dialer records the provider's id (its events may be there
	 * already: the core matches them by our call id). */
	f = json_pack("{s:s}", "provider_call_id", S(reply, "provider_call_id"));
	json_decref(reply);
	assert_int_equal(cxi_repo_update(&r->db, &cxi_ent_call, r->account, id,
	                     f, NULL, why, sizeof(why)), CX_OK);
	json_decref(f);
	return (id);
}

static json_t *
get_call(core *r, const char *id)
{
	json_t *row = NULL;
	assert_int_equal(cxi_repo_get(&r->db, &cxi_ent_call, NULL, id, &row),
	    CX_OK);
	return (row);
}

/* Until the core has sent call.completed (the call and its artifacts are
 * final), or ms pass. */
static json_t *
wait_final(core *r, const char *id, int ms)
{
	for (int waited = 0; waited <= ms; waited += 50) {
		json_t *row = get_call(r, id);
		if (!json_is_null(json_object_get(row, "completed_sent_at"))) {
			return (row);
		}
		json_decref(row);
		cxi_callevents_kick(r->cl.events);
		usleep(50 * 1000);
	}
	fail_msg("call %s not final within %d ms", id, ms);
	return (NULL);
}

static json_t *
wait_col(core *r, const char *id, const char *col, int ms)
{
	for (int waited = 0; waited <= ms; waited += 50) {
		json_t *row = get_call(r, id);
		if (!json_is_null(json_object_get(row, col))) {
			return (row);
		}
		json_decref(row);
		usleep(50 * 1000);
	}
	fail_msg("call %s: no %s within %d ms", id, col, ms);
	return (NULL);
}

static void
test_calls_through_the_core(void **unused)
{
	(void) unused;
	core *r = core_new(sandbox_settings("speed: 1000\nplace_latency: 0ms\n"
	    "retry_backoff: 20ms\ntalk_min: 5s\ntalk_max: 30s\n"
	    "outcomes: {answered: 2, voicemail: 1, busy: 1, no_answer: 1, "
	    "failed: 1}\n"));
	json_t *row = NULL;
	char why[256] = "";
	json_t *f = json_pack("{s:s, s:{s:b}}", "name", "sandbox", "config",
	    "record", 1);
	assert_int_equal(cxi_repo_create(&r->db, &cxi_ent_campaign, r->account,
	                     f, &row, why, sizeof(why)), CX_OK);
	json_decref(f);
	char *campaign = strdup(S(row, "id"));
	json_decref(row);

	enum { N = 24 };
	char *ids[N];
	for (int i = 0; i < N; i++) {
		ids[i] = dial(r, campaign, i + 1);
	}
	int seen_answered = 0, seen_other = 0;
	for (int i = 0; i < N; i++) {
		row = wait_final(r, ids[i], 30000);
		const char *st = S(row, "status"), *oc = S(row, "outcome");
		assert_true(strlen(oc) > 0);
		assert_true(strncmp(S(row, "provider_call_id"), "SBX", 3) == 0);
		assert_true(strlen(S(row, "disconnection_reason")) > 0);
		if (strcmp(oc, "voicemail") == 0) {
			/* The core does not hold call.completed back for a
			 * voicemail's recording; it still arrives. */
			json_decref(row);
			row = wait_col(r, ids[i], "recording_key", 10000);
			st = S(row, "status");
			oc = S(row, "outcome");
		}
		if (strcmp(st, "completed") == 0) {
			seen_answered++;
			int64_t dur = json_integer_value(json_object_get(row,
			    "duration_ms"));
			assert_true(dur > 0);
			assert_true(strlen(S(row, "transcript")) > 0);
			assert_non_null(strstr(S(row, "transcript"), "Ada"));
			assert_true(strlen(S(row, "summary")) > 0);
			assert_true(json_is_object(json_object_get(row,
			    "analysis")));
			assert_true(json_array_size(json_object_get(row,
			                "utterances")) > 0);
			/* The recording went into the blob store whole. */
			assert_string_equal(S(row, "recording_type"),
			    "audio/wav");
			int64_t ms = dur < 20000 ? dur : 20000;
			assert_int_equal(json_integer_value(json_object_get(row,
			                     "recording_bytes")), 44 + ms * 16);
			assert_true(strlen(S(row, "recording_key")) > 0);
		} else {
			seen_other++;
			if (strcmp(st, oc) != 0) {
				fail_msg("status %s, outcome %s", st, oc);
			}
			assert_true(json_is_null(json_object_get(row,
			    "recording_key")));
		}
		json_decref(row);
	}
	assert_true(seen_answered > 0 && seen_other > 0);
	/* Nothing is left behind in the plugin's directory. */
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls %s/plugins/sandbox/"
	                           "recordings)\"", r->dir);
	assert_int_equal(system(cmd), 0);
	/* Every event the sandbox sent was stored once. */
	cxi_dbc c;
	cx_db_rows *rows = NULL;
	assert_int_equal(cxi_db_acquire(&r->db, 1000, &c), CX_OK);
	assert_int_equal(cxi_db_exec(&c, "SELECT COUNT(*), COUNT(DISTINCT "
	                                 "event_id) FROM provider_events "
	                                 "WHERE provider = 'sandbox'",
	                     NULL, 0, &rows, NULL), CX_OK);
	int64_t all = cxi_db_int(&c, rows, 0, 0, -1);
	int64_t distinct = cxi_db_int(&c, rows, 0, 1, -2);
	cxi_db_rows_free(&c, rows);
	cxi_db_release(&c);
	assert_true(all >= 2 * N);
	assert_int_equal(all, distinct);
	for (int i = 0; i < N; i++) {
		free(ids[i]);
	}
	free(campaign);
	core_free(r);
}

int
main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s <sqlite.so> <fs.so> <sandbox.so>\n",
		    argv[0]);
		return (2);
	}
	so_sqlite = argv[1];
	so_fs = argv[2];
	so_sandbox = argv[3];
	if (sodium_init() < 0) {
		return (1);
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_calls_through_the_core),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
