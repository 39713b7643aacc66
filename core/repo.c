/*
 * repo.c - the table-driven generic layer of the repository.
 *
 * Statements are assembled from the entity's own column names (never
 * from caller text) with $n placeholders for every value, so a caller
 * can only ever choose *which* whitelisted columns take part, not what
 * SQL runs.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "repo_int.h"

void
cxi_repo_why(char *why, size_t whylen, const char *fmt, ...)
{
	if (why == NULL || whylen == 0) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

int64_t
cxi_repo_now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return ((int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

void
cxi_repo_new_id(const char *prefix, char *out, size_t outlen)
{
	unsigned char r[12];
	char hex[25];
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
	snprintf(out, outlen, "%s%s", prefix, hex);
}

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF)
 * and no NUL: text goes to C strings and to PostgreSQL, which refuses
 * both. jansson can hold such strings (json_stringn_nocheck). */
bool
cxi_repo_utf8_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t i = 0;
	while (i < len) {
		unsigned c = p[i];
		size_t n;
		unsigned min;
		if (c == 0) {
			return (false);
		} else if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, min = 0x80, c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, min = 0x800, c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, min = 0x10000, c &= 0x07;
		} else {
			return (false);
		}
		if (i + n >= len) {
			return (false);
		}
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80) {
				return (false);
			}
			c = (c << 6) | (p[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
			return (false);
		}
		i += n + 1;
	}
	return (true);
}

/* ---- statement building ---- */


void
rp_sadd(stmt *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(s->sql + s->len, sizeof(s->sql) - s->len, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t) w >= sizeof(s->sql) - s->len) {
		s->overflow = true;
		return;
	}
	s->len += (size_t) w;
}

/* Adds a parameter and returns its $n number. */
size_t
rp_param(stmt *s, cx_db_value v)
{
	if (s->n >= MAX_PARAMS) {
		s->overflow = true;
		return (s->n);
	}
	s->p[s->n] = v;
	return (++s->n);
}

void
rp_free(stmt *s)
{
	for (size_t i = 0; i < s->n && i < MAX_PARAMS; i++) {
		free(s->owned[i]);
	}
}

const cxi_column *
rp_column(const cxi_entity *ent, const char *name)
{
	for (const cxi_column *c = ent->cols; c->name != NULL; c++) {
		if (strcmp(c->name, name) == 0) {
			return (c);
		}
	}
	return (NULL);
}

/* Checks one value against its column and adds it as a parameter. */
cx_err
rp_bind(stmt *s, const cxi_entity *ent, const cxi_column *col,
    const json_t *v, char *why, size_t whylen)
{
	if (json_is_null(v)) {
		if (!(col->flags & CXI_C_NULLABLE)) {
			cxi_repo_why(why, whylen, "%s.%s must not be null",
			    ent->name, col->name);
			return (CX_EINVAL);
		}
		rp_param(s, CX_DB_V_NULL());
		return (CX_OK);
	}
	size_t max;
	switch (col->type) {
	case CXI_COL_TEXT: {
		if (!json_is_string(v)) {
			cxi_repo_why(why, whylen, "%s.%s must be a string",
			    ent->name, col->name);
			return (CX_EINVAL);
		}
		const char *str = json_string_value(v);
		size_t len = json_string_length(v);
		max = col->max ? col->max : CXI_REPO_TEXT_MAX;
		if (len > max) {
			cxi_repo_why(why, whylen, "%s.%s is longer than %zu "
			    "bytes", ent->name, col->name, max);
			return (CX_EINVAL);
		}
		if (!cxi_repo_utf8_ok(str, len)) {
			cxi_repo_why(why, whylen, "%s.%s is not valid UTF-8 "
			    "text", ent->name, col->name);
			return (CX_EINVAL);
		}
		if (col->choices != NULL) {
			const char *const *ch = col->choices;
			while (*ch != NULL && strcmp(*ch, str) != 0) {
				ch++;
			}
			if (*ch == NULL) {
				cxi_repo_why(why, whylen,
				    "%s.%s: \"%s\" is not an allowed value",
				    ent->name, col->name, str);
				return (CX_EINVAL);
			}
		}
		rp_param(s, (cx_db_value){.type = CX_DB_TEXT, .s = str,
		    .len = len});
		return (CX_OK);
	}
	case CXI_COL_INT:
		if (!json_is_integer(v)) {
			cxi_repo_why(why, whylen, "%s.%s must be an integer",
			    ent->name, col->name);
			return (CX_EINVAL);
		}
		rp_param(s, CX_DB_V_INT(json_integer_value(v)));
		return (CX_OK);
	case CXI_COL_BOOL:
		if (!json_is_boolean(v)) {
			cxi_repo_why(why, whylen, "%s.%s must be true or false",
			    ent->name, col->name);
			return (CX_EINVAL);
		}
		rp_param(s, CX_DB_V_INT(json_is_true(v) ? 1 : 0));
		return (CX_OK);
	case CXI_COL_JSON: {
		if (!json_is_object(v) && !json_is_array(v)) {
			cxi_repo_why(why, whylen, "%s.%s must be an object or "
			    "an array", ent->name, col->name);
			return (CX_EINVAL);
		}
		/* jansson refuses to dump invalid UTF-8 it was handed
		 * unchecked, so a NULL here is bad input, not ENOMEM. */
		char *txt = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
		max = col->max ? col->max : CXI_REPO_JSON_MAX;
		if (txt == NULL || strlen(txt) > max) {
			cxi_repo_why(why, whylen, txt == NULL ?
			    "%s.%s is not valid JSON text" :
			    "%s.%s is larger than %zu bytes", ent->name,
			    col->name, max);
			free(txt);
			return (CX_EINVAL);
		}
		if (s->n < MAX_PARAMS) {
			s->owned[s->n] = txt;
		} else {
			free(txt);
			txt = NULL;
		}
		rp_param(s, CX_DB_V_TEXT(txt));
		return (CX_OK);
	}
	}
	return (CX_EINTERNAL);
}

