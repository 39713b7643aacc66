/*
 * s3_rig.h - loads the s3 plugin through the real core for the tests:
 * loader (descriptor checks), YAML settings validated against the
 * plugin's schema, a host context on a bus of its own namespace.
 */
#ifndef S3_RIG_H
#define S3_RIG_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <callixo/callixo.h>

#include "bus.h"
#include "host.h"
#include "loader.h"

typedef struct s3_inst {
	cxi_module *mod;
	const cx_plugin *desc;
	const cx_blob_ops *ops;
	cxi_bus_client *bc;
	cxi_hostctx *hc;
	json_t *settings;
	void *state;
	bool inited;
	char dir[64];
} s3_inst;

/* Opens the bus broker (unique namespace) once per test binary. */
void rig_setup(void);
void rig_teardown(void);
/* Validates `yaml` (a settings mapping) and runs init. Returns init's
 * result, or CX_ECONFIG when the settings are refused (printed). */
cx_err rig_open(s3_inst *in, const char *yaml);
void rig_close(s3_inst *in);
/* Sum of the deltas a plugin reported for `metric` since the reset. */
int64_t rig_metric(const char *metric);
void rig_metric_reset(void);

/* Whole-object helpers. put_all writes `len` bytes in `chunk` pieces. */
cx_err rig_put_all(s3_inst *in, const char *key, const void *data,
    size_t len, size_t chunk);
/* Reads a whole object (reads of `chunk` bytes) into a malloc'd buffer. */
cx_err rig_get_all(s3_inst *in, const char *key, char **data, size_t *len,
    size_t chunk);

#endif
