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

#include "repo.h"

#define MAX_PARAMS 48
#define SQL_MAX 4096

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

typedef struct stmt {
	char sql[SQL_MAX];
	size_t len;
	bool overflow;
	cx_db_value p[MAX_PARAMS];
	char *owned[MAX_PARAMS]; /* JSON texts we serialized */
	size_t n;
} stmt;

static void
sadd(stmt *s, const char *fmt, ...)
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
static size_t
sparam(stmt *s, cx_db_value v)
{
	if (s->n >= MAX_PARAMS) {
		s->overflow = true;
		return (s->n);
	}
	s->p[s->n] = v;
	return (++s->n);
}

static void
sfree(stmt *s)
{
	for (size_t i = 0; i < s->n && i < MAX_PARAMS; i++) {
		free(s->owned[i]);
	}
}

static const cxi_column *
column(const cxi_entity *ent, const char *name)
{
	for (const cxi_column *c = ent->cols; c->name != NULL; c++) {
		if (strcmp(c->name, name) == 0) {
			return (c);
		}
	}
	return (NULL);
}

/* Checks one value against its column and adds it as a parameter. */
static cx_err
bind_value(stmt *s, const cxi_entity *ent, const cxi_column *col,
    const json_t *v, char *why, size_t whylen)
{
	if (json_is_null(v)) {
		if (!(col->flags & CXI_C_NULLABLE)) {
			cxi_repo_why(why, whylen, "%s.%s must not be null",
			    ent->name, col->name);
			return (CX_EINVAL);
		}
		sparam(s, CX_DB_V_NULL());
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
				cxi_repo_why(why, whylen, "%s.%s: \"%s\" is not "
				    "an allowed value", ent->name, col->name,
				    str);
				return (CX_EINVAL);
			}
		}
		sparam(s, (cx_db_value){.type = CX_DB_TEXT, .s = str,
		    .len = len});
		return (CX_OK);
	}
	case CXI_COL_INT:
		if (!json_is_integer(v)) {
			cxi_repo_why(why, whylen, "%s.%s must be an integer",
			    ent->name, col->name);
			return (CX_EINVAL);
		}
		sparam(s, CX_DB_V_INT(json_integer_value(v)));
		return (CX_OK);
	case CXI_COL_BOOL:
		if (!json_is_boolean(v)) {
			cxi_repo_why(why, whylen, "%s.%s must be true or false",
			    ent->name, col->name);
			return (CX_EINVAL);
		}
		sparam(s, CX_DB_V_INT(json_is_true(v) ? 1 : 0));
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
		sparam(s, CX_DB_V_TEXT(txt));
		return (CX_OK);
	}
	}
	return (CX_EINTERNAL);
}

/* The SELECT list: id and every column that may be shown. */
static void
select_list(stmt *s, const cxi_entity *ent)
{
	sadd(s, "id");
	for (const cxi_column *c = ent->cols; c->name != NULL; c++) {
		if (!(c->flags & CXI_C_HIDDEN)) {
			sadd(s, ", %s", c->name);
		}
	}
}

