/*
 * password_policy.c - the password policy (A-1..A-3) and the
 * common-password list it consults.
 *
 * The policy is deliberately small: length in code points, encoding,
 * the common list and context words. ASVS 5.0 6.2.5 forbids composition
 * rules, so there are none.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "password.h"

struct cxi_common_list {
	char **words;   /* lowercased (ASCII), sorted, unique */
	size_t n;
	char *text;     /* one allocation that the words point into */
};

/* Context words shorter than this are ignored: a one- or two-letter
 * email local part would refuse almost every password. */
#define CONTEXT_MIN_CHARS 3

static void __attribute__((format(printf, 3, 4)))
say(char *why, size_t whylen, const char *fmt, ...)
{
	if (why != NULL && whylen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
}

static char
lower(char c)
{
	/* ASCII only: Unicode case folding would need tables the list does
	 * not warrant (SecLists' entries are ASCII). */
	return (c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c);
}

static int
cmp_words(const void *a, const void *b)
{
	return (strcmp(*(char *const *) a, *(char *const *) b));
}

cx_err
cxi_common_list_parse(const char *text, size_t len, cxi_common_list **out,
    char *why, size_t whylen)
{
	*out = NULL;
	cxi_common_list *l = calloc(1, sizeof(*l));
	if (l == NULL || (l->text = malloc(len + 1)) == NULL) {
		free(l);
		say(why, whylen, "out of memory loading the password list");
		return (CX_ENOMEM);
	}
	memcpy(l->text, text, len);
	l->text[len] = '\0';
	size_t lines = 1;
	for (size_t i = 0; i < len; i++) {
		lines += l->text[i] == '\n';
	}
	if ((l->words = calloc(lines, sizeof(*l->words))) == NULL) {
		cxi_common_list_free(l);
		say(why, whylen, "out of memory loading the password list");
		return (CX_ENOMEM);
	}
	size_t lineno = 0;
	for (char *s = l->text, *next; s != NULL; s = next) {
		size_t rest = len - (size_t) (s - l->text);
		char *nl = memchr(s, '\n', rest);
		size_t seg = nl != NULL ? (size_t) (nl - s) : rest;
		next = NULL;
		if (nl != NULL) {
			*nl = '\0';
			next = nl + 1;
		}
		lineno++;
		size_t wl = strlen(s);
		if (wl != seg) {
			/* A NUL inside the line: no password can be that. */
			cxi_common_list_free(l);
			say(why, whylen, "password list line %zu holds a NUL",
			    lineno);
			return (CX_EINVAL);
		}
		if (wl > 0 && s[wl - 1] == '\r') {
			s[--wl] = '\0';
		}
		if (wl == 0 || s[0] == '#') {
			continue;
		}
		for (size_t i = 0; i < wl; i++) {
			s[i] = lower(s[i]);
		}
		l->words[l->n++] = s;
	}
	qsort(l->words, l->n, sizeof(*l->words), cmp_words);
	size_t u = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (u == 0 || strcmp(l->words[u - 1], l->words[i]) != 0) {
			l->words[u++] = l->words[i];
		}
	}
	l->n = u;
	*out = l;
	return (CX_OK);
}

cx_err
cxi_common_list_load(const char *path, cxi_common_list **out, char *why,
    size_t whylen)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		say(why, whylen, "cannot open password list %s: %s", path,
		    strerror(errno));
		return (CX_EIO);
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	cx_err rv = CX_OK;
	for (;;) {
		if (len == cap) {
			size_t ncap = cap == 0 ? 65536 : cap * 2;
			char *nb = realloc(buf, ncap);
			if (nb == NULL) {
				say(why, whylen, "out of memory reading %s",
				    path);
				rv = CX_ENOMEM;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				say(why, whylen, "cannot read password list "
				    "%s", path);
				rv = CX_EIO;
			}
			break;
		}
	}
	if (fclose(f) != 0 && rv == CX_OK) {
		say(why, whylen, "cannot read password list %s: %s", path,
		    strerror(errno));
		rv = CX_EIO;
	}
	if (rv == CX_OK) {
		rv = cxi_common_list_parse(buf, len, out, why, whylen);
	}
	free(buf);
	return (rv);
}

void
cxi_common_list_free(cxi_common_list *l)
{
	if (l != NULL) {
		free(l->words);
		free(l->text);
		free(l);
	}
}

size_t
cxi_common_list_count(const cxi_common_list *l)
{
	return (l != NULL ? l->n : 0);
}

bool
cxi_common_list_contains(const cxi_common_list *l, const char *pw,
    size_t len)
{
	if (l == NULL || l->n == 0) {
		return (false);
	}
	/* Binary search comparing the lowercased candidate on the fly, so
	 * no copy of the password is made. */
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const unsigned char *w = (const unsigned char *) l->words[mid];
		int c = 0;
		size_t i = 0;
		for (; i < len && w[i] != '\0'; i++) {
			unsigned char p = (unsigned char) lower(pw[i]);
			if (w[i] != p) {
				c = w[i] < p ? -1 : 1;
				break;
			}
		}
		if (c == 0) {
			if (i == len && w[i] == '\0') {
				return (true);
			}
			/* A prefix sorts first. */
			c = w[i] == '\0' ? -1 : 1;
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return (false);
}

/* Case-insensitive (ASCII) search for word in pw. */
static bool
contains_word(const char *pw, size_t len, const char *word)
{
	size_t wl = strlen(word);
	if (wl == 0 || wl > len) {
		return (false);
	}
	for (size_t i = 0; i + wl <= len; i++) {
		size_t j = 0;
		while (j < wl && lower(pw[i + j]) == lower(word[j])) {
			j++;
		}
		if (j == wl) {
			return (true);
		}
	}
	return (false);
}

cx_err
cxi_password_check(const char *pw, size_t len,
    const char *const *context_words, const cxi_common_list *common,
    char *why, size_t whylen)
{
	size_t chars;
	cx_err rv = cxi_password_utf8(pw, len, &chars, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	if (chars < CXI_PASSWORD_MIN_CHARS) {
		say(why, whylen, "password is too short: %zu characters, at "
		    "least %d are needed", chars, CXI_PASSWORD_MIN_CHARS);
		return (CX_EDENIED);
	}
	if (chars > CXI_PASSWORD_MAX_CHARS) {
		say(why, whylen, "password is too long: %zu characters, at "
		    "most %d are allowed", chars, CXI_PASSWORD_MAX_CHARS);
		return (CX_EDENIED);
	}
	if (cxi_common_list_contains(common, pw, len)) {
		say(why, whylen, "this password is too common: it appears in "
		    "lists of leaked passwords");
		return (CX_EDENIED);
	}
	for (size_t i = 0; context_words != NULL && context_words[i] != NULL;
	    i++) {
		const char *w = context_words[i];
		size_t wc;
		/* An unusable context word is the caller's data, not the
		 * user's password: skip it rather than refuse. */
		if (cxi_password_utf8(w, strlen(w), &wc, NULL, 0) != CX_OK ||
		    wc < CONTEXT_MIN_CHARS) {
			continue;
		}
		if (contains_word(pw, len, w)) {
			say(why, whylen, "password must not contain \"%s\"", w);
			return (CX_EDENIED);
		}
	}
	return (CX_OK);
}
