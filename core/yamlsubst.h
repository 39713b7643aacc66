/*
 * yamlsubst.h - ${ENV} expansion and file reading for the YAML tree
 * (internal to yamltree.c; see yamltree.h for the rules).
 */
#ifndef CXI_YAMLSUBST_H
#define CXI_YAMLSUBST_H

#include <stddef.h>

#define CXI_YAML_MAX_FILE (4u * 1024 * 1024)
#define CXI_SECRET_MAX (1024u * 1024)

/* Expands `in` into a new string *out. Returns 0, 1 with a reason in
 * `why` (and *out NULL), or -1 on ENOMEM. */
int cxi_yaml_expand(const char *in, char **out, char *why, size_t whylen);

/* Reads a regular file of at most `max` bytes into a NUL-terminated
 * buffer. Never blocks on FIFOs or devices. Returns 0 or -1 with why. */
int cxi_yaml_read_file(const char *path, size_t max, char **text,
    size_t *len, char *why, size_t whylen);

/* A secret: read_file with CXI_SECRET_MAX, no NUL bytes, trailing
 * newlines (\n, \r\n) trimmed. */
int cxi_yaml_read_secret(const char *path, char **out, char *why,
    size_t whylen);

#endif
