/*
 * s3xml.c - see s3xml.h. Bounds are checked on every index: the input is
 * whatever a server (or a man in the middle of a plain-HTTP endpoint)
 * chose to send.
 */
#include <stdint.h>
#include <string.h>

#include "s3xml.h"

static int
is_name_end(char c)
{
	return (c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' ||
	    c == '\n');
}

/* Appends one code point as UTF-8; -1 when it does not fit or is not a
 * valid scalar value (S3 never sends those, a hostile peer might). */
static int
put_utf8(char *out, size_t cap, size_t *o, uint32_t cp)
{
	unsigned char b[4];
	size_t n;
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
		return (-1);
	}
	if (cp < 0x80) {
		b[0] = (unsigned char) cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char) (0xC0 | (cp >> 6));
		b[1] = (unsigned char) (0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char) (0xE0 | (cp >> 12));
		b[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		b[2] = (unsigned char) (0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (unsigned char) (0xF0 | (cp >> 18));
		b[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
		b[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		b[3] = (unsigned char) (0x80 | (cp & 0x3F));
		n = 4;
	}
	if (cap - *o <= n) { /* keep room for the terminator */
		return (-1);
	}
	memcpy(out + *o, b, n);
	*o += n;
	return (0);
}

/* Decodes the entity starting at t[0] == '&' within t[0..n); returns the
 * bytes consumed, or -1. */
static int
decode_entity(const char *t, size_t n, char *out, size_t cap, size_t *o)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'},
	    {"quot;", '"'}, {"apos;", '\''}};
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t l = strlen(named[i].name);
		if (n - 1 >= l && memcmp(t + 1, named[i].name, l) == 0) {
			return (put_utf8(out, cap, o, (unsigned char) named[i].c)
			        == 0 ? (int) l + 1 : -1);
		}
	}
	if (n < 4 || t[1] != '#') {
		return (-1);
	}
	size_t i = 2;
	int hex = 0;
	if (t[i] == 'x' || t[i] == 'X') {
		hex = 1;
		i++;
	}
	uint32_t cp = 0;
	size_t digits = 0;
	for (; i < n && t[i] != ';'; i++, digits++) {
		char c = t[i];
		uint32_t d;
		if (c >= '0' && c <= '9') {
			d = (uint32_t) (c - '0');
		} else if (hex && c >= 'a' && c <= 'f') {
			d = (uint32_t) (c - 'a' + 10);
		} else if (hex && c >= 'A' && c <= 'F') {
			d = (uint32_t) (c - 'A' + 10);
		} else {
			return (-1);
		}
		/* Eight digits bound the value well below overflow. */
		if (digits >= 8) {
			return (-1);
		}
		cp = cp * (hex ? 16 : 10) + d;
	}
	if (i >= n || digits == 0 || put_utf8(out, cap, o, cp) != 0) {
		return (-1);
	}
	return ((int) i + 1);
}

int
s3xml_next(const char *xml, size_t len, const char *tag, size_t *pos,
    char *out, size_t cap)
{
	size_t tl = strlen(tag);
	if (cap == 0 || tl == 0) {
		return (-1);
	}
	for (size_t i = *pos; i < len; i++) {
		if (xml[i] != '<' || len - i < tl + 2 ||
		    memcmp(xml + i + 1, tag, tl) != 0 ||
		    !is_name_end(xml[i + 1 + tl])) {
			continue;
		}
		/* Skip attributes (xmlns=...) to the end of the start tag. */
		size_t j = i + 1 + tl;
		char quote = 0;
		for (; j < len; j++) {
			if (quote != 0) {
				quote = xml[j] == quote ? 0 : quote;
			} else if (xml[j] == '"' || xml[j] == '\'') {
				quote = xml[j];
			} else if (xml[j] == '>') {
				break;
			}
		}
		if (j >= len) {
			return (-1);
		}
		if (xml[j - 1] == '/') {
			out[0] = '\0';
			*pos = j + 1;
			return (1);
		}
		size_t o = 0;
		for (size_t k = j + 1; k < len;) {
			if (xml[k] == '<') {
				if (len - k < tl + 3 || xml[k + 1] != '/' ||
				    memcmp(xml + k + 2, tag, tl) != 0 ||
				    xml[k + 2 + tl] != '>') {
					return (-1);
				}
				out[o] = '\0';
				*pos = k + 3 + tl;
				return (1);
			}
			if (xml[k] == '&') {
				int used = decode_entity(xml + k, len - k, out,
				    cap, &o);
				if (used < 0) {
					return (-1);
				}
				k += (size_t) used;
				continue;
			}
			if (xml[k] == '\0' || cap - o <= 1) {
				return (-1);
			}
			out[o++] = xml[k++];
		}
		return (-1);
	}
	return (0);
}

int
s3xml_find(const char *xml, size_t len, const char *tag, char *out,
    size_t cap)
{
	size_t pos = 0;
	return (s3xml_next(xml, len, tag, &pos, out, cap));
}

int
s3xml_escape(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (; *in != '\0'; in++) {
		const char *rep = NULL;
		switch (*in) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default: break;
		}
		size_t l = rep ? strlen(rep) : 1;
		if (cap - o <= l) {
			return (-1);
		}
		if (rep != NULL) {
			memcpy(out + o, rep, l);
		} else {
			out[o] = *in;
		}
		o += l;
	}
	if (cap == 0) {
		return (-1);
	}
	out[o] = '\0';
	return ((int) o);
}
