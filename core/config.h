/*
 * config.h - the daemon configuration (conf/callixo.yaml).
 *
 * Loading is all-or-nothing: the file is parsed, every key is checked,
 * every enabled plugin's settings are validated against the schema its
 * descriptor declares, and either a complete cxi_config comes back or
 * nothing does, with every problem listed as file:line:column. A reload
 * builds a new cxi_config the same way and swaps it in only when whole.
 */
#ifndef CXI_CONFIG_H
#define CXI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <callixo/host.h>
#include <callixo/plugin.h>
#include "errlist.h"
#include "log.h"
#include "yamltree.h"

typedef enum cxi_isolation {
	CXI_ISO_INPROC = 0,
	CXI_ISO_PROCESS = 1,
} cxi_isolation;

/* auth.cookie_secure */
typedef enum cxi_cookie_mode {
	CXI_COOKIE_AUTO = 0,
	CXI_COOKIE_ALWAYS = 1,
	CXI_COOKIE_NEVER = 2,
} cxi_cookie_mode;

typedef struct cxi_plugin_conf {
	char *name;
	cx_plugin_kind kind;
	char *path;      /* resolved: given, or <plugin_dir>/<name>.so */
	bool enabled;
	bool required;
	cxi_isolation isolation;
	json_t *settings; /* validated, defaults applied (NULL until then) */
	size_t line, col; /* position of the list item, for messages */
	/* Added: the raw `settings:` block (owned copy, or NULL when not
	 * given), so the loader can validate later with the descriptor.
	 * Its own line/col are those of the `settings` key. */
	cxi_ynode *settings_yaml;
	/* Added: JSON array of top-level settings keys whose value came
	 * from a *_file (secret), or NULL; filled with `settings`. */
	json_t *file_keys;
	size_t kind_line, kind_col; /* Added: position of `kind:` value */
} cxi_plugin_conf;

/* dialer: (config_dialer.c), read by the dialer at start. */
typedef struct cxi_dialer_conf {
	int tick_ms;                 /* dialer.tick */
	int account_max_concurrency; /* live calls per account */
	int dispatch_timeout_ms;     /* one place_call */
	int reconcile_after_ms;      /* timed-out dispatch -> lookup */
	int max_call_duration_ms;    /* older live calls are looked up */
	int dispatch_workers;        /* place_call requests in flight */
	int dispatch_backoff_ms;     /* first wait after a 429/5xx */
	json_t *provider_cps;        /* {"<instance>": calls/s (real)} */
} cxi_dialer_conf;

typedef struct cxi_config {
	char *file;
	char *listen;        /* server.listen, e.g. http://127.0.0.1:8080 */
	char *tls_cert;      /* server.tls.cert, or NULL */
	char *tls_key;       /* server.tls.key, or NULL */
	size_t max_body;     /* server.max_body_bytes */
	int request_timeout_ms; /* server.request_timeout */
	int shutdown_grace_ms;  /* server.shutdown_grace */
	char *data_dir;
	cx_log_level log_level;
	cxi_log_format log_format;
	char *admin_socket;  /* admin.socket, a filesystem path */
	char *plugin_dir;
	bool migrate_auto;   /* storage.migrate: auto (default) or manual */
	char *master_key;    /* storage.master_key, 64 hex chars, or NULL */
	size_t n_plugins;
	cxi_plugin_conf *plugins;
	/* auth: (config_auth.c) */
	cxi_cookie_mode auth_cookie_mode; /* auth.cookie_secure */
	bool auth_cookie_secure;  /* resolved: Secure + __Host- name */
	char **auth_origins;      /* auth.allowed_origins; none given: the
	                           * origin of the bound listen URL */
	size_t n_auth_origins;
	int auth_idle_ms;         /* auth.idle_timeout */
	int auth_absolute_ms;     /* auth.absolute_timeout */
	unsigned long long auth_opslimit; /* auth.argon2.opslimit */
	size_t auth_memlimit;     /* auth.argon2.memlimit_mib, in bytes */
	char *auth_common_passwords; /* auth.common_passwords, resolved */
	bool auth_common_default; /* not given: a missing file is a warning */
	int auth_hash_workers;    /* auth.hash_workers */
	/* leads: (config_leads.c) */
	char leads_default_country[3]; /* leads.default_country, "US" */
	char *leads_phone_zones;   /* leads.phone_zones, resolved */
	bool leads_zones_default; /* not given: a missing file is a warning */
	size_t leads_import_max;  /* leads.import_max_bytes */
	size_t leads_import_sync_max; /* leads.import_sync_max_bytes */
	/* webhooks: (config_webhooks.c), customer webhook delivery */
	bool hooks_allow_private; /* webhooks.allow_private */
	bool hooks_allow_http;    /* webhooks.allow_http */
	int hooks_timeout_ms;     /* webhooks.timeout */
	int hooks_max_age_ms;     /* webhooks.max_age */
	int hooks_backoff_ms;     /* webhooks.backoff: first retry delay */
	int hooks_backoff_max_ms; /* webhooks.backoff_max */
	int hooks_workers;        /* webhooks.workers */
	int hooks_retention_days; /* webhooks.retention_days */
	cxi_dialer_conf dialer;   /* dialer: (config_dialer.c) */
} cxi_config;

