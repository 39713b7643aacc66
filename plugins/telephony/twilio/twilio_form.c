/*
 * twilio_form.c - form bodies and X-Twilio-Signature (see twilio_form.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "twilio_form.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9') {
		return (c - '0');
	}
	if (c >= 'a' && c <= 'f') {
		return (c - 'a' + 10);
	}
	if (c >= 'A' && c <= 'F') {
		return (c - 'A' + 10);
	}
	return (-1);
}

/* Decodes one URL-encoded name or value; '+' is a space. */
static char *
decode(const char *s, size_t n, const char *what, char *err, size_t errlen)
{
	char *out = malloc(n + 1);
	size_t o = 0;
	if (out == NULL) {
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char) s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			/* Both hex digits must be inside the body. */
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				snprintf(err, errlen, "bad percent-escape in a %s",
				    what);
				free(out);
				return (NULL);
			}
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0) {
			snprintf(err, errlen, "NUL byte in a %s", what);
			free(out);
			return (NULL);
		}
		out[o++] = (char) c;
	}
	out[o] = '\0';
	return (out);
}

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool
utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	while (*p) {
		uint32_t cp;
		int extra;
		if (*p < 0x80) {
			p++;
			continue;
		} else if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f, extra = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f, extra = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07, extra = 3;
		} else {
			return (false);
		}
		for (int i = 1; i <= extra; i++) {
			if ((p[i] & 0xc0) != 0x80) {
				return (false);
			}
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
		    (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			return (false);
		}
		p += extra + 1;
	}
	return (true);
}

bool
twilio_form_parse(const char *s, size_t len, twilio_form *f, char *err,
    size_t errlen)
{
	f->p = NULL;
	f->n = 0;
	size_t i = 0;
	while (i < len) {
		size_t end = i;
		while (end < len && s[end] != '&') {
			end++;
		}
		if (end > i) {
			if (f->n == TWILIO_FORM_MAX_PARAMS) {
				snprintf(err, errlen, "more than %d parameters",
				    TWILIO_FORM_MAX_PARAMS);
				goto fail;
			}
			const char *eq = memchr(s + i, '=', end - i);
			size_t nl = eq ? (size_t) (eq - (s + i)) : end - i;
			twilio_param *np = realloc(f->p, (f->n + 1) * sizeof(*np));
			if (np == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			f->p = np;
			twilio_param *p = &f->p[f->n];
			p->name = decode(s + i, nl, "parameter name", err, errlen);
			p->value = NULL;
			if (p->name == NULL) {
				goto fail;
			}
			p->value = eq ? decode(eq + 1, (size_t) (s + end - eq - 1),
			                    "parameter value", err, errlen) :
			                strdup("");
			if (p->value == NULL) {
				free(p->name);
				if (eq == NULL) {
					snprintf(err, errlen, "out of memory");
				}
				goto fail;
			}
			f->n++;
			if (p->name[0] == '\0') {
				snprintf(err, errlen, "a parameter without a name");
				goto fail;
			}
			if (!utf8_ok(p->name) || !utf8_ok(p->value)) {
				snprintf(err, errlen, "parameter %.64s is not "
				    "valid UTF-8", utf8_ok(p->name) ? p->name : "?");
				goto fail;
			}
		}
		i = end + 1;
	}
	return (true);
fail:
	twilio_form_free(f);
	return (false);
}

const char *
twilio_form_get(const twilio_form *f, const char *name)
{
	for (size_t i = 0; f != NULL && i < f->n; i++) {
		if (strcmp(f->p[i].name, name) == 0) {
			return (f->p[i].value);
		}
	}
	return (NULL);
}

void
twilio_form_free(twilio_form *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->p[i].name);
		free(f->p[i].value);
	}
	free(f->p);
	f->p = NULL;
	f->n = 0;
}

