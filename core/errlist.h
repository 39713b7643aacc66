/*
 * errlist.h - an ordered list of "file:line:column: message" diagnostics.
 *
 * Config validation reports every problem it finds, not just the first,
 * so an operator fixes a file in one pass.
 */
#ifndef CXI_ERRLIST_H
#define CXI_ERRLIST_H

#include <stddef.h>

typedef struct cxi_errlist {
	char **msgs;
	size_t n;
	size_t cap;
} cxi_errlist;

/* Appends "file:line:col: <fmt>"; line/col are 1-based, 0 omits them. */
void cxi_errlist_add(cxi_errlist *e, const char *file, size_t line,
    size_t col, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void cxi_errlist_clear(cxi_errlist *e);

#endif
