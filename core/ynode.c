/*
 * ynode.c - lookups, copies and YAML 1.2 core-schema reading of nodes.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "yamltree.h"

void
cxi_ynode_free(cxi_ynode *n)
{
	if (n == NULL) {
		return;
	}
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys != NULL) {
			free(n->keys[i]);
		}
		cxi_ynode_free(n->items[i]);
	}
	free(n->value);
	free(n->keys);
	free(n->key_line);
	free(n->key_col);
	free(n->items);
	free(n);
}

const cxi_ynode *
cxi_ynode_get(const cxi_ynode *map, const char *key)
{
	if (map == NULL || map->type != CXI_Y_MAP) {
		return (NULL);
	}
	for (size_t i = 0; i < map->n; i++) {
		if (strcmp(map->keys[i], key) == 0) {
			return (map->items[i]);
		}
	}
	return (NULL);
}

cxi_ynode *
cxi_ynode_dup(const cxi_ynode *n)
{
	if (n == NULL) {
		return (NULL);
	}
	cxi_ynode *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return (NULL);
	}
	*c = *n;
	c->value = NULL;
	c->keys = NULL;
	c->key_line = c->key_col = NULL;
	c->items = NULL;
	c->n = 0;
	if (n->value != NULL && (c->value = strdup(n->value)) == NULL) {
		goto fail;
	}
	if (n->n == 0) {
		return (c);
	}
	if ((c->items = calloc(n->n, sizeof(*c->items))) == NULL) {
		goto fail;
	}
	if (n->type == CXI_Y_MAP) {
		c->keys = calloc(n->n, sizeof(*c->keys));
		c->key_line = calloc(n->n, sizeof(*c->key_line));
		c->key_col = calloc(n->n, sizeof(*c->key_col));
		if (c->keys == NULL || c->key_line == NULL ||
		    c->key_col == NULL) {
			goto fail;
		}
	}
	for (size_t i = 0; i < n->n; i++) {
		c->n = i + 1;
		if ((c->items[i] = cxi_ynode_dup(n->items[i])) == NULL) {
			goto fail;
		}
		if (n->type == CXI_Y_MAP) {
			if ((c->keys[i] = strdup(n->keys[i])) == NULL) {
				goto fail;
			}
			c->key_line[i] = n->key_line[i];
			c->key_col[i] = n->key_col[i];
		}
	}
	return (c);
fail:
	cxi_ynode_free(c);
	return (NULL);
}

const char *
cxi_ynode_kind_name(const cxi_ynode *n)
{
	if (n == NULL) {
		return ("nothing");
	}
	switch (n->type) {
	case CXI_Y_MAP:
		return ("a mapping");
	case CXI_Y_SEQ:
		return ("a sequence");
	default:
		return ("a scalar");
	}
}

bool
cxi_ynode_is_null(const cxi_ynode *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	if (n == NULL || n->type != CXI_Y_SCALAR || n->quoted) {
		return (false);
	}
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
		if (strcmp(n->value, nulls[i]) == 0) {
			return (true);
		}
	}
	return (false);
}

int
cxi_ynode_bool(const cxi_ynode *n, bool *out)
{
	static const char *const t[] = {"true", "True", "TRUE"};
	static const char *const f[] = {"false", "False", "FALSE"};

	if (n == NULL || n->type != CXI_Y_SCALAR) {
		return (-1);
	}
	for (size_t i = 0; i < 3; i++) {
		if (strcmp(n->value, t[i]) == 0) {
			*out = true;
			return (0);
		}
		if (strcmp(n->value, f[i]) == 0) {
			*out = false;
			return (0);
		}
	}
	return (-1);
}

int
cxi_ynode_int(const cxi_ynode *n, long long *out)
{
	if (n == NULL || n->type != CXI_Y_SCALAR) {
		return (-1);
	}
	const char *s = n->value;
	int base = 10;
	bool neg = false;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		base = s[1] == 'x' ? 16 : 8;
		s += 2;
	} else if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (*s == '\0') {
		return (-1);
	}
	for (const char *p = s; *p != '\0'; p++) {
		int ok = base == 16 ? isxdigit((unsigned char) *p) :
		    base == 8 ? (*p >= '0' && *p <= '7') :
		    isdigit((unsigned char) *p);
		if (!ok) {
			return (-1);
		}
	}
	errno = 0;
	unsigned long long u = strtoull(s, NULL, base);
	if (errno == ERANGE) {
		return (-1);
	}
	if (neg) {
		if (u > (unsigned long long) LLONG_MAX + 1) {
			return (-1);
		}
		*out = u == (unsigned long long) LLONG_MAX + 1 ? LLONG_MIN :
		    -(long long) u;
	} else {
		if (u > (unsigned long long) LLONG_MAX) {
			return (-1);
		}
		*out = (long long) u;
	}
	return (0);
}
