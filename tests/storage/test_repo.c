/*
 * test_repo.c - the repository contract suite. It runs unchanged against
 * any storage driver:
 *
 *   test_repo [plugin.so [settings]]
 *
 * or with CALLIXO_TEST_STORAGE_SO / CALLIXO_TEST_STORAGE_SETTINGS (the
 * settings YAML itself, or a file holding it; e.g. a PostgreSQL DSN). The
 * database must start empty: the suite migrates it up from nothing.
 *
 * This file: setup, migrations and CRUD of every entity with its own
 * rules. test_repo_props.c: scoping, uniqueness, transactions,
 * concurrency, pagination and hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobcrypt.h"
#include "migrate.h"
#include "repo_rig.h"

static const char *so_path, *settings;

static int
setup(void **state)
{
	(void) state;
	char why[512] = "";
	if (rig_open(so_path, settings, why, sizeof(why)) != 0) {
		fprintf(stderr, "cannot load %s: %s\n", so_path, why);
		rig_close();
		return (-1);
	}
	json_t *done = NULL;
	if (cxi_migrate_up(&rig_db, &done, why, sizeof(why)) != 0) {
		fprintf(stderr, "migrate up: %s\n", why);
		rig_close();
		return (-1);
	}
	/* From empty, every migration of the driver was applied now. */
	size_t n = 0;
	while (rig_db.ops->migrations[n].version != 0) {
		n++;
	}
	int ok = json_array_size(done) == n ? 0 : -1;
	if (ok != 0) {
		fprintf(stderr, "applied %zu of %zu migrations: the database "
		    "was not empty\n", json_array_size(done), n);
		rig_close();
	}
	json_decref(done);
	return (ok);
}

static int
teardown(void **state)
{
	(void) state;
	rig_close();
	return (0);
}

static void
test_accounts(void **state)
{
	(void) state;
	char why[256];
	json_t *a = rig_account("  Alice.Example@Example.COM "), *r = NULL;
	assert_non_null(a);
	assert_true(strncmp(ID(a), "acc_", 4) == 0 && strlen(ID(a)) == 28);
	assert_string_equal(STR(a, "email_norm"), "alice.example@example.com");
	assert_string_equal(STR(a, "role"), "customer");
	assert_true(INTV(a, "created_at") > 1600000000000LL);
	assert_int_equal(INTV(a, "created_at"), INTV(a, "updated_at"));
	assert_true(json_is_null(json_object_get(a, "closed_at")));

	EXPECT(CX_OK, cxi_account_get_by_email(&rig_db,
	                  "ALICE.example@example.com", &r));
	assert_string_equal(ID(r), ID(a));
	json_decref(r);
	EXPECT(CX_ENOENT, cxi_account_get_by_email(&rig_db, "bob@x.org", &r));

	/* Changing the email moves email_norm with it. */
	json_t *f = json_pack("{s:s, s:s}", "email", "Alice@New.Example",
	    "company", "ACME");
	EXPECT(CX_OK, cxi_repo_update(&rig_db, &cxi_ent_account, ID(a), ID(a),
	                  f, &r, why, sizeof(why)));
	json_decref(f);
	assert_string_equal(STR(r, "email_norm"), "alice@new.example");
	assert_string_equal(STR(r, "company"), "ACME");
	assert_true(INTV(r, "updated_at") >= INTV(a, "updated_at"));
	json_decref(r);

	/* The core's columns are not the caller's. */
	const char *imm[] = {"email_norm", "id", "created_at", "closed_at"};
	for (size_t i = 0; i < 4; i++) {
		f = json_pack("{s:s}", imm[i], "x");
		EXPECT(CX_EINVAL, cxi_repo_update(&rig_db, &cxi_ent_account,
		                      NULL, ID(a), f, NULL, why, sizeof(why)));
		assert_non_null(strstr(why, imm[i]));
		json_decref(f);
	}

	EXPECT(CX_OK, cxi_account_restrict(&rig_db, ID(a), true));
	EXPECT(CX_OK, cxi_account_close(&rig_db, ID(a)));
	EXPECT(CX_OK, cxi_repo_get(&rig_db, &cxi_ent_account, ID(a), ID(a), &r));
	assert_true(INTV(r, "closed_at") > 0 && INTV(r, "restricted_at") > 0);
	json_decref(r);
	EXPECT(CX_OK, cxi_account_restrict(&rig_db, ID(a), false));
	EXPECT(CX_OK, cxi_repo_get(&rig_db, &cxi_ent_account, NULL, ID(a), &r));
	assert_true(json_is_null(json_object_get(r, "restricted_at")));
	json_decref(r);
	EXPECT(CX_ENOENT, cxi_account_close(&rig_db, "acc_nope"));

	EXPECT(CX_OK, cxi_repo_delete(&rig_db, &cxi_ent_account, ID(a), ID(a)));
	EXPECT(CX_ENOENT, cxi_repo_get(&rig_db, &cxi_ent_account, NULL, ID(a),
	                      NULL));
	EXPECT(CX_ENOENT, cxi_repo_delete(&rig_db, &cxi_ent_account, NULL,
	                      ID(a)));
	json_decref(a);
}

