/*
 * password.c - argon2id hashing and argon2id/bcrypt verification.
 *
 * Stored hash strings come from the database or from a legacy import, so
 * they are checked against a strict grammar before any library sees them:
 * the kind decides the verifier, and absurd costs are refused before they
 * can tie up a hashing worker.
 */
#include <crypt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "password.h"

/* Upper bounds for both configured parameters and stored argon2id
 * hashes. Far above any sane setting; they keep a tampered or imported
 * hash (m=4 TiB, t=2^32-1) from stalling or exhausting a worker. */
#define PW_MEM_MAX_KIB ((unsigned long) 4 << 20)   /* 4 GiB */
#define PW_OPS_MAX 64UL

/* bcrypt: "$2?$NN$" then 22 salt and 31 hash characters. */
#define BCRYPT_LEN 60
#define BCRYPT_PREFIX_LEN 7
#define BCRYPT_HASH_LEN 31

#define MIB ((size_t) 1 << 20)

static void __attribute__((format(printf, 3, 4)))
say(char *why, size_t whylen, const char *fmt, ...)
{
	if (why != NULL && whylen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
}

void
cxi_pwparams_default(cxi_pwparams *p)
{
	p->opslimit = CXI_PASSWORD_OPS_DEFAULT;
	p->memlimit = CXI_PASSWORD_MEM_DEFAULT;
	p->allow_2x = false;
}

cx_err
cxi_pwparams_check(const cxi_pwparams *p, char *why, size_t whylen)
{
	/* ASVS 5.0 Appendix C: fewer passes must be paid for with memory. */
	size_t min;
	if (p->opslimit < 1) {
		say(why, whylen, "argon2id t=%llu is below the minimum of 1",
		    p->opslimit);
		return (CX_ECONFIG);
	} else if (p->opslimit == 1) {
		min = 46 * MIB;
	} else if (p->opslimit == 2) {
		min = 19 * MIB;
	} else {
		min = 12 * MIB;
	}
	if (p->memlimit < min) {
		say(why, whylen, "argon2id t=%llu needs m >= %llu MiB (ASVS 5.0 "
		    "Appendix C)", p->opslimit,
		    (unsigned long long) (min / MIB));
		return (CX_ECONFIG);
	}
	if (p->opslimit > PW_OPS_MAX ||
	    p->memlimit / 1024 > PW_MEM_MAX_KIB) {
		say(why, whylen, "argon2id t=%llu or m=%llu MiB is above the "
		    "supported maximum (t <= 64, m <= 4096 MiB)",
		    p->opslimit, (unsigned long long) (p->memlimit / MIB));
		return (CX_ECONFIG);
	}
	return (CX_OK);
}

/* Reads a decimal number of 1..10 digits without a leading zero. */
static bool
parse_dec(const char **s, const char *end, unsigned long *out)
{
	const char *p = *s;
	unsigned long v = 0;
	size_t n = 0;
	while (p < end && *p >= '0' && *p <= '9' && n < 11) {
		v = v * 10 + (unsigned long) (*p - '0');
		p++;
		n++;
	}
	if (n == 0 || n > 10 || (n > 1 && **s == '0')) {
		return (false);
	}
	*s = p;
	*out = v;
	return (true);
}

static bool
lit(const char **s, const char *end, const char *want)
{
	size_t n = strlen(want);
	if ((size_t) (end - *s) < n || memcmp(*s, want, n) != 0) {
		return (false);
	}
	*s += n;
	return (true);
}

/* Standard base64 without padding (libsodium's PHC encoding): a run of
 * lo..hi characters whose length is a possible encoded length. */
static bool
b64_run(const char **s, const char *end, size_t lo, size_t hi)
{
	const char *p = *s;
	while (p < end && *p != '$') {
		char c = *p;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/')) {
			return (false);
		}
		p++;
	}
	size_t n = (size_t) (p - *s);
	if (n < lo || n > hi || n % 4 == 1) {
		return (false);
	}
	*s = p;
	return (true);
}

