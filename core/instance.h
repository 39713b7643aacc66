/*
 * instance.h - one configured plugin instance (internal to the manager).
 */
#ifndef CXI_INSTANCE_H
#define CXI_INSTANCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "bus.h"
#include "config.h"
#include "host.h"
#include "loader.h"
#include "manager.h"
#include "supervisor.h"

typedef enum cxi_inst_state {
	CXI_INST_STOPPED = 0,
	CXI_INST_STARTING,
	CXI_INST_RUNNING,
	CXI_INST_STOPPING,
	CXI_INST_FAILED,
	CXI_INST_DECLINED,
	CXI_INST_RESTARTING,
	CXI_INST_DISABLED,
} cxi_inst_state;

typedef struct cxi_instance {
	char *name;
	cx_plugin_kind kind;
	char *path;
	bool required;
	cxi_isolation iso;
	json_t *settings;
	const cxi_manager_opts *opts;
	cxi_bus_client *core_bus; /* the manager's own client, for proxying */

	/* in-process */
	cxi_module *mod;
	const cx_plugin *desc;
	void *state;
	cxi_hostctx *hc;
	cxi_bus_client *bus;

	/* process isolation */
	cxi_super *sup;
	char *settings_file;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pid_t hello_pid;        /* pid that last announced itself */
	bool died;              /* the child died since the last start */
	char version[64];
	char summary[128];

	_Atomic int st;
	char error[256];
} cxi_instance;

const char *cxi_inst_state_name(cxi_inst_state s);

cxi_instance *cxi_instance_new(const cxi_plugin_conf *pc,
    const cxi_manager_opts *opts, cxi_bus_client *core_bus);
void cxi_instance_free(cxi_instance *in);

/* Start and stop, in process or isolated. Start returns 0 on running,
 * 1 on declined, -1 on failure (the reason is logged and kept). */
int cxi_instance_start(cxi_instance *in);
void cxi_instance_stop(cxi_instance *in);
/* Applies new settings in place when the plugin can; returns 0 if done,
 * 1 if a restart is needed instead. */
int cxi_instance_reconfigure(cxi_instance *in, json_t *settings);

/* Records and logs a failure: one line naming plugin, path and reason. */
void cxi_instance_fail(cxi_instance *in, const char *reason);

/* Isolated plumbing (isolated.c). */
int cxi_isolated_start(cxi_instance *in);
void cxi_isolated_stop(cxi_instance *in);
int cxi_isolated_hello(cxi_instance *in, const json_t *data, char *why,
    size_t whylen);

#endif