static void
test_sessions_and_keys(void **state)
{
	(void) state;
	char why[256];
	json_t *a = rig_account(NULL), *s = NULL, *r = NULL;
	int64_t far = cxi_repo_now_ms() + 3600000, n = 0;
	json_t *f = json_pack("{s:s, s:I, s:s, s:s}", "token_hash", "th-1",
	    "expires_at", (json_int_t) far, "ip", "192.0.2.1", "user_agent",
	    "curl/8");
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_session, ID(a), f, &s,
	                  why, sizeof(why)));
	json_decref(f);
	assert_true(strncmp(ID(s), "ses_", 4) == 0);
	assert_int_equal(INTV(s, "last_seen_at"), INTV(s, "created_at"));
	EXPECT(CX_OK, cxi_session_get_by_token_hash(&rig_db, "th-1", &r));
	assert_string_equal(ID(r), ID(s));
	json_decref(r);
	EXPECT(CX_OK, cxi_session_touch(&rig_db, ID(s)));
	/* An expired session is as good as none. */
	f = json_pack("{s:s, s:I}", "token_hash", "th-old", "expires_at",
	    (json_int_t) 1000);
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_session, ID(a), f, NULL,
	                  why, sizeof(why)));
	json_decref(f);
	EXPECT(CX_ENOENT, cxi_session_get_by_token_hash(&rig_db, "th-old", NULL));
	EXPECT(CX_OK, cxi_session_revoke(&rig_db, ID(a), ID(s)));
	EXPECT(CX_OK, cxi_session_revoke(&rig_db, ID(a), ID(s)));
	EXPECT(CX_ENOENT, cxi_session_get_by_token_hash(&rig_db, "th-1", NULL));
	EXPECT(CX_ENOENT, cxi_session_touch(&rig_db, ID(s)));
	EXPECT(CX_OK, cxi_session_revoke_all(&rig_db, ID(a), &n));
	assert_int_equal(n, 1); /* th-old; th-1 was revoked already */
	EXPECT(CX_OK, cxi_repo_delete(&rig_db, &cxi_ent_session, ID(a), ID(s)));
	json_decref(s);

	json_t *k = NULL;
	f = json_pack("{s:s, s:s, s:s, s:s}", "name", "ci", "key_hash", "kh-1",
	    "prefix", "cx_live_ab", "scope", "write");
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_api_key, ID(a), f, &k,
	                  why, sizeof(why)));
	json_decref(f);
	assert_true(strncmp(ID(k), "key_", 4) == 0);
	EXPECT(CX_OK, cxi_api_key_get_by_hash(&rig_db, "kh-1", &r));
	assert_string_equal(STR(r, "scope"), "write");
	json_decref(r);
	f = json_pack("{s:s}", "scope", "admin");
	EXPECT(CX_EINVAL, cxi_repo_update(&rig_db, &cxi_ent_api_key, ID(a),
	                      ID(k), f, NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "scope"));
	json_decref(f);
	f = json_pack("{s:s}", "name", "renamed");
	EXPECT(CX_OK, cxi_repo_update(&rig_db, &cxi_ent_api_key, ID(a), ID(k),
	                  f, &r, why, sizeof(why)));
	assert_string_equal(STR(r, "name"), "renamed");
	json_decref(r);
	json_decref(f);
	EXPECT(CX_OK, cxi_api_key_revoke(&rig_db, ID(a), ID(k)));
	EXPECT(CX_ENOENT, cxi_api_key_get_by_hash(&rig_db, "kh-1", NULL));
	EXPECT(CX_OK, cxi_repo_delete(&rig_db, &cxi_ent_api_key, ID(a), ID(k)));
	json_decref(k);
	json_decref(a);
}