static cxi_pwkind
kind_argon2id(const char *s, const char *end, unsigned long *t,
    unsigned long *m_kib)
{
	unsigned long v, m, tt, par;
	/* libsodium writes v=19 and p=1 only; salt >= 8 bytes (11 chars),
	 * tag >= 16 bytes (22 chars). */
	if (!lit(&s, end, "$argon2id$v=") || !parse_dec(&s, end, &v) ||
	    v != 19 || !lit(&s, end, "$m=") || !parse_dec(&s, end, &m) ||
	    !lit(&s, end, ",t=") || !parse_dec(&s, end, &tt) ||
	    !lit(&s, end, ",p=") || !parse_dec(&s, end, &par) || par != 1 ||
	    !lit(&s, end, "$") || !b64_run(&s, end, 11, 64) ||
	    !lit(&s, end, "$") || !b64_run(&s, end, 22, 86) || s != end) {
		return (CXI_PWKIND_INVALID);
	}
	if (tt < 1 || tt > PW_OPS_MAX || m < 8 || m > PW_MEM_MAX_KIB) {
		return (CXI_PWKIND_INVALID);
	}
	if (t != NULL) {
		*t = tt;
	}
	if (m_kib != NULL) {
		*m_kib = m;
	}
	return (CXI_PWKIND_ARGON2ID);
}

static bool
bcrypt_char(char c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '/');
}

static cxi_pwkind
kind_bcrypt(const char *s, size_t len)
{
	if (len != BCRYPT_LEN || s[0] != '$' || s[1] != '2' || s[3] != '$' ||
	    s[6] != '$' || s[4] < '0' || s[4] > '9' || s[5] < '0' ||
	    s[5] > '9') {
		return (CXI_PWKIND_INVALID);
	}
	int cost = (s[4] - '0') * 10 + (s[5] - '0');
	if (cost < 4 || cost > 31) {
		return (CXI_PWKIND_INVALID);
	}
	for (size_t i = BCRYPT_PREFIX_LEN; i < BCRYPT_LEN; i++) {
		if (!bcrypt_char(s[i])) {
			return (CXI_PWKIND_INVALID);
		}
	}
	switch (s[2]) {
	case 'a':
	case 'b':
	case 'y':
		return (CXI_PWKIND_BCRYPT);
	case 'x':
		return (CXI_PWKIND_BCRYPT_2X);
	default:
		return (CXI_PWKIND_INVALID);
	}
}

cxi_pwkind
cxi_password_kind(const char *hash, size_t hashlen, unsigned long *t,
    unsigned long *m_kib)
{
	if (hash == NULL || hashlen >= CXI_PASSWORD_HASH_MAX ||
	    memchr(hash, '\0', hashlen) != NULL) {
		return (CXI_PWKIND_INVALID);
	}
	if (hashlen > 2 && hash[1] == '2') {
		return (kind_bcrypt(hash, hashlen));
	}
	return (kind_argon2id(hash, hash + hashlen, t, m_kib));
}

cx_err
cxi_password_utf8(const char *pw, size_t len, size_t *chars, char *why,
    size_t whylen)
{
	const unsigned char *s = (const unsigned char *) pw;
	size_t n = 0;
	if (len > CXI_PASSWORD_MAX_BYTES) {
		say(why, whylen, "password is longer than %d bytes",
		    CXI_PASSWORD_MAX_BYTES);
		return (CX_EINVAL);
	}
	for (size_t i = 0; i < len; n++) {
		unsigned c = s[i];
		size_t k;
		uint32_t cp, min;
		if (c == 0) {
			say(why, whylen, "password contains a NUL character");
			return (CX_EINVAL);
		} else if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			goto bad;
		}
		if (len - i <= k) {
			goto bad;
		}
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80) {
				goto bad;
			}
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates, past U+10FFFF. */
		if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) ||
		    cp > 0x10ffff) {
			goto bad;
		}
		i += k + 1;
	}
	if (chars != NULL) {
		*chars = n;
	}
	return (CX_OK);
bad:
	say(why, whylen, "password is not valid UTF-8");
	return (CX_EINVAL);
}