void
twilio_buf_add(twilio_buf *b, const char *s, size_t n)
{
	if (b->oom) {
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1) {
			cap *= 2;
		}
		char *ns = realloc(b->s, cap);
		if (ns == NULL) {
			b->oom = true;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
twilio_buf_str(twilio_buf *b, const char *s)
{
	twilio_buf_add(b, s, strlen(s));
}

void
twilio_buf_enc(twilio_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-_.~", *p) != NULL) {
			twilio_buf_add(b, (const char *) p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			twilio_buf_add(b, e, 3);
		}
	}
}

void
twilio_buf_param(twilio_buf *b, const char *name, const char *value)
{
	if (b->len > 0) {
		twilio_buf_add(b, "&", 1);
	}
	twilio_buf_enc(b, name);
	twilio_buf_add(b, "=", 1);
	twilio_buf_enc(b, value);
}

void
twilio_buf_free(twilio_buf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

/* Reads one code point (the input is valid UTF-8, checked at parse; a
 * stray byte counts as itself). */
static uint32_t
next_cp(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	uint32_t cp = *p;
	int extra = 0;
	if (cp >= 0xf0 && p[1] && p[2] && p[3]) {
		cp &= 0x07, extra = 3;
	} else if (cp >= 0xe0 && p[1] && p[2]) {
		cp &= 0x0f, extra = 2;
	} else if (cp >= 0xc0 && p[1]) {
		cp &= 0x1f, extra = 1;
	}
	for (int i = 1; i <= extra; i++) {
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	*pp = p + 1 + extra;
	return (cp);
}

/* A code point's rank in UTF-16 order: code points above the BMP are
 * surrogate pairs (0xD800..) and sort below U+E000..U+FFFF. */
static uint32_t
utf16_rank(uint32_t cp)
{
	return (cp >= 0xe000 && cp <= 0xffff ? cp + 0x200000 : cp);
}

int
twilio_utf16_cmp(const char *a, const char *b)
{
	const unsigned char *pa = (const unsigned char *) a;
	const unsigned char *pb = (const unsigned char *) b;
	while (*pa && *pb) {
		uint32_t ca = utf16_rank(next_cp(&pa));
		uint32_t cb = utf16_rank(next_cp(&pb));
		if (ca != cb) {
			return (ca < cb ? -1 : 1);
		}
	}
	return (*pa ? 1 : *pb ? -1 : 0);
}

static int
cmp_param(const void *x, const void *y)
{
	const twilio_param *a = *(const twilio_param *const *) x;
	const twilio_param *b = *(const twilio_param *const *) y;
	int c = twilio_utf16_cmp(a->name, b->name);
	return (c != 0 ? c : twilio_utf16_cmp(a->value, b->value));
}

bool
twilio_sig_compute(const char *token, const char *url,
    const twilio_form *f, char out[TWILIO_SIG_LEN])
{
	size_t n = f ? f->n : 0;
	const twilio_param **v = calloc(n + 1, sizeof(*v));
	twilio_buf b = {0};
	if (v == NULL) {
		return (false);
	}
	for (size_t i = 0; i < n; i++) {
		v[i] = &f->p[i];
	}
	/* Sorting by (name, value) gives the SDK's order: names sorted,
	 * and a repeated name's values sorted; equal pairs are dropped as
	 * the SDK's Set drops them. */
	qsort(v, n, sizeof(*v), cmp_param);
	twilio_buf_str(&b, url);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(v[i]->name, v[i - 1]->name) == 0 &&
		    strcmp(v[i]->value, v[i - 1]->value) == 0) {
			continue;
		}
		twilio_buf_str(&b, v[i]->name);
		twilio_buf_str(&b, v[i]->value);
	}
	free(v);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	bool ok = !b.oom && b.s != NULL &&
	    HMAC(EVP_sha1(), token, (int) strlen(token),
	        (const unsigned char *) b.s, b.len, mac, &maclen) != NULL &&
	    maclen == 20;
	twilio_buf_free(&b);
	if (ok) {
		EVP_EncodeBlock((unsigned char *) out, mac, 20);
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	return (ok);
}

static bool
sig_eq(const char *token, const char *url, const twilio_form *f,
    const char *header)
{
	char want[TWILIO_SIG_LEN];
	if (!twilio_sig_compute(token, url, f, want)) {
		return (false);
	}
	/* The length is fixed by the algorithm, so checking it first leaks
	 * nothing; the bytes are compared in constant time. */
	return (strlen(header) == TWILIO_SIG_LEN - 1 &&
	    CRYPTO_memcmp(want, header, TWILIO_SIG_LEN - 1) == 0);
}

/* Splits scheme://authority at the port: returns the offsets of the
 * host's end and of the rest (path and query), or false. */
static bool
split_port(const char *url, size_t *host_end, size_t *rest)
{
	const char *sep = strstr(url, "://");
	if (sep == NULL) {
		return (false);
	}
	const char *auth = sep + 3;
	size_t alen = strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *p = auth; p < auth + alen; p++) {
		if (*p == '@') {
			at = p;
		}
	}
	const char *h = at ? at + 1 : auth;
	const char *close = NULL;
	for (const char *p = h; p < auth + alen; p++) {
		if (*p == ']') {
			close = p;
		}
	}
	const char *colon = NULL;
	for (const char *p = close ? close : h; p < auth + alen; p++) {
		if (*p == ':') {
			colon = p;
			break;
		}
	}
	*host_end = (size_t) ((colon ? colon : auth + alen) - url);
	*rest = (size_t) (auth + alen - url);
	return (true);
}

bool
twilio_sig_verify(const char *token, const char *url,
    const twilio_form *f, const char *header)
{
	if (header == NULL || token == NULL || token[0] == '\0') {
		return (false);
	}
	bool ok = sig_eq(token, url, f, header);
	size_t he, rest;
	if (ok || !split_port(url, &he, &rest)) {
		return (ok);
	}
	twilio_buf alt = {0};
	if (he != rest) { /* has a port: try without it */
		twilio_buf_add(&alt, url, he);
		twilio_buf_str(&alt, url + rest);
	} else { /* no port: try with the default one */
		twilio_buf_add(&alt, url, he);
		twilio_buf_str(&alt, strncmp(url, "https:", 6) == 0 ? ":443" :
		                                                      ":80");
		twilio_buf_str(&alt, url + rest);
	}
	ok = !alt.oom && alt.s != NULL && sig_eq(token, alt.s, f, header);
	twilio_buf_free(&alt);
	return (ok);
}
