/*
 * httprange.c - one byte range out of a Range header (httprange.h).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <strings.h>

#include "httprange.h"

/* Decimal digits at *p into *v (at most 18 of them: no overflow). */
static bool
number(const char **p, int64_t *v)
{
	int n = 0;
	*v = 0;
	while (isdigit((unsigned char) **p)) {
		if (++n > 18) {
			return (false);
		}
		*v = *v * 10 + (**p - '0');
		(*p)++;
	}
	return (n > 0);
}

int
cxi_http_range(const char *hdr, int64_t size, int64_t *first,
    int64_t *last)
{
	if (hdr == NULL) {
		return (0);
	}
	while (*hdr == ' ' || *hdr == '\t') {
		hdr++;
	}
	if (strncasecmp(hdr, "bytes=", 6) != 0) {
		return (0);
	}
	const char *p = hdr + 6;
	while (*p == ' ' || *p == '\t') {
		p++;
	}
	int64_t a = -1, b = -1;
	bool has_a = isdigit((unsigned char) *p);
	if (has_a && !number(&p, &a)) {
		return (0);
	}
	if (*p++ != '-') {
		return (0);
	}
	bool has_b = isdigit((unsigned char) *p);
	if (has_b && !number(&p, &b)) {
		return (0);
	}
	while (*p == ' ' || *p == '\t') {
		p++;
	}
	if (*p != '\0' || (!has_a && !has_b) || (has_a && has_b && b < a)) {
		return (0); /* several ranges, or malformed: send it all */
	}
	if (!has_a) {
		/* The last b bytes. */
		if (b == 0 || size == 0) {
			return (-1);
		}
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return (1);
	}
	if (a >= size) {
		return (-1);
	}
	*first = a;
	*last = !has_b || b >= size ? size - 1 : b;
	return (1);
}