static cx_err
sodium_ready(void)
{
	/* Idempotent and thread safe; every entry point may be first. */
	return (sodium_init() < 0 ? CX_EINTERNAL : CX_OK);
}

cx_err
cxi_password_hash(const cxi_pwparams *p, const char *pw, size_t len,
    char out[CXI_PASSWORD_HASH_MAX], char *why, size_t whylen)
{
	cx_err rv;
	out[0] = '\0';
	if ((rv = cxi_pwparams_check(p, why, whylen)) != CX_OK ||
	    (rv = cxi_password_utf8(pw, len, NULL, why, whylen)) != CX_OK) {
		return (rv);
	}
	if ((rv = sodium_ready()) != CX_OK) {
		say(why, whylen, "libsodium failed to initialise");
		return (rv);
	}
	/* Fails only when the m bytes cannot be allocated. */
	if (crypto_pwhash_str(out, pw, len, p->opslimit, p->memlimit) != 0) {
		say(why, whylen, "argon2id could not allocate %zu MiB",
		    p->memlimit / MIB);
		out[0] = '\0';
		return (CX_ENOMEM);
	}
	return (CX_OK);
}

static cx_err
verify_bcrypt(const char *hash, const char *pw, size_t len)
{
	/* crypt_rn takes C strings; the caller has ruled out NUL. */
	char *key = sodium_malloc(len + 1);
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	cx_err rv = CX_ENOMEM;
	if (key == NULL || cd == NULL) {
		goto out;
	}
	memcpy(key, pw, len);
	key[len] = '\0';
	const char *res = crypt_rn(key, hash, cd, (int) sizeof(*cd));
	/* Only the 31 hash characters are compared: crypt_blowfish rewrites
	 * the salt's unused low bits, so a stored salt that is not in
	 * canonical form would otherwise never match. The prefix is ours. */
	if (res == NULL || strlen(res) != BCRYPT_LEN ||
	    memcmp(res, hash, BCRYPT_PREFIX_LEN) != 0) {
		rv = CX_EINVAL;
	} else if (sodium_memcmp(res + BCRYPT_LEN - BCRYPT_HASH_LEN,
	    hash + BCRYPT_LEN - BCRYPT_HASH_LEN, BCRYPT_HASH_LEN) == 0) {
		rv = CX_OK;
	} else {
		rv = CX_EDENIED;
	}
out:
	if (cd != NULL) {
		/* It held the key schedule derived from the password. */
		sodium_memzero(cd, sizeof(*cd));
		free(cd);
	}
	sodium_free(key);
	return (rv);
}

cx_err
cxi_password_verify(const cxi_pwparams *p, const char *hash, const char *pw,
    size_t len, bool *needs_upgrade)
{
	cx_err rv;
	*needs_upgrade = false;
	if (hash == NULL ||
	    (rv = cxi_password_utf8(pw, len, NULL, NULL, 0)) != CX_OK) {
		return (CX_EINVAL);
	}
	if ((rv = sodium_ready()) != CX_OK) {
		return (rv);
	}
	size_t hl = strnlen(hash, CXI_PASSWORD_HASH_MAX);
	switch (cxi_password_kind(hash, hl, NULL, NULL)) {
	case CXI_PWKIND_ARGON2ID:
		if (crypto_pwhash_str_verify(hash, pw, len) != 0) {
			return (CX_EDENIED);
		}
		/* H-3: parameters changed since the hash was made. An
		 * error here (-1) also asks for a fresh hash. */
		*needs_upgrade = crypto_pwhash_str_needs_rehash(hash,
		    p->opslimit, p->memlimit) != 0;
		return (CX_OK);
	case CXI_PWKIND_BCRYPT_2X:
		if (!p->allow_2x) {
			return (CX_EINVAL);
		}
		/* FALLTHROUGH */
	case CXI_PWKIND_BCRYPT:
		rv = verify_bcrypt(hash, pw, len);
		/* H-6: bcrypt is never kept once the password is known. */
		*needs_upgrade = rv == CX_OK;
		return (rv);
	case CXI_PWKIND_INVALID:
		break;
	}
	return (CX_EINVAL);
}
