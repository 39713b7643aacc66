/*
 * leads.h - the leads runtime the /v1 leads routes share: the phone ->
 * zone table, the `leads:` settings, and the background CSV import
 * worker.
 *
 * A large upload is written to <data_dir>/imports/<job id>.csv (0600)
 * and an import_jobs row is queued; one worker thread imports queued
 * jobs oldest first, streaming the file through the importer and
 * updating the row's counts as batches land, then deletes the file.
 * A job that was running when the daemon stopped is marked failed at the
 * next start (rows already imported stay; a new upload of the same file
 * skips them as duplicates).
 */
#ifndef CXI_LEADS_H
#define CXI_LEADS_H

#include <stdbool.h>
#include <stddef.h>
#include <callixo/error.h>

#include "config.h"
#include "csvimport.h"
#include "manager.h"
#include "phonezone.h"

typedef struct cxi_leads cxi_leads;

/* Loads the zone table (a missing default file is a warning: zones are
 * then only taken from the CSV), creates the imports directory and
 * starts the worker. */
cx_err cxi_leads_start(cxi_leads **out, cxi_manager *mgr,
    const cxi_config *cfg, char *why, size_t whylen);
/* Stops the worker (a running job is marked failed) and frees. NULL is
 * fine. */
void cxi_leads_stop(cxi_leads *l);

const cxi_phonezones *cxi_leads_zones(const cxi_leads *l);
const char *cxi_leads_default_country(const cxi_leads *l);
size_t cxi_leads_import_max(const cxi_leads *l);
size_t cxi_leads_sync_max(const cxi_leads *l);

/* Writes `len` bytes to a new private file in the imports directory;
 * *tmp (malloc'd) is its path. */
cx_err cxi_leads_spool(cxi_leads *l, const void *data, size_t len,
    char **tmp);
/* Gives the spooled file its job's name and wakes the worker. */
cx_err cxi_leads_enqueue(cxi_leads *l, const char *tmp, const char *job_id);

#endif
