/*
 * fuzz_hashformat.c - fuzz target for the stored-hash grammar and the
 * verify dispatch.
 *
 * A stored hash may come from a legacy import, so cxi_password_kind and
 * cxi_password_verify see arbitrary bytes. Input: hash bytes, then
 * optionally a 0xff separator and the password. Checks: no crash, the
 * kind agrees with verify (an invalid hash is CX_EINVAL, never a match),
 * and a match only ever comes with an upgrade request for bcrypt.
 * argon2id hashes are verified only at small costs (m <= 64 KiB, t <= 2)
 * so that each input stays fast; their grammar is checked regardless.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "password.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = memchr(data, 0xff, size);
	size_t hl = sep != NULL ? (size_t) (sep - data) : size;
	const char *pw = sep != NULL ? (const char *) sep + 1 : "";
	size_t pl = sep != NULL ? size - hl - 1 : 0;
	char *hash = malloc(hl + 1);
	if (hash == NULL) {
		return (0);
	}
	memcpy(hash, data, hl);
	hash[hl] = '\0';
	unsigned long t = 0, m = 0;
	cxi_pwkind k = cxi_password_kind(hash, hl, &t, &m);
	const cxi_pwparams p = { 3, (size_t) 12 << 20, (hl & 1) != 0 };
	bool up = true;
	cx_err rv;
	switch (k) {
	case CXI_PWKIND_INVALID:
		/* What follows a NUL is not seen by verify: skip those. */
		if (memchr(hash, '\0', hl) == NULL) {
			rv = cxi_password_verify(&p, hash, pw, pl, &up);
			if (rv != CX_EINVAL || up) {
				abort();
			}
		}
		break;
	case CXI_PWKIND_ARGON2ID:
		if (t < 1 || m < 8) {
			abort();
		}
		if (t <= 2 && m <= 64) {
			rv = cxi_password_verify(&p, hash, pw, pl, &up);
			/* Tiny costs are always below the config, so a
			 * match must ask for a new hash. */
			if ((rv == CX_OK && !up) || (rv != CX_OK && up)) {
				abort();
			}
		}
		break;
	case CXI_PWKIND_BCRYPT:
	case CXI_PWKIND_BCRYPT_2X:
		if (hl != 60) {
			abort();
		}
		/* Cost 04-06 only: 2^cost rounds per input. */
		if (hash[4] == '0' && hash[5] >= '4' && hash[5] <= '6') {
			rv = cxi_password_verify(&p, hash, pw, pl, &up);
			if (up != (rv == CX_OK) ||
			    (k == CXI_PWKIND_BCRYPT_2X && !p.allow_2x &&
			    rv != CX_EINVAL)) {
				abort();
			}
		}
		break;
	}
	free(hash);
	return (0);
}
