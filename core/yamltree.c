/*
 * yamltree.c - libyaml events to a positioned tree.
 *
 * Semantic problems (an alias, an unset variable, a duplicate key, a
 * missing secret file) are recorded and parsing goes on, so one pass
 * reports them all; the result is then discarded. A libyaml syntax error
 * or an allocation failure stops the parse at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "confutil.h"
#include "yamlsubst.h"
#include "yamltree.h"

#define CXI_YAML_MAX_DEPTH 64

typedef struct yctx {
	yaml_parser_t parser;
	const char *file;
	char *dir;          /* base for *_file paths */
	cxi_errlist *errs;
	bool stop;          /* syntax error or ENOMEM: give up */
	size_t nerr;        /* semantic errors so far */
} yctx;

static cxi_ynode *parse_node(yctx *c, yaml_event_t *ev, int depth);

static void
yerr(yctx *c, const yaml_mark_t *m, const char *what)
{
	cxi_errlist_add(c->errs, c->file, m->line + 1, m->column + 1, "%s",
	    what);
	c->nerr++;
}

static void
nomem(yctx *c)
{
	if (!c->stop) {
		cxi_errlist_add(c->errs, c->file, 0, 0, "out of memory");
	}
	c->stop = true;
}

static int
next_event(yctx *c, yaml_event_t *ev)
{
	yaml_parser_t *p = &c->parser;

	if (yaml_parser_parse(p, ev)) {
		return (0);
	}
	c->stop = true;
	if (p->error == YAML_MEMORY_ERROR) {
		cxi_errlist_add(c->errs, c->file, 0, 0, "out of memory");
	} else if (p->error == YAML_READER_ERROR) {
		cxi_errlist_add(c->errs, c->file, 0, 0,
		    "%s (byte offset %zu)", p->problem ? p->problem :
		    "unreadable input", p->problem_offset);
	} else {
		cxi_errlist_add(c->errs, c->file, p->problem_mark.line + 1,
		    p->problem_mark.column + 1, "%s%s%s",
		    p->problem ? p->problem : "syntax error",
		    p->context ? " " : "", p->context ? p->context : "");
	}
	return (-1);
}

static cxi_ynode *
node_new(yctx *c, cxi_ynode_type t, const yaml_mark_t *m)
{
	cxi_ynode *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		nomem(c);
		return (NULL);
	}
	n->type = t;
	n->line = m->line + 1;
	n->col = m->column + 1;
	return (n);
}

/* A null placeholder standing where a refused node was. */
static cxi_ynode *
placeholder(yctx *c, const yaml_mark_t *m)
{
	cxi_ynode *n = node_new(c, CXI_Y_SCALAR, m);

	if (n != NULL && (n->value = strdup("")) == NULL) {
		free(n);
		nomem(c);
		return (NULL);
	}
	return (n);
}

static void
refuse_decor(yctx *c, const yaml_mark_t *m, const yaml_char_t *anchor,
    const yaml_char_t *tag)
{
	if (anchor != NULL) {
		yerr(c, m, "anchors (&) are not supported in config files");
	}
	if (tag != NULL) {
		yerr(c, m, "tags (!) are not supported in config files");
	}
}

static cxi_ynode *
parse_scalar(yctx *c, yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	const char *v = (const char *) ev->data.scalar.value;
	size_t len = ev->data.scalar.length;

	refuse_decor(c, m, ev->data.scalar.anchor, ev->data.scalar.tag);
	cxi_ynode *n = node_new(c, CXI_Y_SCALAR, m);
	if (n == NULL) {
		return (NULL);
	}
	n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	if (memchr(v, '\0', len) != NULL) {
		yerr(c, m, "NUL characters are not allowed in values");
		n->value = strdup("");
	} else {
		char why[256];
		int rv = cxi_yaml_expand(v, &n->value, why, sizeof(why));
		if (rv > 0) {
			yerr(c, m, why);
			n->value = strdup("");
		}
	}
	if (n->value == NULL) {
		free(n);
		nomem(c);
		return (NULL);
	}
	return (n);
}

static int
grow(yctx *c, cxi_ynode *n, size_t *cap, bool map)
{
	if (n->n < *cap) {
		return (0);
	}
	size_t nc = *cap ? *cap * 2 : 4;
	cxi_ynode **it = realloc(n->items, nc * sizeof(*it));
	if (it == NULL) {
		goto fail;
	}
	n->items = it;
	if (map) {
		char **k = realloc(n->keys, nc * sizeof(*k));
		if (k == NULL) {
			goto fail;
		}
		n->keys = k;
		size_t *kl = realloc(n->key_line, nc * sizeof(*kl));
		if (kl == NULL) {
			goto fail;
		}
		n->key_line = kl;
		size_t *kc = realloc(n->key_col, nc * sizeof(*kc));
		if (kc == NULL) {
			goto fail;
		}
		n->key_col = kc;
	}
	*cap = nc;
	return (0);
fail:
	nomem(c);
	return (-1);
}

