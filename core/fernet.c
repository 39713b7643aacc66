/*
 * fernet.c - Fernet tokens (see fernet.h for the format and the rules).
 *
 * libsodium has no AES-CBC, so the cipher comes from OpenSSL's libcrypto
 * (EVP); HMAC-SHA256, the constant-time compare, the CSPRNG, base64
 * encoding and wiping come from libsodium. Base64 *decoding* is our own:
 * it has to accept and reject exactly what Python does, and libsodium's
 * decoder is stricter (it refuses stray characters Python skips).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "fernet.h"

#define VERSION 0x80
#define HDR_LEN (1 + 8 + CXI_FERNET_IV_BYTES)
#define MAC_LEN crypto_auth_hmacsha256_BYTES
#define BLOCK 16
/* One full padding block for an empty message. */
#define MIN_RAW (HDR_LEN + BLOCK + MAC_LEN)

static cx_err
fail(char *why, size_t whylen, cx_err code, const char *fmt, ...)
{
	if (why != NULL && whylen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return (code);
}

/* Value of a base64 digit in either alphabet (urlsafe_b64decode maps
 * '-' and '_' onto '+' and '/' and then decodes the standard one), or
 * -1 for anything else. */
static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') {
		return (c - 'A');
	}
	if (c >= 'a' && c <= 'z') {
		return (c - 'a' + 26);
	}
	if (c >= '0' && c <= '9') {
		return (c - '0' + 52);
	}
	if (c == '+' || c == '-') {
		return (62);
	}
	if (c == '/' || c == '_') {
		return (63);
	}
	return (-1);
}

/*
 * CPython 3.11 binascii.a2b_base64(strict_mode=False), step by step:
 * non-alphabet bytes are skipped; '=' counts only once two digits of a
 * quantum are in, and a complete pad ends decoding (the rest is not
 * read); a partial quantum at the end is an error. Unused low bits of
 * the last digit are not checked, as in Python. *skipped counts the
 * bytes that were neither digits nor '=', for the error message.
 */
static cx_err
py_b64decode(const char *s, size_t n, uint8_t **out, size_t *olen,
    size_t *skipped, const char **err)
{
	uint8_t *buf = malloc(n / 4 * 3 + 3);
	size_t o = 0;
	unsigned quad = 0, pads = 0, left = 0;
	*skipped = 0;
	if (buf == NULL) {
		return (CX_ENOMEM);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) s[i];
		if (c == '=') {
			if (quad >= 2 && quad + ++pads >= 4) {
				goto done;
			}
			continue;
		}
		int v = b64val(c);
		if (v < 0) {
			(*skipped)++;
			continue;
		}
		pads = 0;
		switch (quad) {
		case 0:
			left = (unsigned) v;
			quad = 1;
			break;
		case 1:
			buf[o++] = (uint8_t) (left << 2 | (unsigned) v >> 4);
			left = (unsigned) v & 0x0f;
			quad = 2;
			break;
		case 2:
			buf[o++] = (uint8_t) (left << 4 | (unsigned) v >> 2);
			left = (unsigned) v & 0x03;
			quad = 3;
			break;
		default:
			buf[o++] = (uint8_t) (left << 6 | (unsigned) v);
			quad = 0;
			break;
		}
	}
	if (quad != 0) {
		*err = quad == 1 ? "one digit too many for base64" :
		                   "incorrect padding";
		sodium_memzero(buf, o);
		free(buf);
		return (CX_EINVAL);
	}
done:
	*out = buf;
	*olen = o;
	return (CX_OK);
}

