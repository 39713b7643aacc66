/*
 * pg_exec.c - statements, transactions and result rows.
 *
 * Parameters go in text format ($1..$n), except BLOBs, which go binary
 * so bytes (NUL included) need no escaping. INT and REAL parameters are
 * typed int8 and float8 so `SELECT $1` comes back as the same type, as
 * with SQLite; TEXT stays untyped ("unknown") so the server coerces it
 * to the column's type, like a quoted literal.
 *
 * Results come in text format and are typed by column OID: integers and
 * bool as CX_DB_INT, float4/8 as CX_DB_REAL, bytea (unescaped once, up
 * front) as CX_DB_BLOB, everything else as CX_DB_TEXT. numeric is what
 * SUM() over a bigint returns, so an integral numeric that fits int64 is
 * CX_DB_INT and any other stays exact as CX_DB_TEXT.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

/* Type OIDs from the server catalog (pg_type.dat); stable forever. */
enum {
	OID_BOOL = 16,
	OID_BYTEA = 17,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_NUMERIC = 1700,
};

/* Column kinds: cx_db_type plus the two that need a look at the text. */
enum { COL_BOOL = 100, COL_NUMERIC };

struct cx_db_rows {
	PGresult *res;
	size_t nrows, ncols;
	int *kind;              /* per column */
	unsigned char **blobs;  /* nrows * ncols, bytea cells only */
	size_t *blob_len;
};

#define PG_STACK_PARAMS 16

typedef struct pg_params {
	const char **vals;
	int *lens, *fmts;
	Oid *types;
	char (*nums)[32];
	char **owned; /* TEXT copies made NUL-terminated */
	const char *s_vals[PG_STACK_PARAMS];
	int s_lens[PG_STACK_PARAMS], s_fmts[PG_STACK_PARAMS];
	Oid s_types[PG_STACK_PARAMS];
	char s_nums[PG_STACK_PARAMS][32];
	char *s_owned[PG_STACK_PARAMS];
	void *heap; /* non-NULL: the arrays above were malloc'd */
} pg_params;

static void
params_free(pg_params *p, size_t n)
{
	for (size_t i = 0; i < n && p->owned != NULL; i++) {
		free(p->owned[i]);
	}
	if (p->heap != NULL) {
		free(p->vals);
		free(p->lens);
		free(p->fmts);
		free(p->types);
		free(p->nums);
		free(p->owned);
	}
}

static cx_err
params_build(pg_params *p, const cx_db_value *in, size_t n, cx_db_error *err)
{
	memset(p, 0, offsetof(pg_params, s_vals));
	p->heap = NULL;
	if (n > PG_STACK_PARAMS) {
		/* Rare (bulk statements): separate arrays keep it simple. */
		p->vals = calloc(n, sizeof(*p->vals));
		p->lens = calloc(n, sizeof(*p->lens));
		p->fmts = calloc(n, sizeof(*p->fmts));
		p->types = calloc(n, sizeof(*p->types));
		p->nums = calloc(n, sizeof(*p->nums));
		p->owned = calloc(n, sizeof(*p->owned));
		p->heap = p; /* marks the arrays as heap-allocated */
		if (p->vals == NULL || p->lens == NULL || p->fmts == NULL ||
		    p->types == NULL || p->nums == NULL || p->owned == NULL) {
			params_free(p, 0);
			return (pg_seterr(err, CX_DB_EOTHER, "", "out of memory"));
		}
	} else {
		p->vals = p->s_vals;
		p->lens = p->s_lens;
		p->fmts = p->s_fmts;
		p->types = p->s_types;
		p->nums = p->s_nums;
		p->owned = p->s_owned;
		memset(p->s_owned, 0, sizeof(p->s_owned));
	}
	for (size_t i = 0; i < n; i++) {
		const cx_db_value *v = &in[i];
		p->vals[i] = NULL;
		p->lens[i] = 0;
		p->fmts[i] = 0;
		p->types[i] = 0;
		switch (v->type) {
		case CX_DB_INT:
			snprintf(p->nums[i], 32, "%" PRId64, v->i);
			p->vals[i] = p->nums[i];
			p->types[i] = OID_INT8;
			break;
		case CX_DB_REAL:
			if (isnan(v->d)) {
				p->vals[i] = "NaN";
			} else if (isinf(v->d)) {
				p->vals[i] = v->d > 0 ? "Infinity" : "-Infinity";
			} else {
				/* 17 digits: enough to round-trip any double. */
				snprintf(p->nums[i], 32, "%.17g", v->d);
				p->vals[i] = p->nums[i];
			}
			p->types[i] = OID_FLOAT8;
			break;
		case CX_DB_TEXT:
			if (v->s == NULL) {
				break;
			}
			if (v->s[v->len] == '\0') {
				p->vals[i] = v->s;
			} else if ((p->owned[i] = strndup(v->s, v->len)) != NULL) {
				p->vals[i] = p->owned[i];
			} else {
				params_free(p, n);
				return (pg_seterr(err, CX_DB_EOTHER, "",
				    "out of memory"));
			}
			break;
		case CX_DB_BLOB:
			if (v->len > INT32_MAX) {
				params_free(p, n);
				return (pg_seterr(err, CX_DB_ESQL, "",
				    "parameter $%zu: BLOB over 2 GiB", i + 1));
			}
			/* libpq wants a non-NULL pointer even for 0 bytes. */
			p->vals[i] = v->b != NULL ? v->b : "";
			p->lens[i] = (int) v->len;
			p->fmts[i] = 1;
			p->types[i] = OID_BYTEA;
			break;
		case CX_DB_NULL:
			break;
		default:
			params_free(p, n);
			return (pg_seterr(err, CX_DB_ESQL, "",
			    "parameter $%zu: unknown type %d", i + 1,
			    (int) v->type));
		}
	}
	return (CX_OK);
}

