/*
 * migrate.c - apply and report schema migrations.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "migrate.h"

#define MIGRATIONS_TABLE                                                \
	"CREATE TABLE IF NOT EXISTS cx_schema_migrations ("             \
	"version INTEGER PRIMARY KEY, name TEXT NOT NULL, "              \
	"checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)"

static void
checksum(const char *sql, char hex[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *) sql, strlen(sql));
	sodium_bin2hex(hex, 65, h, sizeof(h));
}

static int64_t
now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return ((int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

static void
db_why(const cxi_dbc *c, const char *what, char *why, size_t whylen)
{
	snprintf(why, whylen, "%s: %s (%s)", what, c->err.message,
	    cxi_db_errclass_name(c->err.cls));
}

/* Reads the applied migrations as {"<version>": {"name","checksum",
 * "applied_at"}}. */
static json_t *
read_applied(const cxi_db *db, char *why, size_t whylen)
{
	cxi_dbc c;
	cx_db_rows *rows = NULL;
	if (cxi_db_acquire(db, 10000, &c) != CX_OK) {
		db_why(&c, "cannot reach the database", why, whylen);
		return (NULL);
	}
	json_t *out = NULL;
	if (cxi_db_exec(&c, MIGRATIONS_TABLE, NULL, 0, NULL, NULL) != CX_OK ||
	    cxi_db_exec(&c, "SELECT version, name, checksum, applied_at FROM "
	                    "cx_schema_migrations ORDER BY version",
	        NULL, 0, &rows, NULL) != CX_OK) {
		db_why(&c, "cannot read cx_schema_migrations", why, whylen);
		goto out;
	}
	out = json_object();
	for (size_t r = 0; r < cxi_db_rows_count(&c, rows); r++) {
		char key[24];
		snprintf(key, sizeof(key), "%lld",
		    (long long) cxi_db_int(&c, rows, r, 0, 0));
		const char *name = cxi_db_text(&c, rows, r, 1);
		const char *sum = cxi_db_text(&c, rows, r, 2);
		json_object_set_new(out, key, json_pack("{s:s, s:s, s:I}",
		    "name", name ? name : "", "checksum", sum ? sum : "",
		    "applied_at", (json_int_t) cxi_db_int(&c, rows, r, 3, 0)));
	}
out:
	cxi_db_rows_free(&c, rows);
	cxi_db_release(&c);
	return (out);
}

int
cxi_migrate_status(const cxi_db *db, json_t **status, char *why,
    size_t whylen)
{
	json_t *applied = read_applied(db, why, whylen);
	if (applied == NULL) {
		return (-1);
	}
	json_t *list = json_array();
	uint32_t latest = 0, current = 0;
	int pending = 0;
	char problem[256] = "";
	for (const cx_db_migration *m = db->ops->migrations; m && m->version;
	     m++) {
		char key[24], sum[65];
		snprintf(key, sizeof(key), "%u", m->version);
		checksum(m->sql, sum);
		json_t *a = json_object_get(applied, key);
		const char *state = "pending";
		if (a != NULL) {
			bool same = strcmp(json_string_value(json_object_get(a,
			                       "checksum")), sum) == 0;
			state = same ? "applied" : "changed";
			if (!same && problem[0] == '\0') {
				snprintf(problem, sizeof(problem),
				    "migration %s was changed after it was "
				    "applied; restore its original text",
				    m->name);
			}
			current = m->version;
		} else {
			pending++;
		}
		latest = m->version;
		json_t *e = json_pack("{s:i, s:s, s:s}", "version",
		    (int) m->version, "name", m->name, "state", state);
		if (a != NULL) {
			json_object_set(e, "applied_at",
			    json_object_get(a, "applied_at"));
		}
		json_array_append_new(list, e);
		json_object_del(applied, key);
	}
	/* What is left was applied by a newer build. */
	const char *key;
	json_t *a;
	json_object_foreach (applied, key, a) {
		unsigned v = (unsigned) strtoul(key, NULL, 10);
		if (v > current) {
			current = v;
		}
		json_array_append_new(list, json_pack("{s:i, s:s, s:s, s:O}",
		    "version", (int) v, "name",
		    json_string_value(json_object_get(a, "name")), "state",
		    "unknown", "applied_at", json_object_get(a, "applied_at")));
		if (problem[0] == '\0') {
			snprintf(problem, sizeof(problem),
			    "the database schema is at version %u, newer than "
			    "this build knows (%u): upgrade callixod",
			    v, latest);
		}
	}
	json_decref(applied);
	*status = json_pack("{s:s, s:i, s:i, s:i, s:b, s:o}", "dialect",
	    db->ops->dialect, "current", (int) current, "latest", (int) latest,
	    "pending", pending, "ok", problem[0] == '\0', "migrations", list);
	if (problem[0] != '\0') {
		json_object_set_new(*status, "problem", json_string(problem));
	}
	return (0);
}

typedef struct step {
	const cx_db_migration *m;
	char sum[65];
} step;

static cx_err
apply_one(cxi_dbc *c, void *arg)
{
	step *s = arg;
	cx_err rv = c->db->ops->exec_script(c->conn, s->m->sql, &c->err);
	if (rv != CX_OK) {
		return (rv);
	}
	cx_db_value p[] = {CX_DB_V_INT(s->m->version), CX_DB_V_TEXT(s->m->name),
	    CX_DB_V_TEXT(s->sum), CX_DB_V_INT(now_ms())};
	return (cxi_db_exec(c, "INSERT INTO cx_schema_migrations (version, "
	                       "name, checksum, applied_at) VALUES ($1, $2, $3, "
	                       "$4)",
	    p, 4, NULL, NULL));
}

int
cxi_migrate_up(const cxi_db *db, json_t **applied, char *why, size_t whylen)
{
	json_t *st;
	if (cxi_migrate_status(db, &st, why, whylen) != 0) {
		return (-1);
	}
	const char *problem = json_string_value(json_object_get(st, "problem"));
	if (problem != NULL) {
		snprintf(why, whylen, "%s", problem);
		json_decref(st);
		return (-1);
	}
	json_t *done = json_array();
	int rv = 0;
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(st, "migrations"), i, e) {
		if (strcmp(json_string_value(json_object_get(e, "state")),
		        "pending") != 0) {
			continue;
		}
		step s = {.m = &db->ops->migrations[i]};
		checksum(s.m->sql, s.sum);
		cx_db_error err;
		if (cxi_db_tx(db, 3, apply_one, &s, &err) != CX_OK) {
			/* Another daemon sharing the database may have applied
			 * it in the meantime; that is success for us. */
			json_t *again;
			char w2[64];
			if (cxi_migrate_status(db, &again, w2, sizeof(w2)) == 0) {
				json_t *me = json_array_get(json_object_get(again,
				    "migrations"), i);
				bool ok = strcmp(json_string_value(json_object_get(me,
				                     "state")), "applied") == 0;
				json_decref(again);
				if (ok) {
					continue;
				}
			}
			snprintf(why, whylen, "migration %s failed and was "
			    "rolled back: %s (%s)", s.m->name, err.message,
			    cxi_db_errclass_name(err.cls));
			rv = -1;
			break;
		}
		json_array_append_new(done, json_string(s.m->name));
	}
	json_decref(st);
	if (applied != NULL) {
		*applied = done;
	} else {
		json_decref(done);
	}
	return (rv);
}
