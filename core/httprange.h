/*
 * httprange.h - the Range request header (RFC 9110 section 14), as
 * far as a recording download needs it: one byte range.
 */
#ifndef CXI_HTTPRANGE_H
#define CXI_HTTPRANGE_H

#include <stdint.h>

/* Parses `hdr` (may be NULL) against a representation of `size` bytes.
 * Returns 1 with [*first, *last] (inclusive, within the size) for one
 * satisfiable range; 0 when the whole representation should be sent
 * (no header, another unit, several ranges or a malformed value, which
 * RFC 9110 lets a server ignore); -1 when the range is not satisfiable
 * (416). */
int cxi_http_range(const char *hdr, int64_t size, int64_t *first,
    int64_t *last);

#endif
