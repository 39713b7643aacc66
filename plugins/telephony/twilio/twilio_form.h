/*
 * twilio_form.h - application/x-www-form-urlencoded bodies and the
 * X-Twilio-Signature check. Pure functions with no host and no I/O, so
 * the fuzz target and the unit tests link them directly.
 *
 * The signature follows twilio-node's getExpectedTwilioSignature: the
 * full URL Twilio requested, then every POST parameter as name + value
 * (decoded, no separators) with names sorted, a repeated name's distinct
 * values sorted; HMAC-SHA1 with the auth token; standard base64.
 */
#ifndef TWILIO_FORM_H
#define TWILIO_FORM_H

#include <stdbool.h>
#include <stddef.h>

typedef struct twilio_param {
	char *name;
	char *value;
} twilio_param;

typedef struct twilio_form {
	twilio_param *p;
	size_t n;
} twilio_form;

/* Most parameters one body may carry; Twilio sends about forty. */
#define TWILIO_FORM_MAX_PARAMS 256
/* base64 of a SHA-1 HMAC: 28 characters and a NUL. */
#define TWILIO_SIG_LEN 29

/* Parses `len` bytes into `f` (zeroed by the caller or fresh). On a
 * malformed body returns false and writes why into err (for a 400). The
 * decoded names and values are valid UTF-8 without NUL bytes. */
bool twilio_form_parse(const char *s, size_t len, twilio_form *f, char *err,
    size_t errlen);
/* The first value of `name`, or NULL. */
const char *twilio_form_get(const twilio_form *f, const char *name);
void twilio_form_free(twilio_form *f);

/* A growing string; `oom` sticks once an append fails. */
typedef struct twilio_buf {
	char *s;
	size_t len, cap;
	bool oom;
} twilio_buf;

void twilio_buf_add(twilio_buf *b, const char *s, size_t n);
void twilio_buf_str(twilio_buf *b, const char *s);
/* Percent-encodes s (RFC 3986 unreserved characters stay as they are). */
void twilio_buf_enc(twilio_buf *b, const char *s);
/* Appends "name=value" form-encoded, with '&' before all but the first. */
void twilio_buf_param(twilio_buf *b, const char *name, const char *value);
void twilio_buf_free(twilio_buf *b);

/* Compares two UTF-8 strings in UTF-16 code-unit order, which is what
 * JavaScript's default sort (and so the SDK) uses. */
int twilio_utf16_cmp(const char *a, const char *b);

/* The signature of `url` + form `f` (NULL: no parameters) under
 * `token`. false only when memory runs out. */
bool twilio_sig_compute(const char *token, const char *url,
    const twilio_form *f, char out[TWILIO_SIG_LEN]);
/* True when `header` matches the signature of the URL as given, without
 * its port, or with the scheme's default port added (the SDK and the
 * Python validator accept all three). Compared in constant time. */
bool twilio_sig_verify(const char *token, const char *url,
    const twilio_form *f, const char *header);

#endif
