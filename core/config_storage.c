/*
 * config_storage.c - the `storage:` section and the one-store rule.
 *
 *   storage:
 *     migrate: auto            # auto | manual
 *     master_key: ${CALLIXO_MASTER_KEY}   # 64 hex chars (32 bytes)
 *     # or master_key_file: /run/secrets/callixo_master_key
 *
 * Without a master key the daemon keeps one in <data_dir>/master.key
 * (generated on first start, mode 0600): fine for the embedded default,
 * while production configs pass their own.
 */
#include <ctype.h>
#include <string.h>

#include "config_int.h"

static bool
is_hex64(const char *s)
{
	size_t n = strlen(s);
	/* A key read from a file may end in a newline; yamltree trims it. */
	if (n != 64) {
		return (false);
	}
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char) s[i])) {
			return (false);
		}
	}
	return (true);
}

void
cxi_cfg_storage(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *st)
{
	static const char *const keys[] = {"migrate", "master_key", NULL};
	static const char *const modes[] = {"auto", "manual", NULL};
	int i;

	cfg->migrate_auto = true;
	if (cxi_cfg_map(cc, st, "storage") <= 0) {
		return;
	}
	cxi_cfg_keys(cc, st, keys, "in storage");
	if (cxi_cfg_enum(cc, st, "migrate", modes, &i) == 1) {
		cfg->migrate_auto = i == 0;
	}
	if (cxi_cfg_str(cc, st, "master_key", &cfg->master_key) == 1 &&
	    !is_hex64(cfg->master_key)) {
		const cxi_ynode *n = cxi_ynode_get(st, "master_key");
		/* Never echo the value: it is a secret, even when wrong. */
		CXI_CERR(cc, n->line, n->col, "storage.master_key must be 64 "
		    "hexadecimal characters (32 bytes)");
	}
}

void
cxi_cfg_one_store(cxi_cctx *cc, const cxi_config *cfg)
{
	static const cx_plugin_kind kinds[] = {CX_KIND_STORAGE, CX_KIND_BLOB,
	    CX_KIND_SESSION};
	for (size_t k = 0; k < 3; k++) {
		const cxi_plugin_conf *first = NULL;
		for (size_t i = 0; i < cfg->n_plugins; i++) {
			const cxi_plugin_conf *pc = &cfg->plugins[i];
			if (!pc->enabled || pc->kind != kinds[k]) {
				continue;
			}
			if (first != NULL) {
				CXI_CERR(cc, pc->line, pc->col,
				    "plugin '%s': only one %s plugin may be "
				    "enabled ('%s' is, at %zu:%zu)",
				    pc->name, cx_plugin_kind_name(kinds[k]),
				    first->name, first->line, first->col);
			} else {
				first = pc;
			}
			if (pc->isolation == CXI_ISO_PROCESS) {
				/* The core calls these drivers directly on every
				 * request; they cannot live in another process. */
				CXI_CERR(cc, pc->line, pc->col,
				    "plugin '%s': %s plugins run in process "
				    "(isolation: inproc)", pc->name,
				    cx_plugin_kind_name(kinds[k]));
			}
		}
	}
}
