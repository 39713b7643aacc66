/*
 * totp.c - TOTP (RFC 6238) and recovery codes for the second factor.
 *
 * HMAC-SHA1 comes from liboath: libsodium has no SHA-1, and liboath is
 * the reference implementation authenticator apps are tested against.
 * Randomness, hashing and constant-time comparison come from libsodium.
 */
#include "totp.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <liboath/oath.h>
#include <sodium.h>

/* Step * period is handed to liboath as a time_t. */
_Static_assert(sizeof(time_t) >= sizeof(int64_t), "time_t must be 64-bit");

/* Latest `now` accepted: the window's last step times the period, plus
 * the period, must not overflow. Far beyond any real clock. */
#define TOTP_MAX_TIME (INT64_MAX / 2)
/* An email is at most 254 bytes; anything much longer is not a label. */
#define TOTP_MAX_LABEL 512

/* The recovery alphabet is Crockford's base32: digits and lower-case
 * letters without i, l, o, u, so a code read aloud or copied by hand
 * has no look-alike pairs. 32 letters: one random byte & 31 is unbiased. */
static const char recovery_alpha[] = "0123456789abcdefghjkmnpqrstvwxyz";

#define RECOVERY_VERSION 1
#define RECOVERY_RAW_LEN (1 + 2 + CXI_RECOVERY_KEY_LEN + \
	CXI_RECOVERY_COUNT * CXI_RECOVERY_HASH_LEN)
_Static_assert(CXI_RECOVERY_COUNT <= 16, "used bits live in a uint16_t");
_Static_assert(sodium_base64_ENCODED_LEN(RECOVERY_RAW_LEN,
    sodium_base64_VARIANT_URLSAFE_NO_PADDING) <= CXI_RECOVERY_ENC_LEN,
    "CXI_RECOVERY_ENC_LEN too small");

/*
 * liboath wants oath_init before use and libsodium sodium_init before
 * randombytes. Both are done once per process, on first use, so callers
 * (daemon, tests, fuzzers) need no set-up call. oath_done is never
 * called: it only releases the crypto backend, which must stay for as
 * long as any thread may verify a code.
 */
static pthread_once_t libs_once = PTHREAD_ONCE_INIT;
static int libs_ok;

static void
libs_init(void)
{
	libs_ok = sodium_init() >= 0 && oath_init() == OATH_OK;
}

static cx_err
libs(void)
{
	if (pthread_once(&libs_once, libs_init) != 0 || !libs_ok) {
		return (CX_EINTERNAL);
	}
	return (CX_OK);
}

cx_err
cxi_totp_secret_new(uint8_t key[CXI_TOTP_SECRET_LEN])
{
	cx_err rv;

	if (key == NULL) {
		return (CX_EINVAL);
	}
	if ((rv = libs()) != CX_OK) {
		return (rv);
	}
	randombytes_buf(key, CXI_TOTP_SECRET_LEN);
	return (CX_OK);
}

cx_err
cxi_totp_b32_encode(const uint8_t *key, size_t len, char *out, size_t outsz)
{
	char *enc = NULL;
	size_t enclen = 0;
	cx_err rv;

	if (key == NULL || len == 0 || out == NULL ||
	    len > (SIZE_MAX - 5) / 8 || outsz < (len * 8 + 4) / 5 + 1) {
		return (CX_EINVAL);
	}
	if ((rv = libs()) != CX_OK) {
		return (rv);
	}
	if (oath_base32_encode((const char *) key, len, &enc, &enclen) !=
	    OATH_OK) {
		return (CX_EINTERNAL);
	}
	/* liboath pads to a multiple of 8; the URI form has no padding. */
	while (enclen > 0 && enc[enclen - 1] == '=') {
		enclen--;
	}
	if (enclen + 1 > outsz) {
		rv = CX_EINTERNAL;
	} else {
		memcpy(out, enc, enclen);
		out[enclen] = '\0';
	}
	sodium_memzero(enc, enclen);
	free(enc);
	return (rv);
}

