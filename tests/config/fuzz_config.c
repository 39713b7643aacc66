/*
 * fuzz_config.c - the YAML tree and config validation on arbitrary input.
 *
 * Both the raw tree and the full config path run, with a fake descriptor
 * so plugin settings validation (defaults, OBJECT typing, redaction) is
 * reached too. The replay test feeds tests/config/corpus and the bad
 * fixtures.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"

static const char *const fz_modes[] = {"a", "b", NULL};
static const cx_setting fz_schema[] = {
	CX_SETTING_STR("file", 0, "events.jsonl", "File"),
	CX_SETTING_LIST("topics", 0, "Topics"),
	CX_SETTING_INT("max_bytes", 0, "10", 1, 100000, "Max"),
	CX_SETTING_BOOL("fsync", 0, "false", "Sync"),
	CX_SETTING_DURATION("timeout", 0, "1s", 0, 0, "Timeout"),
	CX_SETTING_ENUM("mode", 0, "a", fz_modes, "Mode"),
	CX_SETTING_SECRET("token", 0, "Token"),
	CX_SETTING_OBJECT("extra", 0, "Extra"),
	CX_SETTINGS_END,
};
static const cx_plugin fz_desc = {.magic = CX_PLUGIN_MAGIC,
    .abi_major = CX_ABI_MAJOR, .abi_minor = CX_ABI_MINOR,
    .size = sizeof(cx_plugin), .kind = CX_KIND_GENERIC, .name = "fz",
    .settings = fz_schema};

static int
fz_schema_fn(void *arg, const char *path, const cx_plugin **desc, char *why,
    size_t whylen)
{
	(void) arg;
	if (strstr(path, "fail") != NULL) {
		snprintf(why, whylen, "refused");
		return (-1);
	}
	*desc = &fz_desc;
	return (0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cxi_errlist errs = {0};
	cxi_ynode *root = cxi_yaml_parse("<fuzz>", (const char *) data, size,
	    &errs);
	cxi_ynode_free(root);
	cxi_errlist_clear(&errs);

	cxi_config *cfg = cxi_config_parse("<fuzz>", (const char *) data,
	    size, fz_schema_fn, NULL, &errs);
	for (size_t i = 0; cfg != NULL && i < cfg->n_plugins; i++) {
		json_t *r = cxi_settings_redacted_keys(cfg->plugins[i].settings,
		    fz_schema, cfg->plugins[i].file_keys);
		json_decref(r);
	}
	cxi_config_free(cfg);
	cxi_errlist_clear(&errs);
	return (0);
}
