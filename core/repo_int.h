/*
 * repo_int.h - what the repository's own files share: statements built
 * from whitelisted identifiers with every value as a $n parameter.
 */
#ifndef CXI_REPO_INT_H
#define CXI_REPO_INT_H

#include "repo.h"

#define MAX_PARAMS 48
#define SQL_MAX 4096

typedef struct stmt {
	char sql[SQL_MAX];
	size_t len;
	bool overflow;
	cx_db_value p[MAX_PARAMS];
	char *owned[MAX_PARAMS]; /* JSON texts we serialized */
	size_t n;
} stmt;

/* Appends to the SQL text (overflow is remembered, checked at run). */
void rp_sadd(stmt *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Adds a parameter and returns its $n number. */
size_t rp_param(stmt *s, cx_db_value v);
void rp_free(stmt *s);
const cxi_column *rp_column(const cxi_entity *ent, const char *name);
/* Checks one value against its column and adds it as a parameter. */
cx_err rp_bind(stmt *s, const cxi_entity *ent, const cxi_column *col,
    const json_t *v, char *why, size_t whylen);
/* The SELECT list: id and every column that may be shown. */
void rp_select_list(stmt *s, const cxi_entity *ent);
/* Rows as JSON with JSON columns parsed back and bools as bools. */
json_t *rp_rows_out(cxi_dbc *c, const cxi_entity *ent,
    const cx_db_rows *rows);
/* Runs s and hands back its first row (CX_ENOENT when none). */
cx_err rp_run_one(cxi_dbc *c, const cxi_entity *ent, stmt *s, json_t **row,
    char *why, size_t whylen);
/* A referenced id must be a row of the same account. */
cx_err rp_check_ref(cxi_dbc *c, const cxi_entity *ent, const cxi_column *col,
    const char *account, const json_t *v, char *why, size_t whylen);
/* Every key of `fields` must be a column carrying `flag`. */
cx_err rp_check_keys(const cxi_entity *ent, const json_t *fields,
    unsigned flag, char *why, size_t whylen);

/* Keyset cursors of repo_list.c: base64url("<time>:<id>") of a row. */
void rp_cursor_make(const json_t *row, const char *time_col, char *out,
    size_t outlen);
int rp_cursor_parse(const char *cur, int64_t *t, char *id, size_t idlen);

#endif