cx_err
cxi_fernet_key_parse(const char *b64, size_t len, cxi_fernet_key *key,
    char *why, size_t whylen)
{
	uint8_t *raw;
	size_t rlen, skipped;
	const char *err = NULL;
	if (b64 == NULL || key == NULL) {
		return (fail(why, whylen, CX_EINVAL, "no Fernet key given"));
	}
	cx_err rv = py_b64decode(b64, len, &raw, &rlen, &skipped, &err);
	if (rv == CX_ENOMEM) {
		return (fail(why, whylen, rv, "out of memory"));
	}
	if (rv != CX_OK) {
		return (fail(why, whylen, CX_EINVAL,
		    "Fernet key is not url-safe base64 (%s)", err));
	}
	if (rlen != sizeof(*key)) {
		sodium_memzero(raw, rlen);
		free(raw);
		return (fail(why, whylen, CX_EINVAL,
		    "Fernet key must be 32 url-safe base64-encoded bytes "
		    "(it decodes to %zu)", rlen));
	}
	memcpy(key->sign, raw, sizeof(key->sign));
	memcpy(key->enc, raw + sizeof(key->sign), sizeof(key->enc));
	sodium_memzero(raw, rlen);
	free(raw);
	return (CX_OK);
}

cx_err
cxi_fernet_key_generate(cxi_fernet_key *key)
{
	if (key == NULL) {
		return (CX_EINVAL);
	}
	if (sodium_init() < 0) {
		return (CX_EINTERNAL);
	}
	randombytes_buf(key, sizeof(*key));
	return (CX_OK);
}

void
cxi_fernet_key_encode(const cxi_fernet_key *key, char out[CXI_FERNET_KEY_B64])
{
	uint8_t raw[32];
	memcpy(raw, key->sign, sizeof(key->sign));
	memcpy(raw + sizeof(key->sign), key->enc, sizeof(key->enc));
	sodium_bin2base64(out, CXI_FERNET_KEY_B64, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE);
	sodium_memzero(raw, sizeof(raw));
}

void
cxi_fernet_key_wipe(cxi_fernet_key *key)
{
	if (key != NULL) {
		sodium_memzero(key, sizeof(*key));
	}
}

/* HMAC-SHA256 under the 16-byte signing key (longer than a block would
 * be hashed first; 16 bytes are used as they are, as everywhere). */
static void
mac(const cxi_fernet_key *key, const uint8_t *data, size_t len,
    uint8_t out[MAC_LEN])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key->sign, sizeof(key->sign));
	crypto_auth_hmacsha256_update(&st, data, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* Python's _encrypt_from_parts: any u64 timestamp is allowed here, so
 * that rotation keeps whatever a token carried. */
static cx_err
encrypt_at(const cxi_fernet_key *key, const uint8_t *msg, size_t len,
    uint64_t ts, const uint8_t *iv, char **token)
{
	uint8_t fresh[CXI_FERNET_IV_BYTES];
	cx_err rv = CX_EINTERNAL;
	*token = NULL;
	if (msg == NULL && len > 0) {
		return (CX_EINVAL);
	}
	if (len > (SIZE_MAX - MIN_RAW) / 2 || len > INT32_MAX - BLOCK) {
		return (CX_EINVAL);
	}
	if (sodium_init() < 0) {
		return (CX_EINTERNAL);
	}
	if (iv == NULL) {
		randombytes_buf(fresh, sizeof(fresh));
		iv = fresh;
	}
	/* PKCS#7 always adds 1..16 bytes. */
	size_t ctlen = (len / BLOCK + 1) * BLOCK;
	size_t rawlen = HDR_LEN + ctlen + MAC_LEN;
	uint8_t *raw = malloc(rawlen);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (raw == NULL || ctx == NULL) {
		rv = CX_ENOMEM;
		goto out;
	}
	raw[0] = VERSION;
	for (int i = 0; i < 8; i++) {
		raw[1 + i] = (uint8_t) (ts >> (56 - 8 * i));
	}
	memcpy(raw + 9, iv, CXI_FERNET_IV_BYTES);
	int n1 = 0, n2 = 0;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key->enc, iv) != 1 ||
	    EVP_EncryptUpdate(ctx, raw + HDR_LEN, &n1, msg, (int) len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, raw + HDR_LEN + n1, &n2) != 1 ||
	    (size_t) n1 + (size_t) n2 != ctlen) {
		goto out;
	}
	mac(key, raw, HDR_LEN + ctlen, raw + HDR_LEN + ctlen);
	size_t tlen = sodium_base64_ENCODED_LEN(rawlen,
	    sodium_base64_VARIANT_URLSAFE);
	if ((*token = malloc(tlen)) == NULL) {
		rv = CX_ENOMEM;
		goto out;
	}
	sodium_bin2base64(*token, tlen, raw, rawlen,
	    sodium_base64_VARIANT_URLSAFE);
	rv = CX_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	free(raw);
	sodium_memzero(fresh, sizeof(fresh));
	return (rv);
}