cx_err
cxi_totp_b32_decode(const char *in, size_t inlen, uint8_t *out, size_t outsz,
    size_t *outlen)
{
	char *dec = NULL;
	size_t declen = 0;
	cx_err rv;

	if (in == NULL || out == NULL || outlen == NULL) {
		return (CX_EINVAL);
	}
	*outlen = 0;
	/* liboath stops at nothing but its length argument; a NUL inside
	 * would be a character it rejects anyway, but say so here. */
	if (memchr(in, '\0', inlen) != NULL) {
		return (CX_EINVAL);
	}
	if ((rv = libs()) != CX_OK) {
		return (rv);
	}
	if (oath_base32_decode(in, inlen, &dec, &declen) != OATH_OK) {
		return (CX_EINVAL);
	}
	if (declen == 0 || declen > outsz) {
		rv = CX_EINVAL;
	} else {
		memcpy(out, dec, declen);
		*outlen = declen;
	}
	if (dec != NULL) {
		sodium_memzero(dec, declen);
	}
	free(dec);
	return (rv);
}

/* RFC 3986 unreserved characters, plus '@' where the caller allows it. */
static bool
pct_keep(unsigned char c, bool keep_at)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~' || (keep_at && c == '@'));
}

/* Appends `s` percent-encoded at `dst`; returns the bytes written. The
 * caller sized `dst` for three bytes per input byte. */
static size_t
pct_encode(char *dst, const char *s, bool keep_at)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char) *s;
		if (pct_keep(c, keep_at)) {
			dst[n++] = (char) c;
		} else {
			dst[n++] = '%';
			dst[n++] = hex[c >> 4];
			dst[n++] = hex[c & 15];
		}
	}
	return (n);
}

cx_err
cxi_totp_uri(const char *issuer, const char *account, const uint8_t *key,
    size_t keylen, char **out)
{
	static const char pre[] = "otpauth://totp/";
	static const char sec[] = "?secret=";
	static const char iss[] = "&issuer=";
	char b32[CXI_TOTP_B32_LEN + 1];
	char params[64];
	size_t ilen, alen, cap, n;
	char *uri;
	int pn;
	cx_err rv;

	if (out == NULL) {
		return (CX_EINVAL);
	}
	*out = NULL;
	if (issuer == NULL) {
		issuer = CXI_TOTP_ISSUER;
	}
	if (account == NULL || key == NULL || keylen != CXI_TOTP_SECRET_LEN) {
		return (CX_EINVAL);
	}
	ilen = strlen(issuer);
	alen = strlen(account);
	if (ilen == 0 || alen == 0 || ilen > TOTP_MAX_LABEL ||
	    alen > TOTP_MAX_LABEL) {
		return (CX_EINVAL);
	}
	pn = snprintf(params, sizeof(params),
	    "&algorithm=SHA1&digits=%d&period=%d", CXI_TOTP_DIGITS,
	    CXI_TOTP_PERIOD);
	if (pn < 0 || (size_t) pn >= sizeof(params)) {
		return (CX_EINTERNAL);
	}
	if ((rv = cxi_totp_b32_encode(key, keylen, b32, sizeof(b32))) !=
	    CX_OK) {
		return (rv);
	}
	/* Worst case every label byte becomes %XX; the issuer appears in
	 * the label (so apps that ignore the parameter still show it) and
	 * in the parameter (RFC-less but what the Key URI format asks). */
	cap = sizeof(pre) + 3 * ilen + 1 + 3 * alen + sizeof(sec) +
	    CXI_TOTP_B32_LEN + sizeof(iss) + 3 * ilen + (size_t) pn + 1;
	if ((uri = malloc(cap)) == NULL) {
		sodium_memzero(b32, sizeof(b32));
		return (CX_ENOMEM);
	}
	n = 0;
	memcpy(uri + n, pre, sizeof(pre) - 1);
	n += sizeof(pre) - 1;
	n += pct_encode(uri + n, issuer, false);
	uri[n++] = ':';
	n += pct_encode(uri + n, account, true);
	memcpy(uri + n, sec, sizeof(sec) - 1);
	n += sizeof(sec) - 1;
	memcpy(uri + n, b32, strlen(b32));
	n += strlen(b32);
	memcpy(uri + n, iss, sizeof(iss) - 1);
	n += sizeof(iss) - 1;
	n += pct_encode(uri + n, issuer, false);
	memcpy(uri + n, params, (size_t) pn);
	n += (size_t) pn;
	uri[n] = '\0';
	sodium_memzero(b32, sizeof(b32));
	*out = uri;
	return (CX_OK);
}

