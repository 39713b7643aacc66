/*
 * fuzz_otpauth.c - fuzz target for everything core/totp parses from
 * outside: the code a user types at login, the base32 secret a user may
 * paste, the recovery code typed instead, and the stored recovery set
 * (a database row an attacker with write access could change).
 *
 * The first input byte picks the parser (mod 4); the rest is its input.
 * Beyond "never crash", each accepted input is checked for what the API
 * promises: the canonical forms have the documented shape, decoded
 * base32 re-encodes to the same bits, and a decoded set re-encodes to
 * exactly the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "totp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_code(const char *in, size_t len)
{
	char out[CXI_TOTP_DIGITS + 1];
	int64_t step;
	char *z;

	if (cxi_totp_parse_code(in, len, out) == CX_OK) {
		if (strlen(out) != CXI_TOTP_DIGITS ||
		    strspn(out, "0123456789") != CXI_TOTP_DIGITS) {
			abort();
		}
	}
	/* verify takes a C string: the same bytes up to the first NUL. */
	if ((z = malloc(len + 1)) == NULL) {
		return;
	}
	memcpy(z, in, len);
	z[len] = '\0';
	cx_err rv = cxi_totp_verify((const uint8_t *) "12345678901234567890",
	    20, z, 59, CXI_TOTP_NO_STEP, &step);
	if (rv != CX_OK && rv != CX_EDENIED && rv != CX_EINVAL) {
		abort();
	}
	if (rv == CX_OK && step != 1 && step != 2) {
		abort();
	}
	free(z);
}

static void
fuzz_b32(const char *in, size_t len)
{
	uint8_t out[64], again[64];
	char enc[(sizeof(out) * 8 + 4) / 5 + 1];
	size_t n = 0, m = 0;

	if (cxi_totp_b32_decode(in, len, out, sizeof(out), &n) != CX_OK) {
		return;
	}
	if (n == 0 || n > sizeof(out)) {
		abort();
	}
	/* Our own encoding of the result must decode to the same bytes. */
	if (cxi_totp_b32_encode(out, n, enc, sizeof(enc)) != CX_OK ||
	    cxi_totp_b32_decode(enc, strlen(enc), again, sizeof(again), &m) !=
	    CX_OK || m != n || memcmp(out, again, n) != 0) {
		abort();
	}
}

static void
fuzz_recovery(const char *in, size_t len)
{
	static const char alpha[] = "0123456789abcdefghjkmnpqrstvwxyz";
	char out[CXI_RECOVERY_CHARS + 1];

	if (cxi_recovery_parse(in, len, out) != CX_OK) {
		return;
	}
	if (strlen(out) != CXI_RECOVERY_CHARS ||
	    strspn(out, alpha) != CXI_RECOVERY_CHARS) {
		abort();
	}
}

static void
fuzz_set(const char *in, size_t len)
{
	cxi_recovery_set set;
	char enc[CXI_RECOVERY_ENC_LEN];
	int idx;

	if (cxi_recovery_decode(in, len, &set) != CX_OK) {
		return;
	}
	if (cxi_recovery_encode(&set, enc, sizeof(enc)) != CX_OK ||
	    strlen(enc) != len || memcmp(enc, in, len) != 0) {
		/* base64 has several spellings of the last bits; only the
		 * canonical one may be accepted, or two rows would hold one
		 * set and compare unequal. */
		abort();
	}
	if (cxi_recovery_remaining(&set) < 0 ||
	    cxi_recovery_remaining(&set) > CXI_RECOVERY_COUNT) {
		abort();
	}
	/* A code against an arbitrary set: must just say yes or no. */
	cx_err rv = cxi_recovery_use(&set, "abcde-fghjk", &idx);
	if (rv != CX_OK && rv != CX_EDENIED) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0) {
		return (0);
	}
	const char *in = (const char *) data + 1;
	size_t len = size - 1;
	switch (data[0] % 4) {
	case 0:
		fuzz_code(in, len);
		break;
	case 1:
		fuzz_b32(in, len);
		break;
	case 2:
		fuzz_recovery(in, len);
		break;
	default:
		fuzz_set(in, len);
		break;
	}
	return (0);
}
