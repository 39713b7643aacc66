/*
 * sqlite - the SQLite storage driver: one database file in the plugin's
 * data directory, a pool of connections, and the schema migrations in
 * SQLite's dialect compiled into the .so (migrations/, embedded at build
 * time by plugins/storage/embed_migrations.py).
 *
 * This file holds the descriptor, the settings and the lifecycle; the
 * contract's operations live in pool.c, stmt.c, exec.c, rows.c and
 * errors.c.
 */
#include <stdio.h>
#include <string.h>

#include "sqlite_int.h"

static const char *const sync_choices[] = {"normal", "full", NULL};

static const cx_setting sq_settings_decl[] = {
    CX_SETTING_STR("file", 0, "callixo.db",
        "Database file; a relative path is inside the plugin's data "
        "directory (<data_dir>/plugins/<name>), an absolute one is used "
        "as is"),
    CX_SETTING_INT("pool_size", 0, "4", 1, 64,
        "Connections kept open; each serves one request at a time"),
    CX_SETTING_DURATION("busy_timeout", 0, "5s", 0, 600000,
        "How long a writer waits for another writer's lock before the "
        "statement fails with a retryable busy error"),
    CX_SETTING_INT("statement_cache", 0, "64", 0, 4096,
        "Prepared statements kept per connection (least recently used "
        "are dropped); 0 prepares every statement afresh"),
    CX_SETTING_ENUM("synchronous", 0, "normal", sync_choices,
        "normal: with WAL, a power cut may lose the last commits but "
        "never corrupts; full: fsync on every commit (slower, durable)"),
    CX_SETTINGS_END,
};

/* Rejects names that climb out of the data directory by accident
 * ("../x.db"); an operator who wants another place writes an absolute
 * path, which says so plainly. */
static cx_err
sq_validate(const json_t *s, char *err, size_t errlen)
{
	const char *file = json_string_value(json_object_get(s, "file"));
	if (file == NULL || file[0] == '\0') {
		snprintf(err, errlen, "'file' must not be empty");
		return (CX_EINVAL);
	}
	if (file[0] != '/') {
		const char *p = file;
		while (p != NULL) {
			if (strncmp(p, "..", 2) == 0 &&
			    (p[2] == '/' || p[2] == '\0')) {
				snprintf(err, errlen, "'file' must not leave the "
				    "data directory ('..'); use an absolute path");
				return (CX_EINVAL);
			}
			p = strchr(p, '/');
			p = p != NULL ? p + 1 : NULL;
		}
	}
	if (strlen(file) >= 2048) {
		snprintf(err, errlen, "'file' is too long");
		return (CX_EINVAL);
	}
	return (CX_OK);
}

static void
read_settings(sq_settings *cfg, const cx_host *h, const json_t *s)
{
	const char *file = json_string_value(json_object_get(s, "file"));
	if (file[0] == '/') {
		snprintf(cfg->path, sizeof(cfg->path), "%s", file);
	} else {
		snprintf(cfg->path, sizeof(cfg->path), "%s/%s", h->data_dir,
		    file);
	}
	cfg->pool_size = (int) json_integer_value(json_object_get(s,
	    "pool_size"));
	cfg->busy_timeout_ms = (int) json_integer_value(json_object_get(s,
	    "busy_timeout"));
	cfg->statement_cache = (int) json_integer_value(json_object_get(s,
	    "statement_cache"));
	const char *sync = json_string_value(json_object_get(s,
	    "synchronous"));
	cfg->synchronous = sync != NULL && strcmp(sync, "full") == 0 ? "FULL" :
	                                                               "NORMAL";
}

static cx_err
sq_init(void *state, const cx_host *h, const json_t *s)
{
	sq_state *st = state;
	st->host = h;
	/* The connections are handed to different threads one at a time,
	 * which needs SQLite built thread-safe (mode 1 or 2). */
	if (sqlite3_threadsafe() == 0) {
		h->log(h, CX_LOG_ERROR, "libsqlite3 %s was built without "
		    "thread support", sqlite3_libversion());
		return (CX_ENOTSUP);
	}
	char why[256];
	if (sq_validate(s, why, sizeof(why)) != CX_OK) {
		h->log(h, CX_LOG_ERROR, "%s", why);
		return (CX_ECONFIG);
	}
	read_settings(&st->cfg, h, s);
	cx_err rv = sq_pool_open(&st->pool, h, &st->cfg);
	if (rv != CX_OK) {
		return (rv);
	}
	st->pool_ready = true;
	h->log(h, CX_LOG_INFO, "database %s open (SQLite %s, WAL, "
	    "synchronous=%s, %d connections)", st->cfg.path,
	    sqlite3_libversion(), st->cfg.synchronous, st->cfg.pool_size);
	return (CX_OK);
}

static void
sq_fini(void *state)
{
	sq_state *st = state;
	if (st->pool_ready) {
		sq_pool_close(&st->pool);
		st->pool_ready = false;
	}
}

const cx_storage_ops sq_ops = {
	.size = sizeof(cx_storage_ops),
	.dialect = "sqlite",
	.migrations = sqlite_migrations,
	.acquire = sq_acquire,
	.release = sq_release,
	.exec = sq_exec,
	.exec_script = sq_exec_script,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.rows_count = sq_rows_count,
	.rows_columns = sq_rows_columns,
	.rows_name = sq_rows_name,
	.rows_get = sq_rows_get,
	.rows_free = sq_rows_free,
};

CX_PLUGIN_DEFINE(.kind = CX_KIND_STORAGE, .name = "sqlite",
    .version = "1.0.0",
    .summary = "SQLite storage driver: WAL, connection pool, statement "
               "cache",
    .settings = sq_settings_decl, .state_size = sizeof(sq_state),
    .validate = sq_validate, .init = sq_init, .fini = sq_fini,
    .kind_ops = &sq_ops);
