/*
 * s3_rig.c - see s3_rig.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "errlist.h"
#include "s3_rig.h"
#include "yamltree.h"

static cxi_bus *rig_bus;
static char rig_ns[32];
static int rig_seq;

static pthread_mutex_t metric_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char name[64];
	int64_t v;
} metrics[16];

static void
on_metric(void *arg, const char *plugin, const char *metric, int64_t d)
{
	(void) arg;
	(void) plugin;
	pthread_mutex_lock(&metric_mu);
	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
		if (metrics[i].name[0] == '\0') {
			snprintf(metrics[i].name, sizeof(metrics[i].name), "%s",
			    metric);
		}
		if (strcmp(metrics[i].name, metric) == 0) {
			metrics[i].v += d;
			break;
		}
	}
	pthread_mutex_unlock(&metric_mu);
}

int64_t
rig_metric(const char *metric)
{
	int64_t v = 0;
	pthread_mutex_lock(&metric_mu);
	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
		if (strcmp(metrics[i].name, metric) == 0) {
			v = metrics[i].v;
		}
	}
	pthread_mutex_unlock(&metric_mu);
	return (v);
}

void
rig_metric_reset(void)
{
	pthread_mutex_lock(&metric_mu);
	memset(metrics, 0, sizeof(metrics));
	pthread_mutex_unlock(&metric_mu);
}

void
rig_setup(void)
{
	snprintf(rig_ns, sizeof(rig_ns), "s3t%ld", (long) getpid());
	if (cxi_bus_open(&rig_bus, rig_ns, NULL) != 0) {
		fprintf(stderr, "cannot open the bus\n");
		exit(1);
	}
}

void
rig_teardown(void)
{
	cxi_bus_close(rig_bus);
	rig_bus = NULL;
}

static void
print_errs(cxi_errlist *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		fprintf(stderr, "settings: %s\n", errs->msgs[i]);
	}
	cxi_errlist_clear(errs);
}

cx_err
rig_open(s3_inst *in, const char *yaml)
{
	char path[4096], why[512], name[32];
	memset(in, 0, sizeof(*in));
	snprintf(path, sizeof(path), "%s/plugins/s3.so",
	    getenv("CALLIXO_BUILD_ROOT"));
	if (cxi_module_open(path, &in->mod, why, sizeof(why)) != 0) {
		fprintf(stderr, "%s: %s\n", path, why);
		return (CX_EABI);
	}
	in->desc = cxi_module_desc(in->mod);
	in->ops = in->desc->kind_ops;
	cxi_errlist errs = {0};
	cxi_ynode *n = cxi_yaml_parse("<test>", yaml, strlen(yaml), &errs);
	if (n != NULL) {
		in->settings = cxi_settings_validate_desc("<test>", n, 1, 1,
		    "s3", in->desc, NULL, &errs);
		cxi_ynode_free(n);
	}
	if (in->settings == NULL) {
		print_errs(&errs);
		rig_close(in);
		return (CX_ECONFIG);
	}
	snprintf(in->dir, sizeof(in->dir), "/tmp/cxs3rigXXXXXX");
	snprintf(name, sizeof(name), "s3-%d", ++rig_seq);
	cxi_host_sinks sinks = {.metric_add = on_metric};
	if (mkdtemp(in->dir) == NULL ||
	    cxi_bus_client_open(&in->bc, name, rig_ns, NULL) != 0 ||
	    cxi_hostctx_new(&in->hc, "s3", in->dir, in->bc, &sinks) != 0 ||
	    (in->state = calloc(1, in->desc->state_size)) == NULL) {
		rig_close(in);
		return (CX_ENOMEM);
	}
	cx_err e = in->desc->init(in->state, cxi_hostctx_table(in->hc),
	    in->settings);
	in->inited = e == CX_OK;
	return (e);
}

void
rig_close(s3_inst *in)
{
	if (in->inited && in->desc->fini != NULL) {
		in->desc->fini(in->state);
	}
	free(in->state);
	if (in->hc != NULL) {
		cxi_hostctx_quiesce(in->hc);
		cxi_hostctx_free(in->hc);
	}
	if (in->bc != NULL) {
		cxi_bus_client_close(in->bc);
	}
	json_decref(in->settings);
	if (in->mod != NULL) {
		cxi_module_close(in->mod);
	}
	if (in->dir[0] == '/') {
		rmdir(in->dir);
	}
	memset(in, 0, sizeof(*in));
}

cx_err
rig_put_all(s3_inst *in, const char *key, const void *data, size_t len,
    size_t chunk)
{
	cx_blob_writer *w;
	cx_err e = in->ops->put_begin(in->state, key, &w);
	if (e != CX_OK) {
		return (e);
	}
	const char *p = data;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		if ((e = in->ops->put_write(w, p + off, n)) != CX_OK) {
			in->ops->put_abort(w);
			return (e);
		}
	}
	return (in->ops->put_commit(w));
}

cx_err
rig_get_all(s3_inst *in, const char *key, char **data, size_t *len,
    size_t chunk)
{
	cx_blob_reader *r;
	uint64_t size = 0;
	*data = NULL;
	*len = 0;
	cx_err e = in->ops->get_open(in->state, key, &r, &size);
	if (e != CX_OK) {
		return (e);
	}
	char *buf = malloc(size + 1);
	size_t got = 0, n;
	if (buf == NULL) {
		in->ops->get_close(r);
		return (CX_ENOMEM);
	}
	do {
		size_t want = size + 1 - got < chunk ? size + 1 - got : chunk;
		e = in->ops->get_read(r, buf + got, want, &n);
		got += n;
	} while (e == CX_OK && n > 0 && got <= size);
	in->ops->get_close(r);
	if (e != CX_OK || got != size) {
		free(buf);
		return (e != CX_OK ? e : CX_EIO);
	}
	*data = buf;
	*len = got;
	return (CX_OK);
}
