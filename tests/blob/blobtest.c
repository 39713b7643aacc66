/*
 * blobtest.c - in-memory blob store and keystore, and the fs plugin rig.
 *
 * The fake store follows the blob contract the way the fs plugin does:
 * an object appears only at commit, whole. It is not meant to be fast.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobtest.h"
#include "config.h"

typedef struct fake_obj {
	char *key;
	uint8_t *data;
	size_t len;
} fake_obj;

struct fake_store {
	pthread_mutex_t mu;
	fake_obj *objs;
	size_t n;
};

struct cx_blob_writer {
	fake_store *s;
	char *key;
	uint8_t *data;
	size_t len, cap;
};

struct cx_blob_reader {
	uint8_t *data;
	size_t len, off;
};

fake_store *
fake_new(void)
{
	fake_store *s = calloc(1, sizeof(*s));
	if (s != NULL) {
		pthread_mutex_init(&s->mu, NULL);
	}
	return (s);
}

void
fake_free(fake_store *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->objs[i].key);
		free(s->objs[i].data);
	}
	free(s->objs);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static fake_obj *
find(fake_store *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->objs[i].key, key) == 0) {
			return (&s->objs[i]);
		}
	}
	return (NULL);
}

uint8_t *
fake_raw(fake_store *s, const char *key, size_t *len)
{
	fake_obj *o = find(s, key);
	*len = o != NULL ? o->len : 0;
	return (o != NULL ? o->data : NULL);
}

/* Takes ownership of data. */
static void
set_owned(fake_store *s, const char *key, uint8_t *data, size_t len)
{
	pthread_mutex_lock(&s->mu);
	fake_obj *o = find(s, key);
	if (o == NULL) {
		fake_obj *no = realloc(s->objs, (s->n + 1) * sizeof(*no));
		if (no == NULL) {
			abort();
		}
		s->objs = no;
		o = &s->objs[s->n++];
		o->key = strdup(key);
		o->data = NULL;
	}
	free(o->data);
	o->data = data;
	o->len = len;
	pthread_mutex_unlock(&s->mu);
}

void
fake_set(fake_store *s, const char *key, const void *data, size_t len)
{
	uint8_t *copy = malloc(len + 1);
	if (copy == NULL) {
		abort();
	}
	memcpy(copy, data, len);
	set_owned(s, key, copy, len);
}

size_t
fake_count(fake_store *s)
{
	return (s->n);
}

static cx_err
f_put_begin(void *state, const char *key, cx_blob_writer **w)
{
	*w = calloc(1, sizeof(**w));
	if (*w == NULL) {
		return (CX_ENOMEM);
	}
	(*w)->s = state;
	(*w)->key = strdup(key);
	return (CX_OK);
}

static cx_err
f_put_write(cx_blob_writer *w, const void *buf, size_t len)
{
	if (w->len + len > w->cap) {
		size_t cap = (w->len + len) * 2;
		uint8_t *nd = realloc(w->data, cap);
		if (nd == NULL) {
			return (CX_ENOMEM);
		}
		w->data = nd;
		w->cap = cap;
	}
	memcpy(w->data + w->len, buf, len);
	w->len += len;
	return (CX_OK);
}

static cx_err
f_put_commit(cx_blob_writer *w)
{
	set_owned(w->s, w->key, w->data, w->len);
	free(w->key);
	free(w);
	return (CX_OK);
}

static void
f_put_abort(cx_blob_writer *w)
{
	free(w->data);
	free(w->key);
	free(w);
}

static cx_err
f_get_open(void *state, const char *key, cx_blob_reader **r, uint64_t *size)
{
	fake_store *s = state;
	pthread_mutex_lock(&s->mu);
	fake_obj *o = find(s, key);
	if (o == NULL) {
		pthread_mutex_unlock(&s->mu);
		return (CX_ENOENT);
	}
	*r = calloc(1, sizeof(**r));
	(*r)->data = malloc(o->len + 1);
	memcpy((*r)->data, o->data, o->len);
	(*r)->len = o->len;
	*size = o->len;
	pthread_mutex_unlock(&s->mu);
	return (CX_OK);
}

