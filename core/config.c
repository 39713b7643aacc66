/*
 * config.c - loads and checks the daemon configuration.
 *
 * The YAML tree (positions, ${ENV}, *_file) comes from yamltree.c; this
 * file walks it section by section, records every problem and only
 * returns a cxi_config when there were none. Plugins are handled in
 * config_plugins.c.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include "config_int.h"
#include "confutil.h"

#ifndef CX_PLUGIN_DIR
#define CX_PLUGIN_DIR "/usr/local/lib/callixo/plugins"
#endif

#define DEFAULT_LISTEN "http://127.0.0.1:8080"

void
cxi_cfg_list(const char *const *names, size_t n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && names[i] != NULL && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
		    names[i]);
		if (w < 0) {
			break;
		}
		off += (size_t) w;
	}
}

int
cxi_cfg_keys(cxi_cctx *cc, const cxi_ynode *map, const char *const *valid,
    const char *where)
{
	size_t nvalid = 0;
	int bad = 0;

	while (valid[nvalid] != NULL) {
		nvalid++;
	}
	for (size_t i = 0; i < map->n; i++) {
		const char *k = map->keys[i];
		size_t j;
		for (j = 0; j < nvalid && strcmp(k, valid[j]) != 0; j++) {
		}
		if (j < nvalid) {
			continue;
		}
		bad++;
		const char *s = cxi_suggest(k, valid, nvalid);
		if (s != NULL) {
			CXI_CERR(cc, map->key_line[i], map->key_col[i],
			    "unknown key '%s' %s (did you mean '%s'?)", k,
			    where, s);
		} else {
			char list[512];
			cxi_cfg_list(valid, nvalid, list, sizeof(list));
			CXI_CERR(cc, map->key_line[i], map->key_col[i],
			    "unknown key '%s' %s (valid keys: %s)", k, where,
			    list);
		}
	}
	return (bad);
}

int
cxi_cfg_map(cxi_cctx *cc, const cxi_ynode *n, const char *name)
{
	if (n == NULL || cxi_ynode_is_null(n)) {
		return (0);
	}
	if (n->type != CXI_Y_MAP) {
		CXI_CERR(cc, n->line, n->col, "expected a mapping for '%s', "
		    "got %s", name, cxi_ynode_kind_name(n));
		return (-1);
	}
	return (1);
}

/* The scalar under key, 0 when absent/null, -1 (reported) otherwise. */
static int
scalar_of(cxi_cctx *cc, const cxi_ynode *map, const char *key,
    const char *what, const cxi_ynode **out)
{
	const cxi_ynode *n = cxi_ynode_get(map, key);

	if (n == NULL || cxi_ynode_is_null(n)) {
		return (0);
	}
	if (n->type != CXI_Y_SCALAR) {
		CXI_CERR(cc, n->line, n->col, "expected %s for '%s', got %s",
		    what, key, cxi_ynode_kind_name(n));
		return (-1);
	}
	*out = n;
	return (1);
}

int
cxi_cfg_str(cxi_cctx *cc, const cxi_ynode *map, const char *key, char **out)
{
	const cxi_ynode *n = NULL;
	int rv = scalar_of(cc, map, key, "a string", &n);

	if (rv <= 0) {
		return (rv);
	}
	char *s = strdup(n->value);
	if (s == NULL) {
		CXI_CERR(cc, n->line, n->col, "out of memory");
		return (-1);
	}
	free(*out);
	*out = s;
	return (1);
}

int
cxi_cfg_path(cxi_cctx *cc, const cxi_ynode *map, const char *key,
    char **out)
{
	char *raw = NULL;
	int rv = cxi_cfg_str(cc, map, key, &raw);

	if (rv <= 0) {
		return (rv);
	}
	char *p = cxi_path_join(cc->dir, raw);
	free(raw);
	if (p == NULL) {
		CXI_CERR(cc, 0, 0, "out of memory");
		return (-1);
	}
	free(*out);
	*out = p;
	return (1);
}

int
cxi_cfg_bool(cxi_cctx *cc, const cxi_ynode *map, const char *key,
    bool *out)
{
	const cxi_ynode *n = NULL;
	int rv = scalar_of(cc, map, key, "a boolean", &n);

	if (rv <= 0) {
		return (rv);
	}
	if (cxi_ynode_bool(n, out) != 0) {
		CXI_CERR(cc, n->line, n->col, "expected a boolean for '%s', "
		    "got '%s'", key, n->value);
		return (-1);
	}
	return (1);
}

