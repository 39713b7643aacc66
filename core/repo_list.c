/*
 * repo_list.c - listing with equality filters and keyset cursors.
 *
 * Pages are ordered by (creation time, id) and continue strictly after
 * the last row shown, so rows inserted meanwhile never shift a page and
 * every row is returned exactly once; the id breaks ties between rows
 * created in the same millisecond.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo_int.h"

/* The cursor is base64url("<time>:<id>") of the last row returned. */
void
rp_cursor_make(const json_t *row, const char *time_col, char *out,
    size_t outlen)
{
	char raw[96];
	int n = snprintf(raw, sizeof(raw), "%lld:%s",
	    (long long) json_integer_value(json_object_get(row, time_col)),
	    json_string_value(json_object_get(row, "id")));
	sodium_bin2base64(out, outlen, (const unsigned char *) raw,
	    (size_t) n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
rp_cursor_parse(const char *cur, int64_t *t, char *id, size_t idlen)
{
	unsigned char raw[96];
	size_t n;
	if (strlen(cur) > 128 ||
	    sodium_base642bin(raw, sizeof(raw) - 1, cur, strlen(cur), NULL, &n,
	        NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
		return (-1);
	}
	raw[n] = '\0';
	char *end;
	long long v = strtoll((char *) raw, &end, 10);
	if (end == (char *) raw || *end != ':' || strlen(end + 1) == 0 ||
	    strlen(end + 1) >= idlen) {
		return (-1);
	}
	for (const char *p = end + 1; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		        *p == '_')) {
			return (-1);
		}
	}
	*t = v;
	snprintf(id, idlen, "%s", end + 1);
	return (0);
}

cx_err
cxi_repo_list(const cxi_db *db, const cxi_entity *ent, const char *account,
    json_t *filters, const char *cursor, int limit, json_t **page,
    char *why, size_t whylen)
{
	cx_err rv = rp_check_keys(ent, filters, CXI_C_FILTER, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	if (limit <= 0) {
		limit = 50;
	} else if (limit > CXI_REPO_LIST_MAX) {
		limit = CXI_REPO_LIST_MAX;
	}
	stmt *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return (CX_ENOMEM);
	}
	rp_sadd(s, "SELECT ");
	rp_select_list(s, ent);
	rp_sadd(s, " FROM %s WHERE 1 = 1", ent->table);
	if (account != NULL && ent->scope != NULL) {
		rp_sadd(s, " AND %s = $%zu", ent->scope,
		    rp_param(s, CX_DB_V_TEXT(account)));
	}
	const char *k;
	json_t *v;
	json_object_foreach (filters, k, v) {
		const cxi_column *col = rp_column(ent, k);
		if (json_is_null(v)) {
			cxi_repo_why(why, whylen, "filter %s.%s must not be "
			    "null", ent->name, k);
			rv = CX_EINVAL;
			break;
		}
		if ((rv = rp_bind(s, ent, col, v, why, whylen)) != CX_OK) {
			break;
		}
		rp_sadd(s, " AND %s = $%zu", col->name, s->n);
	}
	char cid[72];
	int64_t ct;
	if (rv == CX_OK && cursor != NULL) {
		if (rp_cursor_parse(cursor, &ct, cid, sizeof(cid)) != 0) {
			cxi_repo_why(why, whylen, "invalid cursor");
			rv = CX_EINVAL;
		} else {
			size_t a = rp_param(s, CX_DB_V_INT(ct));
			size_t b = rp_param(s, CX_DB_V_INT(ct));
			size_t d = rp_param(s, CX_DB_V_TEXT(cid));
			rp_sadd(s, " AND (%s > $%zu OR (%s = $%zu AND "
			    "id > $%zu))", ent->time_col, a, ent->time_col, b,
			    d);
		}
	}
	cxi_dbc c;
	if (rv == CX_OK && (rv = cxi_db_acquire(db, 10000, &c)) == CX_OK) {
		/* One row more than asked says whether a next page exists. */
		rp_sadd(s, " ORDER BY %s, id LIMIT $%zu", ent->time_col,
		    rp_param(s, CX_DB_V_INT(limit + 1)));
		cx_db_rows *rows = NULL;
		rv = s->overflow ? CX_EINTERNAL :
		                   cxi_db_exec(&c, s->sql, s->p, s->n, &rows,
		                       NULL);
		if (rv != CX_OK) {
			rv = cxi_repo_dberr(&c, ent, rv, why, whylen);
		} else {
			json_t *items = rp_rows_out(&c, ent, rows);
			json_t *next = json_null();
			if (json_array_size(items) > (size_t) limit) {
				char cur[160];
				json_array_remove(items, (size_t) limit);
				rp_cursor_make(json_array_get(items,
				                (size_t) limit - 1),
				    ent->time_col, cur, sizeof(cur));
				next = json_string(cur);
			}
			*page = json_pack("{s:o, s:o}", "items", items,
			    "next_cursor", next);
			rv = *page != NULL ? CX_OK : CX_ENOMEM;
		}
		cxi_db_rows_free(&c, rows);
		cxi_db_release(&c);
	}
	rp_free(s);
	free(s);
	return (rv);
}
