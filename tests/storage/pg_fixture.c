/*
 * pg_fixture.c - see pg_fixture.h.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "config.h"
#include "errlist.h"
#include "host.h"
#include "loader.h"
#include "yamltree.h"

#include "pg_fixture.h"

struct pgt_priv {
	cxi_module *mod;
	cxi_bus_client *client;
	cxi_hostctx *hc;
	json_t *settings;
};

static cxi_bus *g_bus;
static char g_ns[64];
static char g_so[4096];
static char g_dir[4096];
static unsigned g_seq;

int
pgt_global_init(const char *plugin_so)
{
	snprintf(g_so, sizeof(g_so), "%s", plugin_so);
	snprintf(g_ns, sizeof(g_ns), "pgt%d", (int) getpid());
	const char *tmp = getenv("TMPDIR");
	snprintf(g_dir, sizeof(g_dir), "%s/cxpgt.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(g_dir) == NULL) {
		return (-1);
	}
	return (cxi_bus_open(&g_bus, g_ns, NULL) == 0 ? 0 : -1);
}

void
pgt_global_fini(void)
{
	cxi_bus_close(g_bus);
	g_bus = NULL;
	rmdir(g_dir);
}

void
pgt_settings(char *buf, size_t len, const char *extra)
{
	const char *dsn = getenv("CALLIXO_PG_DSN");
	snprintf(buf, len, "dsn: \"%s\"\n%s", dsn ? dsn : "", extra ? extra : "");
}

static json_t *
validate(const cx_plugin *desc, const char *yaml, char *why, size_t whylen)
{
	cxi_errlist errs = {0};
	cxi_ynode *root = cxi_yaml_parse("settings", yaml, strlen(yaml), &errs);
	json_t *s = NULL;
	if (root != NULL) {
		s = cxi_settings_validate_desc("settings", root, 1, 1,
		    desc->name, desc, NULL, &errs);
	}
	if (errs.n > 0) {
		json_decref(s);
		s = NULL;
	}
	why[0] = '\0';
	for (size_t i = 0; i < errs.n; i++) {
		size_t l = strlen(why);
		snprintf(why + l, whylen - l, "%s%s", i ? "; " : "", errs.msgs[i]);
	}
	cxi_errlist_clear(&errs);
	cxi_ynode_free(root);
	return (s);
}

void
pgt_unload(pgt_inst *in)
{
	if (in == NULL) {
		return;
	}
	struct pgt_priv *p = in->priv;
	if (in->state != NULL && in->desc->fini != NULL) {
		in->desc->fini(in->state);
	}
	free(in->state);
	if (p->hc != NULL) {
		cxi_hostctx_quiesce(p->hc);
		cxi_hostctx_free(p->hc);
	}
	cxi_bus_client_close(p->client);
	json_decref(p->settings);
	cxi_module_close(p->mod);
	free(p);
	free(in);
}

cx_err
pgt_load(const char *yaml, pgt_inst **out, char *why, size_t whylen)
{
	pgt_inst *in = calloc(1, sizeof(*in));
	struct pgt_priv *p = calloc(1, sizeof(*p));
	*out = NULL;
	why[0] = '\0';
	if (in == NULL || p == NULL) {
		free(in);
		free(p);
		return (CX_ENOMEM);
	}
	in->priv = p;
	snprintf(in->name, sizeof(in->name), "pg%u", ++g_seq);
	cx_err rv = CX_EIO;
	if (cxi_module_open(g_so, &p->mod, why, whylen) != 0) {
		goto fail;
	}
	in->desc = cxi_module_desc(p->mod);
	in->ops = in->desc->kind_ops;
	if ((p->settings = validate(in->desc, yaml, why, whylen)) == NULL) {
		rv = CX_ECONFIG;
		goto fail;
	}
	if (cxi_bus_client_open(&p->client, in->name, g_ns, NULL) != 0 ||
	    cxi_hostctx_new(&p->hc, in->name, g_dir, p->client, NULL) != 0 ||
	    (in->state = calloc(1, in->desc->state_size)) == NULL) {
		goto fail;
	}
	rv = in->desc->init(in->state, cxi_hostctx_table(p->hc), p->settings);
	if (rv != CX_OK) {
		free(in->state);
		in->state = NULL;
		goto fail;
	}
	*out = in;
	return (CX_OK);
fail:
	pgt_unload(in);
	return (rv);
}

cx_err
pgt_load_captured(const char *yaml, pgt_inst **out, char *log, size_t loglen)
{
	char path[] = "/tmp/cxpgtlogXXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		return (CX_EIO);
	}
	unlink(path);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	char why[512];
	cx_err rv = pgt_load(yaml, out, why, sizeof(why));
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	ssize_t n = pread(fd, log, loglen - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	/* Show it anyway: a failing test wants the evidence. */
	fprintf(stderr, "%s%s%s", log, why[0] ? why : "", why[0] ? "\n" : "");
	return (rv);
}

cx_err
pgt_exec(const pgt_inst *in, cx_db_conn *c, const char *sql,
    const cx_db_value *p, size_t n, cx_db_error *err)
{
	return (in->ops->exec(c, sql, p, n, NULL, NULL, err));
}

int64_t
pgt_int(const pgt_inst *in, cx_db_conn *c, const char *sql)
{
	cx_db_rows *rows = NULL;
	cx_db_error err;
	cx_db_value v = {0};
	if (in->ops->exec(c, sql, NULL, 0, &rows, NULL, &err) != CX_OK) {
		fprintf(stderr, "pgt_int: %s: %s\n", sql, err.message);
		return (INT64_MIN);
	}
	if (in->ops->rows_count(rows) != 1 ||
	    in->ops->rows_get(rows, 0, 0, &v) != CX_OK || v.type != CX_DB_INT) {
		v.i = INT64_MIN;
	}
	in->ops->rows_free(rows);
	return (v.i);
}
