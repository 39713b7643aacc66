/*
 * repo_leads.c - lead queries beyond plain CRUD: the list with a tag
 * filter, and the one normal form of tags.
 *
 * Tags live in a JSON array column (compact text written by jansson),
 * and "has tag t" must run the same on SQLite and PostgreSQL without
 * either one's JSON functions. In compact JSON a string element is
 * delimited by '"' and preceded by '[' or ',' and followed by ',' or ']',
 * and an unescaped '"' appears nowhere else, so the element is found
 * with four LIKE patterns around its encoding. Tags are stored lower-
 * cased (ASCII), which also makes SQLite's case-insensitive LIKE and
 * PostgreSQL's case-sensitive one agree.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo_int.h"

json_t *
cxi_lead_tags_norm(const json_t *in, char *why, size_t whylen)
{
	json_t *out = json_array();
	size_t i;
	json_t *v;
	if (!json_is_array(in) || json_array_size(in) > CXI_LEAD_TAGS_MAX) {
		cxi_repo_why(why, whylen, "tags must be an array of at most %d "
		    "strings", CXI_LEAD_TAGS_MAX);
		json_decref(out);
		return (NULL);
	}
	json_array_foreach (in, i, v) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);
		while (s != NULL && len > 0 && isspace((unsigned char) *s)) {
			s++;
			len--;
		}
		while (s != NULL && len > 0 &&
		    isspace((unsigned char) s[len - 1])) {
			len--;
		}
		if (s == NULL || len == 0 || len > CXI_LEAD_TAG_LEN_MAX ||
		    memchr(s, '\0', len) != NULL) {
			cxi_repo_why(why, whylen, "each tag must be a non-empty "
			    "string of at most %d bytes", CXI_LEAD_TAG_LEN_MAX);
			json_decref(out);
			return (NULL);
		}
		char t[CXI_LEAD_TAG_LEN_MAX + 1];
		for (size_t k = 0; k < len; k++) {
			t[k] = (char) tolower((unsigned char) s[k]);
		}
		t[len] = '\0';
		bool dup = false;
		size_t j;
		json_t *w;
		json_array_foreach (out, j, w) {
			dup |= strcmp(json_string_value(w), t) == 0;
		}
		if (!dup && json_array_append_new(out, json_string(t)) != 0) {
			json_decref(out);
			return (NULL);
		}
	}
	return (out);
}

/* LIKE pattern: pre + escaped(enc) + post, with '\' as the escape. */
static char *
like_pat(const char *pre, const char *enc, const char *post)
{
	size_t n = strlen(enc);
	char *p = malloc(strlen(pre) + 2 * n + strlen(post) + 1);
	if (p == NULL) {
		return (NULL);
	}
	size_t o = (size_t) sprintf(p, "%s", pre);
	for (size_t i = 0; i < n; i++) {
		if (enc[i] == '%' || enc[i] == '_' || enc[i] == '\\') {
			p[o++] = '\\';
		}
		p[o++] = enc[i];
	}
	strcpy(p + o, post);
	return (p);
}

