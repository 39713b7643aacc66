/*
 * harness.c - loading a storage plugin the way callixod does.
 *
 * The loader, settings validation and host table are the core's own
 * (cxcore), so a driver that passes here behaves the same in the daemon.
 * The host gets a real bus on a namespace of its own: storage drivers
 * have no reason to publish, but cx_host promises every member works,
 * and a driver that logs through an event must not crash the suite.
 */
#include <errno.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "config.h"
#include "errlist.h"
#include "host.h"
#include "loader.h"
#include "yamltree.h"

#include "conformance.h"

struct cxt_storage_priv {
	cxi_module *mod;
	cxi_bus *bus;
	cxi_bus_client *cli;
	cxi_hostctx *hc;
	json_t *settings;
	char root[4096]; /* temp dir to remove, or "" */
	int inited;
	int started;
};

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	/* Best effort: a leftover temp file is not worth failing a test. */
	(void) remove(path);
	return (0);
}

void
cxt_rmtree(const char *path)
{
	if (path != NULL && path[0] != '\0') {
		/* A test may have made a directory read-only. */
		(void) chmod(path, 0700);
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
}

static int
mkdirs(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
				return (-1);
			}
			*p = '/';
		}
	}
	return (mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0);
}

static json_t *
validate(const cx_plugin *desc, const char *yaml, char *why, size_t whylen)
{
	cxi_errlist errs = {0};
	cxi_ynode *root = NULL;
	json_t *s = NULL;
	if (yaml != NULL && yaml[strspn(yaml, " \t\r\n")] != '\0') {
		root = cxi_yaml_parse("settings", yaml, strlen(yaml), &errs);
		if (root != NULL && root->type != CXI_Y_MAP) {
			cxi_errlist_add(&errs, "settings", root->line, root->col,
			    "settings must be a mapping");
		}
	}
	if (errs.n == 0) {
		s = cxi_settings_validate_desc("settings", root, 1, 1,
		    desc->name, desc, NULL, &errs);
	}
	cxi_ynode_free(root);
	if (s == NULL || errs.n > 0) {
		json_decref(s);
		s = NULL;
		snprintf(why, whylen, "%s", errs.n > 0 ? errs.msgs[0] :
		                                         "invalid settings");
	}
	cxi_errlist_clear(&errs);
	return (s);
}

/* The checks the core makes before it trusts a storage descriptor. */
static int
check_desc(const cx_plugin *d, char *why, size_t whylen)
{
	const cx_storage_ops *o = d->kind_ops;
	if (d->kind != CX_KIND_STORAGE) {
		snprintf(why, whylen, "kind is %s, not storage",
		    cx_plugin_kind_name(d->kind));
		return (-1);
	}
	if (o == NULL || o->size < sizeof(cx_storage_ops)) {
		snprintf(why, whylen, "kind_ops missing or smaller than the "
		                      "1.0 cx_storage_ops");
		return (-1);
	}
	if (o->dialect == NULL || o->migrations == NULL || !o->acquire ||
	    !o->release || !o->exec || !o->exec_script || !o->begin ||
	    !o->commit || !o->rollback || !o->rows_count ||
	    !o->rows_columns || !o->rows_name || !o->rows_get ||
	    !o->rows_free) {
		snprintf(why, whylen, "cx_storage_ops has a NULL member");
		return (-1);
	}
	return (cxi_settings_schema_check(d->settings, why, whylen));
}

static int
open_bus(struct cxt_storage_priv *p, const char *name)
{
	static atomic_uint seq;
	char ns[64];
	snprintf(ns, sizeof(ns), "cxt-storage-%ld-%u", (long) getpid(),
	    atomic_fetch_add(&seq, 1));
	if (cxi_bus_open(&p->bus, ns, NULL) != 0) {
		return (-1);
	}
	return (cxi_bus_client_open(&p->cli, name, ns, NULL) != 0 ? -1 : 0);
}