cx_err
cxi_fernet_encrypt(const cxi_fernet_key *key, const uint8_t *msg, size_t len,
    int64_t now, const uint8_t *iv, char **token)
{
	if (key == NULL || token == NULL || now < 0) {
		return (CX_EINVAL);
	}
	return (encrypt_at(key, msg, len, (uint64_t) now, iv, token));
}

/* A decoded token whose version and shape are right; nothing verified. */
typedef struct raw_token {
	uint8_t *b;
	size_t len;
	uint64_t ts;
} raw_token;

static void
raw_free(raw_token *t)
{
	free(t->b);
	t->b = NULL;
}

/* Steps 1 and 2, plus the length: the shape of a token is public, so
 * checking it before the MAC tells an attacker nothing. */
static cx_err
unverified(const char *token, raw_token *t, char *why, size_t whylen)
{
	const char *err = NULL;
	size_t skipped;
	t->b = NULL;
	if (token == NULL) {
		return (fail(why, whylen, CX_EINVAL, "no token given"));
	}
	cx_err rv = py_b64decode(token, strlen(token), &t->b, &t->len,
	    &skipped, &err);
	if (rv == CX_ENOMEM) {
		return (fail(why, whylen, rv, "out of memory"));
	}
	if (rv != CX_OK) {
		return (fail(why, whylen, CXI_FERNET_EFORMAT,
		    "not a Fernet token: bad base64 (%s)", err));
	}
	if (t->len == 0 || t->b[0] != VERSION) {
		/* Python skips stray characters; when there were some, they
		 * are the likelier cause than a real version byte. */
		if (skipped > 0) {
			fail(why, whylen, CXI_FERNET_EFORMAT,
			    "not a Fernet token: bad base64 (%zu characters "
			    "outside the alphabet)", skipped);
		} else if (t->len == 0) {
			fail(why, whylen, CXI_FERNET_EFORMAT,
			    "not a Fernet token: empty");
		} else {
			fail(why, whylen, CXI_FERNET_EFORMAT,
			    "unsupported version 0x%02x", t->b[0]);
		}
		raw_free(t);
		return (CXI_FERNET_EFORMAT);
	}
	/* Whole blocks first: a partial block is the more specific fault. */
	if (t->len >= HDR_LEN + MAC_LEN &&
	    (t->len - HDR_LEN - MAC_LEN) % BLOCK != 0) {
		fail(why, whylen, CXI_FERNET_EFORMAT, "not a Fernet token: "
		    "ciphertext of %zu bytes is not whole AES blocks",
		    t->len - HDR_LEN - MAC_LEN);
		raw_free(t);
		return (CXI_FERNET_EFORMAT);
	}
	if (t->len < MIN_RAW) {
		fail(why, whylen, CXI_FERNET_EFORMAT, "not a Fernet token: too "
		    "short (%zu bytes, at least %d)", t->len, MIN_RAW);
		raw_free(t);
		return (CXI_FERNET_EFORMAT);
	}
	t->ts = 0;
	for (int i = 1; i <= 8; i++) {
		t->ts = t->ts << 8 | t->b[i];
	}
	return (CX_OK);
}