cx_err
cxi_lead_list(const cxi_db *db, const char *account, const char *campaign_id,
    const char *status, const char *tag, const char *cursor, int limit,
    json_t **page, char *why, size_t whylen)
{
	const cxi_entity *ent = &cxi_ent_lead;
	char *pats[4] = {NULL, NULL, NULL, NULL}, *enc = NULL;
	cx_err rv = CX_OK;
	stmt *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return (CX_ENOMEM);
	}
	if (limit <= 0) {
		limit = 50;
	} else if (limit > CXI_REPO_LIST_MAX) {
		limit = CXI_REPO_LIST_MAX;
	}
	rp_sadd(s, "SELECT ");
	rp_select_list(s, ent);
	rp_sadd(s, " FROM leads WHERE account_id = $%zu",
	    rp_param(s, CX_DB_V_TEXT(account)));
	if (campaign_id != NULL) {
		rp_sadd(s, " AND campaign_id = $%zu",
		    rp_param(s, CX_DB_V_TEXT(campaign_id)));
	}
	if (status != NULL) {
		rp_sadd(s, " AND status = $%zu",
		    rp_param(s, CX_DB_V_TEXT(status)));
	}
	if (tag != NULL) {
		json_t *one = json_pack("[s]", tag), *norm;
		norm = one != NULL ? cxi_lead_tags_norm(one, why, whylen) : NULL;
		json_decref(one);
		enc = norm != NULL ? json_dumps(json_array_get(norm, 0),
		    JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		json_decref(norm);
		if (enc == NULL) {
			rv = CX_EINVAL;
			goto out;
		}
		/* ["t"] exactly, or ["t",  ,"t",  ,"t"] */
		if ((pats[0] = malloc(strlen(enc) + 3)) != NULL) {
			sprintf(pats[0], "[%s]", enc);
		}
		pats[1] = like_pat("[", enc, ",%");
		pats[2] = like_pat("%,", enc, ",%");
		pats[3] = like_pat("%,", enc, "]");
		for (int i = 0; i < 4; i++) {
			if (pats[i] == NULL) {
				rv = CX_ENOMEM;
				goto out;
			}
		}
		size_t a = rp_param(s, CX_DB_V_TEXT(pats[0]));
		size_t b = rp_param(s, CX_DB_V_TEXT(pats[1]));
		size_t c2 = rp_param(s, CX_DB_V_TEXT(pats[2]));
		size_t d = rp_param(s, CX_DB_V_TEXT(pats[3]));
		rp_sadd(s, " AND (tags = $%zu OR tags LIKE $%zu ESCAPE '\\' OR "
		    "tags LIKE $%zu ESCAPE '\\' OR tags LIKE $%zu ESCAPE '\\')",
		    a, b, c2, d);
	}
	char cid[72];
	int64_t ct;
	if (cursor != NULL) {
		if (rp_cursor_parse(cursor, &ct, cid, sizeof(cid)) != 0) {
			cxi_repo_why(why, whylen, "invalid cursor");
			rv = CX_EINVAL;
			goto out;
		}
		size_t a = rp_param(s, CX_DB_V_INT(ct));
		size_t b = rp_param(s, CX_DB_V_INT(ct));
		size_t d = rp_param(s, CX_DB_V_TEXT(cid));
		rp_sadd(s, " AND (created_at > $%zu OR (created_at = $%zu AND "
		    "id > $%zu))", a, b, d);
	}
	rp_sadd(s, " ORDER BY created_at, id LIMIT $%zu",
	    rp_param(s, CX_DB_V_INT(limit + 1)));
	cxi_dbc c;
	if ((rv = cxi_db_acquire(db, 10000, &c)) != CX_OK) {
		goto out;
	}
	cx_db_rows *rows = NULL;
	rv = s->overflow ? CX_EINTERNAL :
	                   cxi_db_exec(&c, s->sql, s->p, s->n, &rows, NULL);
	if (rv != CX_OK) {
		rv = cxi_repo_dberr(&c, ent, rv, why, whylen);
	} else {
		json_t *items = rp_rows_out(&c, ent, rows), *next = json_null();
		if (json_array_size(items) > (size_t) limit) {
			char cur[160];
			json_array_remove(items, (size_t) limit);
			rp_cursor_make(json_array_get(items, (size_t) limit - 1),
			    "created_at", cur, sizeof(cur));
			next = json_string(cur);
		}
		*page = json_pack("{s:o, s:o}", "items", items, "next_cursor",
		    next);
		rv = *page != NULL ? CX_OK : CX_ENOMEM;
	}
	cxi_db_rows_free(&c, rows);
	cxi_db_release(&c);
out:
	for (int i = 0; i < 4; i++) {
		free(pats[i]);
	}
	free(enc);
	rp_free(s);
	free(s);
	return (rv);
}
