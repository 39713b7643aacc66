/*
 * blobcrypt_int.h - what blobcrypt.c (streams) and blobkeys.c (account
 * keys, context, shredding) share. Not for use outside them.
 */
#ifndef CXI_BLOBCRYPT_INT_H
#define CXI_BLOBCRYPT_INT_H

#include <stdbool.h>
#include <sodium.h>

#include "blobcrypt.h"
#include "log.h"

#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HBYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define TAG_MSG crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL

#define WRAP_VERSION 1
#define WRAP_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define WRAP_LEN (1 + WRAP_NONCE + 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define OBJ_VERSION 1
#define DKID_LEN 16
#define HDR_FIXED 6 /* magic, version, kid_len */
#define HDR_MAX (HDR_FIXED + CXI_BLOB_KID_MAX + DKID_LEN + SS_HBYTES)
#define ACCOUNT_MAX 128
#define KEY_MAX 1024
#define CT_MAX (CXI_BLOB_CHUNK + SS_ABYTES)

typedef crypto_secretstream_xchacha20poly1305_state ss_state;

struct cxi_blobcrypt {
	uint8_t master[CXI_BLOB_MASTER_BYTES];
	char master_id[CXI_BLOB_KID_MAX + 1];
	cxi_keystore ks;
	const cx_blob_ops *ops;
	void *state;
};

/* Formats the message, logs it at lvl and copies it to why (may be
 * NULL); returns code. */
cx_err cxi_bc_fail(char *why, size_t whylen, cx_log_level lvl, cx_err code,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Takes the account from "<account>/<rest>" into acct (ACCOUNT_MAX + 1). */
cx_err cxi_bc_key_account(const char *key, char *acct, char *why,
    size_t whylen);
/* A data key's id: names the key without revealing anything about it. */
void cxi_bc_data_key_id(const uint8_t dk[32], uint8_t id[DKID_LEN]);
/* Loads (or, with create, makes) the data key of account into dk;
 * CX_ENOENT (silently) when it has none and create is false. */
cx_err cxi_bc_account_key(cxi_blobcrypt *bc, const char *account,
    bool create, uint8_t dk[32], char *why, size_t whylen);

#endif
