/*
 * password.h - password hashing and the password policy
 * (docs: shared reference security.md, A-1..A-3 and H-1..H-8).
 *
 * Hashing: new hashes are argon2id through libsodium crypto_pwhash_str
 * (PHC string "$argon2id$v=19$m=65536,t=2,p=1$<salt>$<hash>"), with
 * opslimit/memlimit from the caller (config); values under the ASVS 5.0
 * Appendix C minima are refused. Verification also accepts legacy bcrypt
 * ($2a$, $2b$, $2y$; $2x$ only when allowed) through libxcrypt crypt_rn,
 * and says when the stored hash should be replaced (bcrypt always, an
 * argon2id hash whose parameters differ from the configured ones). No
 * bcrypt hash is ever created.
 *
 * Passwords are byte strings with an explicit length, used exactly as
 * received (no truncation, no case change); a NUL byte or invalid UTF-8
 * is refused everywhere, because crypt_rn takes C strings and because
 * the policy counts code points.
 *
 * Hashing is slow on purpose (about 100 ms with the defaults): run it on
 * a cxi_hashpool (hashpool.h), never on an HTTP thread.
 *
 * Errors: CX_EINVAL for a malformed password, hash or parameter,
 * CX_EDENIED for a wrong password or a policy refusal, CX_ENOMEM. Every
 * call that can fail with a reason worth showing takes why/whylen (may
 * be NULL).
 */
#ifndef CXI_PASSWORD_H
#define CXI_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <callixo/error.h>

/* H-1 defaults: libsodium's INTERACTIVE preset. */
#define CXI_PASSWORD_OPS_DEFAULT 2ULL
#define CXI_PASSWORD_MEM_DEFAULT ((size_t) 64 << 20)
/* Room for any hash cxi_password_hash writes (crypto_pwhash_STRBYTES). */
#define CXI_PASSWORD_HASH_MAX 128
/* length limits, in Unicode code points. */
#define CXI_PASSWORD_MIN_CHARS 12
#define CXI_PASSWORD_MAX_CHARS 128
/* Longest password (bytes) hash/verify take at all: 128 code points of
 * at most 4 bytes each, with room to spare. Bounds work per request. */
#define CXI_PASSWORD_MAX_BYTES 1024

typedef struct cxi_pwparams {
	unsigned long long opslimit;   /* argon2id t */
	size_t memlimit;               /* argon2id m, bytes */
	bool allow_2x;                 /* verify crypt_blowfish $2x$ hashes */
} cxi_pwparams;

/* Defaults (H-1), $2x$ not allowed. */
void cxi_pwparams_default(cxi_pwparams *p);
/* CX_OK when the parameters meet ASVS 5.0 Appendix C (t=1: m >= 46 MiB;
 * t=2: m >= 19 MiB; t>=3: m >= 12 MiB) and libsodium's maxima;
 * otherwise CX_ECONFIG with a message naming the minimum. */
cx_err cxi_pwparams_check(const cxi_pwparams *p, char *why, size_t whylen);

/* Kind of a stored hash string, decided by a strict syntax check only. */
typedef enum cxi_pwkind {
	CXI_PWKIND_INVALID = 0,
	CXI_PWKIND_ARGON2ID,  /* $argon2id$v=19$m=..,t=..,p=1$salt$hash */
	CXI_PWKIND_BCRYPT,    /* $2a$ / $2b$ / $2y$ */
	CXI_PWKIND_BCRYPT_2X, /* $2x$ (crypt_blowfish's sign-extension bug) */
} cxi_pwkind;
/* `hash` is hashlen bytes (no NUL inside). For argon2id, t and m (KiB)
 * are returned through the optional pointers. */
cxi_pwkind cxi_password_kind(const char *hash, size_t hashlen,
    unsigned long *t, unsigned long *m_kib);

/* Checks a password's encoding only: no NUL, valid UTF-8 (no overlong
 * forms, surrogates or values past U+10FFFF), at most
 * CXI_PASSWORD_MAX_BYTES. Gives the number of code points. */
cx_err cxi_password_utf8(const char *pw, size_t len, size_t *chars,
    char *why, size_t whylen);

/* New argon2id hash of the full password into out (NUL-terminated).
 * Parameters are checked as by cxi_pwparams_check. */
cx_err cxi_password_hash(const cxi_pwparams *p, const char *pw, size_t len,
    char out[CXI_PASSWORD_HASH_MAX], char *why, size_t whylen);

/* Verifies pw against a stored hash (NUL-terminated). CX_OK on a match,
 * with *needs_upgrade set when the caller should store a new
 * cxi_password_hash of the same password (H-3, H-6); CX_EDENIED on a
 * mismatch; CX_EINVAL for a malformed hash or password, or a $2x$ hash
 * when p->allow_2x is false. For bcrypt only the first 72 bytes count
 * (libxcrypt truncates), which is why it is always upgraded. */
cx_err cxi_password_verify(const cxi_pwparams *p, const char *hash,
    const char *pw, size_t len, bool *needs_upgrade);

/* The common-password list: one password per line, '#' starts a
 * comment line, blank lines ignored. Stored lowercased (ASCII) and
 * sorted, so a lookup is a binary search. */
typedef struct cxi_common_list cxi_common_list;
cx_err cxi_common_list_load(const char *path, cxi_common_list **out,
    char *why, size_t whylen);
/* Same, from a buffer (tests, embedded lists). */
cx_err cxi_common_list_parse(const char *text, size_t len,
    cxi_common_list **out, char *why, size_t whylen);
void cxi_common_list_free(cxi_common_list *l);
size_t cxi_common_list_count(const cxi_common_list *l);
/* True when pw (len bytes) is on the list, ignoring ASCII case. */
bool cxi_common_list_contains(const cxi_common_list *l, const char *pw,
    size_t len);

/* The policy for a new password (A-1..A-3): valid UTF-8 without NUL
 * (CX_EINVAL), 12..128 code points, not on `common` (may be NULL), and
 * containing none of the NULL-terminated `context_words` (may be NULL;
 * product, company, email local part), ignoring ASCII case; words under
 * 3 code points are skipped, as they would refuse nearly everything.
 * No composition rules. Refusals give CX_EDENIED and a message meant
 * for the user. */
cx_err cxi_password_check(const char *pw, size_t len,
    const char *const *context_words, const cxi_common_list *common,
    char *why, size_t whylen);

#endif
