/*
 * config_int.h - helpers shared by config.c and config_plugins.c.
 *
 * Each getter looks up `key` in `map` and returns 0 when it is absent or
 * null (the caller keeps its default), 1 when a value was stored, and -1
 * when the value is wrong (the error, at the value's position, is already
 * in the list).
 */
#ifndef CXI_CONFIG_INT_H
#define CXI_CONFIG_INT_H

#include "config.h"

typedef struct cxi_cctx {
	const char *file;
	char *dir;           /* base for relative paths */
	cxi_errlist *errs;
} cxi_cctx;

#define CXI_CERR(cc, l, c, ...) \
	cxi_errlist_add((cc)->errs, (cc)->file, (l), (c), __VA_ARGS__)

/* Reports every key of `map` not in `valid` (NULL-terminated) as
 * "unknown key 'k' <where> (did you mean 'x'?)". Returns the count. */
int cxi_cfg_keys(cxi_cctx *cc, const cxi_ynode *map,
    const char *const *valid, const char *where);
/* "valid: a, b, c" into buf, for messages. */
void cxi_cfg_list(const char *const *names, size_t n, char *buf,
    size_t len);

/* 1 when `n` is a mapping, 0 when absent or null, -1 (reported) when it
 * is something else. */
int cxi_cfg_map(cxi_cctx *cc, const cxi_ynode *n, const char *name);
int cxi_cfg_str(cxi_cctx *cc, const cxi_ynode *map, const char *key,
    char **out);
/* As cfg_str, then resolved against the config directory. */
int cxi_cfg_path(cxi_cctx *cc, const cxi_ynode *map, const char *key,
    char **out);
int cxi_cfg_bool(cxi_cctx *cc, const cxi_ynode *map, const char *key,
    bool *out);
/* Stores the index of the value in `choices` (NULL-terminated). */
int cxi_cfg_enum(cxi_cctx *cc, const cxi_ynode *map, const char *key,
    const char *const *choices, int *out);

/* Integers in [min, max] and durations (ms, >= min) as in `server:`. */
int cxi_cfg_int(cxi_cctx *cc, const cxi_ynode *map, const char *key,
    long long min, long long max, long long *out);
int cxi_cfg_dur(cxi_cctx *cc, const cxi_ynode *map, const char *key,
    long long min, int *out);

int cxi_cfg_plugins(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *seq);
/* The `storage:` section (config_storage.c). */
void cxi_cfg_storage(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *st);
/* The `auth:` section (config_auth.c); after `server:` (it reads the
 * listen address). */
void cxi_cfg_auth(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *auth);
/* The `leads:` section (config_leads.c). */
void cxi_cfg_leads(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *leads);
/* The `webhooks:` section (config_webhooks.c). */
void cxi_cfg_webhooks(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *wh);
/* The `dialer:` section (config_dialer.c). */
void cxi_cfg_dialer(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *d);
/* At most one enabled storage, blob and session plugin, all in process. */
void cxi_cfg_one_store(cxi_cctx *cc, const cxi_config *cfg);

#endif
