/*
 * test_repo_props.c - the repository's guarantees, whatever the driver:
 * account scoping, unique constraints, transactions, concurrent writers,
 * cursor pagination, hostile input and the migration bookkeeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"
#include "repo_rig.h"

/* One object of each scoped entity, owned by `a`; ids in out[]. */
typedef struct owned {
	const cxi_entity *ent;
	const char *upd; /* an updatable field, or NULL */
	char id[64];
} owned;

static void
make_owned(const char *a, owned *o, size_t n)
{
	char why[256];
	json_t *cmp = NULL, *lead = NULL, *row = NULL;
	for (size_t i = 0; i < n; i++) {
		json_t *f = NULL;
		const cxi_entity *e = o[i].ent;
		if (e == &cxi_ent_campaign) {
			f = json_pack("{s:s}", "name", "c");
		} else if (e == &cxi_ent_lead) {
			f = json_pack("{s:s, s:s}", "phone_e164", "+4930123456",
			    "campaign_id", ID(cmp));
		} else if (e == &cxi_ent_call) {
			f = json_pack("{s:s, s:s, s:s, s:s}", "provider", "p",
			    "to_number", "+4930123456", "lead_id", ID(lead),
			    "campaign_id", ID(cmp));
		} else if (e == &cxi_ent_payment) {
			f = json_pack("{s:s, s:s, s:s, s:s}", "chain", "eth",
			    "tx_hash", a, "asset", "USDC", "amount", "1");
		} else if (e == &cxi_ent_credential) {
			f = json_pack("{s:s, s:s, s:s, s:s}", "provider", "p",
			    "name", "n", "secret_enc", "s", "last4", "1234");
		} else if (e == &cxi_ent_session) {
			f = json_pack("{s:s, s:I}", "token_hash", a,
			    "expires_at", (json_int_t) 9e12);
		} else if (e == &cxi_ent_api_key) {
			f = json_pack("{s:s, s:s, s:s, s:s}", "name", "k",
			    "key_hash", a, "prefix", "cx_", "scope", "read");
		} else if (e == &cxi_ent_privacy) {
			f = json_pack("{s:s}", "kind", "access");
		}
		assert_non_null(f);
		EXPECT(CX_OK, cxi_repo_create(&rig_db, e, a, f, &row, why,
		                  sizeof(why)));
		snprintf(o[i].id, sizeof(o[i].id), "%s", ID(row));
		json_decref(f);
		if (e == &cxi_ent_campaign) {
			cmp = row;
		} else if (e == &cxi_ent_lead) {
			lead = row;
		} else {
			json_decref(row);
		}
	}
	json_decref(cmp);
	json_decref(lead);
}

