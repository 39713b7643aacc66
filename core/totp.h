/*
 * totp.h - building blocks for the TOTP second factor (RFC 6238) and its
 * recovery codes (security.md A-8, ASVS5 6.3.3).
 *
 * No I/O and no storage here: the caller (the account layer) keeps the
 * secret, the last accepted time step and the recovery set in its own
 * rows, and passes the clock in, so every rule below is testable with
 * fixed times.
 *
 * Parameters are the ones every authenticator app understands without
 * asking: HMAC-SHA1, 6 digits, 30 s period, 160-bit secret (RFC 4226
 * recommends 160 bits; RFC 6238's reference key for SHA1 is 20 bytes).
 */
#ifndef CXI_TOTP_H
#define CXI_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <callixo/error.h>

#define CXI_TOTP_ISSUER "Callixo"
#define CXI_TOTP_SECRET_LEN 20 /* bytes */
#define CXI_TOTP_B32_LEN 32    /* base32 of 20 bytes, no padding needed */
#define CXI_TOTP_DIGITS 6
#define CXI_TOTP_PERIOD 30     /* seconds per time step */
#define CXI_TOTP_WINDOW 1      /* steps accepted either side of now */
#define CXI_TOTP_MAX_DIGITS 8  /* longest code cxi_totp_code produces */
/* "No code accepted yet": below every real step (steps are >= 0). */
#define CXI_TOTP_NO_STEP INT64_C(-1)

/* Fills `key` with CXI_TOTP_SECRET_LEN bytes from libsodium's CSPRNG. */
cx_err cxi_totp_secret_new(uint8_t key[CXI_TOTP_SECRET_LEN]);

/* RFC 4648 base32, upper case, without '=' padding (the form apps and
 * the otpauth URI expect). `out` gets the NUL-terminated text; it needs
 * room for (len * 8 + 4) / 5 + 1 bytes, else CX_EINVAL. */
cx_err cxi_totp_b32_encode(const uint8_t *key, size_t len, char *out,
    size_t outsz);

/* Base32 typed or pasted by a user: case-insensitive, spaces ignored,
 * padding optional. Writes at most `outsz` bytes to `out` and their
 * count to `*outlen`. CX_EINVAL for anything else (bad characters, an
 * impossible length, a result longer than `outsz`, or empty). */
cx_err cxi_totp_b32_decode(const char *in, size_t inlen, uint8_t *out,
    size_t outsz, size_t *outlen);

/* The provisioning URI shown as a QR code:
 *   otpauth://totp/<issuer>:<account>?secret=<B32>&issuer=<issuer>
 *     &algorithm=SHA1&digits=6&period=30
 * Issuer and account are percent-encoded (RFC 3986): every byte outside
 * ALPHA / DIGIT / "-._~" becomes %XX, except '@' in the account, which a
 * path segment allows and which apps show as typed. `issuer` NULL means
 * CXI_TOTP_ISSUER. *out is malloc'd; free() it. CX_EINVAL for an empty
 * account or issuer, or a key that is not CXI_TOTP_SECRET_LEN bytes. */
cx_err cxi_totp_uri(const char *issuer, const char *account,
    const uint8_t *key, size_t keylen, char **out);

/* The code for Unix time `now` (seconds, >= 0) with CXI_TOTP_PERIOD, as
 * `digits` (6..8) ASCII digits plus NUL in `out` (>= digits + 1 bytes).
 * Used by the tests (RFC 6238 vectors) and by enrolment checks. */
cx_err cxi_totp_code(const uint8_t *key, size_t keylen, int64_t now,
    unsigned digits, char *out);

/* A code as typed: exactly CXI_TOTP_DIGITS ASCII digits once spaces are
 * removed (apps display "123 456"). Writes them plus NUL to `out`.
 * CX_EINVAL otherwise. Faces untrusted input; fuzzed. */
cx_err cxi_totp_parse_code(const char *in, size_t inlen,
    char out[CXI_TOTP_DIGITS + 1]);