static void
test_credentials_and_keys(void **state)
{
	(void) state;
	char why[256];
	json_t *a = rig_account(NULL), *c = NULL, *r = NULL, *page = NULL;
	json_t *f = json_pack("{s:s, s:s, s:s, s:s}", "provider", "twilio",
	    "name", "main", "secret_enc", "v1:ciphertext-bytes", "last4",
	    "9f3a");
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_credential, ID(a), f,
	                  &c, why, sizeof(why)));
	json_decref(f);
	assert_null(json_object_get(c, "secret_enc"));
	assert_string_equal(STR(c, "last4"), "9f3a");
	EXPECT(CX_OK, cxi_repo_list(&rig_db, &cxi_ent_credential, ID(a), NULL,
	                  NULL, 0, &page, why, sizeof(why)));
	json_t *it = json_array_get(json_object_get(page, "items"), 0);
	assert_non_null(it);
	assert_null(json_object_get(it, "secret_enc"));
	json_decref(page);
	char *sec = NULL;
	EXPECT(CX_OK, cxi_credential_secret(&rig_db, ID(a), ID(c), &sec));
	assert_string_equal(sec, "v1:ciphertext-bytes");
	free(sec);
	f = json_pack("{s:s, s:s}", "secret_enc", "v1:rotated", "last4", "0000");
	EXPECT(CX_OK, cxi_repo_update(&rig_db, &cxi_ent_credential, ID(a),
	                  ID(c), f, &r, why, sizeof(why)));
	json_decref(f);
	assert_null(json_object_get(r, "secret_enc"));
	json_decref(r);
	EXPECT(CX_OK, cxi_credential_secret(&rig_db, ID(a), ID(c), &sec));
	assert_string_equal(sec, "v1:rotated");
	free(sec);
	EXPECT(CX_OK, cxi_repo_delete(&rig_db, &cxi_ent_credential, ID(a),
	                  ID(c)));
	EXPECT(CX_ENOENT, cxi_credential_secret(&rig_db, ID(a), ID(c), &sec));
	json_decref(c);

	/* The keystore: bytes with NULs round-trip, one key per account.
	 * The functions are exactly what blob encryption plugs in. */
	const cxi_keystore ks = {cxi_account_key_get, cxi_account_key_put,
	    cxi_account_key_del, &rig_db};
	assert_ptr_equal(ks.arg, &rig_db);
	const uint8_t w[] = {0, 1, 2, 0, 255, 0, 7};
	uint8_t *got = NULL;
	size_t len = 0;
	char kid[33];
	EXPECT(CX_ENOENT, cxi_account_key_get(&rig_db, ID(a), &got, &len, kid,
	                      sizeof(kid)));
	EXPECT(CX_OK, cxi_account_key_put(&rig_db, ID(a), w, sizeof(w),
	                  "a1b2c3d4"));
	EXPECT(CX_EEXIST, cxi_account_key_put(&rig_db, ID(a), w, 3, "ffff0000"));
	EXPECT(CX_OK, cxi_account_key_get(&rig_db, ID(a), &got, &len, kid,
	                  sizeof(kid)));
	assert_int_equal(len, sizeof(w));
	assert_memory_equal(got, w, sizeof(w));
	assert_string_equal(kid, "a1b2c3d4");
	free(got);
	EXPECT(CX_OK, cxi_account_key_del(&rig_db, ID(a)));
	EXPECT(CX_OK, cxi_account_key_del(&rig_db, ID(a)));
	EXPECT(CX_ENOENT, cxi_account_key_get(&rig_db, ID(a), &got, &len, kid,
	                      sizeof(kid)));
	json_decref(a);
}