static cxi_ynode *
parse_seq(yctx *c, yaml_event_t *ev, int depth)
{
	size_t cap = 0;

	refuse_decor(c, &ev->start_mark, ev->data.sequence_start.anchor,
	    ev->data.sequence_start.tag);
	cxi_ynode *n = node_new(c, CXI_Y_SEQ, &ev->start_mark);
	if (n == NULL) {
		return (NULL);
	}
	for (;;) {
		yaml_event_t iev;
		if (next_event(c, &iev) != 0) {
			break;
		}
		if (iev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&iev);
			return (n);
		}
		cxi_ynode *item = parse_node(c, &iev, depth + 1);
		if (item == NULL || grow(c, n, &cap, false) != 0) {
			cxi_ynode_free(item);
			break;
		}
		n->from_file |= item->from_file;
		n->items[n->n++] = item;
	}
	cxi_ynode_free(n);
	return (NULL);
}

/* Index of `key` in map, or -1. */
static long
map_find(const cxi_ynode *map, const char *key)
{
	for (size_t i = 0; i < map->n; i++) {
		if (strcmp(map->keys[i], key) == 0) {
			return ((long) i);
		}
	}
	return (-1);
}

/* Turns "<base>_file: path" into "<base>: content". Returns 0 (and
 * rewrites *key and *val), 1 when the pair is refused (error recorded,
 * *val freed), -1 on ENOMEM. */
static int
secret_pair(yctx *c, char **key, cxi_ynode **val, const yaml_mark_t *km)
{
	char why[512];
	cxi_ynode *v = *val;
	size_t klen = strlen(*key);

	if (v->type != CXI_Y_SCALAR || cxi_ynode_is_null(v) ||
	    v->value[0] == '\0') {
		snprintf(why, sizeof(why), "expected a file path for '%s', got %s",
		    *key, v->type == CXI_Y_SCALAR ? "nothing" :
		    cxi_ynode_kind_name(v));
		yerr(c, km, why);
		goto refuse;
	}
	char *path = cxi_path_join(c->dir, v->value);
	if (path == NULL) {
		return (-1);
	}
	char *content = NULL;
	if (cxi_yaml_read_secret(path, &content, why, sizeof(why)) != 0) {
		cxi_errlist_add(c->errs, c->file, v->line, v->col,
		    "cannot read '%s' from '%s': %s", *key, path, why);
		c->nerr++;
		free(path);
		goto refuse;
	}
	free(path);
	free(v->value);
	v->value = content;
	v->quoted = true;
	v->from_file = true;
	(*key)[klen - 5] = '\0';
	return (0);
refuse:
	cxi_ynode_free(v);
	*val = NULL;
	return (1);
}

static int
map_add(yctx *c, cxi_ynode *n, size_t *cap, char *key, cxi_ynode *val,
    const yaml_mark_t *km)
{
	size_t klen = strlen(key);
	char why[256];

	if (klen > 5 && strcmp(key + klen - 5, "_file") == 0) {
		int rv = secret_pair(c, &key, &val, km);
		if (rv != 0) {
			free(key);
			return (rv < 0 ? (nomem(c), -1) : 0);
		}
	}
	long prev = map_find(n, key);
	if (prev >= 0) {
		const cxi_ynode *pv = n->items[prev];
		if (pv->type == CXI_Y_SCALAR && pv->from_file != val->from_file) {
			snprintf(why, sizeof(why), "both '%s' and '%s_file' "
			    "given (other at %zu:%zu); keep one", key, key,
			    n->key_line[prev], n->key_col[prev]);
		} else {
			snprintf(why, sizeof(why), "duplicate key '%s%s' "
			    "(first at %zu:%zu)", key, val->from_file ? "_file" :
			    "", n->key_line[prev], n->key_col[prev]);
		}
		yerr(c, km, why);
		free(key);
		cxi_ynode_free(val);
		return (0);
	}
	if (grow(c, n, cap, true) != 0) {
		free(key);
		cxi_ynode_free(val);
		return (-1);
	}
	n->keys[n->n] = key;
	n->key_line[n->n] = km->line + 1;
	n->key_col[n->n] = km->column + 1;
	n->items[n->n++] = val;
	n->from_file |= val->from_file;
	return (0);
}