static cx_err
f_get_read(cx_blob_reader *r, void *buf, size_t cap, size_t *got)
{
	/* Short reads on purpose, so callers must loop. */
	size_t n = r->len - r->off;
	n = n < cap ? n : cap;
	n = n > 1000 ? n - 7 : n;
	memcpy(buf, r->data + r->off, n);
	r->off += n;
	*got = n;
	return (CX_OK);
}

static void
f_get_close(cx_blob_reader *r)
{
	free(r->data);
	free(r);
}

static void
drop(fake_store *s, size_t i)
{
	free(s->objs[i].key);
	free(s->objs[i].data);
	s->objs[i] = s->objs[--s->n];
}

static cx_err
f_remove(void *state, const char *key)
{
	fake_store *s = state;
	fake_obj *o = find(s, key);
	if (o == NULL) {
		return (CX_ENOENT);
	}
	drop(s, (size_t) (o - s->objs));
	return (CX_OK);
}

static cx_err
f_remove_prefix(void *state, const char *prefix)
{
	fake_store *s = state;
	for (size_t i = 0; i < s->n;) {
		if (strncmp(s->objs[i].key, prefix, strlen(prefix)) == 0) {
			drop(s, i);
		} else {
			i++;
		}
	}
	return (CX_OK);
}

const cx_blob_ops fake_ops = {.size = sizeof(cx_blob_ops),
    .put_begin = f_put_begin, .put_write = f_put_write,
    .put_commit = f_put_commit, .put_abort = f_put_abort,
    .get_open = f_get_open, .get_read = f_get_read,
    .get_close = f_get_close, .remove = f_remove,
    .remove_prefix = f_remove_prefix};

/* ---- keystore ---- */

typedef struct mem_key {
	char account[160];
	char kid[40];
	uint8_t *w;
	size_t len;
} mem_key;

struct mem_keys {
	pthread_mutex_t mu;
	mem_key k[64];
	size_t n;
};

mem_keys *
mem_keys_new(void)
{
	mem_keys *k = calloc(1, sizeof(*k));
	if (k != NULL) {
		pthread_mutex_init(&k->mu, NULL);
	}
	return (k);
}

void
mem_keys_free(mem_keys *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->k[i].w);
	}
	pthread_mutex_destroy(&k->mu);
	free(k);
}

static mem_key *
kfind(mem_keys *k, const char *account)
{
	for (size_t i = 0; i < k->n; i++) {
		if (strcmp(k->k[i].account, account) == 0) {
			return (&k->k[i]);
		}
	}
	return (NULL);
}

static cx_err
k_get(void *arg, const char *account, uint8_t **wrapped, size_t *len,
    char *kid, size_t kidlen)
{
	mem_keys *k = arg;
	pthread_mutex_lock(&k->mu);
	mem_key *e = kfind(k, account);
	cx_err rv = CX_ENOENT;
	if (e != NULL) {
		*wrapped = malloc(e->len);
		memcpy(*wrapped, e->w, e->len);
		*len = e->len;
		snprintf(kid, kidlen, "%s", e->kid);
		rv = CX_OK;
	}
	pthread_mutex_unlock(&k->mu);
	return (rv);
}

static cx_err
k_put(void *arg, const char *account, const uint8_t *wrapped, size_t len,
    const char *kid)
{
	mem_keys *k = arg;
	cx_err rv = CX_OK;
	pthread_mutex_lock(&k->mu);
	if (kfind(k, account) != NULL) {
		rv = CX_EEXIST;
	} else if (k->n == 64) {
		rv = CX_ENOMEM;
	} else {
		mem_key *e = &k->k[k->n++];
		snprintf(e->account, sizeof(e->account), "%s", account);
		snprintf(e->kid, sizeof(e->kid), "%s", kid);
		e->w = malloc(len);
		memcpy(e->w, wrapped, len);
		e->len = len;
	}
	pthread_mutex_unlock(&k->mu);
	return (rv);
}

static cx_err
k_del(void *arg, const char *account)
{
	mem_keys *k = arg;
	pthread_mutex_lock(&k->mu);
	mem_key *e = kfind(k, account);
	if (e != NULL) {
		free(e->w);
		*e = k->k[--k->n];
	}
	pthread_mutex_unlock(&k->mu);
	return (CX_OK);
}

