/*
 * loader.c - dlopen a plugin and check its descriptor before trusting it.
 *
 * Only data is read before the checks pass: the magic, the ABI numbers
 * and the size. A plugin built for another ABI major, or for a newer minor
 * than ours, is refused without running a single one of its functions.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"

struct cxi_module {
	void *dl;
	const cx_plugin *desc;
	char *path;
};

/* The smallest descriptor we understand: ABI 1.0 ends at kind_ops. */
#define DESC_MIN_SIZE (offsetof(cx_plugin, kind_ops) + sizeof(void *))

static int
is_elf(const char *path, char *why, size_t whylen)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(why, whylen, "%s", errno == ENOENT ?
		        "file not found" : strerror(errno));
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return (-1);
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "cannot open: %s", strerror(errno));
		return (-1);
	}
	unsigned char hdr[4] = {0};
	ssize_t n = read(fd, hdr, sizeof(hdr));
	close(fd);
	if (n != 4 || memcmp(hdr, "\177ELF", 4) != 0) {
		snprintf(why, whylen, "not a shared object (no ELF header)");
		return (-1);
	}
	return (0);
}

static int
check_desc(const cx_plugin *d, char *why, size_t whylen)
{
	if (d->magic != CX_PLUGIN_MAGIC) {
		snprintf(why, whylen,
		    "descriptor has bad magic 0x%08x (not a Callixo plugin)",
		    d->magic);
		return (-1);
	}
	if (d->abi_major != CX_ABI_MAJOR || d->abi_minor > CX_ABI_MINOR) {
		snprintf(why, whylen,
		    "ABI mismatch: plugin built for ABI %u.%u, host supports "
		    "%u.0 to %u.%u",
		    d->abi_major, d->abi_minor, CX_ABI_MAJOR, CX_ABI_MAJOR,
		    CX_ABI_MINOR);
		return (-1);
	}
	if (d->size < DESC_MIN_SIZE) {
		snprintf(why, whylen, "descriptor too small (%u bytes)",
		    d->size);
		return (-1);
	}
	if (d->name == NULL || d->name[0] == '\0' || d->init == NULL) {
		snprintf(why, whylen, "descriptor lacks a name or init");
		return (-1);
	}
	if (cx_plugin_kind_name(d->kind) == NULL) {
		snprintf(why, whylen, "descriptor has unknown kind %d",
		    (int) d->kind);
		return (-1);
	}
	return (0);
}

int
cxi_module_open(const char *path, cxi_module **out, char *why, size_t whylen)
{
	if (is_elf(path, why, whylen) != 0) {
		return (-1);
	}
	/* RTLD_LOCAL: plugins must not resolve each other's symbols.
	 * RTLD_NOW: an unresolved symbol fails here, not mid-call. */
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		const char *e = dlerror();
		snprintf(why, whylen, "not a loadable shared object: %s",
		    e ? e : "unknown error");
		return (-1);
	}
	const cx_plugin *d = dlsym(dl, CX_PLUGIN_ENTRY_SYMBOL);
	if (d == NULL) {
		snprintf(why, whylen, "descriptor symbol %s missing",
		    CX_PLUGIN_ENTRY_SYMBOL);
		dlclose(dl);
		return (-1);
	}
	if (check_desc(d, why, whylen) != 0) {
		dlclose(dl);
		return (-1);
	}
	cxi_module *m = calloc(1, sizeof(*m));
	if (m == NULL || (m->path = strdup(path)) == NULL) {
		free(m);
		dlclose(dl);
		snprintf(why, whylen, "out of memory");
		return (-1);
	}
	m->dl = dl;
	m->desc = d;
	*out = m;
	return (0);
}

const cx_plugin *
cxi_module_desc(const cxi_module *m)
{
	return (m->desc);
}

const char *
cxi_module_path(const cxi_module *m)
{
	return (m->path);
}

void
cxi_module_close(cxi_module *m)
{
	if (m == NULL) {
		return;
	}
	/* Sanitizer builds keep the object mapped so leak reports can still
	 * symbolize plugin frames; dlclose is otherwise safe here because
	 * the caller has stopped every callback into the plugin. */
#ifndef __SANITIZE_ADDRESS__
	dlclose(m->dl);
#endif
	free(m->path);
	free(m);
}

struct cxi_module_cache {
	pthread_mutex_t mu;
	cxi_module **mods;
	size_t n;
};

cxi_module_cache *
cxi_module_cache_new(void)
{
	cxi_module_cache *c = calloc(1, sizeof(*c));
	if (c != NULL) {
		pthread_mutex_init(&c->mu, NULL);
	}
	return (c);
}

void
cxi_module_cache_free(cxi_module_cache *c)
{
	if (c == NULL) {
		return;
	}
	for (size_t i = 0; i < c->n; i++) {
		cxi_module_close(c->mods[i]);
	}
	free(c->mods);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int
cxi_module_cache_schema(void *arg, const char *path, const cx_plugin **desc,
    char *why, size_t whylen)
{
	cxi_module_cache *c = arg;
	int rv = 0;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->mods[i]->path, path) == 0) {
			*desc = c->mods[i]->desc;
			goto out;
		}
	}
	cxi_module *m;
	if (cxi_module_open(path, &m, why, whylen) != 0) {
		rv = -1;
		goto out;
	}
	cxi_module **nm = realloc(c->mods, (c->n + 1) * sizeof(*nm));
	if (nm == NULL) {
		cxi_module_close(m);
		snprintf(why, whylen, "out of memory");
		rv = -1;
		goto out;
	}
	c->mods = nm;
	c->mods[c->n++] = m;
	*desc = m->desc;
out:
	pthread_mutex_unlock(&c->mu);
	return (rv);
}
