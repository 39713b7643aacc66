/*
 * migrate.h - schema migrations of the active storage driver.
 *
 * A driver ships numbered migrations in its own dialect (one file each,
 * embedded at build time). Applied ones are recorded in
 * cx_schema_migrations with a SHA-256 of their text. The core applies
 * pending ones in order, each in its own transaction, refuses a database
 * whose schema is newer than it knows, and refuses one where a landed
 * migration's text has changed since it was applied.
 */
#ifndef CXI_MIGRATE_H
#define CXI_MIGRATE_H

#include <jansson.h>
#include "store.h"

/* {"dialect", "current", "latest", "pending", "ok", "problem"?,
 *  "migrations": [{"version", "name", "state":
 *  "applied"|"pending"|"changed"|"unknown", "applied_at"?}]}.
 * "unknown" is a version in the database this build does not know.
 * Returns 0, or -1 with why when the database cannot be read. */
int cxi_migrate_status(const cxi_db *db, json_t **status, char *why,
    size_t whylen);

/* Applies every pending migration. *applied (may be NULL) gets the
 * names applied. Returns 0, or -1 with why (nothing half-applied: a
 * failed migration's transaction is rolled back). */
int cxi_migrate_up(const cxi_db *db, json_t **applied, char *why,
    size_t whylen);

#endif