/* The code for time step `step`: liboath takes a time, and the start of
 * the step is a time inside it. */
static cx_err
code_at_step(const uint8_t *key, size_t keylen, int64_t step,
    unsigned digits, char *out)
{
	if (oath_totp_generate((const char *) key, keylen,
	    (time_t) (step * CXI_TOTP_PERIOD), CXI_TOTP_PERIOD, 0, digits,
	    out) != OATH_OK) {
		return (CX_EINTERNAL);
	}
	return (CX_OK);
}

cx_err
cxi_totp_code(const uint8_t *key, size_t keylen, int64_t now,
    unsigned digits, char *out)
{
	cx_err rv;

	if (key == NULL || keylen == 0 || out == NULL || now < 0 ||
	    now > TOTP_MAX_TIME || digits < 6 ||
	    digits > CXI_TOTP_MAX_DIGITS) {
		return (CX_EINVAL);
	}
	if ((rv = libs()) != CX_OK) {
		return (rv);
	}
	return (code_at_step(key, keylen, now / CXI_TOTP_PERIOD, digits, out));
}

cx_err
cxi_totp_parse_code(const char *in, size_t inlen,
    char out[CXI_TOTP_DIGITS + 1])
{
	size_t n = 0;

	if (in == NULL || out == NULL) {
		return (CX_EINVAL);
	}
	for (size_t i = 0; i < inlen; i++) {
		char c = in[i];
		if (c == ' ') {
			continue;
		}
		if (c < '0' || c > '9' || n == CXI_TOTP_DIGITS) {
			return (CX_EINVAL);
		}
		out[n++] = c;
	}
	if (n != CXI_TOTP_DIGITS) {
		return (CX_EINVAL);
	}
	out[n] = '\0';
	return (CX_OK);
}

cx_err
cxi_totp_verify(const uint8_t *key, size_t keylen, const char *code,
    int64_t now, int64_t last_step, int64_t *matched_step)
{
	char want[CXI_TOTP_DIGITS + 1];
	char got[CXI_TOTP_MAX_DIGITS + 1];
	int64_t step, found = CXI_TOTP_NO_STEP;
	cx_err rv = CX_OK;

	if (key == NULL || keylen == 0 || code == NULL ||
	    matched_step == NULL || now < 0 || now > TOTP_MAX_TIME) {
		return (CX_EINVAL);
	}
	if (cxi_totp_parse_code(code, strlen(code), want) != CX_OK) {
		return (CX_EINVAL);
	}
	if ((rv = libs()) != CX_OK) {
		return (rv);
	}
	step = now / CXI_TOTP_PERIOD;
	/* Every step of the window is computed and compared in constant
	 * time, so the time taken tells nothing about how close a guess
	 * was. Ascending order lets the latest matching step win: it is
	 * the one to remember, since it refuses all earlier ones. */
	for (int64_t s = step - CXI_TOTP_WINDOW; s <= step + CXI_TOTP_WINDOW;
	    s++) {
		if (s < 0) {
			continue;
		}
		if ((rv = code_at_step(key, keylen, s, CXI_TOTP_DIGITS, got)) !=
		    CX_OK) {
			break;
		}
		if (sodium_memcmp(got, want, CXI_TOTP_DIGITS) == 0 &&
		    s > last_step) {
			found = s;
		}
	}
	sodium_memzero(got, sizeof(got));
	sodium_memzero(want, sizeof(want));
	if (rv != CX_OK) {
		return (rv);
	}
	if (found == CXI_TOTP_NO_STEP) {
		return (CX_EDENIED);
	}
	*matched_step = found;
	return (CX_OK);
}

