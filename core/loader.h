/*
 * loader.h - opening plugin shared objects.
 *
 * A module is opened with RTLD_NOW | RTLD_LOCAL, so plugins cannot see
 * each other's symbols, and its one descriptor is checked (magic, ABI
 * major equal, ABI minor not above ours, size at least the 1.0 layout,
 * required functions present) before anything else is read or called.
 */
#ifndef CXI_LOADER_H
#define CXI_LOADER_H

#include <stddef.h>
#include <callixo/plugin.h>

typedef struct cxi_module cxi_module;

/* Returns 0, or -1 with the reason ("file not found", "not a shared
 * object: ...", "descriptor cx_plugin_entry missing", "ABI 2.0 not
 * supported by host ABI 1.0", ...) in why. */
int cxi_module_open(const char *path, cxi_module **out, char *why,
    size_t whylen);
const cx_plugin *cxi_module_desc(const cxi_module *m);
const char *cxi_module_path(const cxi_module *m);
void cxi_module_close(cxi_module *m);

/* A cxi_schema_fn for cxi_config_load: opens (and caches in `cache`) the
 * module to read its settings schema. */
typedef struct cxi_module_cache cxi_module_cache;
cxi_module_cache *cxi_module_cache_new(void);
void cxi_module_cache_free(cxi_module_cache *c);
int cxi_module_cache_schema(void *cache, const char *path,
    const cx_plugin **desc, char *why, size_t whylen);

#endif