static cxi_ynode *
parse_map(yctx *c, yaml_event_t *ev, int depth)
{
	size_t cap = 0;

	refuse_decor(c, &ev->start_mark, ev->data.mapping_start.anchor,
	    ev->data.mapping_start.tag);
	cxi_ynode *n = node_new(c, CXI_Y_MAP, &ev->start_mark);
	if (n == NULL) {
		return (NULL);
	}
	for (;;) {
		yaml_event_t kev, vev;
		if (next_event(c, &kev) != 0) {
			break;
		}
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return (n);
		}
		yaml_mark_t km = kev.start_mark;
		char *key = NULL;
		if (kev.type == YAML_SCALAR_EVENT) {
			refuse_decor(c, &km, kev.data.scalar.anchor,
			    kev.data.scalar.tag);
			if (memchr(kev.data.scalar.value, '\0',
			    kev.data.scalar.length) != NULL) {
				yerr(c, &km, "NUL characters are not allowed "
				    "in keys");
			}
			key = strdup((const char *) kev.data.scalar.value);
			yaml_event_delete(&kev);
			if (key == NULL) {
				nomem(c);
				break;
			}
		} else {
			/* Still consume the key node so parsing goes on. */
			yerr(c, &km, "mapping keys must be plain scalars");
			cxi_ynode_free(parse_node(c, &kev, depth + 1));
			if (c->stop) {
				break;
			}
		}
		if (next_event(c, &vev) != 0) {
			free(key);
			break;
		}
		cxi_ynode *val = parse_node(c, &vev, depth + 1);
		if (val == NULL) {
			free(key);
			break;
		}
		if (key == NULL) {
			cxi_ynode_free(val);
			continue;
		}
		if (map_add(c, n, &cap, key, val, &km) != 0) {
			break;
		}
	}
	cxi_ynode_free(n);
	return (NULL);
}

/* Consumes `ev` (and the events of its children). */
static cxi_ynode *
parse_node(yctx *c, yaml_event_t *ev, int depth)
{
	cxi_ynode *n = NULL;

	if (depth > CXI_YAML_MAX_DEPTH && (ev->type ==
	    YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT)) {
		char why[64];
		snprintf(why, sizeof(why), "nesting deeper than %d levels",
		    CXI_YAML_MAX_DEPTH);
		yerr(c, &ev->start_mark, why);
		c->stop = true;
		yaml_event_delete(ev);
		return (NULL);
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = parse_scalar(c, ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
		n = parse_seq(c, ev, depth);
		break;
	case YAML_MAPPING_START_EVENT:
		n = parse_map(c, ev, depth);
		break;
	case YAML_ALIAS_EVENT:
		yerr(c, &ev->start_mark, "aliases (*) are not supported in "
		    "config files");
		n = placeholder(c, &ev->start_mark);
		break;
	default:
		yerr(c, &ev->start_mark, "unexpected YAML event");
		c->stop = true;
		break;
	}
	yaml_event_delete(ev);
	return (n);
}

static cxi_ynode *
parse_stream(yctx *c)
{
	yaml_event_t ev;
	cxi_ynode *root = NULL;

	if (next_event(c, &ev) != 0) {
		return (NULL);
	}
	yaml_event_delete(&ev); /* STREAM-START */
	if (next_event(c, &ev) != 0) {
		return (NULL);
	}
	if (ev.type == YAML_STREAM_END_EVENT) {
		/* An empty file is an empty (null) document. */
		yaml_mark_t m = {0, 0, 0};
		yaml_event_delete(&ev);
		return (placeholder(c, &m));
	}
	yaml_event_delete(&ev); /* DOCUMENT-START */
	if (next_event(c, &ev) != 0) {
		return (NULL);
	}
	root = parse_node(c, &ev, 0);
	if (root == NULL || next_event(c, &ev) != 0) {
		goto fail;
	}
	yaml_event_delete(&ev); /* DOCUMENT-END */
	if (next_event(c, &ev) != 0) {
		goto fail;
	}
	if (ev.type != YAML_STREAM_END_EVENT) {
		yerr(c, &ev.start_mark, "only one YAML document is allowed");
		yaml_event_delete(&ev);
		goto fail;
	}
	yaml_event_delete(&ev);
	return (root);
fail:
	cxi_ynode_free(root);
	return (NULL);
}

cxi_ynode *
cxi_yaml_parse(const char *file, const char *text, size_t len,
    cxi_errlist *errs)
{
	yctx c = {.file = file, .errs = errs};
	cxi_ynode *root = NULL;

	if ((c.dir = cxi_path_dir(file)) == NULL) {
		nomem(&c);
		return (NULL);
	}
	if (!yaml_parser_initialize(&c.parser)) {
		nomem(&c);
		free(c.dir);
		return (NULL);
	}
	yaml_parser_set_input_string(&c.parser, (const unsigned char *) text,
	    len);
	root = parse_stream(&c);
	yaml_parser_delete(&c.parser);
	free(c.dir);
	if (root != NULL && (c.stop || c.nerr > 0)) {
		cxi_ynode_free(root);
		root = NULL;
	}
	return (root);
}

cxi_ynode *
cxi_yaml_load(const char *path, cxi_errlist *errs)
{
	char *text = NULL;
	size_t len = 0;
	char why[256];

	if (cxi_yaml_read_file(path, CXI_YAML_MAX_FILE, &text, &len, why,
	    sizeof(why)) != 0) {
		cxi_errlist_add(errs, path, 0, 0, "cannot read config: %s", why);
		return (NULL);
	}
	cxi_ynode *root = cxi_yaml_parse(path, text, len, errs);
	free(text);
	return (root);
}