static void
test_campaigns_leads_calls(void **state)
{
	(void) state;
	char why[256];
	json_t *a = rig_account(NULL), *cmp = NULL, *r = NULL;
	json_t *f = json_pack("{s:s, s:{s:i, s:[s]}}", "name", "Spring",
	    "config", "max_attempts", 3, "voices", "alloy");
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_campaign, ID(a), f,
	                  &cmp, why, sizeof(why)));
	json_decref(f);
	assert_string_equal(STR(cmp, "status"), "draft");
	assert_int_equal(INTV(json_object_get(cmp, "config"), "max_attempts"),
	    3);
	f = json_pack("{s:s}", "status", "running");
	EXPECT(CX_EINVAL, cxi_repo_update(&rig_db, &cxi_ent_campaign, ID(a),
	                      ID(cmp), f, NULL, why, sizeof(why)));
	json_decref(f);
	EXPECT(CX_EINVAL, cxi_campaign_set_status(&rig_db, ID(a), ID(cmp),
	                      "paused", NULL, NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "draft"));
	const char *path[] = {"running", "paused", "running", "completed"};
	for (size_t i = 0; i < 4; i++) {
		EXPECT(CX_OK, cxi_campaign_set_status(&rig_db, ID(a), ID(cmp),
		                  path[i], "ops", &r, why, sizeof(why)));
		assert_string_equal(STR(r, "status"), path[i]);
		json_decref(r);
	}
	EXPECT(CX_EINVAL, cxi_campaign_set_status(&rig_db, ID(a), ID(cmp),
	                      "cancelled", NULL, NULL, why, sizeof(why)));
	EXPECT(CX_EINVAL, cxi_campaign_set_status(&rig_db, ID(a), ID(cmp),
	                      "bogus", NULL, NULL, why, sizeof(why)));

	/* Leads: one batch with a duplicate inside and one already there. */
	json_t *batch = json_pack("[{s:s, s:s, s:[s]}, {s:s}, {s:s}, {s:s}]",
	    "phone_e164", "+15550000001", "campaign_id", ID(cmp), "tags", "vip",
	    "phone_e164", "+15550000002", "phone_e164", "+15550000001",
	    "phone_e164", "+15550000003");
	size_t ins = 0, skip = 0;
	EXPECT(CX_OK, cxi_lead_bulk_insert(&rig_db, ID(a), batch, &ins, &skip,
	                  why, sizeof(why)));
	assert_int_equal(ins, 3);
	assert_int_equal(skip, 1);
	EXPECT(CX_OK, cxi_lead_bulk_insert(&rig_db, ID(a), batch, &ins, &skip,
	                  why, sizeof(why)));
	assert_int_equal(ins, 0);
	assert_int_equal(skip, 4);
	json_decref(batch);
	/* One bad item refuses the batch: nothing of it is written. */
	int64_t before = rig_count("leads");
	batch = json_pack("[{s:s}, {s:s}]", "phone_e164", "+15550000009",
	    "phone_e164", "555-CALL-NOW");
	EXPECT(CX_EINVAL, cxi_lead_bulk_insert(&rig_db, ID(a), batch, &ins,
	                      &skip, why, sizeof(why)));
	assert_non_null(strstr(why, "lead 1"));
	assert_int_equal(rig_count("leads"), before);
	json_decref(batch);

	json_t *page = NULL, *flt = json_pack("{s:s}", "phone_e164",
	    "+15550000001");
	EXPECT(CX_OK, cxi_repo_list(&rig_db, &cxi_ent_lead, ID(a), flt, NULL, 0,
	                  &page, why, sizeof(why)));
	json_decref(flt);
	json_t *lead = json_incref(json_array_get(json_object_get(page,
	    "items"), 0));
	json_decref(page);
	assert_string_equal(STR(lead, "campaign_id"), ID(cmp));
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(lead, "tags"), 0)), "vip");

	/* Calls: one per (campaign, lead, attempt). */
	json_t *call = NULL;
	f = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "campaign_id", ID(cmp),
	    "lead_id", ID(lead), "attempt", 1, "provider", "twilio",
	    "provider_call_id", "CA123", "to_number", "+15550000001");
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_call, ID(a), f, &call,
	                  why, sizeof(why)));
	assert_string_equal(STR(call, "status"), "queued");
	json_object_set_new(f, "provider_call_id", json_string("CA124"));
	EXPECT(CX_EEXIST, cxi_repo_create(&rig_db, &cxi_ent_call, ID(a), f,
	                      NULL, why, sizeof(why)));
	assert_string_equal(why, "this attempt was already dispatched for "
	                         "the lead");
	json_object_set_new(f, "attempt", json_integer(2));
	json_object_set_new(f, "provider_call_id", json_string("CA123"));
	EXPECT(CX_EEXIST, cxi_repo_create(&rig_db, &cxi_ent_call, ID(a), f,
	                      NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "provider call id"));
	json_decref(f);
	EXPECT(CX_OK, cxi_call_get_by_provider(&rig_db, "twilio", "CA123", &r));
	assert_string_equal(ID(r), ID(call));
	json_decref(r);
	EXPECT(CX_ENOENT, cxi_call_get_by_provider(&rig_db, "twilio", "CA9",
	                      NULL));
	f = json_pack("{s:s, s:i, s:{s:s}}", "status", "completed",
	    "duration_ms", 61000, "analysis", "intent", "buy");
	EXPECT(CX_OK, cxi_repo_update(&rig_db, &cxi_ent_call, ID(a), ID(call),
	                  f, &r, why, sizeof(why)));
	json_decref(f);
	assert_string_equal(STR(json_object_get(r, "analysis"), "intent"),
	    "buy");
	json_decref(r);
	EXPECT(CX_OK, cxi_repo_delete(&rig_db, &cxi_ent_call, ID(a), ID(call)));
	EXPECT(CX_OK, cxi_repo_delete(&rig_db, &cxi_ent_lead, ID(a), ID(lead)));
	EXPECT(CX_OK, cxi_repo_delete(&rig_db, &cxi_ent_campaign, ID(a),
	                  ID(cmp)));
	json_decref(call);
	json_decref(lead);
	json_decref(cmp);
	json_decref(a);
}