void
test_scoping(void **state)
{
	(void) state;
	char why[256];
	json_t *a = rig_account(NULL), *b = rig_account(NULL), *r = NULL;
	owned o[] = {{&cxi_ent_campaign, "name", ""},
	    {&cxi_ent_lead, "name", ""}, {&cxi_ent_call, "status", ""},
	    {&cxi_ent_payment, "confirmations", ""},
	    {&cxi_ent_credential, "name", ""}, {&cxi_ent_session, NULL, ""},
	    {&cxi_ent_api_key, "name", ""}, {&cxi_ent_privacy, "detail", ""}};
	size_t n = sizeof(o) / sizeof(o[0]);
	make_owned(ID(a), o, n);
	for (size_t i = 0; i < n; i++) {
		const cxi_entity *e = o[i].ent;
		json_t *page = NULL;
		EXPECT(CX_ENOENT, cxi_repo_get(&rig_db, e, ID(b), o[i].id, &r));
		if (o[i].upd != NULL) {
			json_t *f = json_object();
			json_object_set_new(f, o[i].upd,
			    e == &cxi_ent_payment ? json_integer(9) :
			                            json_string("hijacked"));
			EXPECT(CX_ENOENT, cxi_repo_update(&rig_db, e, ID(b),
			                      o[i].id, f, NULL, why, sizeof(why)));
			json_decref(f);
		}
		EXPECT(CX_ENOENT, cxi_repo_delete(&rig_db, e, ID(b), o[i].id));
		EXPECT(CX_OK, cxi_repo_list(&rig_db, e, ID(b), NULL, NULL, 0,
		                  &page, why, sizeof(why)));
		assert_int_equal(json_array_size(json_object_get(page,
		                     "items")), 0);
		json_decref(page);
		/* Still there, unchanged, for its owner. */
		EXPECT(CX_OK, cxi_repo_get(&rig_db, e, ID(a), o[i].id, &r));
		if (o[i].upd != NULL && e != &cxi_ent_payment) {
			const char *v = STR(r, o[i].upd);
			assert_true(v == NULL || strcmp(v, "hijacked") != 0);
		}
		json_decref(r);
	}
	EXPECT(CX_ENOENT, cxi_repo_get(&rig_db, &cxi_ent_account, ID(b), ID(a),
	                      NULL));
	EXPECT(CX_ENOENT, cxi_session_revoke(&rig_db, ID(b), o[5].id));
	EXPECT(CX_ENOENT, cxi_api_key_revoke(&rig_db, ID(b), o[6].id));
	EXPECT(CX_ENOENT, cxi_campaign_set_status(&rig_db, ID(b), o[0].id,
	                      "running", NULL, NULL, why, sizeof(why)));
	char *sec = NULL;
	EXPECT(CX_ENOENT, cxi_credential_secret(&rig_db, ID(b), o[4].id, &sec));
	/* B cannot hang its own objects on A's. */
	json_t *f = json_pack("{s:s, s:s}", "phone_e164", "+4930999",
	    "campaign_id", o[0].id);
	EXPECT(CX_EINVAL, cxi_repo_create(&rig_db, &cxi_ent_lead, ID(b), f,
	                      NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "campaign_id"));
	json_decref(f);
	EXPECT(CX_ENOENT, cxi_ledger_credit_payment(&rig_db, ID(b), o[3].id, 1,
	                      "USD", why, sizeof(why)));
	json_decref(a);
	json_decref(b);
}

void
test_unique(void **state)
{
	(void) state;
	char why[256];
	json_t *a = rig_account("Dup@Example.io"), *b = rig_account(NULL);
	int64_t n = rig_count("accounts");
	json_t *f = json_pack("{s:s, s:s, s:s}", "name", "Other", "email",
	    " dup@EXAMPLE.IO", "password_hash", "h");
	EXPECT(CX_EEXIST, cxi_repo_create(&rig_db, &cxi_ent_account, NULL, f,
	                      NULL, why, sizeof(why)));
	assert_string_equal(why, "an account with this email address "
	                         "already exists");
	json_decref(f);
	assert_int_equal(rig_count("accounts"), n);

	/* Same (chain, tx_hash) twice, even from another account. */
	f = json_pack("{s:s, s:s, s:s, s:s}", "chain", "btc", "tx_hash", "ff00",
	    "asset", "BTC", "amount", "100");
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_payment, ID(a), f, NULL,
	                  why, sizeof(why)));
	n = rig_count("payments");
	EXPECT(CX_EEXIST, cxi_repo_create(&rig_db, &cxi_ent_payment, ID(a), f,
	                      NULL, why, sizeof(why)));
	assert_string_equal(why, "payment already recorded for this chain and "
	                         "tx_hash");
	EXPECT(CX_EEXIST, cxi_repo_create(&rig_db, &cxi_ent_payment, ID(b), f,
	                      NULL, why, sizeof(why)));
	assert_int_equal(rig_count("payments"), n);
	json_decref(f);

	f = json_pack("{s:s, s:s, s:s, s:s}", "provider", "vonage", "name",
	    "x", "secret_enc", "s", "last4", "0001");
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_credential, ID(a), f,
	                  NULL, why, sizeof(why)));
	EXPECT(CX_EEXIST, cxi_repo_create(&rig_db, &cxi_ent_credential, ID(a),
	                      f, NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "provider and name"));
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_credential, ID(b), f,
	                  NULL, why, sizeof(why)));
	json_decref(f);

	f = json_pack("{s:i, s:s, s:s, s:s, s:s}", "amount_micros", 5,
	    "currency", "USD", "kind", "credit", "ref_type", "promo", "ref_id",
	    "p1");
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_ledger, ID(a), f, NULL,
	                  why, sizeof(why)));
	EXPECT(CX_EEXIST, cxi_repo_create(&rig_db, &cxi_ent_ledger, ID(a), f,
	                      NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "ledger entry already recorded"));
	json_decref(f);
	json_decref(a);
	json_decref(b);
}

