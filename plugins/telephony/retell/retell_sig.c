/*
 * retell_sig.c - the x-retell-signature header.
 *
 * Retell signs each webhook with the account's API key:
 *   x-retell-signature: v=<timestamp ms>,d=<hex HMAC-SHA256(key, body || v)>
 * where body is the raw request bytes and v the decimal timestamp
 * (retell-sdk 5.66.1 src/lib/webhook_auth.ts). The SDK's verify matches
 * /^v=(\d+),d=([0-9a-f]+)$/i, wants exactly 64 hex digits and a safe
 * integer v, and hashes String(Number(v)): leading zeros are dropped.
 * We accept exactly what it accepts. The freshness window is checked by
 * the caller, which owns the clock.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "retell.h"

/* Number.MAX_SAFE_INTEGER */
#define RT_SAFE_INT_MAX 9007199254740991ULL

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return (c - '0');
	}
	if (c >= 'a' && c <= 'f') {
		return (c - 'a' + 10);
	}
	if (c >= 'A' && c <= 'F') {
		return (c - 'A' + 10);
	}
	return (-1);
}

bool
retell_sig_parse(const char *hdr, uint64_t *ts_ms, uint8_t digest[32])
{
	const char *p = hdr;
	uint64_t v = 0;
	bool overflow = false;
	size_t ndig = 0;

	if (hdr == NULL || (p[0] != 'v' && p[0] != 'V') || p[1] != '=') {
		return (false);
	}
	p += 2;
	for (; *p >= '0' && *p <= '9'; p++, ndig++) {
		/* Keep counting digits past a huge value: leading zeros
		 * are legal and only the value must be a safe integer. */
		if (v > (RT_SAFE_INT_MAX - (uint64_t) (*p - '0')) / 10) {
			overflow = true;
		} else {
			v = v * 10 + (uint64_t) (*p - '0');
		}
	}
	if (ndig == 0 || overflow || p[0] != ',' ||
	    (p[1] != 'd' && p[1] != 'D') || p[2] != '=') {
		return (false);
	}
	p += 3;
	if (strlen(p) != 64) {
		return (false);
	}
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			return (false);
		}
		digest[i] = (uint8_t) (hi << 4 | lo);
	}
	*ts_ms = v;
	return (true);
}

static void
mac(const char *key, const uint8_t *body, size_t len, uint64_t ts_ms,
    uint8_t out[32])
{
	crypto_auth_hmacsha256_state st;
	char ts[24];
	int n = snprintf(ts, sizeof(ts), "%" PRIu64, ts_ms);
	crypto_auth_hmacsha256_init(&st, (const unsigned char *) key,
	    strlen(key));
	if (len > 0) {
		crypto_auth_hmacsha256_update(&st, body, len);
	}
	crypto_auth_hmacsha256_update(&st, (const unsigned char *) ts,
	    (size_t) n);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

bool
retell_sig_check(const char *key, const uint8_t *body, size_t len,
    uint64_t ts_ms, const uint8_t digest[32])
{
	uint8_t want[32];
	if (key == NULL || key[0] == '\0') {
		return (false);
	}
	mac(key, body, len, ts_ms, want);
	bool ok = sodium_memcmp(want, digest, sizeof(want)) == 0;
	sodium_memzero(want, sizeof(want));
	return (ok);
}

void
retell_sig_make(const char *key, const uint8_t *body, size_t len,
    uint64_t ts_ms, char out[96])
{
	uint8_t d[32];
	char hex[65];
	mac(key, body, len, ts_ms, d);
	sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
	snprintf(out, 96, "v=%" PRIu64 ",d=%s", ts_ms, hex);
}
