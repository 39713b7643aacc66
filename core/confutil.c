/*
 * confutil.c - suggestions, durations and paths for config checks.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "confutil.h"

size_t
cxi_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	/* Keys are short; longer strings are never worth suggesting. */
	if (la > 64 || lb > 64) {
		return (SIZE_MAX);
	}
	size_t d[65][65];
	for (size_t i = 0; i <= la; i++) {
		d[i][0] = i;
	}
	for (size_t j = 0; j <= lb; j++) {
		d[0][j] = j;
	}
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v) {
				v = d[i][j - 1] + 1;
			}
			if (d[i - 1][j - 1] + cost < v) {
				v = d[i - 1][j - 1] + cost;
			}
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v) {
				v = d[i - 2][j - 2] + 1;
			}
			d[i][j] = v;
		}
	}
	return (d[la][lb]);
}

const char *
cxi_suggest(const char *key, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX;

	for (size_t i = 0; i < n; i++) {
		if (cands[i] == NULL) {
			continue;
		}
		size_t d = cxi_edit_distance(key, cands[i]);
		if (d < bestd) {
			bestd = d;
			best = cands[i];
		}
	}
	if (best == NULL) {
		return (NULL);
	}
	/* Allow roughly one typo per three characters, at least one. */
	size_t len = strlen(best);
	size_t limit = len <= 3 ? 1 : (len + 2) / 3;
	return (bestd <= limit ? best : NULL);
}

int
cxi_duration_parse(const char *s, long long *ms)
{
	const char *p = s;
	long long v = 0;

	if (s == NULL || !isdigit((unsigned char) *p)) {
		return (-1);
	}
	while (isdigit((unsigned char) *p)) {
		int dig = *p - '0';
		if (v > (LLONG_MAX - dig) / 10) {
			return (-1);
		}
		v = v * 10 + dig;
		p++;
	}
	long long mul;
	if (*p == '\0' || strcmp(p, "ms") == 0) {
		mul = 1;
	} else if (strcmp(p, "s") == 0) {
		mul = 1000;
	} else if (strcmp(p, "m") == 0) {
		mul = 60 * 1000;
	} else if (strcmp(p, "h") == 0) {
		mul = 3600 * 1000;
	} else {
		return (-1);
	}
	if (v > LLONG_MAX / mul) {
		return (-1);
	}
	*ms = v * mul;
	return (0);
}

char *
cxi_path_dir(const char *file)
{
	if (file == NULL || file[0] == '<') {
		return (strdup("."));
	}
	const char *slash = strrchr(file, '/');
	if (slash == NULL) {
		return (strdup("."));
	}
	if (slash == file) {
		return (strdup("/"));
	}
	return (strndup(file, (size_t) (slash - file)));
}

char *
cxi_path_join(const char *dir, const char *rel)
{
	char *out = NULL;

	if (rel[0] == '/') {
		return (strdup(rel));
	}
	while (rel[0] == '.' && rel[1] == '/') {
		rel += 2;
		while (*rel == '/') {
			rel++;
		}
	}
	if (dir == NULL || strcmp(dir, ".") == 0) {
		return (strdup(rel[0] != '\0' ? rel : "."));
	}
	if (rel[0] == '\0') {
		return (strdup(dir));
	}
	const char *sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
	if (asprintf(&out, "%s%s%s", dir, sep, rel) < 0) {
		return (NULL);
	}
	return (out);
}