typedef struct rb {
	const char *account, *payment;
	int variant;
} rb;

static cx_err
rollback_fn(cxi_dbc *c, void *arg)
{
	rb *x = arg;
	char why[256];
	cxi_ledger_entry e = {777, "USD", "credit", "payment", x->payment};
	cx_err rv = cxi_ledger_append_c(c, x->account, &e, NULL, why,
	    sizeof(why));
	if (rv != CX_OK) {
		return (CX_EINTERNAL); /* not the failure under test */
	}
	if (x->variant == 0) {
		/* The second statement fails in the database (CHECK). */
		cx_db_value p[] = {CX_DB_V_TEXT("bogus"),
		    CX_DB_V_TEXT(x->payment)};
		return (cxi_db_exec(c, "UPDATE payments SET state = $1 WHERE "
		                       "id = $2",
		    p, 2, NULL, NULL));
	}
	/* ... or in the repository's own checks. */
	json_t *f = json_pack("{s:s}", "chain", "changed");
	rv = cxi_repo_update_c(c, &cxi_ent_payment, x->account, x->payment, f,
	    NULL, NULL, why, sizeof(why));
	json_decref(f);
	return (rv);
}

void
test_tx_rollback(void **state)
{
	(void) state;
	char why[256];
	json_t *a = rig_account(NULL), *p = NULL, *r = NULL;
	json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s}", "chain", "sol",
	    "tx_hash", "rb1", "asset", "USDC", "amount", "9", "state",
	    "confirmed");
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_payment, ID(a), f, &p,
	                  why, sizeof(why)));
	json_decref(f);
	int64_t n = rig_count("ledger_entries"), bal = -1;
	for (int v = 0; v < 2; v++) {
		rb x = {ID(a), ID(p), v};
		cx_db_error err;
		cx_err rv = cxi_db_tx(&rig_db, 0, rollback_fn, &x, &err);
		assert_int_not_equal(rv, CX_OK);
		assert_int_not_equal(rv, CX_EINTERNAL);
		assert_int_equal(rig_count("ledger_entries"), n);
		EXPECT(CX_OK, cxi_ledger_balance(&rig_db, ID(a), NULL, &bal));
		assert_int_equal(bal, 0);
		EXPECT(CX_OK, cxi_repo_get(&rig_db, &cxi_ent_payment, ID(a),
		                  ID(p), &r));
		assert_string_equal(STR(r, "state"), "confirmed");
		assert_string_equal(STR(r, "chain"), "sol");
		json_decref(r);
	}
	json_decref(p);
	json_decref(a);
}

#define THREADS 8
#define ROUNDS 25

typedef struct conc {
	const char *account, *payment;
	int thread, round;
} conc;

static atomic_int conc_failures;

static cx_err
conc_fn(cxi_dbc *c, void *arg)
{
	conc *x = arg;
	char ref[64], why[256];
	snprintf(ref, sizeof(ref), "t%d-r%d", x->thread, x->round);
	cxi_ledger_entry e = {1000, "USD", "credit", "topup", ref};
	bool created = false;
	cx_err rv = cxi_ledger_append_c(c, x->account, &e, &created, why,
	    sizeof(why));
	if (rv != CX_OK) {
		return (rv);
	}
	/* An increment in the statement itself cannot lose an update at
	 * any isolation level; the transaction makes it atomic with the
	 * ledger entry. */
	cx_db_value p[] = {CX_DB_V_TEXT(x->payment)};
	return (cxi_db_exec(c, "UPDATE payments SET confirmations = "
	                       "confirmations + 1 WHERE id = $1",
	    p, 1, NULL, NULL));
}

