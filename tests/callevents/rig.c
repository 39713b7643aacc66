/*
 * rig.c - the in-process core of the call events tests (rig.h).
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
#include <time.h>
#include <unistd.h>

#include "migrate.h"
#include "rig.h"

const char *rig_sqlite, *rig_fs, *rig_tel, *rig_tr;

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

static void
exec1(rig *r, const char *sql, const cx_db_value *p, size_t n)
{
	cxi_dbc c;
	assert_int_equal(cxi_db_acquire(&r->db, 1000, &c), CX_OK);
	assert_int_equal(cxi_db_exec(&c, sql, p, n, NULL, NULL), CX_OK);
	cxi_db_release(&c);
}

rig *
rig_new(const char *tr_json)
{
	static int seq;
	char ns[16], why[256] = "";
	rig *r = calloc(1, sizeof(*r));
	snprintf(ns, sizeof(ns), "ce%d", seq++);
	const char *tmp = getenv("TMPDIR");
	snprintf(r->dir, sizeof(r->dir), "%s/cxceXXXXXX",
	    tmp != NULL && strlen(tmp) < 40 ? tmp : P_tmpdir);
	assert_non_null(mkdtemp(r->dir));
	assert_int_equal(cxi_bus_open(&r->bus, ns, NULL), 0);
	cxi_manager_opts mo = {.bus = r->bus, .bus_ns = ns,
	    .data_dir = r->dir, .on_storage = migrate_hook};
	assert_int_equal(cxi_manager_new(&r->mgr, &mo), 0);
	conf(&r->pc[0], "sqlite", rig_sqlite, CX_KIND_STORAGE,
	    json_pack("{s:s, s:i, s:I, s:i, s:s}", "file", "callixo.db",
	        "pool_size", 4, "busy_timeout", (json_int_t) 5000,
	        "statement_cache", 16, "synchronous", "normal"));
	conf(&r->pc[1], "fs", rig_fs, CX_KIND_BLOB,
	    json_pack("{s:b, s:I}", "fsync", 0, "stale_tmp_age",
	        (json_int_t) 600000));
	conf(&r->pc[2], "testtel", rig_tel, CX_KIND_TELEPHONY, json_object());
	size_t n = 3;
	if (tr_json != NULL) {
		conf(&r->pc[3], "testtr", rig_tr, CX_KIND_TRANSCRIPTION,
		    json_loads(tr_json, 0, NULL));
		n = 4;
	}
	r->cfg.file = "test";
	r->cfg.data_dir = r->dir;
	r->cfg.plugins = r->pc;
	r->cfg.n_plugins = n;
	assert_int_equal(cxi_manager_apply(r->mgr, &r->cfg, NULL), 0);
	snprintf(r->teldir, sizeof(r->teldir), "%s/plugins/testtel", r->dir);
	assert_true(cxi_manager_db_hold(r->mgr, &r->db));
	cxi_manager_unhold(r->mgr); /* the driver stays while the rig runs */

	r->cl.mgr = r->mgr;
	r->cl.data_dir = r->dir;
	randombytes_buf(r->cl.master_key, sizeof(r->cl.master_key));
	cxi_blobcrypt_key_id(r->cl.master_key, r->cl.master_key_id);
	assert_int_equal(cxi_callevents_start(&r->cl.events, &r->cl, why,
	                     sizeof(why)), CX_OK);

	snprintf(r->account, sizeof(r->account), "acc_%d", seq);
	cx_db_value p[] = {CX_DB_V_TEXT(r->account)};
	exec1(r, "INSERT INTO accounts (id, name, email, email_norm, "
	         "password_hash, created_at, updated_at) VALUES ($1, 'N', $1, "
	         "$1, 'x', 0, 0)", p, 1);
	/* One customer webhook endpoint for every event type. */
	exec1(r, "INSERT INTO webhook_endpoints (id, account_id, url, events, "
	         "secret_enc, created_at, updated_at) VALUES ('whe_' || $1, $1, "
	         "'https://example.com/hook', '[]', 'x', 0, 0)", p, 1);
	return (r);
}