int
cxi_cfg_enum(cxi_cctx *cc, const cxi_ynode *map, const char *key,
    const char *const *choices, int *out)
{
	const cxi_ynode *n = NULL;
	int rv = scalar_of(cc, map, key, "a string", &n);
	size_t nc = 0;

	if (rv <= 0) {
		return (rv);
	}
	for (; choices[nc] != NULL; nc++) {
		if (strcmp(n->value, choices[nc]) == 0) {
			*out = (int) nc;
			return (1);
		}
	}
	char list[256];
	cxi_cfg_list(choices, nc, list, sizeof(list));
	CXI_CERR(cc, n->line, n->col, "invalid value '%s' for '%s' (expected "
	    "one of: %s)", n->value, key, list);
	return (-1);
}

static int
cfg_int(cxi_cctx *cc, const cxi_ynode *map, const char *key, long long min,
    long long max, long long *out)
{
	const cxi_ynode *n = NULL;
	int rv = scalar_of(cc, map, key, "an integer", &n);

	if (rv <= 0) {
		return (rv);
	}
	if (cxi_ynode_int(n, out) != 0) {
		CXI_CERR(cc, n->line, n->col, "expected an integer for '%s', "
		    "got '%s'", key, n->value);
		return (-1);
	}
	if (*out < min || *out > max) {
		CXI_CERR(cc, n->line, n->col, "'%s' must be between %lld and "
		    "%lld, got %lld", key, min, max, *out);
		return (-1);
	}
	return (1);
}

static int
cfg_dur(cxi_cctx *cc, const cxi_ynode *map, const char *key, long long min,
    int *out)
{
	const cxi_ynode *n = NULL;
	int rv = scalar_of(cc, map, key, "a duration", &n);
	long long ms;

	if (rv <= 0) {
		return (rv);
	}
	if (cxi_duration_parse(n->value, &ms) != 0) {
		CXI_CERR(cc, n->line, n->col, "expected a duration for '%s' "
		    "(e.g. 250ms, 10s, 5m, 2h), got '%s'", key, n->value);
		return (-1);
	}
	if (ms < min || ms > INT_MAX) {
		CXI_CERR(cc, n->line, n->col, "'%s' must be between %lldms "
		    "and %dms, got %lldms", key, min, INT_MAX, ms);
		return (-1);
	}
	*out = (int) ms;
	return (1);
}

int
cxi_cfg_int(cxi_cctx *cc, const cxi_ynode *map, const char *key,
    long long min, long long max, long long *out)
{
	return (cfg_int(cc, map, key, min, max, out));
}

int
cxi_cfg_dur(cxi_cctx *cc, const cxi_ynode *map, const char *key,
    long long min, int *out)
{
	return (cfg_dur(cc, map, key, min, out));
}

static void
cfg_tls(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *tls)
{
	static const char *const keys[] = {"cert", "key", NULL};

	if (cxi_cfg_map(cc, tls, "tls") <= 0) {
		return;
	}
	cxi_cfg_keys(cc, tls, keys, "in server.tls");
	int c = cxi_cfg_path(cc, tls, "cert", &cfg->tls_cert);
	int k = cxi_cfg_path(cc, tls, "key", &cfg->tls_key);
	if ((c == 1) != (k == 1) && c >= 0 && k >= 0) {
		CXI_CERR(cc, tls->line, tls->col, "server.tls needs both 'cert' "
		    "and 'key' (only '%s' given)", c == 1 ? "cert" : "key");
	}
}

static void
cfg_server(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *srv)
{
	static const char *const keys[] = {"listen", "tls", "max_body_bytes",
	    "request_timeout", "shutdown_grace", NULL};
	long long mb;

	if (cxi_cfg_map(cc, srv, "server") <= 0) {
		return;
	}
	cxi_cfg_keys(cc, srv, keys, "in server");
	if (cxi_cfg_str(cc, srv, "listen", &cfg->listen) == 1) {
		const char *l = cfg->listen;
		const cxi_ynode *n = cxi_ynode_get(srv, "listen");
		bool https = strncmp(l, "https://", 8) == 0;
		bool http = strncmp(l, "http://", 7) == 0;
		if ((!http && !https) || l[http ? 7 : 8] == '\0') {
			CXI_CERR(cc, n->line, n->col, "expected an http:// or "
			    "https:// address for 'listen', got '%s'", l);
		}
	}
	cfg_tls(cc, cfg, cxi_ynode_get(srv, "tls"));
	if (cfg_int(cc, srv, "max_body_bytes", 1, LLONG_MAX, &mb) == 1) {
		cfg->max_body = (size_t) mb;
	}
	cfg_dur(cc, srv, "request_timeout", 1, &cfg->request_timeout_ms);
	cfg_dur(cc, srv, "shutdown_grace", 0, &cfg->shutdown_grace_ms);
}