/* Step 3, Python's arithmetic: exact integers, so widen before adding. */
static cx_err
check_time(uint64_t ts, int64_t ttl, int64_t now, char *why, size_t whylen)
{
	if (ttl < 0) {
		return (CX_OK);
	}
	__int128 t = ts, n = now;
	if (t + ttl < n) {
		return (fail(why, whylen, CXI_FERNET_ETIME,
		    "token expired (stamped %llu, ttl %lld s, now %lld)",
		    (unsigned long long) ts, (long long) ttl, (long long) now));
	}
	if (n + CXI_FERNET_MAX_SKEW < t) {
		return (fail(why, whylen, CXI_FERNET_ETIME,
		    "token from the future (stamped %llu, now %lld, more than "
		    "%d s of clock skew)", (unsigned long long) ts,
		    (long long) now, CXI_FERNET_MAX_SKEW));
	}
	return (CX_OK);
}

/* Step 4, constant time. */
static bool
sig_ok(const cxi_fernet_key *key, const raw_token *t)
{
	uint8_t want[MAC_LEN];
	size_t body = t->len - MAC_LEN;
	mac(key, t->b, body, want);
	bool ok = sodium_memcmp(want, t->b + body, MAC_LEN) == 0;
	sodium_memzero(want, sizeof(want));
	return (ok);
}

/* Step 5, only ever after sig_ok. The padding is checked in constant
 * time anyway (ASVS 5 appendix C asks it of CBC): a key holder is the
 * only one who can get here, but timing should not depend on it. */
static cx_err
open_verified(const cxi_fernet_key *key, const raw_token *t, uint8_t **msg,
    size_t *len, char *why, size_t whylen)
{
	size_t ctlen = t->len - HDR_LEN - MAC_LEN;
	uint8_t *pt = malloc(ctlen + 1);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	cx_err rv = CX_EINTERNAL;
	int n1 = 0, n2 = 0;
	if (pt == NULL || ctx == NULL) {
		rv = fail(why, whylen, CX_ENOMEM, "out of memory");
		goto out;
	}
	if (ctlen > INT32_MAX) {
		rv = fail(why, whylen, CX_EINVAL, "token too large to decrypt");
		goto out;
	}
	if (EVP_DecryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key->enc,
	        t->b + 9) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_DecryptUpdate(ctx, pt, &n1, t->b + HDR_LEN, (int) ctlen) != 1 ||
	    EVP_DecryptFinal_ex(ctx, pt + n1, &n2) != 1 ||
	    (size_t) n1 + (size_t) n2 != ctlen) {
		fail(why, whylen, rv, "AES-128-CBC failed in libcrypto");
		goto out;
	}
	unsigned p = pt[ctlen - 1], bad = 0;
	bad |= (p - 1u) >> (sizeof(unsigned) * 8 - 1);           /* p == 0 */
	bad |= ((unsigned) BLOCK - p) >> (sizeof(unsigned) * 8 - 1); /* p > 16 */
	for (unsigned i = 0; i < BLOCK; i++) {
		unsigned in = (i - p) >> (sizeof(unsigned) * 8 - 1); /* i < p */
		bad |= (0u - in) & (pt[ctlen - 1 - i] ^ p);
	}
	if (bad != 0) {
		rv = fail(why, whylen, CXI_FERNET_EFORMAT,
		    "bad padding (signed with this key, but not a valid "
		    "Fernet plaintext)");
		goto out;
	}
	*len = ctlen - p;
	pt[*len] = '\0';
	*msg = pt;
	pt = NULL;
	rv = CX_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (pt != NULL) {
		sodium_memzero(pt, ctlen + 1);
		free(pt);
	}
	return (rv);
}

/* Tries keys in order on a token that passed steps 1-3. A signature
 * that checks but a plaintext that does not unpad moves on to the next
 * key, as MultiFernet does on any InvalidToken. */
