/*
 * yamltree.h - a YAML document as a tree with source positions.
 *
 * libyaml's event stream is turned into nodes that remember their line
 * and column, so every later check (config keys, plugin settings) can
 * name the exact place of a problem. Scalars are stored after ${ENV} /
 * ${ENV:-default} expansion; a mapping key ending in "_file" is replaced
 * by the key without the suffix and the (trimmed) content of that file.
 * Anchors, aliases and tags are refused: config files stay plain.
 *
 * Expansion rules (scalar values only, never keys):
 *   ${NAME}          the variable's value; unset is an error
 *   ${NAME:-text}    `text` when NAME is unset or empty (text has no '}')
 *   $$               a literal '$' (so "$${X}" stays "${X}")
 *   any other '$'    kept as is
 * NAME is [A-Za-z_][A-Za-z0-9_]*. Expansion happens before typing, so a
 * plain ${PORT} that expands to 8080 is an integer.
 *
 * "<key>_file: <path>": the path (expanded, relative to the directory of
 * `file`) must name a regular file of at most 1 MiB without NUL bytes;
 * its content, trailing newlines trimmed, becomes the value of <key>,
 * flagged from_file and quoted (a string; never expanded again). Giving
 * both <key> and <key>_file is an error.
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
	bool from_file;      /* SCALAR: came from a *_file key (a secret);
	                      * MAP/SEQ: some scalar below did */
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

/* Deep copy; NULL on ENOMEM or NULL input. */
cxi_ynode *cxi_ynode_dup(const cxi_ynode *n);
/* "a mapping", "a sequence" or "a scalar", for messages. */
const char *cxi_ynode_kind_name(const cxi_ynode *n);

/* Scalar interpretation helpers (YAML 1.2 core schema). is_null is true
 * only for an unquoted "", "~", "null", "Null" or "NULL". bool and int
 * read the text whatever its quoting (a declared type decides), return 0
 * or -1 when the node is not a scalar of that type; int accepts decimal,
 * 0x hex and 0o octal with optional sign and refuses overflow. Callers
 * typing free-form values check `quoted` first. */
bool cxi_ynode_is_null(const cxi_ynode *n);
int cxi_ynode_bool(const cxi_ynode *n, bool *out);
int cxi_ynode_int(const cxi_ynode *n, long long *out);

#endif