static void
cfg_log(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *log)
{
	static const char *const keys[] = {"level", "format", NULL};
	static const char *const levels[] = {"debug", "info", "warn", "error",
	    NULL};
	static const char *const formats[] = {"logfmt", "json", NULL};
	static const cx_log_level lv[] = {CX_LOG_DEBUG, CX_LOG_INFO,
	    CX_LOG_WARN, CX_LOG_ERROR};
	int i;

	if (cxi_cfg_map(cc, log, "log") <= 0) {
		return;
	}
	cxi_cfg_keys(cc, log, keys, "in log");
	if (cxi_cfg_enum(cc, log, "level", levels, &i) == 1) {
		cfg->log_level = lv[i];
	}
	if (cxi_cfg_enum(cc, log, "format", formats, &i) == 1) {
		cfg->log_format = i == 0 ? CXI_LOG_LOGFMT : CXI_LOG_JSON;
	}
}

static void
cfg_admin(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *admin)
{
	static const char *const keys[] = {"socket", NULL};
	const size_t max = sizeof(((struct sockaddr_un *) 0)->sun_path);

	if (cxi_cfg_map(cc, admin, "admin") > 0) {
		cxi_cfg_keys(cc, admin, keys, "in admin");
		if (cxi_cfg_path(cc, admin, "socket", &cfg->admin_socket) == 1 &&
		    strlen(cfg->admin_socket) >= max) {
			const cxi_ynode *n = cxi_ynode_get(admin, "socket");
			CXI_CERR(cc, n->line, n->col, "admin socket path '%s' is "
			    "longer than %zu bytes", cfg->admin_socket, max - 1);
		}
	}
	if (cfg->admin_socket == NULL && cfg->data_dir != NULL) {
		char *p = cxi_path_join(cfg->data_dir, "admin.sock");
		if (p == NULL) {
			CXI_CERR(cc, 0, 0, "out of memory");
		}
		cfg->admin_socket = p;
	}
}

static void
cfg_plugin_dir(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *root)
{
	if (cxi_cfg_path(cc, root, "plugin_dir", &cfg->plugin_dir) != 0) {
		return;
	}
	const char *env = getenv("CALLIXO_PLUGIN_DIR");
	cfg->plugin_dir = strdup(env != NULL && env[0] != '\0' ? env :
	    CX_PLUGIN_DIR);
	if (cfg->plugin_dir == NULL) {
		CXI_CERR(cc, 0, 0, "out of memory");
	}
}

static cxi_config *
cfg_new(const char *file)
{
	cxi_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL) {
		return (NULL);
	}
	cfg->file = strdup(file);
	cfg->listen = strdup(DEFAULT_LISTEN);
	if (cfg->file == NULL || cfg->listen == NULL) {
		cxi_config_free(cfg);
		return (NULL);
	}
	cfg->max_body = 1048576;
	cfg->request_timeout_ms = 30000;
	cfg->shutdown_grace_ms = 10000;
	cfg->log_level = CX_LOG_INFO;
	cfg->log_format = CXI_LOG_LOGFMT;
	return (cfg);
}

static void
cfg_schemas(cxi_cctx *cc, cxi_config *cfg, cxi_schema_fn fn, void *arg)
{
	for (size_t i = 0; i < cfg->n_plugins; i++) {
		cxi_plugin_conf *pc = &cfg->plugins[i];
		const cx_plugin *desc = NULL;
		char why[512] = "";
		if (!pc->enabled) {
			continue;
		}
		int rv = fn(arg, pc->path, &desc, why, sizeof(why));
		if (rv > 0) {
			continue; /* left to the loader at start (see config.h) */
		}
		if (rv != 0 || desc == NULL) {
			why[sizeof(why) - 1] = '\0';
			CXI_CERR(cc, pc->line, pc->col, "plugin '%s': %s",
			    pc->name, why[0] ? why : "cannot read descriptor");
			continue;
		}
		cxi_config_plugin_check(cfg, pc, desc, cc->errs);
	}
}