static void *
conc_thread(void *arg)
{
	conc x = *(conc *) arg;
	for (x.round = 0; x.round < ROUNDS; x.round++) {
		cx_db_error err;
		if (cxi_db_tx(&rig_db, 100, conc_fn, &x, &err) != CX_OK) {
			fprintf(stderr, "thread %d round %d: %s (%s)\n",
			    x.thread, x.round, err.message,
			    cxi_db_errclass_name(err.cls));
			atomic_fetch_add(&conc_failures, 1);
		}
	}
	return (NULL);
}

void
test_concurrency(void **state)
{
	(void) state;
	char why[256];
	json_t *a = rig_account(NULL), *p = NULL, *r = NULL;
	json_t *f = json_pack("{s:s, s:s, s:s, s:s}", "chain", "eth",
	    "tx_hash", "conc", "asset", "ETH", "amount", "1");
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_payment, ID(a), f, &p,
	                  why, sizeof(why)));
	json_decref(f);
	pthread_t th[THREADS];
	conc args[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i] = (conc){ID(a), ID(p), i, 0};
		assert_int_equal(pthread_create(&th[i], NULL, conc_thread,
		                     &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
	}
	assert_int_equal(atomic_load(&conc_failures), 0);
	int64_t bal = 0;
	EXPECT(CX_OK, cxi_ledger_balance(&rig_db, ID(a), "USD", &bal));
	assert_int_equal(bal, THREADS * ROUNDS * 1000);
	EXPECT(CX_OK, cxi_repo_get(&rig_db, &cxi_ent_payment, ID(a), ID(p), &r));
	assert_int_equal(INTV(r, "confirmations"), THREADS * ROUNDS);
	json_decref(r);
	json_decref(p);
	json_decref(a);
}

void
test_pagination(void **state)
{
	(void) state;
	char why[256];
	json_t *a = rig_account(NULL), *batch = json_array(), *seen =
	    json_object();
	for (int i = 0; i < 57; i++) {
		char ph[24];
		snprintf(ph, sizeof(ph), "+1555%07d", i);
		json_array_append_new(batch, json_pack("{s:s}", "phone_e164",
		                                 ph));
	}
	size_t ins, skip;
	/* One transaction: most rows share a created_at, so the id must
	 * break ties for the keyset to be exact. */
	EXPECT(CX_OK, cxi_lead_bulk_insert(&rig_db, ID(a), batch, &ins, &skip,
	                  why, sizeof(why)));
	assert_int_equal(ins, 57);
	json_decref(batch);
	char cur[256] = "";
	int pages = 0;
	do {
		json_t *page = NULL, *flt = json_pack("{s:s}", "status", "new");
		EXPECT(CX_OK, cxi_repo_list(&rig_db, &cxi_ent_lead, ID(a), flt,
		                  cur[0] ? cur : NULL, 10, &page, why,
		                  sizeof(why)));
		json_decref(flt);
		size_t i;
		json_t *it;
		json_array_foreach (json_object_get(page, "items"), i, it) {
			assert_null(json_object_get(seen, ID(it)));
			json_object_set_new(seen, ID(it), json_true());
		}
		const char *nc = STR(page, "next_cursor");
		snprintf(cur, sizeof(cur), "%s", nc ? nc : "");
		json_decref(page);
		pages++;
	} while (cur[0] != '\0' && pages < 100);
	assert_int_equal(json_object_size(seen), 57);
	assert_int_equal(pages, 6);
	json_decref(seen);
	json_t *page = NULL;
	EXPECT(CX_OK, cxi_repo_list(&rig_db, &cxi_ent_lead, ID(a), NULL, NULL,
	                  57, &page, why, sizeof(why)));
	assert_int_equal(json_array_size(json_object_get(page, "items")), 57);
	assert_true(json_is_null(json_object_get(page, "next_cursor")));
	json_decref(page);
	const char *bad[] = {"!!!", "bm90LWEtY3Vyc29y", "MTIzOmFiYydvcg",
	    ""};
	for (size_t i = 0; i < 4; i++) {
		EXPECT(CX_EINVAL, cxi_repo_list(&rig_db, &cxi_ent_lead, ID(a),
		                      NULL, bad[i], 10, &page, why,
		                      sizeof(why)));
	}
	json_decref(a);
}