/*
 * Why a fast keyed hash is enough for recovery codes: passwords need a
 * slow hash because people choose them from a small space. These codes
 * are 50 random bits each, so there is no dictionary to try; the per-set
 * random key (stored next to the hashes) makes every set's hashes
 * different, so nothing can be precomputed across users. Recovering one
 * code from a leaked row still takes ~2^49 BLAKE2b calls, and the code
 * alone is worth little: it replaces only the second factor, the
 * password (argon2id) is still required, and whoever can read the row
 * can read the TOTP secret beside it anyway. A slow hash would instead
 * cost ten argon2id runs on every recovery attempt, which is a cheap
 * denial-of-service lever on the login endpoint.
 */
static cx_err
recovery_hash(const cxi_recovery_set *set, const char *canon,
    uint8_t out[CXI_RECOVERY_HASH_LEN])
{
	if (crypto_generichash(out, CXI_RECOVERY_HASH_LEN,
	    (const unsigned char *) canon, CXI_RECOVERY_CHARS, set->key,
	    sizeof(set->key)) != 0) {
		return (CX_EINTERNAL);
	}
	return (CX_OK);
}

cx_err
cxi_recovery_generate(cxi_recovery_set *set, cxi_recovery_codes *codes)
{
	uint8_t raw[CXI_RECOVERY_CHARS];
	char canon[CXI_RECOVERY_CHARS + 1];
	cx_err rv;

	if (set == NULL || codes == NULL) {
		return (CX_EINVAL);
	}
	if ((rv = libs()) != CX_OK) {
		return (rv);
	}
	memset(set, 0, sizeof(*set));
	randombytes_buf(set->key, sizeof(set->key));
	for (int i = 0; i < CXI_RECOVERY_COUNT; i++) {
		randombytes_buf(raw, sizeof(raw));
		for (int j = 0; j < CXI_RECOVERY_CHARS; j++) {
			canon[j] = recovery_alpha[raw[j] & 31];
		}
		canon[CXI_RECOVERY_CHARS] = '\0';
		if ((rv = recovery_hash(set, canon, set->hash[i])) != CX_OK) {
			break;
		}
		memcpy(codes->code[i], canon, 5);
		codes->code[i][5] = '-';
		memcpy(codes->code[i] + 6, canon + 5, 5);
		codes->code[i][CXI_RECOVERY_TEXT_LEN] = '\0';
	}
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(canon, sizeof(canon));
	if (rv != CX_OK) {
		sodium_memzero(set, sizeof(*set));
		sodium_memzero(codes, sizeof(*codes));
	}
	return (rv);
}

cx_err
cxi_recovery_parse(const char *in, size_t inlen,
    char out[CXI_RECOVERY_CHARS + 1])
{
	size_t n = 0;

	if (in == NULL || out == NULL) {
		return (CX_EINVAL);
	}
	for (size_t i = 0; i < inlen; i++) {
		char c = in[i];
		if (c == '-' || c == ' ') {
			continue;
		}
		if (c >= 'A' && c <= 'Z') {
			c = (char) (c - 'A' + 'a');
		}
		if (c == 'i' || c == 'l') {
			c = '1';
		} else if (c == 'o') {
			c = '0';
		}
		if (c == '\0' || strchr(recovery_alpha, c) == NULL ||
		    n == CXI_RECOVERY_CHARS) {
			return (CX_EINVAL);
		}
		out[n++] = c;
	}
	if (n != CXI_RECOVERY_CHARS) {
		return (CX_EINVAL);
	}
	out[n] = '\0';
	return (CX_OK);
}

