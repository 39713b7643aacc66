/*
 * fuzz_fernet.c - fuzz target for Fernet token decryption.
 *
 * A stored or submitted token is attacker-controlled text, so any bytes
 * must end in CX_OK or an error with a reason, never a crash. The input
 * is the token (a NUL ends it early, as for any C string) under a fixed
 * key, read once without and once with a TTL so the time checks run too.
 * A token that does decrypt must come back unchanged through
 * encrypt/decrypt: the plaintext is what the key holder signed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fernet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="

static void
check(const cxi_fernet_key *k, const char *tok, int64_t ttl, int64_t now)
{
	uint8_t *msg, *again;
	size_t len, alen;
	char why[256] = "", *re;
	cx_err rv = cxi_fernet_decrypt(k, tok, ttl, now, &msg, &len, why,
	    sizeof(why));
	if (rv != CX_OK) {
		if (why[0] == '\0' || msg != NULL || len != 0) {
			abort();
		}
		return;
	}
	if (cxi_fernet_encrypt(k, msg, len, now, NULL, &re) != CX_OK ||
	    cxi_fernet_decrypt(k, re, -1, 0, &again, &alen, why,
	        sizeof(why)) != CX_OK ||
	    alen != len || memcmp(again, msg, len) != 0) {
		abort();
	}
	free(again);
	free(re);
	free(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cxi_fernet_key k;
	char why[256];
	if (cxi_fernet_key_parse(KEY, strlen(KEY), &k, why, sizeof(why)) !=
	    CX_OK) {
		abort();
	}
	char *tok = malloc(size + 1);
	if (tok == NULL) {
		return (0);
	}
	memcpy(tok, data, size);
	tok[size] = '\0';
	check(&k, tok, -1, 0);
	/* 1985-10-26T08:20:01Z, the spec vectors' clock. */
	check(&k, tok, 60, 499162801);
	free(tok);
	return (0);
}