void
rig_free(rig *r)
{
	cxi_callevents_stop(r->cl.events);
	cxi_manager_free(r->mgr);
	cxi_bus_close(r->bus);
	for (size_t i = 0; i < 4; i++) {
		json_decref(r->pc[i].settings);
		free(r->pc[i].name);
		free(r->pc[i].path);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	assert_int_equal(system(cmd), 0);
	free(r);
}

int
rig_send(rig *r, const char *type, json_t *data, json_t **reply)
{
	json_t *out = NULL;
	json_t *cmd = json_pack("{s:s, s:o}", "type", type, "data", data);
	assert_int_equal(cxi_manager_call(r->mgr, "testtel", "forward", NULL,
	                     cmd, 15000, &out), CX_OK);
	int rv = (int) json_integer_value(json_object_get(out, "rv"));
	if (reply != NULL) {
		*reply = json_incref(json_object_get(out, "reply"));
	}
	json_decref(out);
	return (rv);
}

char *
rig_campaign(rig *r, const char *config)
{
	json_t *row = NULL;
	char why[256] = "";
	json_t *f = json_pack("{s:s, s:o}", "name", "c", "config",
	    json_loads(config, 0, NULL));
	assert_int_equal(cxi_repo_create(&r->db, &cxi_ent_campaign,
	                     r->account, f, &row, why, sizeof(why)), CX_OK);
	char *id = strdup(S(row, "id"));
	json_decref(f);
	json_decref(row);
	return (id);
}

char *
rig_call(rig *r, const char *campaign, const char *pcid)
{
	json_t *row = NULL;
	char why[256] = "";
	json_t *f = json_pack("{s:s?, s:s, s:s?, s:s, s:s, s:s}", "campaign_id",
	    campaign, "provider", "testtel", "provider_call_id", pcid,
	    "status", "queued", "to_number", "+14155550100", "from_number",
	    "+14155550199");
	assert_int_equal(cxi_repo_create(&r->db, &cxi_ent_call, r->account, f,
	                     &row, why, sizeof(why)), CX_OK);
	char *id = strdup(S(row, "id"));
	json_decref(f);
	json_decref(row);
	return (id);
}

json_t *
rig_get_call(rig *r, const char *id)
{
	json_t *row = NULL;
	assert_int_equal(cxi_repo_get(&r->db, &cxi_ent_call, NULL, id, &row),
	    CX_OK);
	return (row);
}

long long
rig_count(rig *r, const char *sql, const char *param)
{
	cxi_dbc c;
	cx_db_rows *rows = NULL;
	cx_db_value p[] = {CX_DB_V_TEXT(param)};
	long long v = -1;
	assert_int_equal(cxi_db_acquire(&r->db, 1000, &c), CX_OK);
	if (cxi_db_exec(&c, sql, p, param != NULL ? 1 : 0, &rows, NULL) ==
	    CX_OK) {
		v = cxi_db_int(&c, rows, 0, 0, -1);
		cxi_db_rows_free(&c, rows);
	}
	cxi_db_release(&c);
	return (v);
}

json_t *
rig_event(const char *event_id, const char *call_id, int seq,
    const char *status)
{
	return (json_pack("{s:i, s:s, s:s, s:s, s:i, s:s}", "v", 1, "provider",
	    "testtel", "event_id", event_id, "call_id", call_id, "seq", seq,
	    "status", status));
}

long
rig_wav(const char *path, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	/* A 8 kHz mono 16-bit PCM header, then a pattern. */
	uint8_t h[44] = "RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0"
	                "\x40\x1f\0\0\x80\x3e\0\0\x02\0\x10\0data";
	uint32_t total = (uint32_t) (36 + n), dlen = (uint32_t) n;
	memcpy(h + 4, &total, 4);
	memcpy(h + 40, &dlen, 4);
	assert_int_equal(fwrite(h, 1, 44, f), 44);
	for (size_t i = 0; i < n; i++) {
		fputc((int) ((i * 7 + i / 251) & 0xFF), f);
	}
	assert_int_equal(fclose(f), 0);
	return ((long) (44 + n));
}

bool
rig_wait_col(rig *r, const char *id, const char *col, int ms)
{
	for (int waited = 0; waited <= ms; waited += 50) {
		json_t *row = rig_get_call(r, id);
		bool set = !json_is_null(json_object_get(row, col));
		json_decref(row);
		if (set) {
			return (true);
		}
		cxi_callevents_kick(r->cl.events);
		usleep(50 * 1000);
	}
	return (false);
}

void
rig_restart(rig *r, const char *tr_json)
{
	char why[256] = "";
	cxi_callevents_stop(r->cl.events);
	r->cl.events = NULL;
	if (tr_json != NULL && r->cfg.n_plugins == 3) {
		conf(&r->pc[3], "testtr", rig_tr, CX_KIND_TRANSCRIPTION,
		    json_loads(tr_json, 0, NULL));
		r->cfg.n_plugins = 4;
		assert_int_equal(cxi_manager_apply(r->mgr, &r->cfg, NULL), 0);
	}
	assert_int_equal(cxi_callevents_start(&r->cl.events, &r->cl, why,
	                     sizeof(why)), CX_OK);
}