/* Rows as JSON with JSON columns parsed back and bools as bools. */
static json_t *
rows_out(cxi_dbc *c, const cxi_entity *ent, const cx_db_rows *rows)
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
static cx_err
run_one(cxi_dbc *c, const cxi_entity *ent, stmt *s, json_t **row,
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
	json_t *arr = rows_out(c, ent, rows);
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
static cx_err
check_ref(cxi_dbc *c, const cxi_entity *ent, const cxi_column *col,
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
static cx_err
check_keys(const cxi_entity *ent, const json_t *fields, unsigned flag,
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
		const cxi_column *col = column(ent, k);
		if (col == NULL || !(col->flags & flag)) {
			cxi_repo_why(why, whylen, col == NULL ?
			    "unknown field %s.%s" :
			    "field %s.%s cannot be set here", ent->name, k);
			return (CX_EINVAL);
		}
	}
	return (CX_OK);
}

cx_err
cxi_repo_insert_c(cxi_dbc *c, const cxi_entity *ent, const char *account,
    const json_t *fields, const json_t *sys, json_t **row_out, char *why,
    size_t whylen)
{
	return (cxi_repo_insert_skip_c(c, ent, account, fields, sys, NULL,
	    NULL, row_out, why, whylen));
}

cx_err
cxi_repo_insert_skip_c(cxi_dbc *c, const cxi_entity *ent,
    const char *account, const json_t *fields, const json_t *sys,
    const char *conflict, bool *inserted, json_t **row_out, char *why,
    size_t whylen)
{
	cx_err rv = check_keys(ent, fields, CXI_C_CREATE, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	const cxi_column *sc = ent->scope ? column(ent, ent->scope) : NULL;
	if (sc != NULL && account == NULL && !(sc->flags & CXI_C_NULLABLE)) {
		cxi_repo_why(why, whylen, "a %s belongs to an account",
		    ent->name);
		return (CX_EINVAL);
	}
	stmt *s = calloc(1, sizeof(*s));
	stmt *vals = calloc(1, sizeof(*vals));
	if (s == NULL || vals == NULL) {
		free(s);
		free(vals);
		return (CX_ENOMEM);
	}
	char id[64];
	int64_t now = cxi_repo_now_ms();
	cxi_repo_new_id(ent->prefix, id, sizeof(id));
	sadd(s, "INSERT INTO %s (id", ent->table);
	sadd(vals, ") VALUES ($%zu", sparam(vals, CX_DB_V_TEXT(id)));
	for (const cxi_column *col = ent->cols; rv == CX_OK && col->name;
	     col++) {
		const json_t *v;
		if (sc == col) {
			sparam(vals, CX_DB_V_TEXT(account));
		} else if ((v = json_object_get(sys, col->name)) == NULL &&
		    (strcmp(col->name, ent->time_col) == 0 ||
		        (ent->has_updated &&
		            strcmp(col->name, "updated_at") == 0))) {
			sparam(vals, CX_DB_V_INT(now));
		} else if (v != NULL ||
		    (v = json_object_get(fields, col->name)) != NULL) {
			if ((rv = bind_value(vals, ent, col, v, why,
			         whylen)) == CX_OK) {
				rv = check_ref(c, ent, col, account, v, why,
				    whylen);
			}
		} else if (col->flags & CXI_C_REQUIRED) {
			cxi_repo_why(why, whylen, "missing field %s.%s",
			    ent->name, col->name);
			rv = CX_EINVAL;
			break;
		} else {
			continue;
		}
		sadd(s, ", %s", col->name);
		sadd(vals, ", $%zu", vals->n);
	}
	if (rv == CX_OK) {
		sadd(s, "%s)", vals->sql);
		if (conflict != NULL) {
			/* Skipping in the statement, not by catching the
			 * violation: PostgreSQL aborts a transaction on any
			 * error, and a batch must go on past duplicates. */
			sadd(s, " ON CONFLICT (%s) DO NOTHING", conflict);
		}
		sadd(s, " RETURNING ");
		select_list(s, ent);
		memcpy(s->p, vals->p, sizeof(vals->p));
		s->n = vals->n;
		s->overflow |= vals->overflow;
		rv = run_one(c, ent, s, row_out, why, whylen);
		if (inserted != NULL) {
			*inserted = rv == CX_OK;
		}
		if (rv == CX_ENOENT && conflict != NULL) {
			rv = CX_OK; /* the conflicting row was there already */
		}
	}
	sfree(vals);
	free(vals);
	free(s);
	return (rv);
}

cx_err
cxi_repo_create(const cxi_db *db, const cxi_entity *ent, const char *account,
    json_t *fields, json_t **row_out, char *why, size_t whylen)
{
	json_t *sys = json_object();
	if (sys == NULL) {
		return (CX_ENOMEM);
	}
	cx_err rv = CX_OK;
	if (ent->prepare != NULL) {
		rv = ent->prepare(true, cxi_repo_now_ms(), fields, sys, why,
		    whylen);
	}
	cxi_dbc c;
	if (rv == CX_OK) {
		if ((rv = cxi_db_acquire(db, 10000, &c)) != CX_OK) {
			cxi_repo_why(why, whylen, "storage: %s",
			    c.err.message);
		} else {
			rv = cxi_repo_insert_c(&c, ent, account, fields, sys,
			    row_out, why, whylen);
			cxi_db_release(&c);
		}
	}
	json_decref(sys);
	return (rv);
}

/* " WHERE id = $n [AND scope = $m]" */
static void
where_id(stmt *s, const cxi_entity *ent, const char *account, const char *id)
{
	sadd(s, " WHERE id = $%zu", sparam(s, CX_DB_V_TEXT(id)));
	if (account != NULL && ent->scope != NULL) {
		sadd(s, " AND %s = $%zu", ent->scope,
		    sparam(s, CX_DB_V_TEXT(account)));
	}
}

cx_err
cxi_repo_get_c(cxi_dbc *c, const cxi_entity *ent, const char *account,
    const char *id, json_t **row)
{
	if (id == NULL) {
		return (CX_EINVAL);
	}
	stmt s = {0};
	sadd(&s, "SELECT ");
	select_list(&s, ent);
	sadd(&s, " FROM %s", ent->table);
	where_id(&s, ent, account, id);
	return (run_one(c, ent, &s, row, NULL, 0));
}

cx_err
cxi_repo_find_c(cxi_dbc *c, const cxi_entity *ent, const char *col,
    const char *value, json_t **row)
{
	if (value == NULL || column(ent, col) == NULL) {
		return (CX_EINVAL);
	}
	stmt s = {0};
	sadd(&s, "SELECT ");
	select_list(&s, ent);
	sadd(&s, " FROM %s WHERE %s = $%zu", ent->table, col,
	    sparam(&s, CX_DB_V_TEXT(value)));
	return (run_one(c, ent, &s, row, NULL, 0));
}

cx_err
cxi_repo_get(const cxi_db *db, const cxi_entity *ent, const char *account,
    const char *id, json_t **row)
{
	cxi_dbc c;
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv == CX_OK) {
		rv = cxi_repo_get_c(&c, ent, account, id, row);
		cxi_db_release(&c);
	}
	return (rv);
}

cx_err
cxi_repo_update_c(cxi_dbc *c, const cxi_entity *ent, const char *account,
    const char *id, const json_t *fields, const json_t *sys, json_t **row,
    char *why, size_t whylen)
{
	cx_err rv = check_keys(ent, fields, CXI_C_UPDATE, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	if (ent->append_only || id == NULL ||
	    json_object_size(fields) + json_object_size(sys) == 0) {
		cxi_repo_why(why, whylen, ent->append_only ?
		    "%s rows cannot be changed" : "nothing to update in %s",
		    ent->name);
		return (CX_EINVAL);
	}
	stmt *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return (CX_ENOMEM);
	}
	sadd(s, "UPDATE %s SET ", ent->table);
	const char *sep = "";
	for (const cxi_column *col = ent->cols; rv == CX_OK && col->name;
	     col++) {
		const json_t *v = json_object_get(sys, col->name);
		if (v == NULL) {
			v = json_object_get(fields, col->name);
		}
		if (v != NULL) {
			if ((rv = bind_value(s, ent, col, v, why, whylen)) ==
			    CX_OK) {
				rv = check_ref(c, ent, col, account, v, why,
				    whylen);
			}
		} else if (ent->has_updated &&
		    strcmp(col->name, "updated_at") == 0) {
			sparam(s, CX_DB_V_INT(cxi_repo_now_ms()));
		} else {
			continue;
		}
		sadd(s, "%s%s = $%zu", sep, col->name, s->n);
		sep = ", ";
	}
	if (rv == CX_OK) {
		where_id(s, ent, account, id);
		sadd(s, " RETURNING ");
		select_list(s, ent);
		rv = run_one(c, ent, s, row, why, whylen);
	}
	sfree(s);
	free(s);
	return (rv);
}

cx_err
cxi_repo_update(const cxi_db *db, const cxi_entity *ent, const char *account,
    const char *id, json_t *fields, json_t **row, char *why, size_t whylen)
{
	json_t *sys = json_object();
	if (sys == NULL) {
		return (CX_ENOMEM);
	}
	/* Keys are checked before prepare, so a derived column (email_norm)
	 * cannot be smuggled in and prepare sees only whitelisted input. */
	cx_err rv = check_keys(ent, fields, CXI_C_UPDATE, why, whylen);
	if (rv == CX_OK && ent->prepare != NULL) {
		rv = ent->prepare(false, cxi_repo_now_ms(), fields, sys, why,
		    whylen);
	}
	cxi_dbc c;
	if (rv == CX_OK && (rv = cxi_db_acquire(db, 10000, &c)) == CX_OK) {
		rv = cxi_repo_update_c(&c, ent, account, id, fields, sys, row,
		    why, whylen);
		cxi_db_release(&c);
	}
	json_decref(sys);
	return (rv);
}

cx_err
cxi_repo_delete(const cxi_db *db, const cxi_entity *ent, const char *account,
    const char *id)
{
	if (ent->append_only || id == NULL) {
		return (ent->append_only ? CX_ENOTSUP : CX_EINVAL);
	}
	stmt s = {0};
	sadd(&s, "DELETE FROM %s", ent->table);
	where_id(&s, ent, account, id);
	cxi_dbc c;
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv != CX_OK) {
		return (rv);
	}
	int64_t changes = 0;
	rv = cxi_db_exec(&c, s.sql, s.p, s.n, NULL, &changes);
	if (rv != CX_OK) {
		rv = cxi_repo_dberr(&c, ent, rv, NULL, 0);
	} else if (changes == 0) {
		rv = CX_ENOENT;
	}
	cxi_db_release(&c);
	return (rv);
}