/* Reads the descriptor of the plugin at `path` without running any of its
 * code, for schema validation; implemented by the loader. Returns 0, or
 * -1 with a reason in `why` (a config error), or 1 to skip the plugin's
 * settings check: the daemon does that for a plugin that cannot be
 * opened at all, so the failure is reported by the loader at start with
 * the plugin's `required` semantics instead of rejecting the file. */
typedef int (*cxi_schema_fn)(void *arg, const char *path,
    const cx_plugin **desc, char *why, size_t whylen);

/* Parses and validates `path`. When schema_fn is non-NULL, each enabled
 * plugin's settings are validated against its descriptor. Returns NULL
 * with every problem in errs. Every relative path in the file (data_dir,
 * plugin_dir, plugins[].path, admin.socket, *_file) is relative to the
 * directory of `path`. */
cxi_config *cxi_config_load(const char *path, cxi_schema_fn schema_fn,
    void *schema_arg, cxi_errlist *errs);
/* Added: the same from a buffer (the embedded default, fuzzing). `file`
 * names it in messages; "<...>" names resolve relative paths against the
 * working directory. */
cxi_config *cxi_config_parse(const char *file, const char *text, size_t len,
    cxi_schema_fn schema_fn, void *schema_arg, cxi_errlist *errs);
void cxi_config_free(cxi_config *cfg);

/* Added: checks one plugin against its descriptor: the kind must match,
 * then its settings_yaml is validated (cxi_settings_validate_desc) and
 * pc->settings / pc->file_keys replaced. Returns 0, or -1 with errors. */
int cxi_config_plugin_check(const cxi_config *cfg, cxi_plugin_conf *pc,
    const cx_plugin *desc, cxi_errlist *errs);

const cxi_plugin_conf *cxi_config_plugin(const cxi_config *cfg,
    const char *name);

/* Checks a `settings:` node against a declared schema and builds the
 * JSON object handed to init. `node` may be NULL (no settings given).
 * Also used by the test kit. */
json_t *cxi_settings_validate(const char *file, const cxi_ynode *node,
    size_t line, size_t col, const char *plugin, const cx_setting *schema,
    cxi_errlist *errs);
/* Added: as above, with the schema taken from a descriptor (NULL table
 * = no settings), then desc->validate run on the result. *file_keys (if
 * not NULL) receives the array of keys whose values came from *_file. */
json_t *cxi_settings_validate_desc(const char *file, const cxi_ynode *node,
    size_t line, size_t col, const char *plugin, const cx_plugin *desc,
    json_t **file_keys, cxi_errlist *errs);
/* The settings with every secret value replaced by "***", for logs. A
 * null secret stays null (it shows "not set", not the value). */
json_t *cxi_settings_redacted(const json_t *settings, const cx_setting *schema);
/* Added: also redacts the keys listed in `file_keys` (may be NULL). */
json_t *cxi_settings_redacted_keys(const json_t *settings,
    const cx_setting *schema, const json_t *file_keys);
/* Added: 0 when every entry has a key, a type, a non-empty description,
 * ENUM choices and min <= max, with no key twice; else -1 and why. */
int cxi_settings_schema_check(const cx_setting *schema, char *why,
    size_t whylen);

#endif
