/*
 * yamlsubst.c - ${ENV} expansion and *_file reading.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "yamlsubst.h"

typedef struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
} sbuf;

static void
sb_add(sbuf *b, const char *s, size_t n)
{
	if (b->failed) {
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		while (cap < b->len + n + 1) {
			cap *= 2;
		}
		char *np = realloc(b->p, cap);
		if (np == NULL) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Handles one "${...}" starting at s (s[0] == '$', s[1] == '{').
 * Returns the bytes consumed, or 0 with a reason in why. */
static size_t
expand_ref(const char *s, sbuf *b, char *why, size_t whylen)
{
	const char *name = s + 2, *p = name;
	const char *end = strchr(name, '}');

	if (end == NULL) {
		snprintf(why, whylen, "unterminated '${' in value");
		return (0);
	}
	if (!isalpha((unsigned char) *p) && *p != '_') {
		snprintf(why, whylen, "invalid variable reference '%.*s'",
		    (int) (end - s + 1), s);
		return (0);
	}
	while (isalnum((unsigned char) *p) || *p == '_') {
		p++;
	}
	size_t nlen = (size_t) (p - name);
	const char *def = NULL;
	if (p[0] == ':' && p[1] == '-') {
		def = p + 2;
	} else if (p != end) {
		snprintf(why, whylen, "invalid variable reference '%.*s' "
		    "(use ${NAME} or ${NAME:-default})", (int) (end - s + 1), s);
		return (0);
	}
	char var[256];
	if (nlen >= sizeof(var)) {
		snprintf(why, whylen, "variable name too long");
		return (0);
	}
	memcpy(var, name, nlen);
	var[nlen] = '\0';
	const char *val = getenv(var);
	if (def != NULL && (val == NULL || val[0] == '\0')) {
		sb_add(b, def, (size_t) (end - def));
	} else if (val == NULL) {
		snprintf(why, whylen, "environment variable '%s' is not set "
		    "(use ${%s:-default} to give a default)", var, var);
		return (0);
	} else {
		sb_add(b, val, strlen(val));
	}
	return ((size_t) (end - s) + 1);
}

int
cxi_yaml_expand(const char *in, char **out, char *why, size_t whylen)
{
	sbuf b = {0};
	const char *s = in;

	*out = NULL;
	sb_add(&b, "", 0);
	while (*s != '\0') {
		const char *d = strchr(s, '$');
		if (d == NULL) {
			sb_add(&b, s, strlen(s));
			break;
		}
		sb_add(&b, s, (size_t) (d - s));
		if (d[1] == '$') {
			sb_add(&b, "$", 1);
			s = d + 2;
		} else if (d[1] == '{') {
			size_t used = expand_ref(d, &b, why, whylen);
			if (used == 0) {
				free(b.p);
				return (1);
			}
			s = d + used;
		} else {
			sb_add(&b, "$", 1);
			s = d + 1;
		}
	}
	if (b.failed) {
		free(b.p);
		return (-1);
	}
	*out = b.p;
	return (0);
}

int
cxi_yaml_read_file(const char *path, size_t max, char **text, size_t *len,
    char *why, size_t whylen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;

	/* O_NONBLOCK: opening a FIFO must not hang; it is refused below. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) != 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		goto fail;
	}
	if ((size_t) st.st_size > max) {
		snprintf(why, whylen, "larger than %zu bytes", max);
		goto fail;
	}
	/* Read up to max+1 bytes whatever st_size says (files can grow,
	 * /proc files report 0). */
	if ((buf = malloc(max + 2)) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, max + 1 - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			snprintf(why, whylen, "%s", strerror(errno));
			goto fail;
		}
		if (n == 0) {
			break;
		}
		got += (size_t) n;
		if (got > max) {
			snprintf(why, whylen, "larger than %zu bytes", max);
			goto fail;
		}
	}
	close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return (0);
fail:
	free(buf);
	close(fd);
	return (-1);
}

int
cxi_yaml_read_secret(const char *path, char **out, char *why,
    size_t whylen)
{
	char *text = NULL;
	size_t len = 0;

	if (cxi_yaml_read_file(path, CXI_SECRET_MAX, &text, &len, why,
	    whylen) != 0) {
		return (-1);
	}
	if (memchr(text, '\0', len) != NULL) {
		snprintf(why, whylen, "contains a NUL byte");
		free(text);
		return (-1);
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) {
		text[--len] = '\0';
	}
	*out = text;
	return (0);
}
