/*
 * csvimport_db.c - the importer's database sink: each batch is one
 * transaction of multi-row INSERTs that skip a phone the account already
 * has (ON CONFLICT DO NOTHING, the same on SQLite and PostgreSQL, and it
 * also skips the second of two equal phones in one statement). The
 * number of rows written is the number imported; the rest of the batch
 * were duplicates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvimport.h"
#include "repo.h"

/* Rows per INSERT: 11 parameters each stays far below both backends'
 * limits, and a full-size statement is prepared once and cached. */
#define STMT_ROWS 100
#define NCOLS 11

typedef struct sink_tx {
	const cxi_csv_dbsink *s;
	const cxi_csv_lead *rows;
	size_t n;
	size_t inserted;
	int64_t now;
	char (*ids)[48];
} sink_tx;

static char *
insert_sql(size_t nrows)
{
	static const char head[] = "INSERT INTO leads (id, account_id, "
	    "campaign_id, phone_e164, name, timezone, tags, metadata, status, "
	    "created_at, updated_at) VALUES ";
	static const char tail[] = " ON CONFLICT (account_id, phone_e164) "
	    "DO NOTHING";
	size_t cap = sizeof(head) + sizeof(tail) + nrows * NCOLS * 8 + 16;
	char *sql = malloc(cap);
	if (sql == NULL) {
		return (NULL);
	}
	size_t o = (size_t) snprintf(sql, cap, "%s", head);
	for (size_t r = 0; r < nrows; r++) {
		o += (size_t) snprintf(sql + o, cap - o, "%s(", r ? "," : "");
		for (size_t c = 0; c < NCOLS; c++) {
			o += (size_t) snprintf(sql + o, cap - o, "%s$%zu",
			    c ? "," : "", r * NCOLS + c + 1);
		}
		o += (size_t) snprintf(sql + o, cap - o, ")");
	}
	snprintf(sql + o, cap - o, "%s", tail);
	return (sql);
}

static cx_err
sink_run(cxi_dbc *c, void *arg)
{
	sink_tx *t = arg;
	cx_db_value p[STMT_ROWS * NCOLS];
	t->inserted = 0;
	for (size_t at = 0; at < t->n; at += STMT_ROWS) {
		size_t k = t->n - at < STMT_ROWS ? t->n - at : STMT_ROWS;
		for (size_t r = 0; r < k; r++) {
			const cxi_csv_lead *l = &t->rows[at + r];
			cx_db_value *v = &p[r * NCOLS];
			v[0] = CX_DB_V_TEXT(t->ids[at + r]);
			v[1] = CX_DB_V_TEXT(t->s->account);
			v[2] = CX_DB_V_TEXT(t->s->campaign_id);
			v[3] = CX_DB_V_TEXT(l->phone);
			v[4] = CX_DB_V_TEXT(l->name);
			v[5] = CX_DB_V_TEXT(l->timezone);
			v[6] = CX_DB_V_TEXT(l->tags);
			v[7] = CX_DB_V_TEXT(l->metadata);
			v[8] = CX_DB_V_TEXT("new");
			v[9] = CX_DB_V_INT(t->now);
			v[10] = CX_DB_V_INT(t->now);
		}
		char *sql = insert_sql(k);
		if (sql == NULL) {
			return (CX_ENOMEM);
		}
		int64_t changes = 0;
		cx_err rv = cxi_db_exec(c, sql, p, k * NCOLS, NULL, &changes);
		free(sql);
		if (rv != CX_OK) {
			return (rv);
		}
		t->inserted += changes > 0 ? (size_t) changes : 0;
	}
	return (CX_OK);
}

cx_err
cxi_csvimp_db_sink(void *arg, const cxi_csv_lead *rows, size_t n,
    size_t *inserted, char *why, size_t whylen)
{
	cxi_csv_dbsink *s = arg;
	int64_t now = cxi_repo_now_ms();
	/* A later batch never sorts before an earlier one. */
	if (now <= s->last_ms) {
		now = s->last_ms + 1;
	}
	s->last_ms = now;
	sink_tx t = {s, rows, n, 0, now, NULL};
	*inserted = 0;
	if ((t.ids = malloc(n * sizeof(*t.ids))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return (CX_ENOMEM);
	}
	/* Rows of a batch share created_at, and a list orders ties by id:
	 * one random part per batch and the row's place after it keep the
	 * file's order (still 64 random bits per batch, 24 hex digits in
	 * all, like every other id). */
	char base[48];
	cxi_repo_new_id(cxi_ent_lead.prefix, base, sizeof(base));
	size_t bl = strlen(base) >= 8 ? strlen(base) - 8 : 0;
	for (size_t i = 0; i < n; i++) {
		snprintf(t.ids[i], sizeof(t.ids[i]), "%.*s%08zx", (int) bl,
		    base, i);
	}
	cx_db_error err;
	memset(&err, 0, sizeof(err));
	cx_err rv = cxi_db_tx(s->db, 3, sink_run, &t, &err);
	free(t.ids);
	if (rv != CX_OK) {
		snprintf(why, whylen, "%s", err.message[0] ? err.message :
		    cx_strerror(rv));
		return (rv);
	}
	*inserted = t.inserted;
	return (CX_OK);
}
