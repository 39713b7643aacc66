/*
 * rows.c - result sets copied out of SQLite.
 *
 * Column pointers from sqlite3_column_* die at the next step, and the
 * contract keeps values until rows_free, after the connection may have
 * gone back to the pool; so every row is copied. Text and blob bytes go
 * into one growing buffer and values hold offsets into it until the last
 * row, when they become pointers: three allocations per result instead of
 * one per value.
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite_int.h"

struct cx_db_rows {
	size_t n_rows;
	size_t n_cols;
	char **names;
	cx_db_value *vals; /* n_rows * n_cols, row-major */
	char *data;        /* text (NUL-terminated) and blob bytes */
};

typedef struct builder {
	cx_db_rows *r;
	size_t cap_vals;
	size_t data_len, data_cap;
} builder;

static int
grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap) {
		return (0);
	}
	size_t n = *cap > 0 ? *cap : 16;
	while (n < need) {
		if (n > SIZE_MAX / 2 / elem) {
			return (-1);
		}
		n *= 2;
	}
	void *q = realloc(*p, n * elem);
	if (q == NULL) {
		return (-1);
	}
	*p = q;
	*cap = n;
	return (0);
}

/* Appends len bytes (plus a NUL when `text`); returns the offset. */
static int
append(builder *b, const void *src, size_t len, bool text, size_t *off)
{
	size_t need = b->data_len + len + (text ? 1 : 0);
	if (need < b->data_len ||
	    grow((void **) &b->r->data, &b->data_cap, need, 1) != 0) {
		return (-1);
	}
	*off = b->data_len;
	if (len > 0) {
		memcpy(b->r->data + b->data_len, src, len);
	}
	if (text) {
		b->r->data[b->data_len + len] = '\0';
	}
	b->data_len = need;
	return (0);
}

static int
copy_value(builder *b, sqlite3_stmt *st, int col, cx_db_value *v)
{
	size_t off = 0;
	memset(v, 0, sizeof(*v));
	switch (sqlite3_column_type(st, col)) {
	case SQLITE_INTEGER:
		v->type = CX_DB_INT;
		v->i = sqlite3_column_int64(st, col);
		return (0);
	case SQLITE_FLOAT:
		v->type = CX_DB_REAL;
		v->d = sqlite3_column_double(st, col);
		return (0);
	case SQLITE_TEXT: {
		/* text before bytes: the documented order that avoids a
		 * second conversion. */
		const unsigned char *s = sqlite3_column_text(st, col);
		size_t len = (size_t) sqlite3_column_bytes(st, col);
		if (s == NULL || append(b, s, len, true, &off) != 0) {
			return (-1);
		}
		v->type = CX_DB_TEXT;
		v->len = len;
		break;
	}
	case SQLITE_BLOB: {
		const void *p = sqlite3_column_blob(st, col);
		size_t len = (size_t) sqlite3_column_bytes(st, col);
		/* An empty blob comes back as a NULL pointer. */
		if ((p == NULL && len > 0) || append(b, p, len, false, &off) != 0) {
			return (-1);
		}
		v->type = CX_DB_BLOB;
		v->len = len;
		break;
	}
	default:
		v->type = CX_DB_NULL;
		return (0);
	}
	/* Offset for now: the buffer may still move. */
	v->i = (int64_t) off;
	return (0);
}

static void
fix_pointers(cx_db_rows *r)
{
	static const char empty[1] = "";
	size_t n = r->n_rows * r->n_cols;
	for (size_t k = 0; k < n; k++) {
		cx_db_value *v = &r->vals[k];
		if (v->type != CX_DB_TEXT && v->type != CX_DB_BLOB) {
			continue;
		}
		const char *p = r->data != NULL ? r->data + v->i : empty;
		v->i = 0;
		if (v->type == CX_DB_TEXT) {
			v->s = p;
		} else {
			v->b = p;
		}
	}
}

static int
copy_names(cx_db_rows *r, sqlite3_stmt *st)
{
	r->names = calloc(r->n_cols > 0 ? r->n_cols : 1, sizeof(char *));
	if (r->names == NULL) {
		return (-1);
	}
	for (size_t c = 0; c < r->n_cols; c++) {
		const char *n = sqlite3_column_name(st, (int) c);
		if ((r->names[c] = strdup(n != NULL ? n : "")) == NULL) {
			return (-1);
		}
	}
	return (0);
}

cx_err
sq_rows_collect(sqlite3 *db, sqlite3_stmt *st, cx_db_rows **out,
    cx_db_error *err)
{
	builder b = {0};
	b.r = calloc(1, sizeof(*b.r));
	if (b.r == NULL) {
		return (sq_error_set(err, CX_DB_EOTHER, "out of memory"));
	}
	b.r->n_cols = (size_t) sqlite3_column_count(st);
	cx_err rv = CX_OK;
	if (copy_names(b.r, st) != 0) {
		rv = sq_error_set(err, CX_DB_EOTHER, "out of memory");
	}
	int rc = SQLITE_DONE;
	while (rv == CX_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t base = b.r->n_rows * b.r->n_cols;
		if (grow((void **) &b.r->vals, &b.cap_vals, base + b.r->n_cols,
		        sizeof(cx_db_value)) != 0) {
			rv = sq_error_set(err, CX_DB_EOTHER, "out of memory");
			break;
		}
		for (size_t c = 0; c < b.r->n_cols && rv == CX_OK; c++) {
			if (copy_value(&b, st, (int) c, &b.r->vals[base + c]) !=
			    0) {
				rv = sq_error_set(err, CX_DB_EOTHER,
				    "out of memory");
			}
		}
		if (rv == CX_OK) {
			b.r->n_rows++;
		}
	}
	if (rv == CX_OK && rc != SQLITE_DONE) {
		rv = sq_error(db, rc, false, err);
	}
	if (rv != CX_OK) {
		sq_rows_free(b.r);
		return (rv);
	}
	fix_pointers(b.r);
	*out = b.r;
	return (CX_OK);
}

size_t
sq_rows_count(const cx_db_rows *r)
{
	return (r != NULL ? r->n_rows : 0);
}

size_t
sq_rows_columns(const cx_db_rows *r)
{
	return (r != NULL ? r->n_cols : 0);
}

const char *
sq_rows_name(const cx_db_rows *r, size_t col)
{
	return (r != NULL && col < r->n_cols ? r->names[col] : NULL);
}

cx_err
sq_rows_get(const cx_db_rows *r, size_t row, size_t col, cx_db_value *out)
{
	if (r == NULL || row >= r->n_rows || col >= r->n_cols) {
		*out = CX_DB_V_NULL();
		return (CX_ENOENT);
	}
	*out = r->vals[row * r->n_cols + col];
	return (CX_OK);
}

void
sq_rows_free(cx_db_rows *r)
{
	if (r == NULL) {
		return;
	}
	for (size_t c = 0; r->names != NULL && c < r->n_cols; c++) {
		free(r->names[c]);
	}
	free(r->names);
	free(r->vals);
	free(r->data);
	free(r);
}