/* The SELECT list: id and every column that may be shown. */
void
rp_select_list(stmt *s, const cxi_entity *ent)
{
	rp_sadd(s, "id");
	for (const cxi_column *c = ent->cols; c->name != NULL; c++) {
		if (!(c->flags & CXI_C_HIDDEN)) {
			rp_sadd(s, ", %s", c->name);
		}
	}
}

/* Rows as JSON with JSON columns parsed back and bools as bools. */
json_t *
rp_rows_out(cxi_dbc *c, const cxi_entity *ent, const cx_db_rows *rows)
{
	json_t *arr = cxi_db_rows_json(c, rows);
	size_t i;
	json_t *row;
	json_array_foreach (arr, i, row) {
		for (const cxi_column *col = ent->cols; col->name; col++) {
			json_t *v = json_object_get(row, col->name);
			if (col->type == CXI_COL_JSON && json_is_string(v)) {
				json_t *p = json_loads(json_string_value(v),
				    JSON_DECODE_ANY, NULL);
				if (p != NULL) {
					json_object_set_new(row, col->name, p);
				}
			} else if (col->type == CXI_COL_BOOL &&
			    json_is_integer(v)) {
				json_object_set_new(row, col->name,
				    json_boolean(json_integer_value(v) != 0));
			}
		}
	}
	return (arr);
}

/* Runs s and hands back its first row (CX_ENOENT when none). */
cx_err
rp_run_one(cxi_dbc *c, const cxi_entity *ent, stmt *s, json_t **row,
    char *why, size_t whylen)
{
	cx_db_rows *rows = NULL;
	if (s->overflow) {
		cxi_repo_why(why, whylen, "statement too large");
		return (CX_EINTERNAL);
	}
	cx_err rv = cxi_db_exec(c, s->sql, s->p, s->n, &rows, NULL);
	if (rv != CX_OK) {
		return (cxi_repo_dberr(c, ent, rv, why, whylen));
	}
	if (cxi_db_rows_count(c, rows) == 0) {
		cxi_db_rows_free(c, rows);
		cxi_repo_why(why, whylen, "no such %s", ent->name);
		return (CX_ENOENT);
	}
	json_t *arr = rp_rows_out(c, ent, rows);
	cxi_db_rows_free(c, rows);
	if (arr == NULL) {
		return (CX_ENOMEM);
	}
	if (row != NULL) {
		*row = json_incref(json_array_get(arr, 0));
	}
	json_decref(arr);
	return (CX_OK);
}

