/*
 * dialer_rig.c - the in-process core of the dialer tests (dialer_rig.h).
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "dialer_rig.h"
#include "errlist.h"
#include "httpc.h"
#include "migrate.h"
#include "repo.h"

const char *rig_storage_so, *rig_faketel_so, *rig_storage_settings;
static unsigned rig_seq;
/* The rig of the running case, for rig_teardown after a failure. */
static rig *rig_live;

int64_t
rig_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
rig_sleep(int ms)
{
	struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* A server database outlives a rig: every rig starts on an empty
 * schema there (SQLite gets a fresh file anyway). */
static int
on_storage(void *arg, const cxi_db *db, char *why, size_t whylen)
{
	(void) arg;
	if (strcmp(db->ops->dialect, "postgres") == 0) {
		cxi_dbc c;
		cx_db_error err;
		if (cxi_db_acquire(db, 10000, &c) != CX_OK) {
			snprintf(why, whylen, "cannot reset the schema");
			return (-1);
		}
		cx_err rv = db->ops->exec_script(c.conn, "DROP SCHEMA public "
		    "CASCADE; CREATE SCHEMA public;", &err);
		cxi_db_release(&c);
		if (rv != CX_OK) {
			snprintf(why, whylen, "schema reset: %s", err.message);
			return (-1);
		}
	}
	return (cxi_migrate_up(db, NULL, why, whylen));
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

/* An account and an API key for it, straight into storage. */
static void
account_and_key(rig *r)
{
	cxi_db db;
	char why[256] = "", mail[96], hash[65];
	unsigned char rnd[32], h[32];
	json_t *row = NULL;
	assert_true(cxi_manager_db_hold(r->mgr, &db));
	snprintf(mail, sizeof(mail), "dialer-%d-%u@example.com", (int) getpid(),
	    rig_seq);
	json_t *f = json_pack("{s:s, s:s, s:s}", "name", "Dialer Test",
	    "email", mail, "password_hash", "$argon2id$v=19$x");
	assert_int_equal(cxi_repo_create(&db, &cxi_ent_account, NULL, f, &row,
	                     why, sizeof(why)), CX_OK);
	snprintf(r->account, sizeof(r->account), "%s",
	    json_string_value(json_object_get(row, "id")));
	json_decref(f);
	json_decref(row);
	randombytes_buf(rnd, sizeof(rnd));
	memcpy(r->key, "cx_", 3);
	sodium_bin2base64(r->key + 3, sizeof(r->key) - 3, rnd, sizeof(rnd),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	crypto_hash_sha256(h, (const unsigned char *) r->key, strlen(r->key));
	sodium_bin2hex(hash, sizeof(hash), h, sizeof(h));
	f = json_pack("{s:s, s:s, s:s, s:s}", "name", "test", "key_hash", hash,
	    "prefix", "testkey", "scope", "write");
	assert_int_equal(cxi_repo_create(&db, &cxi_ent_api_key, r->account, f,
	                     NULL, why, sizeof(why)), CX_OK);
	json_decref(f);
	cxi_manager_unhold(r->mgr);
}

void
rig_up(rig *r, const char *dialer)
{
	char why[512] = "", path[PATH_MAX + 32], yaml[8192];
	uint8_t mk[CXI_MASTER_KEY_BYTES];
	unsigned char vk[32];
	char vks[64];
	cxi_errlist errs = {0};
	memset(r, 0, sizeof(*r));
	rig_live = r;
	rig_seq++;
	const char *tmp = getenv("TMPDIR");
	snprintf(r->dir, sizeof(r->dir), "%s/cxdialer.XXXXXX", tmp ? tmp :
	    P_tmpdir);
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->ns, sizeof(r->ns), "dl%d-%u", (int) getpid(), rig_seq);
	randombytes_buf(vk, sizeof(vk));
	sodium_bin2base64(vks, sizeof(vks), vk, sizeof(vk),
	    sodium_base64_VARIANT_URLSAFE);
	snprintf(path, sizeof(path), "%s/vault.keys", r->dir);
	write_file(path, vks);
	snprintf(yaml, sizeof(yaml),
	    "data_dir: %s\n"
	    "plugin_dir: %s\n"
	    "server:\n  listen: http://127.0.0.1:0\n"
	    "log:\n  level: warn\n"
	    "storage:\n  migrate: auto\n"
	    "auth:\n  argon2: {opslimit: 3, memlimit_mib: 12}\n"
	    "  hash_workers: 1\n"
	    "dialer:\n%s"
	    "plugins:\n"
	    "  - name: db\n    kind: storage\n    path: %s\n"
	    "    required: true\n"
	    "    settings:\n      %s\n"
	    "  - name: faketel\n    kind: telephony\n    path: %s\n"
	    "    required: true\n",
	    r->dir, r->dir, dialer, rig_storage_so, rig_storage_settings != NULL ?
	    rig_storage_settings : "file: callixo.db", rig_faketel_so);
	snprintf(path, sizeof(path), "%s/callixo.yaml", r->dir);
	r->cache = cxi_module_cache_new();
	assert_non_null(r->cache);
	r->cfg = cxi_config_parse(path, yaml, strlen(yaml),
	    cxi_module_cache_schema, r->cache, &errs);
	if (r->cfg == NULL) {
		fail_msg("config: %s", errs.n > 0 ? errs.msgs[0] : "?");
	}
	cxi_log_setup(CX_LOG_WARN, r->cfg->log_format);
	cxi_http_opts ho = {.listen = r->cfg->listen, .max_body = 1 << 20,
	    .request_timeout_ms = 10000, .workers = 2};
	assert_int_equal(cxi_bus_open(&r->bus, r->ns, NULL), 0);
	if (cxi_http_start(&r->http, &ho, why, sizeof(why)) != 0) {
		fail_msg("http: %s", why);
	}
	cxi_manager_opts mo = {.bus = r->bus, .bus_ns = r->ns,
	    .http = r->http, .data_dir = r->dir, .on_storage = on_storage};
	assert_int_equal(cxi_manager_new(&r->mgr, &mo), 0);
	assert_int_equal(cxi_manager_apply(r->mgr, r->cfg, NULL), 0);
	if (cxi_api_start(&r->api, r->http, r->mgr, r->cfg, why,
	        sizeof(why)) != CX_OK) {
		fail_msg("api: %s", why);
	}
	account_and_key(r);
	randombytes_buf(mk, sizeof(mk));
	if (cxi_calling_start(&r->cl, r->mgr, r->http, r->api, r->cfg, mk,
	        "test0001", why, sizeof(why)) != CX_OK) {
		fail_msg("calling: %s", why);
	}
	sodium_memzero(mk, sizeof(mk));
}

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	(void) remove(p);
	return (0);
}

int
rig_teardown(void **state)
{
	(void) state;
	if (rig_live != NULL) {
		rig_down(rig_live);
	}
	return (0);
}

void
rig_down(rig *r)
{
	rig_live = NULL;
	if (r->dir[0] == '\0') {
		return;
	}
	if (r->http != NULL) {
		cxi_http_api_routes_drop(r->http);
	}
	cxi_calling_stop(r->cl);
	cxi_api_stop(r->api);
	if (r->mgr != NULL) {
		cxi_manager_free(r->mgr);
	}
	if (r->http != NULL) {
		cxi_http_stop(r->http);
	}
	if (r->bus != NULL) {
		cxi_bus_close(r->bus);
	}
	cxi_config_free(r->cfg);
	cxi_module_cache_free(r->cache);
	nftw(r->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	memset(r, 0, sizeof(*r));
}

json_t *
rig_q(rig *r, const char *sql, const cx_db_value *p, size_t n)
{
	cxi_db db;
	cxi_dbc c;
	cx_db_rows *rows = NULL;
	assert_true(cxi_manager_db_hold(r->mgr, &db));
	assert_int_equal(cxi_db_acquire(&db, 10000, &c), CX_OK);
	cx_err rv = cxi_db_exec(&c, sql, p, n, &rows, NULL);
	if (rv != CX_OK) {
		fail_msg("%s: %s", sql, c.err.message);
	}
	json_t *out = cxi_db_rows_json(&c, rows);
	cxi_db_rows_free(&c, rows);
	cxi_db_release(&c);
	cxi_manager_unhold(r->mgr);
	return (out);
}

int64_t
rig_int(rig *r, const char *sql, const cx_db_value *p, size_t n)
{
	json_t *rows = rig_q(r, sql, p, n);
	json_t *row = json_array_get(rows, 0);
	const char *k;
	json_t *v;
	int64_t out = -1;
	json_object_foreach (row, k, v) {
		out = json_integer_value(v);
		break;
	}
	json_decref(rows);
	return (out);
}

void
rig_exec(rig *r, const char *sql, const cx_db_value *p, size_t n)
{
	cxi_db db;
	cxi_dbc c;
	assert_true(cxi_manager_db_hold(r->mgr, &db));
	assert_int_equal(cxi_db_acquire(&db, 10000, &c), CX_OK);
	if (cxi_db_exec(&c, sql, p, n, NULL, NULL) != CX_OK) {
		fail_msg("%s: %s", sql, c.err.message);
	}
	cxi_db_release(&c);
	cxi_manager_unhold(r->mgr);
}

void
rig_lead(rig *r, const char *campaign, const char *phone, const char *tz,
    char *id, size_t idlen)
{
	cxi_db db;
	char why[256] = "";
	json_t *row = NULL;
	json_t *f = json_pack("{s:s, s:s, s:s?, s:{s:s, s:i}}", "phone_e164",
	    phone, "name", "Lead", "timezone", tz, "metadata", "plan", "gold",
	    "score", 7);
	if (campaign != NULL) {
		json_object_set_new(f, "campaign_id", json_string(campaign));
	}
	assert_true(cxi_manager_db_hold(r->mgr, &db));
	cx_err rv = cxi_repo_create(&db, &cxi_ent_lead, r->account, f, &row,
	    why, sizeof(why));
	cxi_manager_unhold(r->mgr);
	if (rv != CX_OK) {
		fail_msg("lead %s: %s", phone, why);
	}
	snprintf(id, idlen, "%s", json_string_value(json_object_get(row,
	    "id")));
	json_decref(row);
	json_decref(f);
}

json_t *
rig_api(rig *r, const char *method, const char *path, const char *body,
    int *status)
{
	char url[512], auth[128];
	snprintf(url, sizeof(url), "%s%s", cxi_http_url(r->http), path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", r->key);
	const char *hdrs[] = {auth, "Content-Type: application/json", NULL};
	char *resp = NULL;
	size_t len = 0;
	assert_int_equal(cxi_httpc_do(method, url, hdrs, body, body ?
	                     strlen(body) : 0, status, &resp, &len), 0);
	json_t *j = resp != NULL ? json_loadb(resp, len, 0, NULL) : NULL;
	free(resp);
	return (j);
}

void
rig_campaign(rig *r, const char *config, int n, int base, char *id,
    size_t idlen)
{
	char body[8192], path[256], lead[64];
	int st = 0;
	snprintf(body, sizeof(body), "{\"name\":\"c%d\",\"config\":%s}", base,
	    config);
	json_t *j = rig_api(r, "POST", "/v1/campaigns", body, &st);
	if (st != 201) {
		char *dump = json_dumps(j, 0);
		fail_msg("create campaign: %d %s", st, dump ? dump : "");
	}
	snprintf(id, idlen, "%s", json_string_value(json_object_get(j, "id")));
	json_decref(j);
	json_t *ids = json_array();
	for (int i = 0; i < n; i++) {
		char phone[32];
		snprintf(phone, sizeof(phone), "+1555000%04d", base + i);
		rig_lead(r, NULL, phone, NULL, lead, sizeof(lead));
		json_array_append_new(ids, json_string(lead));
	}
	char *list = json_dumps(ids, JSON_COMPACT);
	json_decref(ids);
	snprintf(body, sizeof(body), "{\"lead_ids\":%s}", list);
	free(list);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/leads", id);
	j = rig_api(r, "POST", path, body, &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_integer_value(json_object_get(j, "attached")), n);
	json_decref(j);
	snprintf(path, sizeof(path), "/v1/campaigns/%s/start", id);
	j = rig_api(r, "POST", path, NULL, &st);
	if (st != 200) {
		char *dump = json_dumps(j, 0);
		fail_msg("start campaign: %d %s", st, dump ? dump : "");
	}
	json_decref(j);
}

json_t *
rig_fake(rig *r, const char *type, json_t *data)
{
	json_t *reply = NULL;
	assert_int_equal(cxi_manager_call(r->mgr, "faketel", type, NULL, data,
	                     5000, &reply), CX_OK);
	return (reply);
}

json_t *
rig_fake_events(rig *r, const char *op)
{
	json_t *log = rig_fake(r, "fake.log", NULL);
	json_t *out = json_array();
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(log, "events"), i, e) {
		if (op == NULL || strcmp(json_string_value(json_object_get(e,
		                             "op")), op) == 0) {
			json_array_append(out, e);
		}
	}
	json_decref(log);
	return (out);
}

bool
rig_wait(rig *r, bool (*cond)(rig *, void *), void *arg, int timeout_ms)
{
	int64_t end = rig_now() + timeout_ms;
	while (rig_now() < end) {
		if (cond(r, arg)) {
			return (true);
		}
		rig_sleep(20);
	}
	return (cond(r, arg));
}
