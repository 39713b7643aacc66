/*
 * errlist.c - collected "file:line:col: message" diagnostics.
 *
 * Allocation failures are not reported back: a diagnostic that cannot be
 * stored is replaced by a fixed "out of memory" entry when possible, so
 * a caller that checks `n` still sees that something went wrong.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "errlist.h"

static void
errlist_push(cxi_errlist *e, char *msg)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		char **nm = realloc(e->msgs, cap * sizeof(*nm));
		if (nm == NULL) {
			free(msg);
			return;
		}
		e->msgs = nm;
		e->cap = cap;
	}
	e->msgs[e->n++] = msg;
}

void
cxi_errlist_add(cxi_errlist *e, const char *file, size_t line, size_t col,
    const char *fmt, ...)
{
	char prefix[64];
	char *body = NULL, *msg = NULL;
	va_list ap;

	if (e == NULL) {
		return;
	}
	if (line > 0 && col > 0) {
		snprintf(prefix, sizeof(prefix), ":%zu:%zu", line, col);
	} else if (line > 0) {
		snprintf(prefix, sizeof(prefix), ":%zu", line);
	} else {
		prefix[0] = '\0';
	}
	va_start(ap, fmt);
	int rv = vasprintf(&body, fmt, ap);
	va_end(ap);
	if (rv < 0) {
		body = NULL;
	}
	if (asprintf(&msg, "%s%s: %s", file != NULL ? file : "<config>",
	    prefix, body != NULL ? body : "out of memory") < 0) {
		msg = strdup("out of memory");
	}
	free(body);
	if (msg != NULL) {
		errlist_push(e, msg);
	}
}

void
cxi_errlist_clear(cxi_errlist *e)
{
	if (e == NULL) {
		return;
	}
	for (size_t i = 0; i < e->n; i++) {
		free(e->msgs[i]);
	}
	free(e->msgs);
	e->msgs = NULL;
	e->n = 0;
	e->cap = 0;
}
