/*
 * fuzz_retell_sig.c - the x-retell-signature parser and checker. The
 * first line of the input is the header value, the rest the body; a
 * parsed header is checked against the body with a fixed key, and a
 * signature we make ourselves must parse back and verify.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "retell.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hl = nl ? (size_t) (nl - data) : size;
	char *hdr = malloc(hl + 1);
	if (hdr == NULL) {
		return (0);
	}
	memcpy(hdr, data, hl);
	hdr[hl] = '\0';
	const uint8_t *body = nl ? nl + 1 : data + size;
	size_t blen = nl ? size - hl - 1 : 0;
	uint64_t ts;
	uint8_t d[32];
	if (retell_sig_parse(hdr, &ts, d)) {
		(void) retell_sig_check("key_fuzz", body, blen, ts, d);
	}
	free(hdr);
	char made[96];
	retell_sig_make("key_fuzz", body, blen, 1795000000000ULL, made);
	if (!retell_sig_parse(made, &ts, d) || ts != 1795000000000ULL ||
	    !retell_sig_check("key_fuzz", body, blen, ts, d) ||
	    retell_sig_check("key_other", body, blen, ts, d)) {
		abort();
	}
	return (0);
}
