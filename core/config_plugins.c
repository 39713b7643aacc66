/*
 * config_plugins.c - the `plugins:` list and per-plugin settings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config_int.h"
#include "confutil.h"

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32) {
		return (false);
	}
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '_' || *s == '-')) {
			return (false);
		}
	}
	return (true);
}

static int
plugin_name(cxi_cctx *cc, const cxi_ynode *item, cxi_plugin_conf *pc)
{
	int rv = cxi_cfg_str(cc, item, "name", &pc->name);

	if (rv < 0) {
		return (-1);
	}
	if (rv == 0) {
		CXI_CERR(cc, item->line, item->col, "missing required key "
		    "'name' in plugin");
		return (-1);
	}
	if (!name_ok(pc->name)) {
		const cxi_ynode *n = cxi_ynode_get(item, "name");
		CXI_CERR(cc, n->line, n->col, "invalid plugin name '%s': use 1 "
		    "to 32 characters of a-z, 0-9, '_' and '-'", pc->name);
		return (-1);
	}
	return (0);
}

static int
plugin_kind(cxi_cctx *cc, const cxi_ynode *item, cxi_plugin_conf *pc,
    const char *where)
{
	const char *kinds[CX_KIND_COUNT + 1];
	int k;

	for (int i = 0; i < CX_KIND_COUNT; i++) {
		kinds[i] = cx_plugin_kind_name((cx_plugin_kind) i);
	}
	kinds[CX_KIND_COUNT] = NULL;
	const cxi_ynode *n = cxi_ynode_get(item, "kind");
	if (n == NULL || cxi_ynode_is_null(n)) {
		CXI_CERR(cc, item->line, item->col, "missing required key "
		    "'kind' %s", where);
		return (-1);
	}
	if (n->type != CXI_Y_SCALAR) {
		CXI_CERR(cc, n->line, n->col, "expected a string for 'kind', "
		    "got %s", cxi_ynode_kind_name(n));
		return (-1);
	}
	pc->kind_line = n->line;
	pc->kind_col = n->col;
	for (k = 0; k < CX_KIND_COUNT; k++) {
		if (strcmp(n->value, kinds[k]) == 0) {
			pc->kind = (cx_plugin_kind) k;
			return (0);
		}
	}
	char list[256];
	const char *s = cxi_suggest(n->value, kinds, CX_KIND_COUNT);
	cxi_cfg_list(kinds, CX_KIND_COUNT, list, sizeof(list));
	if (s != NULL) {
		CXI_CERR(cc, n->line, n->col, "unknown plugin kind '%s' (did "
		    "you mean '%s'?); valid kinds: %s", n->value, s, list);
	} else {
		CXI_CERR(cc, n->line, n->col, "unknown plugin kind '%s'; "
		    "valid kinds: %s", n->value, list);
	}
	return (-1);
}

static int
plugin_path(cxi_cctx *cc, const cxi_config *cfg, const cxi_ynode *item,
    cxi_plugin_conf *pc)
{
	int rv = cxi_cfg_path(cc, item, "path", &pc->path);

	if (rv != 0) {
		return (rv < 0 ? -1 : 0);
	}
	char *so = NULL;
	if (asprintf(&so, "%s.so", pc->name) < 0) {
		CXI_CERR(cc, 0, 0, "out of memory");
		return (-1);
	}
	pc->path = cxi_path_join(cfg->plugin_dir, so);
	free(so);
	if (pc->path == NULL) {
		CXI_CERR(cc, 0, 0, "out of memory");
		return (-1);
	}
	return (0);
}

/* Fills pc from one list item; returns the number of problems. */
static int
plugin_item(cxi_cctx *cc, const cxi_config *cfg, const cxi_ynode *item,
    size_t idx, cxi_plugin_conf *pc)
{
	static const char *const keys[] = {"name", "kind", "path", "enabled",
	    "required", "isolation", "settings", NULL};
	static const char *const isol[] = {"inproc", "process", NULL};
	char where[96];
	int bad = 0, iso = 0;

	pc->line = item->line;
	pc->col = item->col;
	pc->enabled = true;
	if (item->type != CXI_Y_MAP) {
		CXI_CERR(cc, item->line, item->col, "expected a mapping for "
		    "plugins[%zu], got %s", idx, cxi_ynode_kind_name(item));
		return (1);
	}
	bad += plugin_name(cc, item, pc) != 0;
	if (pc->name != NULL && name_ok(pc->name)) {
		snprintf(where, sizeof(where), "in plugin '%s'", pc->name);
	} else {
		snprintf(where, sizeof(where), "in plugins[%zu]", idx);
	}
	bad += cxi_cfg_keys(cc, item, keys, where);
	bad += plugin_kind(cc, item, pc, where) != 0;
	if (bad == 0) {
		bad += plugin_path(cc, cfg, item, pc) != 0;
	}
	bad += cxi_cfg_bool(cc, item, "enabled", &pc->enabled) < 0;
	bad += cxi_cfg_bool(cc, item, "required", &pc->required) < 0;
	bad += cxi_cfg_enum(cc, item, "isolation", isol, &iso) < 0;
	pc->isolation = iso == 1 ? CXI_ISO_PROCESS : CXI_ISO_INPROC;
	const cxi_ynode *set = cxi_ynode_get(item, "settings");
	int rv = cxi_cfg_map(cc, set, "settings");
	if (rv < 0) {
		bad++;
	} else if (rv > 0 && (pc->settings_yaml = cxi_ynode_dup(set)) ==
	    NULL) {
		CXI_CERR(cc, 0, 0, "out of memory");
		bad++;
	} else if (rv > 0) {
		/* Problems with the block as a whole (a missing required
		 * key) point at the `settings:` key itself. */
		for (size_t i = 0; i < item->n; i++) {
			if (strcmp(item->keys[i], "settings") == 0) {
				pc->settings_yaml->line = item->key_line[i];
				pc->settings_yaml->col = item->key_col[i];
			}
		}
	}
	return (bad);
}

