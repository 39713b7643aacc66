/*
 * rig.h - a real in-process core for the call events tests: a manager
 * running the SQLite storage, the fs blob store, the testtel telephony
 * plugin and (optionally) the testtr transcription plugin, with the
 * call events runtime started on it.
 */
#ifndef CE_RIG_H
#define CE_RIG_H

#include <stdbool.h>
#include <jansson.h>

#include "bus.h"
#include "callevents.h"
#include "calling.h"
#include "manager.h"
#include "repo.h"

typedef struct rig {
	char dir[64];
	char teldir[128]; /* testtel's data dir */
	cxi_bus *bus;
	cxi_manager *mgr;
	cxi_plugin_conf pc[4];
	cxi_config cfg;
	cxi_calling cl;
	cxi_db db;
	char account[64];
} rig;

/* Paths of the plugins under test (argv of the test binary). */
extern const char *rig_sqlite, *rig_fs, *rig_tel, *rig_tr;

/* tr_yaml: NULL for no transcription plugin, else its settings as
 * JSON text ("{}" for the defaults). */
rig *rig_new(const char *tr_json);
void rig_free(rig *r);

/* Sends `type` with `data` (stolen) through testtel's cx_host; returns
 * the core's cx_err and sets *reply (may be NULL) to its answer. */
int rig_send(rig *r, const char *type, json_t *data, json_t **reply);
/* A campaign with `config` (JSON text) and a call of testtel in it. */
char *rig_campaign(rig *r, const char *config);
char *rig_call(rig *r, const char *campaign, const char *pcid);
/* The call's row (caller decrefs). */
json_t *rig_get_call(rig *r, const char *id);
/* One scalar from a query with one text parameter (-1 on error). */
long long rig_count(rig *r, const char *sql, const char *param);
/* A minimal valid call.event of testtel. */
json_t *rig_event(const char *event_id, const char *call_id, int seq,
    const char *status);
/* Writes a WAV of `n` payload bytes to path; returns its size. */
long rig_wav(const char *path, size_t n);
/* Stops the call events runtime and starts a new one on the same
 * store, as a daemon restart does; with tr_json, the transcription
 * plugin is added first. */
void rig_restart(rig *r, const char *tr_json);
/* Polls until the call's column is non-NULL, up to ms. */
bool rig_wait_col(rig *r, const char *id, const char *col, int ms);

#define S(row, k) json_string_value(json_object_get((row), (k)))
#define I(row, k) json_integer_value(json_object_get((row), (k)))

#endif
