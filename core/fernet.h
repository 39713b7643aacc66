/*
 * fernet.h - Fernet tokens for the credential vault, byte-compatible with
 * Python `cryptography` (38.x, cryptography/fernet.py) and the Fernet spec.
 *
 * Key: base64url of 32 bytes = signing key (0-15) | encryption key (16-31).
 * Token: base64url(0x80 | timestamp u64 BE | IV[16] | AES-128-CBC(PKCS#7)
 *        ciphertext | HMAC-SHA256(signing key, all of the above)[32]),
 * always written with '=' padding.
 *
 * Base64 input (keys and tokens) is read exactly as Python's
 * base64.urlsafe_b64decode reads bytes: both alphabets ('-' '_' and
 * '+' '/'), characters outside them skipped, padding required when the
 * data does not fill the last quantum, anything after complete padding
 * ignored. So a key with a trailing newline is accepted and a token
 * without its '=' is rejected, as in Python.
 *
 * Decryption checks, in this order (spec and Python):
 *   1. base64 decodes, 2. version byte 0x80, 3. only when a TTL is given:
 *   ts + ttl >= now and ts <= now + 60 (clock skew), 4. HMAC in constant
 *   time, 5. only then AES-128-CBC and a constant-time PKCS#7 check.
 * CBC is "legacy" in ASVS 5 (appendix C); it is used here only for
 * compatibility with Python Fernet tokens, always as encrypt-then-MAC.
 *
 * Errors (cx_err); every fallible call takes why/whylen (may be NULL) for
 * a message that names the problem and never contains key material:
 *   CXI_FERNET_EFORMAT   not a Fernet token (bad base64, version, length)
 *                        or a signed token whose plaintext is not padded
 *   CXI_FERNET_ETIME     expired, or stamped too far in the future
 *   CXI_FERNET_EBADSIG   signature mismatch (wrong key or tampered)
 *   CX_EINVAL            bad key or argument
 *   CX_ENOMEM, CX_EINTERNAL (libcrypto or libsodium failed)
 *
 * Nothing here logs: callers decide what a failure is worth, and key
 * material must never reach a log. All calls are thread safe.
 */
#ifndef CXI_FERNET_H
#define CXI_FERNET_H

#include <stddef.h>
#include <stdint.h>
#include <callixo/error.h>

#define CXI_FERNET_EFORMAT CX_EPROTO
#define CXI_FERNET_ETIME CX_ETIMEDOUT
#define CXI_FERNET_EBADSIG CX_EDENIED

#define CXI_FERNET_IV_BYTES 16
/* Python's _MAX_CLOCK_SKEW: how far in the future a token may be
 * stamped, checked only when a TTL is given. */
#define CXI_FERNET_MAX_SKEW 60
/* Encoded key: 44 characters with padding, plus the NUL. */
#define CXI_FERNET_KEY_B64 45

typedef struct cxi_fernet_key {
	uint8_t sign[16];
	uint8_t enc[16];
} cxi_fernet_key;

/* Parses a key as Python's Fernet(key) does: it must decode to exactly
 * 32 bytes. `len` is the length of `b64` (not NUL-terminated). */
cx_err cxi_fernet_key_parse(const char *b64, size_t len, cxi_fernet_key *key,
    char *why, size_t whylen);
/* A fresh random key (Fernet.generate_key). */
cx_err cxi_fernet_key_generate(cxi_fernet_key *key);
/* The key as Python writes it (urlsafe base64 with padding). */
void cxi_fernet_key_encode(const cxi_fernet_key *key,
    char out[CXI_FERNET_KEY_B64]);
void cxi_fernet_key_wipe(cxi_fernet_key *key);

/* Encrypts msg[len] stamped with `now` (seconds since the epoch, >= 0).
 * `iv` NULL takes 16 fresh bytes from the CSPRNG; a fixed IV is for
 * reproducing test vectors only. *token is NUL-terminated; free() it. */
cx_err cxi_fernet_encrypt(const cxi_fernet_key *key, const uint8_t *msg,
    size_t len, int64_t now, const uint8_t *iv, char **token);

/* Decrypts a NUL-terminated token. ttl < 0: no time check at all, as
 * Python's decrypt(token) without a ttl. On success *msg (free() it; it
 * is NUL-terminated for convenience, the NUL not counted in *len). */
cx_err cxi_fernet_decrypt(const cxi_fernet_key *key, const char *token,
    int64_t ttl, int64_t now, uint8_t **msg, size_t *len, char *why,
    size_t whylen);

/* The token's timestamp, after its signature is checked (Python's
 * extract_timestamp). */
cx_err cxi_fernet_timestamp(const cxi_fernet_key *key, const char *token,
    uint64_t *ts, char *why, size_t whylen);

/* MultiFernet over keys[0..n-1] (n >= 1), newest first: encrypt with
 * keys[0]; decrypt trying each key in order (*used, may be NULL, gets
 * the index of the key that opened it). */
cx_err cxi_multifernet_encrypt(const cxi_fernet_key *keys, size_t n,
    const uint8_t *msg, size_t len, int64_t now, const uint8_t *iv,
    char **token);
cx_err cxi_multifernet_decrypt(const cxi_fernet_key *keys, size_t n,
    const char *token, int64_t ttl, int64_t now, uint8_t **msg, size_t *len,
    size_t *used, char *why, size_t whylen);
/* Re-encrypts a token under keys[0], keeping its original timestamp
 * and ignoring its age (Python's MultiFernet.rotate). `iv` as above. */
cx_err cxi_multifernet_rotate(const cxi_fernet_key *keys, size_t n,
    const char *token, const uint8_t *iv, char **out, char *why,
    size_t whylen);

#endif
