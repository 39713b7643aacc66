/*
 * yamltree.h - a YAML document as a tree with source positions.
 *
 * libyaml's event stream is turned into nodes that remember their line
 * and column, so every later check (config keys, plugin settings) can
 * name the exact place of a problem. Scalars are stored after ${ENV} /
 * ${ENV:-default} expansion; a mapping key ending in "_file" is replaced
 * by the key without the suffix and the (trimmed) content of that file.
 * Anchors, aliases and tags are refused: config files stay plain.
 */
#ifndef CXI_YAMLTREE_H
#define CXI_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>
#include "errlist.h"

typedef enum cxi_ynode_type {
	CXI_Y_SCALAR,
	CXI_Y_MAP,
	CXI_Y_SEQ,
} cxi_ynode_type;

typedef struct cxi_ynode cxi_ynode;
struct cxi_ynode {
	cxi_ynode_type type;
	size_t line, col;    /* 1-based position of the node */
	char *value;         /* SCALAR: expanded text */
	bool quoted;         /* SCALAR: was quoted (so never null/bool/int) */
	bool from_file;      /* SCALAR: came from a *_file key (a secret) */
	size_t n;            /* MAP: pairs; SEQ: items */
	char **keys;         /* MAP: key text */
	size_t *key_line, *key_col; /* MAP: key positions */
	cxi_ynode **items;   /* MAP: values; SEQ: items */
};

/* Parses `text` (len bytes); `file` names it in errors and is the base
 * for relative *_file paths. Returns NULL with errors added on failure. */
cxi_ynode *cxi_yaml_parse(const char *file, const char *text, size_t len,
    cxi_errlist *errs);
/* Reads and parses a file. */
cxi_ynode *cxi_yaml_load(const char *path, cxi_errlist *errs);
void cxi_ynode_free(cxi_ynode *n);

/* MAP lookup; NULL when absent. */
const cxi_ynode *cxi_ynode_get(const cxi_ynode *map, const char *key);

/* Scalar interpretation helpers (YAML 1.2 core schema). */
bool cxi_ynode_is_null(const cxi_ynode *n);
int cxi_ynode_bool(const cxi_ynode *n, bool *out);
int cxi_ynode_int(const cxi_ynode *n, long long *out);

#endif