static void
test_usage_audit_privacy(void **state)
{
	(void) state;
	char why[256];
	json_t *a = rig_account(NULL), *r = NULL, *page = NULL;
	int64_t t0 = cxi_repo_now_ms(), n = 0;
	EXPECT(CX_OK, cxi_usage_record(&rig_db, ID(a), "call.start", "::1"));
	EXPECT(CX_OK, cxi_usage_record(&rig_db, ID(a), "call.start", NULL));
	EXPECT(CX_OK, cxi_usage_record(&rig_db, NULL, "signup", "192.0.2.9"));
	EXPECT(CX_OK, cxi_usage_count(&rig_db, ID(a), "call.start", t0, &n));
	assert_int_equal(n, 2);
	EXPECT(CX_OK, cxi_repo_list(&rig_db, &cxi_ent_usage, ID(a), NULL, NULL,
	                  0, &page, why, sizeof(why)));
	json_t *u = json_array_get(json_object_get(page, "items"), 0);
	assert_true(strncmp(ID(u), "use_", 4) == 0);
	EXPECT(CX_ENOTSUP, cxi_repo_delete(&rig_db, &cxi_ent_usage, ID(a),
	                       ID(u)));
	json_decref(page);

	json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "actor_id",
	    "acc_staff", "actor_role", "staff", "action", "account.restrict",
	    "object_type", "account", "object_id", ID(a), "subject_id", ID(a));
	EXPECT(CX_OK, cxi_audit_append(&rig_db, f, why, sizeof(why)));
	json_object_set_new(f, "action", json_string("account.view"));
	EXPECT(CX_OK, cxi_audit_append(&rig_db, f, why, sizeof(why)));
	json_decref(f);
	EXPECT(CX_OK, cxi_audit_list_subject(&rig_db, ID(a), NULL, 0, &page));
	json_t *items = json_object_get(page, "items");
	assert_int_equal(json_array_size(items), 2);
	/* Two entries of the same millisecond order by their (random) id,
	 * so only the set is certain. */
	const char *a0 = STR(json_array_get(items, 0), "action");
	const char *a1 = STR(json_array_get(items, 1), "action");
	assert_true((strcmp(a0, "account.restrict") == 0 &&
	                strcmp(a1, "account.view") == 0) ||
	    (strcmp(a1, "account.restrict") == 0 &&
	        strcmp(a0, "account.view") == 0));
	f = json_pack("{s:s}", "reason", "edited");
	EXPECT(CX_EINVAL, cxi_repo_update(&rig_db, &cxi_ent_audit, NULL,
	                      ID(json_array_get(items, 0)), f, NULL, why,
	                      sizeof(why)));
	json_decref(f);
	EXPECT(CX_ENOTSUP, cxi_repo_delete(&rig_db, &cxi_ent_audit, NULL,
	                       ID(json_array_get(items, 0))));
	json_decref(page);

	f = json_pack("{s:s, s:s}", "kind", "erase", "detail", "all of it");
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_privacy, ID(a), f, &r,
	                  why, sizeof(why)));
	json_decref(f);
	assert_string_equal(STR(r, "state"), "received");
	assert_int_equal(INTV(r, "due_at"),
	    INTV(r, "created_at") + 30LL * 24 * 3600 * 1000);
	char id[64];
	snprintf(id, sizeof(id), "%s", ID(r));
	json_decref(r);
	EXPECT(CX_EINVAL, cxi_privacy_set_state(&rig_db, ID(a), id, "done",
	                      NULL, NULL, why, sizeof(why)));
	EXPECT(CX_OK, cxi_privacy_set_state(&rig_db, ID(a), id, "in_progress",
	                  NULL, NULL, why, sizeof(why)));
	EXPECT(CX_OK, cxi_privacy_set_state(&rig_db, ID(a), id, "done",
	                  "erased 12 rows", &r, why, sizeof(why)));
	assert_string_equal(STR(r, "detail"), "erased 12 rows");
	json_decref(r);
	EXPECT(CX_EINVAL, cxi_privacy_set_state(&rig_db, ID(a), id, "rejected",
	                      NULL, NULL, why, sizeof(why)));
	f = json_pack("{s:s}", "kind", "forget-me");
	EXPECT(CX_EINVAL, cxi_repo_create(&rig_db, &cxi_ent_privacy, ID(a), f,
	                      NULL, why, sizeof(why)));
	json_decref(f);
	EXPECT(CX_OK, cxi_repo_delete(&rig_db, &cxi_ent_privacy, ID(a), id));
	json_decref(a);
}