static int
column_kind(Oid oid)
{
	switch (oid) {
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
		return (CX_DB_INT);
	case OID_BOOL:
		return (COL_BOOL);
	case OID_FLOAT4:
	case OID_FLOAT8:
		return (CX_DB_REAL);
	case OID_BYTEA:
		return (CX_DB_BLOB);
	case OID_NUMERIC:
		return (COL_NUMERIC);
	default:
		return (CX_DB_TEXT);
	}
}

void
pg_rows_free(cx_db_rows *r)
{
	if (r == NULL) {
		return;
	}
	if (r->blobs != NULL) {
		for (size_t i = 0; i < r->nrows * r->ncols; i++) {
			PQfreemem(r->blobs[i]);
		}
	}
	free(r->blobs);
	free(r->blob_len);
	free(r->kind);
	PQclear(r->res);
	free(r);
}

/* Takes ownership of res (even on failure). */
static cx_err
rows_new(PGresult *res, cx_db_rows **out, cx_db_error *err)
{
	cx_db_rows *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		PQclear(res);
		return (pg_seterr(err, CX_DB_EOTHER, "", "out of memory"));
	}
	r->res = res;
	r->nrows = (size_t) PQntuples(res);
	r->ncols = (size_t) PQnfields(res);
	r->kind = calloc(r->ncols + 1, sizeof(*r->kind));
	if (r->kind == NULL) {
		goto nomem;
	}
	bool any_blob = false;
	for (size_t c = 0; c < r->ncols; c++) {
		r->kind[c] = column_kind(PQftype(res, (int) c));
		any_blob |= r->kind[c] == CX_DB_BLOB;
	}
	if (any_blob && r->nrows > 0) {
		size_t cells = r->nrows * r->ncols;
		r->blobs = calloc(cells, sizeof(*r->blobs));
		r->blob_len = calloc(cells, sizeof(*r->blob_len));
		if (r->blobs == NULL || r->blob_len == NULL) {
			goto nomem;
		}
		for (size_t i = 0; i < r->nrows; i++) {
			for (size_t c = 0; c < r->ncols; c++) {
				if (r->kind[c] != CX_DB_BLOB ||
				    PQgetisnull(res, (int) i, (int) c)) {
					continue;
				}
				size_t k = i * r->ncols + c;
				r->blobs[k] = PQunescapeBytea((const unsigned char *)
				    PQgetvalue(res, (int) i, (int) c), &r->blob_len[k]);
				if (r->blobs[k] == NULL) {
					goto nomem;
				}
			}
		}
	}
	*out = r;
	return (CX_OK);
nomem:
	pg_rows_free(r);
	return (pg_seterr(err, CX_DB_EOTHER, "", "out of memory"));
}

static bool
ok_status(ExecStatusType s)
{
	return (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ||
	    s == PGRES_EMPTY_QUERY);
}

static cx_err
no_conn(cx_db_error *err)
{
	return (pg_seterr(err, CX_DB_EUNAVAIL, "", "no connection"));
}

cx_err
pg_exec(cx_db_conn *c, const char *sql, const cx_db_value *params,
    size_t n_params, cx_db_rows **rows, int64_t *changes, cx_db_error *err)
{
	if (rows != NULL) {
		*rows = NULL;
	}
	if (changes != NULL) {
		*changes = 0;
	}
	if (c == NULL || c->pg == NULL) {
		return (no_conn(err));
	}
	if (n_params > 65535) {
		return (pg_seterr(err, CX_DB_ESQL, "",
		    "%zu parameters: PostgreSQL takes at most 65535", n_params));
	}
	pg_params p;
	cx_err rv = params_build(&p, params, n_params, err);
	if (rv != CX_OK) {
		return (rv);
	}
	PGresult *res = PQexecParams(c->pg, sql, (int) n_params, p.types,
	    p.vals, p.lens, p.fmts, 0);
	params_free(&p, n_params);
	if (!ok_status(PQresultStatus(res))) {
		rv = pg_result_error(c, res, err);
		PQclear(res);
		return (rv);
	}
	if (changes != NULL) {
		*changes = strtoll(PQcmdTuples(res), NULL, 10);
	}
	if (rows == NULL) {
		PQclear(res);
		return (pg_seterr(err, CX_DB_EOK, "", "%s", ""));
	}
	rv = rows_new(res, rows, err);
	return (rv == CX_OK ? pg_seterr(err, CX_DB_EOK, "", "%s", "") : rv);
}