void
mem_keys_store(mem_keys *k, cxi_keystore *out)
{
	out->get = k_get;
	out->put = k_put;
	out->del = k_del;
	out->arg = k;
}

int
mem_keys_copy(mem_keys *k, const char *from, const char *to)
{
	mem_key *src = kfind(k, from);
	if (src == NULL) {
		return (-1);
	}
	k_del(k, to);
	src = kfind(k, from);
	return (k_put(k, to, src->w, src->len, src->kid) == CX_OK ? 0 : -1);
}

size_t
mem_keys_count(mem_keys *k)
{
	return (k->n);
}

void
fill_pattern(uint8_t *buf, size_t len, uint64_t *seed)
{
	uint64_t x = *seed != 0 ? *seed : 88172645463325252ull;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t) x;
	}
	*seed = x;
}

/* ---- fs rig ---- */

cx_err
fs_rig_open(fs_rig *r, const char *root, const char *yaml)
{
	static int seq;
	char path[4200], data_dir[4200], why[512];
	cxi_errlist errs = {0};
	memset(r, 0, sizeof(*r));
	snprintf(r->ns, sizeof(r->ns), "blob%d.%d", (int) getpid(), seq++);
	snprintf(path, sizeof(path), "%s/plugins/fs.so",
	    getenv("CALLIXO_BUILD_ROOT"));
	if (cxi_module_open(path, &r->mod, why, sizeof(why)) != 0) {
		fprintf(stderr, "cannot open %s: %s\n", path, why);
		return (CX_EIO);
	}
	r->desc = cxi_module_desc(r->mod);
	cxi_ynode *node = NULL;
	if (yaml != NULL) {
		node = cxi_yaml_parse("test.yaml", yaml, strlen(yaml), &errs);
	}
	r->settings = cxi_settings_validate_desc("test.yaml", node, 1, 1, "fs",
	    r->desc, NULL, &errs);
	cxi_ynode_free(node);
	for (size_t i = 0; i < errs.n; i++) {
		fprintf(stderr, "settings: %s\n", errs.msgs[i]);
	}
	cxi_errlist_clear(&errs);
	if (r->settings == NULL) {
		cxi_module_close(r->mod);
		return (CX_ECONFIG);
	}
	snprintf(data_dir, sizeof(data_dir), "%s/plugins", root);
	mkdir(root, 0700);
	mkdir(data_dir, 0700);
	snprintf(data_dir, sizeof(data_dir), "%s/plugins/fs", root);
	mkdir(data_dir, 0700);
	if (cxi_bus_open(&r->bus, r->ns, NULL) != 0 ||
	    cxi_bus_client_open(&r->client, "fs", r->ns, NULL) != 0 ||
	    cxi_hostctx_new(&r->hc, "fs", data_dir, r->client, NULL) != 0) {
		abort();
	}
	r->state = calloc(1, r->desc->state_size);
	r->ops = r->desc->kind_ops;
	cx_err rv = r->desc->init(r->state, cxi_hostctx_table(r->hc),
	    r->settings);
	if (rv == CX_OK && r->desc->start != NULL) {
		rv = r->desc->start(r->state);
		if (rv != CX_OK && r->desc->fini != NULL) {
			r->desc->fini(r->state);
		}
	}
	if (rv != CX_OK) {
		r->desc = NULL;
		fs_rig_close(r);
	}
	return (rv);
}

void
fs_rig_close(fs_rig *r)
{
	if (r->desc != NULL) {
		if (r->desc->stop != NULL) {
			r->desc->stop(r->state);
		}
		if (r->desc->fini != NULL) {
			r->desc->fini(r->state);
		}
	}
	if (r->hc != NULL) {
		cxi_hostctx_free(r->hc);
	}
	if (r->client != NULL) {
		cxi_bus_client_close(r->client);
	}
	if (r->bus != NULL) {
		cxi_bus_close(r->bus);
	}
	free(r->state);
	json_decref(r->settings);
	if (r->mod != NULL) {
		cxi_module_close(r->mod);
	}
	memset(r, 0, sizeof(*r));
}
