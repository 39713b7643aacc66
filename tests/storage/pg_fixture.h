/*
 * pg_fixture.h - loads the postgres driver through the real core (loader,
 * settings validation, host table on a real bus) for the tests and the
 * benchmark; nothing is faked.
 */
#ifndef PGT_FIXTURE_H
#define PGT_FIXTURE_H

#include <stddef.h>
#include <callixo/callixo.h>

typedef struct pgt_inst {
	const cx_plugin *desc;
	const cx_storage_ops *ops;
	void *state;
	char name[32];
	struct pgt_priv *priv;
} pgt_inst;

/* Opens the bus (unique namespace) and remembers the plugin path. */
int pgt_global_init(const char *plugin_so);
void pgt_global_fini(void);

/* Validates `settings_yaml` against the plugin's schema exactly as
 * callixod would, then runs init. On failure returns the error and puts
 * the validation errors (if any) in why. */
cx_err pgt_load(const char *settings_yaml, pgt_inst **out, char *why,
    size_t whylen);
void pgt_unload(pgt_inst *in);

/* Settings for the harness server with extra YAML lines appended. */
void pgt_settings(char *buf, size_t len, const char *extra);

/* Runs pgt_load with stderr captured into log (the plugin logs there). */
cx_err pgt_load_captured(const char *settings_yaml, pgt_inst **out,
    char *log, size_t loglen);

/* One statement without rows; returns the cx_err, fills err. */
cx_err pgt_exec(const pgt_inst *in, cx_db_conn *c, const char *sql,
    const cx_db_value *p, size_t n, cx_db_error *err);
/* A one-row, one-column integer query. */
int64_t pgt_int(const pgt_inst *in, cx_db_conn *c, const char *sql);

#endif