static void
test_payments_ledger(void **state)
{
	(void) state;
	char why[256];
	json_t *a = rig_account(NULL), *p = NULL, *r = NULL;
	json_t *f = json_pack("{s:s, s:s, s:s, s:s}", "chain", "tron",
	    "tx_hash", "0xabc", "asset", "USDT", "amount",
	    "123456789012345678901234567890");
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_payment, ID(a), f, &p,
	                  why, sizeof(why)));
	json_decref(f);
	assert_string_equal(STR(p, "amount"), "123456789012345678901234567890");
	assert_string_equal(STR(p, "state"), "pending");
	EXPECT(CX_EINVAL, cxi_ledger_credit_payment(&rig_db, ID(a), ID(p),
	                      5000000, "USD", why, sizeof(why)));
	assert_non_null(strstr(why, "pending"));
	f = json_pack("{s:s}", "state", "credited");
	EXPECT(CX_EINVAL, cxi_repo_update(&rig_db, &cxi_ent_payment, ID(a),
	                      ID(p), f, NULL, why, sizeof(why)));
	json_decref(f);
	f = json_pack("{s:s, s:i}", "state", "confirmed", "confirmations", 20);
	EXPECT(CX_OK, cxi_repo_update(&rig_db, &cxi_ent_payment, ID(a), ID(p),
	                  f, NULL, why, sizeof(why)));
	json_decref(f);
	EXPECT(CX_OK, cxi_ledger_credit_payment(&rig_db, ID(a), ID(p), 5000000,
	                  "USD", why, sizeof(why)));
	EXPECT(CX_EEXIST, cxi_ledger_credit_payment(&rig_db, ID(a), ID(p),
	                      5000000, "USD", why, sizeof(why)));
	EXPECT(CX_OK, cxi_repo_get(&rig_db, &cxi_ent_payment, ID(a), ID(p), &r));
	assert_string_equal(STR(r, "state"), "credited");
	json_decref(r);

	int64_t bal = 0;
	bool created = false;
	cxi_ledger_entry e = {-1250000, "USD", "debit", "call", "call_x1"};
	EXPECT(CX_OK, cxi_ledger_append(&rig_db, ID(a), &e, &created, why,
	                  sizeof(why)));
	assert_true(created);
	EXPECT(CX_OK, cxi_ledger_append(&rig_db, ID(a), &e, &created, why,
	                  sizeof(why)));
	assert_false(created);
	EXPECT(CX_OK, cxi_ledger_balance(&rig_db, ID(a), NULL, &bal));
	assert_int_equal(bal, 3750000);
	EXPECT(CX_OK, cxi_ledger_balance(&rig_db, ID(a), "EUR", &bal));
	assert_int_equal(bal, 0);
	json_t *page = NULL;
	EXPECT(CX_OK, cxi_repo_list(&rig_db, &cxi_ent_ledger, ID(a), NULL, NULL,
	                  0, &page, why, sizeof(why)));
	assert_int_equal(json_array_size(json_object_get(page, "items")), 2);
	EXPECT(CX_ENOTSUP, cxi_repo_delete(&rig_db, &cxi_ent_ledger, ID(a),
	                       ID(json_array_get(json_object_get(page, "items"),
	                           0))));
	json_decref(page);
	EXPECT(CX_OK, cxi_repo_delete(&rig_db, &cxi_ent_payment, ID(a), ID(p)));
	json_decref(p);
	json_decref(a);
}

