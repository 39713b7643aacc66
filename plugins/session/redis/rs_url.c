/*
 * rs_url.c - the `url` setting.
 *
 *   redis://[[user]:password@]host[:port][/db]     TCP (host may be [v6])
 *   unix://[[user]:password@]/path/to.sock[?db=N]  unix socket
 *
 * User and password may be percent-encoded (a password holding '@' or
 * ':' must be). Error messages say what is wrong, never quote the text:
 * it may be the password.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9') {
		return (c - '0');
	}
	c = tolower(c);
	return (c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1);
}

/* Copies [s, s+n) into out, decoding %XX. False if it does not fit or an
 * escape is malformed. */
static bool
decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char) s[i];
		if (c == '%') {
			if (i + 2 >= n) {
				return (false);
			}
			int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
			if (a < 0 || b < 0) {
				return (false);
			}
			c = a * 16 + b;
			i += 2;
		}
		if (c == 0 || o + 1 >= outlen) {
			return (false);
		}
		out[o++] = (char) c;
	}
	out[o] = '\0';
	return (true);
}

static bool
parse_int(const char *s, size_t n, long lo, long hi, int *out)
{
	char buf[16];
	if (n == 0 || n >= sizeof(buf)) {
		return (false);
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *end;
	long v = strtol(buf, &end, 10);
	if (*end != '\0' || !isdigit((unsigned char) buf[0]) || v < lo ||
	    v > hi) {
		return (false);
	}
	*out = (int) v;
	return (true);
}

#define FAIL(...)                                                       \
	do {                                                            \
		snprintf(why, whylen, __VA_ARGS__);                     \
		return (false);                                         \
	} while (0)

bool
rs_url_parse(const char *s, rs_url *u, char *why, size_t whylen)
{
	memset(u, 0, sizeof(*u));
	u->port = 6379;
	bool is_unix;
	if (strncmp(s, "redis://", 8) == 0) {
		is_unix = false;
		s += 8;
	} else if (strncmp(s, "unix://", 7) == 0) {
		is_unix = true;
		s += 7;
	} else {
		FAIL("'url' must start with redis:// or unix://");
	}
	/* Credentials: everything before the last '@' that precedes the
	 * path, so an unencoded '@' in the password still parses. */
	const char *stop = is_unix ? s + strcspn(s, "?") : s + strcspn(s, "/?");
	const char *at = NULL;
	for (const char *p = s; p < stop; p++) {
		if (*p == '@') {
			at = p;
		}
	}
	if (is_unix && at == NULL) {
		stop = s;
	}
	if (at != NULL) {
		const char *colon = memchr(s, ':', (size_t) (at - s));
		if (colon == NULL) {
			/* "redis://secret@host": Redis' own convention is
			 * that a lone userinfo is the password. */
			colon = s - 1;
		} else if (!decode(s, (size_t) (colon - s), u->user,
		    sizeof(u->user))) {
			FAIL("'url' has a malformed or too long user name");
		}
		if (!decode(colon + 1, (size_t) (at - colon - 1), u->password,
		    sizeof(u->password))) {
			FAIL("'url' has a malformed or too long password");
		}
		s = at + 1;
	}
	if (is_unix) {
		size_t n = strcspn(s, "?");
		if (n == 0 || s[0] != '/' || n >= sizeof(u->path)) {
			FAIL("'url' unix:// needs an absolute socket path");
		}
		memcpy(u->path, s, n);
		s += n;
		if (*s == '?') {
			if (strncmp(s, "?db=", 4) != 0 ||
			    !parse_int(s + 4, strlen(s + 4), 0, 100000, &u->db)) {
				FAIL("'url' query must be ?db=<number>");
			}
		}
		return (true);
	}
	const char *hend;
	if (*s == '[') {
		hend = strchr(s, ']');
		if (hend == NULL || hend - s - 1 <= 0 ||
		    (size_t) (hend - s - 1) >= sizeof(u->host)) {
			FAIL("'url' has a malformed [IPv6] host");
		}
		memcpy(u->host, s + 1, (size_t) (hend - s - 1));
		hend++;
	} else {
		hend = s + strcspn(s, ":/?");
		if (hend == s || (size_t) (hend - s) >= sizeof(u->host)) {
			FAIL("'url' has no host");
		}
		memcpy(u->host, s, (size_t) (hend - s));
	}
	s = hend;
	if (*s == ':') {
		size_t n = strcspn(s + 1, "/?");
		if (!parse_int(s + 1, n, 1, 65535, &u->port)) {
			FAIL("'url' has a bad port");
		}
		s += 1 + n;
	}
	if (*s == '/' && s[1] != '\0') {
		if (!parse_int(s + 1, strlen(s + 1), 0, 100000, &u->db)) {
			FAIL("'url' path must be a database number");
		}
	} else if (*s != '\0' && strcmp(s, "/") != 0) {
		FAIL("'url' has unexpected text after the host");
	}
	return (true);
}

void
rs_url_describe(const rs_url *u, char *buf, size_t len)
{
	if (u->path[0] != '\0') {
		snprintf(buf, len, "unix:%s db %d", u->path, u->db);
	} else if (strchr(u->host, ':') != NULL) {
		snprintf(buf, len, "[%s]:%d db %d", u->host, u->port, u->db);
	} else {
		snprintf(buf, len, "%s:%d db %d", u->host, u->port, u->db);
	}
}