static cx_err
open_any(const cxi_fernet_key *keys, size_t n, const raw_token *t,
    uint8_t **msg, size_t *len, size_t *used, char *why, size_t whylen)
{
	cx_err last = CX_OK;
	for (size_t i = 0; i < n; i++) {
		if (!sig_ok(&keys[i], t)) {
			continue;
		}
		last = open_verified(&keys[i], t, msg, len, why, whylen);
		if (last == CX_OK) {
			if (used != NULL) {
				*used = i;
			}
			return (CX_OK);
		}
	}
	if (last != CX_OK) {
		return (last);
	}
	if (n == 1) {
		return (fail(why, whylen, CXI_FERNET_EBADSIG,
		    "signature mismatch (wrong key or tampered)"));
	}
	return (fail(why, whylen, CXI_FERNET_EBADSIG,
	    "signature mismatch under all %zu keys (wrong key or tampered)",
	    n));
}

cx_err
cxi_multifernet_decrypt(const cxi_fernet_key *keys, size_t n,
    const char *token, int64_t ttl, int64_t now, uint8_t **msg, size_t *len,
    size_t *used, char *why, size_t whylen)
{
	raw_token t;
	if (keys == NULL || n == 0 || msg == NULL || len == NULL) {
		return (fail(why, whylen, CX_EINVAL, "no Fernet key given"));
	}
	*msg = NULL;
	*len = 0;
	cx_err rv = unverified(token, &t, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	if ((rv = check_time(t.ts, ttl, now, why, whylen)) == CX_OK) {
		rv = open_any(keys, n, &t, msg, len, used, why, whylen);
	}
	raw_free(&t);
	return (rv);
}

cx_err
cxi_fernet_decrypt(const cxi_fernet_key *key, const char *token, int64_t ttl,
    int64_t now, uint8_t **msg, size_t *len, char *why, size_t whylen)
{
	return (cxi_multifernet_decrypt(key, key != NULL ? 1 : 0, token, ttl,
	    now, msg, len, NULL, why, whylen));
}

cx_err
cxi_fernet_timestamp(const cxi_fernet_key *key, const char *token,
    uint64_t *ts, char *why, size_t whylen)
{
	raw_token t;
	if (key == NULL || ts == NULL) {
		return (fail(why, whylen, CX_EINVAL, "no Fernet key given"));
	}
	cx_err rv = unverified(token, &t, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	if (sig_ok(key, &t)) {
		*ts = t.ts;
	} else {
		rv = fail(why, whylen, CXI_FERNET_EBADSIG,
		    "signature mismatch (wrong key or tampered)");
	}
	raw_free(&t);
	return (rv);
}

cx_err
cxi_multifernet_encrypt(const cxi_fernet_key *keys, size_t n,
    const uint8_t *msg, size_t len, int64_t now, const uint8_t *iv,
    char **token)
{
	if (keys == NULL || n == 0) {
		return (CX_EINVAL);
	}
	return (cxi_fernet_encrypt(&keys[0], msg, len, now, iv, token));
}

cx_err
cxi_multifernet_rotate(const cxi_fernet_key *keys, size_t n,
    const char *token, const uint8_t *iv, char **out, char *why,
    size_t whylen)
{
	raw_token t;
	uint8_t *pt = NULL;
	size_t len = 0;
	if (keys == NULL || n == 0 || out == NULL) {
		return (fail(why, whylen, CX_EINVAL, "no Fernet key given"));
	}
	*out = NULL;
	cx_err rv = unverified(token, &t, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	/* No TTL: rotation must not lose old credentials to their age. */
	if ((rv = open_any(keys, n, &t, &pt, &len, NULL, why, whylen)) ==
	    CX_OK) {
		rv = encrypt_at(&keys[0], pt, len, t.ts, iv, out);
		if (rv != CX_OK) {
			fail(why, whylen, rv, "re-encryption failed: %s",
			    cx_strerror(rv));
		}
		sodium_memzero(pt, len + 1);
		free(pt);
	}
	raw_free(&t);
	return (rv);
}
