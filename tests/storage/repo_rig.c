/*
 * repo_rig.c - loading a storage plugin through the core's own loader,
 * settings validation and host table, so the repository is tested
 * against exactly what the daemon would run.
 */
#include <errno.h>
#include <ftw.h>
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

#include "repo_rig.h"

cxi_db rig_db;

static struct {
	cxi_module *mod;
	const cx_plugin *desc;
	cxi_bus *bus;
	cxi_bus_client *cli;
	cxi_hostctx *hc;
	json_t *settings;
	void *state;
	bool inited, started;
	char root[64];
} R;

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	/* Best effort: a leftover temp file does not fail the suite. */
	(void) remove(path);
	return (0);
}

/* Settings text: the content of `yaml` when it names a file, else the
 * text itself (a one-line DSN setting fits in an environment variable). */
static char *
settings_text(const char *yaml)
{
	if (yaml == NULL) {
		return (strdup(""));
	}
	FILE *f = strchr(yaml, '\n') == NULL ? fopen(yaml, "r") : NULL;
	if (f == NULL) {
		return (strdup(yaml));
	}
	char *buf = calloc(1, 65536);
	size_t n = buf != NULL ? fread(buf, 1, 65535, f) : 0;
	(void) n;
	fclose(f);
	return (buf);
}

static json_t *
validate(const char *yaml, char *why, size_t whylen)
{
	cxi_errlist errs = {0};
	cxi_ynode *root = NULL;
	json_t *s = NULL;
	char *text = settings_text(yaml);
	if (text == NULL) {
		snprintf(why, whylen, "out of memory");
		return (NULL);
	}
	if (text[strspn(text, " \t\r\n")] != '\0') {
		root = cxi_yaml_parse("settings", text, strlen(text), &errs);
		if (root != NULL && root->type != CXI_Y_MAP) {
			cxi_errlist_add(&errs, "settings", root->line, root->col,
			    "settings must be a mapping");
		}
	}
	if (errs.n == 0) {
		s = cxi_settings_validate_desc("settings", root, 1, 1,
		    R.desc->name, R.desc, NULL, &errs);
	}
	if (s == NULL || errs.n > 0) {
		json_decref(s);
		s = NULL;
		snprintf(why, whylen, "%s", errs.n > 0 ? errs.msgs[0] :
		                                         "invalid settings");
	}
	cxi_ynode_free(root);
	cxi_errlist_clear(&errs);
	free(text);
	return (s);
}

int
rig_open(const char *so, const char *yaml, char *why, size_t whylen)
{
	char dir[256], ns[64];
	memset(&R, 0, sizeof(R));
	if (cxi_module_open(so, &R.mod, why, whylen) != 0) {
		return (-1);
	}
	R.desc = cxi_module_desc(R.mod);
	if (R.desc->kind != CX_KIND_STORAGE || R.desc->kind_ops == NULL) {
		snprintf(why, whylen, "%s is not a storage plugin", so);
		return (-1);
	}
	if ((R.settings = validate(yaml, why, whylen)) == NULL) {
		return (-1);
	}
	if (R.desc->validate != NULL &&
	    R.desc->validate(R.settings, why, whylen) != CX_OK) {
		return (-1);
	}
	snprintf(R.root, sizeof(R.root), "/tmp/cxrepo-XXXXXX");
	if (mkdtemp(R.root) == NULL) {
		snprintf(why, whylen, "mkdtemp: %s", strerror(errno));
		R.root[0] = '\0';
		return (-1);
	}
	snprintf(dir, sizeof(dir), "%s/plugins", R.root);
	if (mkdir(dir, 0700) != 0) {
		snprintf(why, whylen, "mkdir: %s", strerror(errno));
		return (-1);
	}
	snprintf(dir, sizeof(dir), "%s/plugins/%s", R.root, R.desc->name);
	if (mkdir(dir, 0700) != 0) {
		snprintf(why, whylen, "mkdir: %s", strerror(errno));
		return (-1);
	}
	/* A namespace of its own: other suites may run in parallel. */
	snprintf(ns, sizeof(ns), "repo-%ld", (long) getpid());
	if (cxi_bus_open(&R.bus, ns, NULL) != 0 ||
	    cxi_bus_client_open(&R.cli, R.desc->name, ns, NULL) != 0 ||
	    cxi_hostctx_new(&R.hc, R.desc->name, dir, R.cli, NULL) != 0) {
		snprintf(why, whylen, "cannot set up the bus and host table");
		return (-1);
	}
	if ((R.state = calloc(1, R.desc->state_size + 1)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return (-1);
	}
	cx_err rv = R.desc->init(R.state, cxi_hostctx_table(R.hc), R.settings);
	if (rv != CX_OK) {
		snprintf(why, whylen, "init: %s", cx_strerror(rv));
		return (-1);
	}
	R.inited = true;
	if (R.desc->start != NULL && (rv = R.desc->start(R.state)) != CX_OK) {
		snprintf(why, whylen, "start: %s", cx_strerror(rv));
		return (-1);
	}
	R.started = true;
	rig_db.ops = R.desc->kind_ops;
	rig_db.state = R.state;
	return (0);
}

void
rig_close(void)
{
	if (R.started && R.desc->stop != NULL) {
		R.desc->stop(R.state);
	}
	if (R.hc != NULL) {
		cxi_hostctx_quiesce(R.hc);
	}
	if (R.inited && R.desc->fini != NULL) {
		R.desc->fini(R.state);
	}
	if (R.hc != NULL) {
		cxi_hostctx_free(R.hc);
	}
	if (R.cli != NULL) {
		cxi_bus_client_close(R.cli);
	}
	if (R.bus != NULL) {
		cxi_bus_close(R.bus);
	}
	free(R.state);
	json_decref(R.settings);
	if (R.mod != NULL) {
		cxi_module_close(R.mod);
	}
	if (R.root[0] != '\0') {
		nftw(R.root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	memset(&R, 0, sizeof(R));
	memset(&rig_db, 0, sizeof(rig_db));
}

cx_err
rig_exec(const char *sql, const cx_db_value *p, size_t n)
{
	cxi_dbc c;
	cx_err rv = cxi_db_acquire(&rig_db, 10000, &c);
	if (rv == CX_OK) {
		rv = cxi_db_exec(&c, sql, p, n, NULL, NULL);
		cxi_db_release(&c);
	}
	return (rv);
}

int64_t
rig_count(const char *table)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
	cxi_dbc c;
	int64_t n = -1;
	cx_db_rows *rows = NULL;
	if (cxi_db_acquire(&rig_db, 10000, &c) != CX_OK) {
		return (-1);
	}
	if (cxi_db_exec(&c, sql, NULL, 0, &rows, NULL) == CX_OK) {
		n = cxi_db_int(&c, rows, 0, 0, -1);
	}
	cxi_db_rows_free(&c, rows);
	cxi_db_release(&c);
	return (n);
}

json_t *
rig_account(const char *email)
{
	static unsigned seq;
	char mail[128];
	if (email == NULL) {
		snprintf(mail, sizeof(mail), "user%u-%ld@example.com", ++seq,
		    (long) getpid());
		email = mail;
	}
	json_t *f = json_pack("{s:s, s:s, s:s}", "name", "Test User", "email",
	    email, "password_hash", "$argon2id$v=19$x");
	json_t *row = NULL;
	char why[256];
	if (cxi_repo_create(&rig_db, &cxi_ent_account, NULL, f, &row, why,
	        sizeof(why)) != CX_OK) {
		fprintf(stderr, "rig_account: %s\n", why);
		row = NULL;
	}
	json_decref(f);
	return (row);
}
