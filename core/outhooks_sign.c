/*
 * outhooks_sign.c - the pure parts of customer webhook delivery
 * (outhooks.h): endpoint secrets, the signature header and the retry
 * schedule. No I/O, so the unit tests pin them down exactly.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "outhooks.h"

#define SECRET_TAG "whsec_"
#define SECRET_RAND 32

void
cxi_outhooks_new_secret(char out[CXI_OUTHOOKS_SECRET_LEN + 1])
{
	unsigned char rnd[SECRET_RAND];
	randombytes_buf(rnd, sizeof(rnd));
	memcpy(out, SECRET_TAG, sizeof(SECRET_TAG) - 1);
	sodium_bin2base64(out + sizeof(SECRET_TAG) - 1,
	    CXI_OUTHOOKS_SECRET_LEN + 1 - (sizeof(SECRET_TAG) - 1), rnd,
	    sizeof(rnd), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(rnd, sizeof(rnd));
}

/* The signed message is "<t>.<body>": the timestamp is inside the MAC,
 * so a captured request cannot be replayed later under a fresh t, and
 * the body is the exact bytes on the wire, so a receiver verifies what
 * it read before parsing anything. */
void
cxi_outhooks_sign(const char *secret, int64_t t, const char *body,
    size_t len, char out[CXI_OUTHOOKS_SIG_MAX])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char ts[24], hex[2 * crypto_auth_hmacsha256_BYTES + 1];
	int n = snprintf(ts, sizeof(ts), "%" PRId64 ".", t);

	crypto_auth_hmacsha256_init(&st, (const unsigned char *) secret,
	    strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *) ts,
	    (unsigned long long) n);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *) body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	snprintf(out, CXI_OUTHOOKS_SIG_MAX, "t=%" PRId64 ",v1=%s", t, hex);
}

int64_t
cxi_outhooks_backoff_ms(int64_t base, int64_t cap, unsigned attempt,
    uint32_t rnd)
{
	if (base < 1) {
		base = 1;
	}
	if (cap < base) {
		cap = base;
	}
	int64_t d = base;
	for (unsigned i = 1; i < attempt && d < cap; i++) {
		d *= 2;
	}
	if (d > cap) {
		d = cap;
	}
	/* d * [0.8, 1.2): the spread is 40% of d, chosen by rnd. */
	int64_t spread = d * 2 / 5;
	int64_t j = d - d / 5 + (int64_t) ((uint64_t) spread * rnd >> 32);
	return (j > cap ? cap : j);
}