/*
 * Verifies a user-supplied code at Unix time `now`, accepting the steps
 * now-1, now, now+1 (clock drift and typing time, RFC 6238 5.2).
 *
 * Replay contract (RFC 6238 5.2: a verifier MUST NOT accept the same
 * OTP twice): `last_step` is the step of the last code accepted for
 * this secret, or CXI_TOTP_NO_STEP. Only steps strictly greater than it
 * can match, so a code is good once and an older code still inside the
 * window is refused too. On CX_OK, `*matched_step` is the step that
 * matched; the caller MUST store it as the new last step before telling
 * the user they are in, and should do so with a compare-and-set
 * (UPDATE ... SET totp_step = :new WHERE id = :id AND totp_step < :new)
 * so two concurrent logins with the same code cannot both succeed: the
 * one whose update changes no row has lost and must be refused.
 *
 * Returns CX_OK, CX_EDENIED (wrong code, or replayed), CX_EINVAL (not a
 * code at all, bad key or time) or CX_EINTERNAL (liboath failed).
 */
cx_err cxi_totp_verify(const uint8_t *key, size_t keylen, const char *code,
    int64_t now, int64_t last_step, int64_t *matched_step);

/*
 * Recovery codes: CXI_RECOVERY_COUNT single-use codes of 10 characters
 * from a 32-letter alphabet (50 bits each), shown once as "xxxxx-xxxxx".
 * Only keyed hashes are kept, see totp.c for why a fast hash is enough.
 */
#define CXI_RECOVERY_COUNT 10
#define CXI_RECOVERY_CHARS 10
#define CXI_RECOVERY_TEXT_LEN 11 /* "xxxxx-xxxxx", without the NUL */
#define CXI_RECOVERY_KEY_LEN 32
#define CXI_RECOVERY_HASH_LEN 32

/* What is stored: the set's random hash key, one hash per code and a bit
 * per consumed code. Plain data, so the caller may copy it. */
typedef struct cxi_recovery_set {
	uint8_t key[CXI_RECOVERY_KEY_LEN];
	uint8_t hash[CXI_RECOVERY_COUNT][CXI_RECOVERY_HASH_LEN];
	uint16_t used; /* bit i set: code i has been consumed */
} cxi_recovery_set;

/* What is shown to the user, once. */
typedef struct cxi_recovery_codes {
	char code[CXI_RECOVERY_COUNT][CXI_RECOVERY_TEXT_LEN + 1];
} cxi_recovery_codes;

/* A fresh set (new key, all codes unused) and its codes in clear. The
 * caller shows `codes`, then wipes them (sodium_memzero). */
cx_err cxi_recovery_generate(cxi_recovery_set *set, cxi_recovery_codes *codes);

/* A recovery code as typed, normalised to its 10 canonical characters
 * plus NUL: case-insensitive, '-' and spaces ignored, and the letters a
 * reader confuses (i, l -> 1; o -> 0) mapped as Crockford's base32 does.
 * CX_EINVAL for anything else. Faces untrusted input; fuzzed. */
cx_err cxi_recovery_parse(const char *in, size_t inlen,
    char out[CXI_RECOVERY_CHARS + 1]);

/* Consumes the code `input` if it matches an unused code of the set:
 * marks it used (and wipes its hash), puts its index in `*index` and
 * returns CX_OK; the caller stores the changed set, with the same
 * compare-and-set care as the TOTP step. CX_EDENIED when it matches no
 * unused code (wrong, or already used), CX_EINVAL when it is not a code. */
cx_err cxi_recovery_use(cxi_recovery_set *set, const char *input,
    int *index);

/* How many codes are left, to warn the user when they run low. */
int cxi_recovery_remaining(const cxi_recovery_set *set);

/* The set as one base64url string for a text column, and back. The
 * decoder checks length and version, so damaged rows give CX_EINVAL. */
#define CXI_RECOVERY_ENC_LEN 480 /* enough for the text plus NUL */
cx_err cxi_recovery_encode(const cxi_recovery_set *set, char *out,
    size_t outsz);
cx_err cxi_recovery_decode(const char *in, size_t inlen,
    cxi_recovery_set *set);

#endif