static void
plugin_conf_clear(cxi_plugin_conf *pc)
{
	free(pc->name);
	free(pc->path);
	json_decref(pc->settings);
	json_decref(pc->file_keys);
	cxi_ynode_free(pc->settings_yaml);
	memset(pc, 0, sizeof(*pc));
}

int
cxi_cfg_plugins(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *seq)
{
	if (seq == NULL || cxi_ynode_is_null(seq)) {
		return (0);
	}
	if (seq->type != CXI_Y_SEQ) {
		CXI_CERR(cc, seq->line, seq->col, "expected a sequence for "
		    "'plugins', got %s", cxi_ynode_kind_name(seq));
		return (-1);
	}
	if (seq->n == 0) {
		return (0);
	}
	cfg->plugins = calloc(seq->n, sizeof(*cfg->plugins));
	const cxi_ynode **names = calloc(seq->n, sizeof(*names));
	if (cfg->plugins == NULL || names == NULL) {
		free(names);
		CXI_CERR(cc, 0, 0, "out of memory");
		return (-1);
	}
	/* Only well-formed entries are kept; names[] remembers where every
	 * valid name was, to report duplicates with both positions. */
	for (size_t i = 0; i < seq->n; i++) {
		const cxi_ynode *item = seq->items[i];
		cxi_plugin_conf *pc = &cfg->plugins[cfg->n_plugins];
		int bad = plugin_item(cc, cfg, item, i, pc);
		const cxi_ynode *nn = cxi_ynode_get(item, "name");
		if (pc->name != NULL && name_ok(pc->name)) {
			bool dup = false;
			for (size_t j = 0; j < i && !dup; j++) {
				if (names[j] != NULL &&
				    strcmp(names[j]->value, pc->name) == 0) {
					CXI_CERR(cc, nn->line, nn->col,
					    "duplicate plugin name '%s' "
					    "(first defined at %zu:%zu)",
					    pc->name, names[j]->line,
					    names[j]->col);
					dup = true;
				}
			}
			if (dup) {
				bad++;
			} else {
				names[i] = nn;
			}
		}
		if (bad > 0) {
			plugin_conf_clear(pc);
		} else {
			cfg->n_plugins++;
		}
	}
	free(names);
	return (0);
}

int
cxi_config_plugin_check(const cxi_config *cfg, cxi_plugin_conf *pc,
    const cx_plugin *desc, cxi_errlist *errs)
{
	json_t *fk = NULL;

	if (desc->kind != pc->kind) {
		const char *dk = cx_plugin_kind_name(desc->kind);
		cxi_errlist_add(errs, cfg->file, pc->kind_line, pc->kind_col,
		    "plugin '%s': configured kind '%s' but '%s' is of kind "
		    "'%s'", pc->name, cx_plugin_kind_name(pc->kind), pc->path,
		    dk != NULL ? dk : "unknown");
		return (-1);
	}
	const cxi_ynode *set = pc->settings_yaml;
	json_t *js = cxi_settings_validate_desc(cfg->file, set,
	    set != NULL ? set->line : pc->line, set != NULL ? set->col :
	    pc->col, pc->name, desc, &fk, errs);
	if (js == NULL) {
		return (-1);
	}
	json_decref(pc->settings);
	json_decref(pc->file_keys);
	pc->settings = js;
	pc->file_keys = fk;
	return (0);
}