cx_err
cxi_recovery_use(cxi_recovery_set *set, const char *input, int *index)
{
	char canon[CXI_RECOVERY_CHARS + 1];
	uint8_t h[CXI_RECOVERY_HASH_LEN];
	int match = -1;
	cx_err rv;

	if (set == NULL || input == NULL || index == NULL) {
		return (CX_EINVAL);
	}
	if (cxi_recovery_parse(input, strlen(input), canon) != CX_OK) {
		return (CX_EINVAL);
	}
	if ((rv = libs()) != CX_OK) {
		return (rv);
	}
	rv = recovery_hash(set, canon, h);
	sodium_memzero(canon, sizeof(canon));
	if (rv != CX_OK) {
		return (rv);
	}
	/* All ten are compared in constant time, whatever matches first. */
	for (int i = 0; i < CXI_RECOVERY_COUNT; i++) {
		bool eq = sodium_memcmp(h, set->hash[i], sizeof(h)) == 0;
		if (eq && (set->used & (1u << i)) == 0 && match < 0) {
			match = i;
		}
	}
	sodium_memzero(h, sizeof(h));
	if (match < 0) {
		return (CX_EDENIED);
	}
	set->used = (uint16_t) (set->used | (1u << match));
	sodium_memzero(set->hash[match], sizeof(set->hash[match]));
	*index = match;
	return (CX_OK);
}

int
cxi_recovery_remaining(const cxi_recovery_set *set)
{
	int n = 0;

	if (set == NULL) {
		return (0);
	}
	for (int i = 0; i < CXI_RECOVERY_COUNT; i++) {
		if ((set->used & (1u << i)) == 0) {
			n++;
		}
	}
	return (n);
}

/* Layout: version, used (little-endian u16), key, hashes. */
cx_err
cxi_recovery_encode(const cxi_recovery_set *set, char *out, size_t outsz)
{
	uint8_t raw[RECOVERY_RAW_LEN];
	size_t n = 0;
	cx_err rv = CX_OK;

	if (set == NULL || out == NULL || outsz < sodium_base64_ENCODED_LEN(
	    RECOVERY_RAW_LEN, sodium_base64_VARIANT_URLSAFE_NO_PADDING)) {
		return (CX_EINVAL);
	}
	if ((rv = libs()) != CX_OK) {
		return (rv);
	}
	raw[n++] = RECOVERY_VERSION;
	raw[n++] = (uint8_t) (set->used & 0xff);
	raw[n++] = (uint8_t) (set->used >> 8);
	memcpy(raw + n, set->key, sizeof(set->key));
	n += sizeof(set->key);
	memcpy(raw + n, set->hash, sizeof(set->hash));
	if (sodium_bin2base64(out, outsz, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) == NULL) {
		rv = CX_EINTERNAL;
	}
	sodium_memzero(raw, sizeof(raw));
	return (rv);
}

cx_err
cxi_recovery_decode(const char *in, size_t inlen, cxi_recovery_set *set)
{
	uint8_t raw[RECOVERY_RAW_LEN];
	const char *end = NULL;
	size_t rawlen = 0, n = 0;
	uint16_t used;
	cx_err rv;

	if (in == NULL || set == NULL) {
		return (CX_EINVAL);
	}
	/* libsodium 1.0.18 decodes bytes >= 0x80 as if they were letters
	 * (found by fuzz_otpauth), so one set would have many spellings:
	 * only the URL-safe alphabet gets through. */
	for (size_t i = 0; i < inlen; i++) {
		char c = in[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_')) {
			return (CX_EINVAL);
		}
	}
	if ((rv = libs()) != CX_OK) {
		return (rv);
	}
	if (sodium_base642bin(raw, sizeof(raw), in, inlen, NULL, &rawlen,
	    &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != in + inlen || rawlen != sizeof(raw) ||
	    raw[0] != RECOVERY_VERSION) {
		sodium_memzero(raw, sizeof(raw));
		return (CX_EINVAL);
	}
	used = (uint16_t) (raw[1] | (raw[2] << 8));
	if ((used >> CXI_RECOVERY_COUNT) != 0) {
		sodium_memzero(raw, sizeof(raw));
		return (CX_EINVAL);
	}
	n = 3;
	set->used = used;
	memcpy(set->key, raw + n, sizeof(set->key));
	n += sizeof(set->key);
	memcpy(set->hash, raw + n, sizeof(set->hash));
	sodium_memzero(raw, sizeof(raw));
	return (CX_OK);
}
