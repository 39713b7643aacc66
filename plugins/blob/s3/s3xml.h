/*
 * s3xml.h - a minimal extractor for the small XML documents S3 answers
 * with (InitiateMultipartUploadResult, ListBucketResult, Error,
 * LocationConstraint, CompleteMultipartUploadResult).
 *
 * Every byte comes from the network, so this is written as a parser of
 * untrusted input (and fuzzed by tests/blob/fuzz_s3xml.c): it never reads
 * past `len`, never needs a NUL terminator, and refuses what it does not
 * understand instead of guessing. It knows only leaf elements of text:
 * no CDATA, no nesting inside the element asked for. That is all S3's
 * answers need, and it keeps the attack surface small.
 */
#ifndef S3XML_H
#define S3XML_H

#include <stddef.h>

/* Looks for the next element named `tag` (no namespace prefix) starting
 * at *pos. On 1 (found) its decoded text is in out (NUL-terminated; ""
 * for <tag/>) and *pos is past the element. 0: no such element after
 * *pos. -1: malformed (unterminated, nested markup, bad entity) or the
 * text does not fit in cap bytes. */
int s3xml_next(const char *xml, size_t len, const char *tag, size_t *pos,
    char *out, size_t cap);

/* s3xml_next from the start of the document. */
int s3xml_find(const char *xml, size_t len, const char *tag, char *out,
    size_t cap);

/* Writes `in` escaped for XML text (& < > " ') into out. Returns the
 * length, or -1 if it does not fit. */
int s3xml_escape(const char *in, char *out, size_t cap);

#endif