static const char *const evil[] = {"'; DROP TABLE accounts; --",
    "\" OR \"1\"=\"1", "$1", "Robert'); DELETE FROM leads; --",
    "%s%n\\x00", "名前 ✓ \\' \\\""};

void
test_bad_input(void **state)
{
	(void) state;
	char why[256];
	json_t *a = rig_account(NULL), *r = NULL;
	int64_t n_acc = rig_count("accounts"), n_cmp = rig_count("campaigns");
	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		json_t *f = json_pack("{s:s, s:{s:s}}", "name", evil[i], "config",
		    evil[i], evil[i]);
		EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_campaign, ID(a),
		                  f, &r, why, sizeof(why)));
		json_decref(f);
		json_t *g = NULL;
		EXPECT(CX_OK, cxi_repo_get(&rig_db, &cxi_ent_campaign, ID(a),
		                  ID(r), &g));
		assert_string_equal(STR(g, "name"), evil[i]);
		assert_string_equal(STR(json_object_get(g, "config"), evil[i]),
		    evil[i]);
		json_decref(g);
		json_decref(r);
		f = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "actor_id",
		    evil[i], "actor_role", evil[i], "action", evil[i],
		    "object_type", evil[i], "subject_id", evil[i], "reason",
		    evil[i], "ip", evil[i]);
		EXPECT(CX_OK, cxi_audit_append(&rig_db, f, why, sizeof(why)));
		json_decref(f);
		json_t *page = NULL;
		EXPECT(CX_OK, cxi_audit_list_subject(&rig_db, evil[i], NULL, 0,
		                  &page));
		json_t *it = json_array_get(json_object_get(page, "items"), 0);
		assert_string_equal(STR(it, "reason"), evil[i]);
		assert_string_equal(STR(it, "actor_role"), evil[i]);
		json_decref(page);
		EXPECT(CX_ENOENT, cxi_account_get_by_email(&rig_db, evil[i],
		                      NULL));
	}
	assert_int_equal(rig_count("accounts"), n_acc);
	n_cmp = rig_count("campaigns");

	/* Refused, each with why naming the problem, nothing written. */
	struct {
		json_t *f;
		const char *why;
	} bad[] = {
	    {json_pack("{s:o}", "name", json_stringn_nocheck("\xc3\x28", 2)),
	        "UTF-8"},
	    {json_pack("{s:o}", "name", json_stringn_nocheck("\xc0\xaf", 2)),
	        "UTF-8"},
	    {json_pack("{s:o}", "name", json_stringn_nocheck("\xed\xa0\x80",
	                                    3)), "UTF-8"},
	    {json_pack("{s:o}", "name", json_stringn("a\0b", 3)), "UTF-8"},
	    {json_pack("{s:s, s:{s:o}}", "name", "x", "config", "k",
	         json_stringn_nocheck("\xff", 1)), "config"},
	    {json_pack("{s:s, s:b}", "name", "x", "admin", 1), "admin"},
	    {json_pack("{s:s, s:s}", "name", "x", "account_id", ID(a)),
	        "account_id"},
	    {json_pack("{s:i}", "name", 42), "must be a string"},
	    {json_pack("{s:s, s:s}", "name", "x", "config", "{}"), "config"},
	    {json_pack("{s:s}", "company", "x"), "unknown field"},
	    {json_pack("{}"), "missing field campaign.name"},
	    {json_pack("{s:s}", "name", "x"), "missing"}, /* replaced below */
	    {json_pack("{s:s, s:{s:s}}", "name", "x", "config", "k", "x"),
	        "larger"}, /* replaced below */
	};
	size_t nb = sizeof(bad) / sizeof(bad[0]);
	char *longname = malloc(1002);
	memset(longname, 'n', 1001);
	longname[1001] = '\0';
	json_object_set_new(bad[nb - 2].f, "name", json_string(longname));
	bad[nb - 2].why = "longer than 1000";
	char *blob = malloc(70000);
	memset(blob, 'b', 69999);
	blob[69999] = '\0';
	json_object_set_new(json_object_get(bad[nb - 1].f, "config"), "k",
	    json_string(blob));
	for (size_t i = 0; i < nb; i++) {
		assert_non_null(bad[i].f);
		EXPECT(CX_EINVAL, cxi_repo_create(&rig_db, &cxi_ent_campaign,
		                      ID(a), bad[i].f, NULL, why, sizeof(why)));
		if (strstr(why, bad[i].why) == NULL) {
			fail_msg("case %zu: why \"%s\" lacks \"%s\"", i, why,
			    bad[i].why);
		}
		json_decref(bad[i].f);
	}
	assert_int_equal(rig_count("campaigns"), n_cmp);

	/* Exactly at the cap is fine; updates are checked the same way. */
	longname[1000] = '\0';
	json_t *f = json_pack("{s:s}", "name", longname), *c = NULL;
	EXPECT(CX_OK, cxi_repo_create(&rig_db, &cxi_ent_campaign, ID(a), f, &c,
	                  why, sizeof(why)));
	json_decref(f);
	f = json_pack("{s:s, s:s}", "name", "ok", "bogus", "x");
	EXPECT(CX_EINVAL, cxi_repo_update(&rig_db, &cxi_ent_campaign, ID(a),
	                      ID(c), f, NULL, why, sizeof(why)));
	assert_non_null(strstr(why, "bogus"));
	json_decref(f);
	f = json_pack("{s:o}", "name", json_stringn_nocheck("\xfe", 1));
	EXPECT(CX_EINVAL, cxi_repo_update(&rig_db, &cxi_ent_campaign, ID(a),
	                      ID(c), f, NULL, why, sizeof(why)));
	json_decref(f);
	EXPECT(CX_OK, cxi_repo_get(&rig_db, &cxi_ent_campaign, ID(a), ID(c), &r));
	assert_string_equal(STR(r, "name"), longname);
	assert_int_equal(INTV(r, "updated_at"), INTV(c, "updated_at"));
	json_decref(r);
	json_decref(c);
	free(longname);
	free(blob);
	json_t *page = NULL, *flt = json_pack("{s:s}", "config", "x");
	EXPECT(CX_EINVAL, cxi_repo_list(&rig_db, &cxi_ent_campaign, ID(a), flt,
	                      NULL, 0, &page, why, sizeof(why)));
	json_decref(flt);
	json_decref(a);
}

