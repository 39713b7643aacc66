/*
 * redis_fixture.c - see redis_fixture.h.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "config.h"
#include "errlist.h"
#include "host.h"
#include "loader.h"
#include "log.h"
#include "yamltree.h"

#include "redis_fixture.h"

struct rt_priv {
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
rt_global_init(const char *plugin_so)
{
	snprintf(g_so, sizeof(g_so), "%s", plugin_so);
	snprintf(g_ns, sizeof(g_ns), "rst%d", (int) getpid());
	const char *tmp = getenv("TMPDIR");
	snprintf(g_dir, sizeof(g_dir), "%s/cxrst.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(g_dir) == NULL) {
		return (-1);
	}
	/* Debug too: the password must not show at any level. */
	cxi_log_setup(CX_LOG_DEBUG, CXI_LOG_LOGFMT);
	return (cxi_bus_open(&g_bus, g_ns, NULL) == 0 ? 0 : -1);
}

void
rt_global_fini(void)
{
	cxi_bus_close(g_bus);
	g_bus = NULL;
	rmdir(g_dir);
}

void
rt_settings(char *buf, size_t len, const char *url, const char *extra)
{
	snprintf(buf, len, "url: \"%s\"\n%s", url ? url : "",
	    extra ? extra : "");
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
		snprintf(why + l, whylen - l, "%s%s", i ? "; " : "",
		    errs.msgs[i]);
	}
	cxi_errlist_clear(&errs);
	cxi_ynode_free(root);
	return (s);
}

void
rt_unload(rt_inst *in)
{
	if (in == NULL) {
		return;
	}
	struct rt_priv *p = in->priv;
	if (in->state != NULL) {
		if (in->desc->stop != NULL) {
			in->desc->stop(in->state);
		}
		if (in->desc->fini != NULL) {
			in->desc->fini(in->state);
		}
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
rt_load(const char *yaml, rt_inst **out, char *why, size_t whylen)
{
	rt_inst *in = calloc(1, sizeof(*in));
	struct rt_priv *p = calloc(1, sizeof(*p));
	*out = NULL;
	why[0] = '\0';
	if (in == NULL || p == NULL) {
		free(in);
		free(p);
		return (CX_ENOMEM);
	}
	in->priv = p;
	snprintf(in->name, sizeof(in->name), "redis%u", ++g_seq);
	cx_err rv = CX_EIO;
	if (cxi_module_open(g_so, &p->mod, why, whylen) != 0) {
		goto fail;
	}
	in->desc = cxi_module_desc(p->mod);
	in->ops = in->desc->kind_ops;
	if (in->desc->kind != CX_KIND_SESSION || in->ops == NULL) {
		snprintf(why, whylen, "not a session plugin");
		goto fail;
	}
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
	if (in->desc->start != NULL && (rv = in->desc->start(in->state)) !=
	    CX_OK) {
		goto fail;
	}
	*out = in;
	return (CX_OK);
fail:
	rt_unload(in);
	return (rv);
}

int
rt_capture_begin(void)
{
	char path[] = "/tmp/cxrstlogXXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		return (-1);
	}
	unlink(path);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	if (saved < 0 || dup2(fd, STDERR_FILENO) < 0) {
		close(fd);
		if (saved >= 0) {
			close(saved);
		}
		return (-1);
	}
	close(fd);
	return (saved);
}

void
rt_capture_end(int saved, char *log, size_t loglen)
{
	log[0] = '\0';
	if (saved < 0) {
		return;
	}
	fflush(stderr);
	ssize_t n = pread(STDERR_FILENO, log, loglen - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	dup2(saved, STDERR_FILENO);
	close(saved);
	/* Show it anyway: a failing test wants the evidence. */
	fprintf(stderr, "%s", log);
}

redisContext *
rt_redis(void)
{
	const char *port = getenv("CALLIXO_REDIS_PORT");
	if (port == NULL) {
		return (NULL);
	}
	redisContext *c = redisConnect("127.0.0.1", atoi(port));
	if (c != NULL && c->err != 0) {
		redisFree(c);
		return (NULL);
	}
	return (c);
}

redisReply *
rt_cmd(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(c, fmt, ap);
	va_end(ap);
	return (r);
}