/* ---- listing ---- */

/* The cursor is base64url("<time>:<id>") of the last row returned. */
static void
cursor_make(const json_t *row, const char *time_col, char *out,
    size_t outlen)
{
	char raw[96];
	int n = snprintf(raw, sizeof(raw), "%lld:%s",
	    (long long) json_integer_value(json_object_get(row, time_col)),
	    json_string_value(json_object_get(row, "id")));
	sodium_bin2base64(out, outlen, (const unsigned char *) raw,
	    (size_t) n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int
cursor_parse(const char *cur, int64_t *t, char *id, size_t idlen)
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
	cx_err rv = check_keys(ent, filters, CXI_C_FILTER, why, whylen);
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
	sadd(s, "SELECT ");
	select_list(s, ent);
	sadd(s, " FROM %s WHERE 1 = 1", ent->table);
	if (account != NULL && ent->scope != NULL) {
		sadd(s, " AND %s = $%zu", ent->scope,
		    sparam(s, CX_DB_V_TEXT(account)));
	}
	const char *k;
	json_t *v;
	json_object_foreach (filters, k, v) {
		const cxi_column *col = column(ent, k);
		if (json_is_null(v)) {
			cxi_repo_why(why, whylen, "filter %s.%s must not be "
			    "null", ent->name, k);
			rv = CX_EINVAL;
			break;
		}
		if ((rv = bind_value(s, ent, col, v, why, whylen)) != CX_OK) {
			break;
		}
		sadd(s, " AND %s = $%zu", col->name, s->n);
	}
	char cid[72];
	int64_t ct;
	if (rv == CX_OK && cursor != NULL) {
		if (cursor_parse(cursor, &ct, cid, sizeof(cid)) != 0) {
			cxi_repo_why(why, whylen, "invalid cursor");
			rv = CX_EINVAL;
		} else {
			size_t a = sparam(s, CX_DB_V_INT(ct));
			size_t b = sparam(s, CX_DB_V_INT(ct));
			size_t d = sparam(s, CX_DB_V_TEXT(cid));
			sadd(s, " AND (%s > $%zu OR (%s = $%zu AND id > $%zu))",
			    ent->time_col, a, ent->time_col, b, d);
		}
	}
	cxi_dbc c;
	if (rv == CX_OK && (rv = cxi_db_acquire(db, 10000, &c)) == CX_OK) {
		/* One row more than asked says whether a next page exists. */
		sadd(s, " ORDER BY %s, id LIMIT $%zu", ent->time_col,
		    sparam(s, CX_DB_V_INT(limit + 1)));
		cx_db_rows *rows = NULL;
		rv = s->overflow ? CX_EINTERNAL :
		                   cxi_db_exec(&c, s->sql, s->p, s->n, &rows,
		                       NULL);
		if (rv != CX_OK) {
			rv = cxi_repo_dberr(&c, ent, rv, why, whylen);
		} else {
			json_t *items = rows_out(&c, ent, rows);
			json_t *next = json_null();
			if (json_array_size(items) > (size_t) limit) {
				char cur[160];
				json_array_remove(items, (size_t) limit);
				cursor_make(json_array_get(items,
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
	sfree(s);
	free(s);
	return (rv);
}

cx_err
cxi_repo_set(const cxi_db *db, const cxi_entity *ent, const char *account,
    const char *id, json_t *sys)
{
	if (sys == NULL) {
		return (CX_ENOMEM);
	}
	cxi_dbc c;
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv == CX_OK) {
		rv = cxi_repo_update_c(&c, ent, account, id, NULL, sys, NULL,
		    NULL, 0);
		cxi_db_release(&c);
	}
	json_decref(sys);
	return (rv);
}

cx_err
cxi_repo_exec(const cxi_db *db, const cxi_entity *ent, const char *sql,
    const cx_db_value *p, size_t n, int64_t *changes, char *why,
    size_t whylen)
{
	cxi_dbc c;
	cx_err rv = cxi_db_acquire(db, 10000, &c);
	if (rv != CX_OK) {
		cxi_repo_why(why, whylen, "storage: %s", c.err.message);
		return (rv);
	}
	if ((rv = cxi_db_exec(&c, sql, p, n, NULL, changes)) != CX_OK) {
		rv = cxi_repo_dberr(&c, ent, rv, why, whylen);
	}
	cxi_db_release(&c);
	return (rv);
}
