/*
 * account_mfa.h - the TOTP columns of an account (migration 0003) and the
 * checks that use them, shared by the /v1 handlers and the admin commands
 * (security.md ).
 *
 * These columns are not in cxi_ent_account on purpose: the generic layer
 * returns every listed column, and a TOTP secret must never reach a JSON
 * answer by accident. They are read and written only here, with
 * statements that compare-and-set, so two requests racing with the same
 * code (or the same recovery code) cannot both win.
 *
 * totp_secret_enc holds the base32 secret as text for now; it becomes a
 * vault-wrapped secret once the vault exists (the column name says so).
 */
#ifndef CXI_ACCOUNT_MFA_H
#define CXI_ACCOUNT_MFA_H

#include <stdbool.h>
#include <stdint.h>
#include <callixo/error.h>

#include "store.h"
#include "totp.h"

typedef struct cxi_mfa {
	char secret[CXI_TOTP_B32_LEN + 1]; /* base32, "" when none */
	bool enabled;
	int64_t step;                       /* last accepted, or -1 */
	char recovery[CXI_RECOVERY_ENC_LEN]; /* encoded set, "" when none */
} cxi_mfa;

/* The MFA state of account `id`: CX_ENOENT when there is no account. */
cx_err cxi_mfa_get(const cxi_db *db, const char *id, cxi_mfa *m);

/* A new pending secret (not enabled): refused (CX_EEXIST) while TOTP is
 * enabled, so a stolen session cannot silently replace the factor. */
cx_err cxi_mfa_set_pending(const cxi_db *db, const char *id,
    const char *secret_b32);

/* Verifies a TOTP code against m->secret and stores its step with a
 * compare-and-set: CX_OK (stored), CX_EDENIED (wrong,
 * replayed, or lost the race), CX_EINVAL (not a code). */
cx_err cxi_mfa_use_code(const cxi_db *db, const char *id, const cxi_mfa *m,
    const char *code);

/* Consumes a recovery code of m->recovery with a compare-and-set on the
 * stored set: CX_OK, CX_EDENIED (wrong, used, or lost the race) or
 * CX_EINVAL. *left gets the codes remaining. */
cx_err cxi_mfa_use_recovery(const cxi_db *db, const char *id,
    const cxi_mfa *m, const char *code, int *left);

/* Confirms the pending secret with `code`: enables TOTP, stores the step
 * and a fresh recovery set, and returns its codes (wipe them after use).
 * CX_ENOENT without a pending secret, CX_EEXIST when already enabled,
 * CX_EDENIED for a wrong code. */
cx_err cxi_mfa_enable(const cxi_db *db, const char *id, const char *code,
    cxi_recovery_codes *codes);

/* Turns TOTP off and forgets the secret and the recovery set. */
cx_err cxi_mfa_clear(const cxi_db *db, const char *id);

/* A fresh random secret as base32 and its otpauth URI for `account`
 * (the email); *uri is malloc'd. */
cx_err cxi_mfa_new_secret(const char *account, char b32[CXI_TOTP_B32_LEN + 1],
    char **uri);

#endif
