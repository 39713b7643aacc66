/*
 * conformance.h - the storage driver conformance suite.
 *
 * One suite for every driver (sqlite, postgres, out-of-tree ones): it
 * loads the plugin through the daemon's own loader and settings
 * validation, gives it a real cx_host on a private in-process bus, runs
 * init and start, and then exercises callixo/storage.h operation by
 * operation. Nothing in it knows which backend it talks to beyond
 * ops->dialect (used only to spell the blob column type).
 *
 * The database the settings point at must be empty: the suite applies
 * the driver's own migrations first, then uses their tables (accounts,
 * sessions, payments) for the constraint checks and tables of its own,
 * named cxt_*, for the rest; it drops the cxt_* tables when done.
 */
#ifndef CXT_CONFORMANCE_H
#define CXT_CONFORMANCE_H

#include <stddef.h>
#include <callixo/callixo.h>

/* A loaded, initialised and started storage plugin instance. */
typedef struct cxt_storage {
	const cx_plugin *desc;
	const cx_storage_ops *ops;
	void *state;
	/* The instance's data directory (<root>/plugins/<name>). */
	char data_dir[4096];
	struct cxt_storage_priv *priv;
} cxt_storage;

/* Loads `plugin_so`, validates `settings_yaml` (may be NULL) against its
 * declared settings, creates a fresh temporary data directory (removed
 * by cxt_storage_close), then runs init and start. Returns 0, or -1 with
 * the reason in why (the daemon's exact message for settings errors). */
int cxt_storage_open(const char *plugin_so, const char *settings_yaml,
    cxt_storage **out, char *why, size_t whylen);
/* As above, in an existing `data_dir` that is kept. */
int cxt_storage_open_in(const char *plugin_so, const char *settings_yaml,
    const char *data_dir, cxt_storage **out, char *why, size_t whylen);
/* stop, fini, and frees everything (NULL is fine). */
void cxt_storage_close(cxt_storage *s);

/* Runs the whole suite against a fresh instance; prints one line per
 * check to stderr. Returns the number of failed checks, 0 when the
 * driver conforms, or -1 when the plugin cannot even be loaded. */
int cxt_storage_conformance(const char *plugin_so, const char *settings_yaml);

/* Removes a directory tree (for tests that make their own). */
void cxt_rmtree(const char *path);

#endif