static int
open_common(const char *so, const char *yaml, const char *data_dir,
    cxt_storage **out, char *why, size_t whylen)
{
	*out = NULL;
	cxt_storage *s = calloc(1, sizeof(*s));
	struct cxt_storage_priv *p = calloc(1, sizeof(*p));
	if (s == NULL || p == NULL) {
		free(s);
		free(p);
		snprintf(why, whylen, "out of memory");
		return (-1);
	}
	s->priv = p;
	if (cxi_module_open(so, &p->mod, why, whylen) != 0) {
		goto fail;
	}
	s->desc = cxi_module_desc(p->mod);
	if (check_desc(s->desc, why, whylen) != 0) {
		goto fail;
	}
	s->ops = s->desc->kind_ops;
	if ((p->settings = validate(s->desc, yaml, why, whylen)) == NULL) {
		goto fail;
	}
	if (data_dir != NULL) {
		snprintf(s->data_dir, sizeof(s->data_dir), "%s", data_dir);
	} else {
		snprintf(p->root, sizeof(p->root), "/tmp/cxt-storage-XXXXXX");
		if (mkdtemp(p->root) == NULL) {
			snprintf(why, whylen, "mkdtemp: %s", strerror(errno));
			p->root[0] = '\0';
			goto fail;
		}
		snprintf(s->data_dir, sizeof(s->data_dir), "%s/plugins/%s",
		    p->root, s->desc->name);
	}
	if (mkdirs(s->data_dir) != 0) {
		snprintf(why, whylen, "%s: %s", s->data_dir, strerror(errno));
		goto fail;
	}
	if (open_bus(p, s->desc->name) != 0 ||
	    cxi_hostctx_new(&p->hc, s->desc->name, s->data_dir, p->cli,
	        NULL) != 0) {
		snprintf(why, whylen, "cannot set up the bus and host table");
		goto fail;
	}
	if ((s->state = calloc(1, s->desc->state_size + 1)) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	cx_err rv = s->desc->init(s->state, cxi_hostctx_table(p->hc),
	    p->settings);
	if (rv != CX_OK) {
		snprintf(why, whylen, "init failed: %s", cx_strerror(rv));
		goto fail;
	}
	p->inited = 1;
	if (s->desc->start != NULL && (rv = s->desc->start(s->state)) != CX_OK) {
		snprintf(why, whylen, "start failed: %s", cx_strerror(rv));
		goto fail;
	}
	p->started = 1;
	*out = s;
	return (0);
fail:
	cxt_storage_close(s);
	return (-1);
}

int
cxt_storage_open(const char *so, const char *yaml, cxt_storage **out,
    char *why, size_t whylen)
{
	return (open_common(so, yaml, NULL, out, why, whylen));
}

int
cxt_storage_open_in(const char *so, const char *yaml, const char *data_dir,
    cxt_storage **out, char *why, size_t whylen)
{
	return (open_common(so, yaml, data_dir, out, why, whylen));
}

void
cxt_storage_close(cxt_storage *s)
{
	if (s == NULL) {
		return;
	}
	struct cxt_storage_priv *p = s->priv;
	if (p->started && s->desc->stop != NULL) {
		s->desc->stop(s->state);
	}
	if (p->hc != NULL) {
		cxi_hostctx_quiesce(p->hc);
	}
	if (p->cli != NULL) {
		cxi_bus_client_quiesce(p->cli);
	}
	if (p->inited && s->desc->fini != NULL) {
		s->desc->fini(s->state);
	}
	free(s->state);
	if (p->hc != NULL) {
		cxi_hostctx_free(p->hc);
	}
	if (p->cli != NULL) {
		cxi_bus_client_close(p->cli);
	}
	if (p->bus != NULL) {
		cxi_bus_close(p->bus);
	}
	json_decref(p->settings);
	if (p->mod != NULL) {
		cxi_module_close(p->mod);
	}
	cxt_rmtree(p->root);
	free(p);
	free(s);
}