cx_err
cxi_repo_dberr(cxi_dbc *c, const cxi_entity *ent, cx_err rv, char *why,
    size_t whylen)
{
	const cx_db_error *e = &c->err;
	switch (e->cls) {
	case CX_DB_EUNIQUE:
		for (const cxi_unique *u = ent ? ent->uniques : NULL;
		     u != NULL && u->cols != NULL; u++) {
			/* SQLite names "t.a, t.b"; PostgreSQL "t_a_b_key". */
			char lite[256] = "", pg[128];
			size_t ll = 0;
			snprintf(pg, sizeof(pg), "%s_", ent->table);
			char cols[128];
			snprintf(cols, sizeof(cols), "%s", u->cols);
			for (char *sv, *t = strtok_r(cols, ",", &sv); t;
			     t = strtok_r(NULL, ",", &sv)) {
				ll += (size_t) snprintf(lite + ll,
				    ll < sizeof(lite) ? sizeof(lite) - ll : 0,
				    "%s%s.%s", ll ? ", " : "", ent->table, t);
				strncat(pg, t, sizeof(pg) - strlen(pg) - 1);
				strncat(pg, "_", sizeof(pg) - strlen(pg) - 1);
			}
			strncat(pg, "key", sizeof(pg) - strlen(pg) - 1);
			if (strcmp(e->constraint, lite) == 0 ||
			    strcmp(e->constraint, pg) == 0 ||
			    strstr(e->message, lite) != NULL ||
			    strstr(e->message, pg) != NULL) {
				cxi_repo_why(why, whylen, "%s", u->why);
				return (CX_EEXIST);
			}
		}
		cxi_repo_why(why, whylen, "%s already exists (%s)",
		    ent ? ent->name : "row", e->constraint);
		return (CX_EEXIST);
	case CX_DB_EFOREIGN:
		cxi_repo_why(why, whylen, "%s refers to an object that does "
		    "not exist", ent ? ent->name : "row");
		return (CX_EINVAL);
	case CX_DB_ECHECK:
		cxi_repo_why(why, whylen, "%s: a value is not allowed (%s)",
		    ent ? ent->name : "row", e->constraint);
		return (CX_EINVAL);
	default:
		cxi_repo_why(why, whylen, "storage: %s (%s)", e->message,
		    cxi_db_errclass_name(e->cls));
		return (rv != CX_OK ? rv : cxi_db_errcode(e));
	}
}

/* A referenced id must be a row of the same account: the foreign key
 * alone would happily link account A's lead to account B's campaign. */
cx_err
rp_check_ref(cxi_dbc *c, const cxi_entity *ent, const cxi_column *col,
    const char *account, const json_t *v, char *why, size_t whylen)
{
	if (col->ref == NULL || !json_is_string(v)) {
		return (CX_OK);
	}
	char sql[256];
	cx_db_value p[2] = {CX_DB_V_TEXT(json_string_value(v)),
	    CX_DB_V_TEXT(account)};
	snprintf(sql, sizeof(sql), "SELECT id FROM %s WHERE id = $1%s",
	    col->ref, account ? " AND account_id = $2" : "");
	cx_db_rows *rows = NULL;
	cx_err rv = cxi_db_exec(c, sql, p, account ? 2 : 1, &rows, NULL);
	if (rv != CX_OK) {
		return (cxi_repo_dberr(c, ent, rv, why, whylen));
	}
	size_t n = cxi_db_rows_count(c, rows);
	cxi_db_rows_free(c, rows);
	if (n == 0) {
		cxi_repo_why(why, whylen, "%s.%s: no such object", ent->name,
		    col->name);
		return (CX_EINVAL);
	}
	return (CX_OK);
}

/* Every key of `fields` must be a column carrying `flag`. */
cx_err
rp_check_keys(const cxi_entity *ent, const json_t *fields, unsigned flag,
    char *why, size_t whylen)
{
	if (fields != NULL && !json_is_object(fields)) {
		cxi_repo_why(why, whylen, "%s fields must be an object",
		    ent->name);
		return (CX_EINVAL);
	}
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *) fields, k, v) {
		const cxi_column *col = rp_column(ent, k);
		if (col == NULL || !(col->flags & flag)) {
			cxi_repo_why(why, whylen, col == NULL ?
			    "unknown field %s.%s" :
			    "field %s.%s cannot be set here", ent->name, k);
			return (CX_EINVAL);
		}
	}
	return (CX_OK);
}