static void
test_migrations(void **state)
{
	(void) state;
	char why[256];
	json_t *st = NULL;
	assert_int_equal(cxi_migrate_status(&rig_db, &st, why, sizeof(why)), 0);
	assert_true(json_is_true(json_object_get(st, "ok")));
	assert_int_equal(INTV(st, "pending"), 0);
	assert_int_equal(INTV(st, "current"), INTV(st, "latest"));
	size_t i;
	json_t *m;
	json_array_foreach (json_object_get(st, "migrations"), i, m) {
		assert_string_equal(STR(m, "state"), "applied");
	}
	json_decref(st);
}

int
main(int argc, char **argv)
{
	so_path = argc > 1 ? argv[1] : getenv("CALLIXO_TEST_STORAGE_SO");
	settings = argc > 2 ? argv[2] : getenv("CALLIXO_TEST_STORAGE_SETTINGS");
	if (so_path == NULL || so_path[0] == '\0') {
		fprintf(stderr, "usage: %s plugin.so [settings-yaml] (or "
		    "CALLIXO_TEST_STORAGE_SO, CALLIXO_TEST_STORAGE_SETTINGS)\n",
		    argv[0]);
		return (2);
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_migrations),
	    cmocka_unit_test(test_accounts),
	    cmocka_unit_test(test_sessions_and_keys),
	    cmocka_unit_test(test_credentials_and_keys),
	    cmocka_unit_test(test_campaigns_leads_calls),
	    cmocka_unit_test(test_usage_audit_privacy),
	    cmocka_unit_test(test_payments_ledger),
	    cmocka_unit_test(test_scoping),
	    cmocka_unit_test(test_unique),
	    cmocka_unit_test(test_tx_rollback),
	    cmocka_unit_test(test_concurrency),
	    cmocka_unit_test(test_pagination),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_hostile_text_everywhere),
	    cmocka_unit_test(test_migrations_again),
	    /* Last: it leaves a fake future row until it removes it. */
	    cmocka_unit_test(test_newer_schema),
	};
	return (cmocka_run_group_tests(tests, setup, teardown));
}