static cxi_config *
cfg_from_tree(const char *file, const cxi_ynode *root, cxi_schema_fn fn,
    void *arg, cxi_errlist *errs)
{
	static const char *const keys[] = {"server", "data_dir", "log",
	    "admin", "plugin_dir", "storage", "auth", "leads", "webhooks",
	    "dialer", "plugins", NULL};
	cxi_cctx cc = {.file = file, .errs = errs};
	size_t start = errs->n;
	cxi_config *cfg = cfg_new(file);

	if (cfg == NULL || (cc.dir = cxi_path_dir(file)) == NULL) {
		cxi_errlist_add(errs, file, 0, 0, "out of memory");
		cxi_config_free(cfg);
		return (NULL);
	}
	if (root->type != CXI_Y_MAP) {
		CXI_CERR(&cc, root->line, root->col, "expected a mapping at the "
		    "top level, got %s", cxi_ynode_is_null(root) ? "nothing" :
		    cxi_ynode_kind_name(root));
		goto out;
	}
	cxi_cfg_keys(&cc, root, keys, "at the top level");
	cfg_server(&cc, cfg, cxi_ynode_get(root, "server"));
	if (cxi_cfg_path(&cc, root, "data_dir", &cfg->data_dir) == 0) {
		const cxi_ynode *n = cxi_ynode_get(root, "data_dir");
		if (n != NULL) {
			CXI_CERR(&cc, n->line, n->col, "'data_dir' must not be "
			    "empty");
		} else {
			CXI_CERR(&cc, root->line, root->col, "missing required "
			    "key 'data_dir'");
		}
	}
	cfg_log(&cc, cfg, cxi_ynode_get(root, "log"));
	cfg_admin(&cc, cfg, cxi_ynode_get(root, "admin"));
	cfg_plugin_dir(&cc, cfg, root);
	cxi_cfg_storage(&cc, cfg, cxi_ynode_get(root, "storage"));
	cxi_cfg_auth(&cc, cfg, cxi_ynode_get(root, "auth"));
	cxi_cfg_leads(&cc, cfg, cxi_ynode_get(root, "leads"));
	cxi_cfg_webhooks(&cc, cfg, cxi_ynode_get(root, "webhooks"));
	cxi_cfg_dialer(&cc, cfg, cxi_ynode_get(root, "dialer"));
	const cxi_ynode *listen = cxi_ynode_get(cxi_ynode_get(root, "server"),
	    "listen");
	if (strncmp(cfg->listen, "https://", 8) == 0 &&
	    (cfg->tls_cert == NULL || cfg->tls_key == NULL)) {
		CXI_CERR(&cc, listen->line, listen->col, "an https:// listen "
		    "address needs server.tls.cert and server.tls.key");
	}
	if (cfg->plugin_dir != NULL) {
		cxi_cfg_plugins(&cc, cfg, cxi_ynode_get(root, "plugins"));
		cxi_cfg_one_store(&cc, cfg);
	}
	if (fn != NULL) {
		/* Only well-formed plugin entries are kept in cfg->plugins,
		 * so their settings are checked even when other sections
		 * have problems: one pass shows everything. */
		cfg_schemas(&cc, cfg, fn, arg);
	}
out:
	free(cc.dir);
	if (errs->n > start) {
		cxi_config_free(cfg);
		return (NULL);
	}
	return (cfg);
}

cxi_config *
cxi_config_parse(const char *file, const char *text, size_t len,
    cxi_schema_fn schema_fn, void *schema_arg, cxi_errlist *errs)
{
	size_t start = errs->n;
	cxi_ynode *root = cxi_yaml_parse(file, text, len, errs);

	if (root == NULL) {
		if (errs->n == start) {
			cxi_errlist_add(errs, file, 0, 0, "cannot parse config");
		}
		return (NULL);
	}
	cxi_config *cfg = cfg_from_tree(file, root, schema_fn, schema_arg,
	    errs);
	cxi_ynode_free(root);
	return (cfg);
}

cxi_config *
cxi_config_load(const char *path, cxi_schema_fn schema_fn, void *schema_arg,
    cxi_errlist *errs)
{
	size_t start = errs->n;
	cxi_ynode *root = cxi_yaml_load(path, errs);

	if (root == NULL) {
		if (errs->n == start) {
			cxi_errlist_add(errs, path, 0, 0, "cannot parse config");
		}
		return (NULL);
	}
	cxi_config *cfg = cfg_from_tree(path, root, schema_fn, schema_arg,
	    errs);
	cxi_ynode_free(root);
	return (cfg);
}

void
cxi_config_free(cxi_config *cfg)
{
	if (cfg == NULL) {
		return;
	}
	for (size_t i = 0; i < cfg->n_plugins; i++) {
		cxi_plugin_conf *pc = &cfg->plugins[i];
		free(pc->name);
		free(pc->path);
		json_decref(pc->settings);
		json_decref(pc->file_keys);
		cxi_ynode_free(pc->settings_yaml);
	}
	free(cfg->plugins);
	free(cfg->file);
	free(cfg->listen);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->data_dir);
	free(cfg->admin_socket);
	free(cfg->plugin_dir);
	for (size_t i = 0; i < cfg->n_auth_origins; i++) {
		free(cfg->auth_origins[i]);
	}
	free(cfg->auth_origins);
	free(cfg->auth_common_passwords);
	free(cfg->leads_phone_zones);
	json_decref(cfg->dialer.provider_cps);
	if (cfg->master_key != NULL) {
		explicit_bzero(cfg->master_key, strlen(cfg->master_key));
		free(cfg->master_key);
	}
	free(cfg);
}

const cxi_plugin_conf *
cxi_config_plugin(const cxi_config *cfg, const char *name)
{
	for (size_t i = 0; cfg != NULL && i < cfg->n_plugins; i++) {
		if (strcmp(cfg->plugins[i].name, name) == 0) {
			return (&cfg->plugins[i]);
		}
	}
	return (NULL);
}