cx_err
pg_exec_script(cx_db_conn *c, const char *sql, cx_db_error *err)
{
	if (c == NULL || c->pg == NULL) {
		return (no_conn(err));
	}
	/* PQexec (not PQexecParams) is what accepts several statements in
	 * one string; it stops at the first error, which it returns. */
	PGresult *res = PQexec(c->pg, sql);
	cx_err rv = ok_status(PQresultStatus(res)) ?
	    pg_seterr(err, CX_DB_EOK, "", "%s", "") :
	    pg_result_error(c, res, err);
	PQclear(res);
	return (rv);
}

static cx_err
simple(cx_db_conn *c, const char *sql, cx_db_error *err)
{
	return (pg_exec_script(c, sql, err));
}

cx_err
pg_begin(cx_db_conn *c, cx_db_error *err)
{
	/* Serializable, like SQLite's single writer: read-modify-write in a
	 * transaction can never lose an update; a conflict comes back as
	 * 40001 (CX_DB_EBUSY) and the core retries the transaction. */
	return (simple(c, "BEGIN ISOLATION LEVEL SERIALIZABLE", err));
}

cx_err
pg_commit(cx_db_conn *c, cx_db_error *err)
{
	if (c == NULL || c->pg == NULL) {
		return (no_conn(err));
	}
	/* COMMIT of a failed transaction "succeeds" with the tag ROLLBACK;
	 * the caller must hear that nothing was written. */
	if (PQtransactionStatus(c->pg) == PQTRANS_INERROR) {
		cx_db_error ignored;
		simple(c, "ROLLBACK", &ignored);
		return (pg_seterr(err, CX_DB_EOTHER, "25P02",
		    "transaction aborted by an earlier error; rolled back"));
	}
	PGresult *res = PQexec(c->pg, "COMMIT");
	cx_err rv;
	if (!ok_status(PQresultStatus(res))) {
		rv = pg_result_error(c, res, err);
	} else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
		rv = pg_seterr(err, CX_DB_EOTHER, "25P02",
		    "transaction was rolled back by the server");
	} else {
		rv = pg_seterr(err, CX_DB_EOK, "", "%s", "");
	}
	PQclear(res);
	return (rv);
}

cx_err
pg_rollback(cx_db_conn *c, cx_db_error *err)
{
	return (simple(c, "ROLLBACK", err));
}

size_t
pg_rows_count(const cx_db_rows *r)
{
	return (r != NULL ? r->nrows : 0);
}

size_t
pg_rows_columns(const cx_db_rows *r)
{
	return (r != NULL ? r->ncols : 0);
}

const char *
pg_rows_name(const cx_db_rows *r, size_t col)
{
	return (r != NULL && col < r->ncols ? PQfname(r->res, (int) col) : NULL);
}

cx_err
pg_rows_get(const cx_db_rows *r, size_t row, size_t col, cx_db_value *out)
{
	memset(out, 0, sizeof(*out));
	if (r == NULL || row >= r->nrows || col >= r->ncols) {
		return (CX_EINVAL);
	}
	int ri = (int) row, ci = (int) col;
	if (PQgetisnull(r->res, ri, ci)) {
		out->type = CX_DB_NULL;
		return (CX_OK);
	}
	const char *s = PQgetvalue(r->res, ri, ci);
	char *end;
	switch (r->kind[col]) {
	case CX_DB_INT:
		out->type = CX_DB_INT;
		out->i = strtoll(s, NULL, 10);
		return (CX_OK);
	case COL_BOOL:
		out->type = CX_DB_INT;
		out->i = s[0] == 't';
		return (CX_OK);
	case CX_DB_REAL:
		out->type = CX_DB_REAL;
		out->d = strtod(s, NULL);
		return (CX_OK);
	case CX_DB_BLOB:
		out->type = CX_DB_BLOB;
		out->b = r->blobs[row * r->ncols + col];
		out->len = r->blob_len[row * r->ncols + col];
		return (CX_OK);
	case COL_NUMERIC:
		errno = 0;
		out->i = strtoll(s, &end, 10);
		if (errno == 0 && end != s && *end == '\0') {
			out->type = CX_DB_INT;
			return (CX_OK);
		}
		out->i = 0;
		break;
	default:
		break;
	}
	out->type = CX_DB_TEXT;
	out->s = s;
	out->len = (size_t) PQgetlength(r->res, ri, ci);
	return (CX_OK);
}