void
test_migrations_again(void **state)
{
	(void) state;
	char why[256];
	json_t *done = NULL;
	assert_int_equal(cxi_migrate_up(&rig_db, &done, why, sizeof(why)), 0);
	assert_int_equal(json_array_size(done), 0);
	json_decref(done);
}

void
test_newer_schema(void **state)
{
	(void) state;
	char why[256];
	cx_db_value p[] = {CX_DB_V_INT(9999), CX_DB_V_TEXT("9999_future"),
	    CX_DB_V_TEXT("0"), CX_DB_V_INT(cxi_repo_now_ms())};
	assert_int_equal(rig_exec("INSERT INTO cx_schema_migrations (version, "
	                          "name, checksum, applied_at) VALUES ($1, $2, "
	                          "$3, $4)",
	                     p, 4),
	    CX_OK);
	json_t *st = NULL;
	assert_int_equal(cxi_migrate_status(&rig_db, &st, why, sizeof(why)), 0);
	assert_false(json_is_true(json_object_get(st, "ok")));
	assert_non_null(strstr(STR(st, "problem"), "newer than this build"));
	assert_int_equal(INTV(st, "current"), 9999);
	json_decref(st);
	json_t *done = NULL;
	assert_int_equal(cxi_migrate_up(&rig_db, &done, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "newer than this build"));
	assert_int_equal(rig_exec("DELETE FROM cx_schema_migrations WHERE "
	                          "version = $1",
	                     p, 1),
	    CX_OK);
	assert_int_equal(cxi_migrate_status(&rig_db, &st, why, sizeof(why)), 0);
	assert_true(json_is_true(json_object_get(st, "ok")));
	json_decref(st);
}
