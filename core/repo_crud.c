/*
 * repo_crud.c - create, get, update and delete for any entity.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo_int.h"

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
	cx_err rv = rp_check_keys(ent, fields, CXI_C_CREATE, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	const cxi_column *sc = ent->scope ? rp_column(ent, ent->scope) : NULL;
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
	rp_sadd(s, "INSERT INTO %s (id", ent->table);
	rp_sadd(vals, ") VALUES ($%zu", rp_param(vals, CX_DB_V_TEXT(id)));
	for (const cxi_column *col = ent->cols; rv == CX_OK && col->name;
	     col++) {
		const json_t *v;
		if (sc == col) {
			rp_param(vals, CX_DB_V_TEXT(account));
		} else if ((v = json_object_get(sys, col->name)) == NULL &&
		    (strcmp(col->name, ent->time_col) == 0 ||
		        (ent->has_updated &&
		            strcmp(col->name, "updated_at") == 0))) {
			rp_param(vals, CX_DB_V_INT(now));
		} else if (v != NULL ||
		    (v = json_object_get(fields, col->name)) != NULL) {
			if ((rv = rp_bind(vals, ent, col, v, why,
			         whylen)) == CX_OK) {
				rv = rp_check_ref(c, ent, col, account, v, why,
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
		rp_sadd(s, ", %s", col->name);
		rp_sadd(vals, ", $%zu", vals->n);
	}
	if (rv == CX_OK) {
		rp_sadd(s, "%s)", vals->sql);
		if (conflict != NULL) {
			/* Skipping in the statement, not by catching the
			 * violation: PostgreSQL aborts a transaction on any
			 * error, and a batch must go on past duplicates. */
			rp_sadd(s, " ON CONFLICT (%s) DO NOTHING", conflict);
		}
		rp_sadd(s, " RETURNING ");
		rp_select_list(s, ent);
		memcpy(s->p, vals->p, sizeof(vals->p));
		s->n = vals->n;
		s->overflow |= vals->overflow;
		rv = rp_run_one(c, ent, s, row_out, why, whylen);
		if (inserted != NULL) {
			*inserted = rv == CX_OK;
		}
		if (rv == CX_ENOENT && conflict != NULL) {
			rv = CX_OK; /* the conflicting row was there already */
		}
	}
	rp_free(vals);
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
rp_where_id(stmt *s, const cxi_entity *ent, const char *account, const char *id)
{
	rp_sadd(s, " WHERE id = $%zu", rp_param(s, CX_DB_V_TEXT(id)));
	if (account != NULL && ent->scope != NULL) {
		rp_sadd(s, " AND %s = $%zu", ent->scope,
		    rp_param(s, CX_DB_V_TEXT(account)));
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
	rp_sadd(&s, "SELECT ");
	rp_select_list(&s, ent);
	rp_sadd(&s, " FROM %s", ent->table);
	rp_where_id(&s, ent, account, id);
	return (rp_run_one(c, ent, &s, row, NULL, 0));
}

cx_err
cxi_repo_find_c(cxi_dbc *c, const cxi_entity *ent, const char *col,
    const char *value, json_t **row)
{
	if (value == NULL || rp_column(ent, col) == NULL) {
		return (CX_EINVAL);
	}
	stmt s = {0};
	rp_sadd(&s, "SELECT ");
	rp_select_list(&s, ent);
	rp_sadd(&s, " FROM %s WHERE %s = $%zu", ent->table, col,
	    rp_param(&s, CX_DB_V_TEXT(value)));
	return (rp_run_one(c, ent, &s, row, NULL, 0));
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
	cx_err rv = rp_check_keys(ent, fields, CXI_C_UPDATE, why, whylen);
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
	rp_sadd(s, "UPDATE %s SET ", ent->table);
	const char *sep = "";
	for (const cxi_column *col = ent->cols; rv == CX_OK && col->name;
	     col++) {
		const json_t *v = json_object_get(sys, col->name);
		if (v == NULL) {
			v = json_object_get(fields, col->name);
		}
		if (v != NULL) {
			if ((rv = rp_bind(s, ent, col, v, why, whylen)) ==
			    CX_OK) {
				rv = rp_check_ref(c, ent, col, account, v, why,
				    whylen);
			}
		} else if (ent->has_updated &&
		    strcmp(col->name, "updated_at") == 0) {
			rp_param(s, CX_DB_V_INT(cxi_repo_now_ms()));
		} else {
			continue;
		}
		rp_sadd(s, "%s%s = $%zu", sep, col->name, s->n);
		sep = ", ";
	}
	if (rv == CX_OK) {
		rp_where_id(s, ent, account, id);
		rp_sadd(s, " RETURNING ");
		rp_select_list(s, ent);
		rv = rp_run_one(c, ent, s, row, why, whylen);
	}
	rp_free(s);
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
	cx_err rv = rp_check_keys(ent, fields, CXI_C_UPDATE, why, whylen);
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
	rp_sadd(&s, "DELETE FROM %s", ent->table);
	rp_where_id(&s, ent, account, id);
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
