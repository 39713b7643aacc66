/*
 * test_repo_input.c - hostile text in every text column of every
 * entity is stored verbatim and stays inert: the repository sends values
 * only as parameters, whatever the driver does with them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "repo_rig.h"

static const char *const hostile[] = {"'; DROP TABLE accounts; --",
    "\" OR \"1\"=\"1\" --", "$1 $2 ?", "x'); DELETE FROM ledger_entries;--",
    "\\'; SELECT pg_sleep(1); --", "%s%n %x ✓ 名前"};

static const cxi_entity *const all[] = {&cxi_ent_account, &cxi_ent_session,
    &cxi_ent_api_key, &cxi_ent_credential, &cxi_ent_campaign,
    &cxi_ent_lead, &cxi_ent_call, &cxi_ent_usage, &cxi_ent_payment,
    &cxi_ent_ledger, &cxi_ent_audit, &cxi_ent_privacy};

/* Columns whose format is checked beyond "text" get a valid value. */
static json_t *
value_for(const cxi_column *col, const char *evil, unsigned seq)
{
	char buf[64];
	size_t max = col->max ? col->max : CXI_REPO_TEXT_MAX;
	switch (col->type) {
	case CXI_COL_INT:
		return (json_integer(col->flags & CXI_C_REQUIRED ?
		        9000000000000LL : 1));
	case CXI_COL_BOOL:
		return (json_true());
	case CXI_COL_JSON:
		return (json_pack("{s:s}", evil, evil));
	case CXI_COL_TEXT:
		break;
	}
	if (col->choices != NULL) {
		return (json_string(col->choices[0]));
	}
	if (col->ref != NULL) {
		return (NULL);
	}
	if (strcmp(col->name, "email") == 0) {
		snprintf(buf, sizeof(buf), "hostile%u@example.com", seq);
		return (json_string(buf));
	}
	if (strcmp(col->name, "phone_e164") == 0) {
		snprintf(buf, sizeof(buf), "+1444%07u", seq);
		return (json_string(buf));
	}
	if (strcmp(col->name, "amount") == 0) {
		return (json_string("42"));
	}
	if (strlen(evil) > max) {
		snprintf(buf, sizeof(buf), "%u", seq % 1000);
		return (json_string(buf));
	}
	return (json_string(evil));
}

void
test_hostile_text_everywhere(void **state)
{
	(void) state;
	char why[256];
	unsigned seq = 0;
	int64_t before = rig_count("accounts");
	for (size_t h = 0; h < sizeof(hostile) / sizeof(hostile[0]); h++) {
		json_t *a = rig_account(NULL);
		assert_non_null(a);
		for (size_t e = 0; e < sizeof(all) / sizeof(all[0]); e++) {
			const cxi_entity *ent = all[e];
			json_t *f = json_object(), *row = NULL, *got = NULL;
			for (const cxi_column *c = ent->cols; c->name; c++) {
				if (!(c->flags & CXI_C_CREATE)) {
					continue;
				}
				json_t *v = value_for(c, hostile[h], ++seq);
				if (v != NULL) {
					json_object_set_new(f, c->name, v);
				}
			}
			const char *acct = ent->scope == NULL ? NULL :
			    ent == &cxi_ent_account ? NULL : ID(a);
			EXPECT(CX_OK, cxi_repo_create(&rig_db, ent, acct, f,
			                  &row, why, sizeof(why)));
			EXPECT(CX_OK, cxi_repo_get(&rig_db, ent, acct, ID(row),
			                  &got));
			/* Every value given comes back exactly as given. */
			const char *k;
			json_t *v;
			json_object_foreach (f, k, v) {
				json_t *back = json_object_get(got, k);
				if (back == NULL) {
					continue; /* hidden: secret_enc */
				}
				if (!json_equal(v, back)) {
					fail_msg("%s.%s changed on the way "
					    "through", ent->name, k);
				}
			}
			json_decref(got);
			json_decref(row);
			json_decref(f);
		}
		json_decref(a);
	}
	/* Every table is still there and nothing was deleted. */
	assert_int_equal(rig_count("accounts"),
	    before + 2 * (int64_t) (sizeof(hostile) / sizeof(hostile[0])));
	for (size_t e = 0; e < sizeof(all) / sizeof(all[0]); e++) {
		assert_true(rig_count(all[e]->table) >= 1);
	}
}
