/*
 * blobkeys.c - the blobcrypt context, per-account data keys wrapped by
 * the master key, and crypto-shredding (see blobcrypt.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobcrypt_int.h"

/* Every failure is both seen by the operator and returned to the caller. */
cx_err
cxi_bc_fail(char *why, size_t whylen, cx_log_level lvl, cx_err code,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cxi_logf(lvl, "blobcrypt", "%s", msg);
	if (why != NULL && whylen > 0) {
		snprintf(why, whylen, "%s", msg);
	}
	return (code);
}

static bool
account_ok(const char *a, size_t n)
{
	if (n == 0 || n > ACCOUNT_MAX || (n == 1 && a[0] == '.') ||
	    (n == 2 && a[0] == '.' && a[1] == '.')) {
		return (false);
	}
	for (size_t i = 0; i < n; i++) {
		char c = a[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		        c == '-')) {
			return (false);
		}
	}
	return (true);
}

/* Takes the account from "<account>/<rest>"; the plugin checks the rest. */
cx_err
cxi_bc_key_account(const char *key, char *acct, char *why, size_t whylen)
{
	const char *slash = key != NULL ? strchr(key, '/') : NULL;
	if (slash == NULL || strlen(key) > KEY_MAX || slash[1] == '\0' ||
	    !account_ok(key, (size_t) (slash - key))) {
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, CX_EINVAL,
		    "blob key '%s' is not <account>/<kind>/<id>",
		    key != NULL ? key : "(null)"));
	}
	memcpy(acct, key, (size_t) (slash - key));
	acct[slash - key] = '\0';
	return (CX_OK);
}

void
cxi_blobcrypt_key_id(const uint8_t master[CXI_BLOB_MASTER_BYTES], char out[9])
{
	uint8_t h[crypto_generichash_BYTES];
	crypto_generichash(h, sizeof(h), master, CXI_BLOB_MASTER_BYTES, NULL, 0);
	sodium_bin2hex(out, 9, h, 4);
}

/* A data key's id: a MAC of a constant under the key, so it names the
 * key without revealing anything about it. */
void
cxi_bc_data_key_id(const uint8_t dk[32], uint8_t id[DKID_LEN])
{
	static const char label[] = "callixo blob data key id";
	crypto_generichash(id, DKID_LEN, (const uint8_t *) label,
	    sizeof(label) - 1, dk, 32);
}

static size_t
wrap_ad(const char *account, uint8_t *ad)
{
	size_t n = strlen(account);
	ad[0] = WRAP_VERSION;
	memcpy(ad + 1, account, n);
	return (n + 1);
}

static void
wrap_key(const cxi_blobcrypt *bc, const char *account, const uint8_t dk[32],
    uint8_t out[WRAP_LEN])
{
	uint8_t ad[1 + ACCOUNT_MAX];
	size_t adlen = wrap_ad(account, ad);
	out[0] = WRAP_VERSION;
	randombytes_buf(out + 1, WRAP_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 1 + WRAP_NONCE, NULL,
	    dk, 32, ad, adlen, NULL, out + 1, bc->master);
}

static int
unwrap_key(const cxi_blobcrypt *bc, const char *account, const uint8_t *w,
    size_t len, uint8_t dk[32])
{
	uint8_t ad[1 + ACCOUNT_MAX];
	size_t adlen = wrap_ad(account, ad);
	if (len != WRAP_LEN || w[0] != WRAP_VERSION) {
		return (-1);
	}
	return (crypto_aead_xchacha20poly1305_ietf_decrypt(dk, NULL, NULL,
	    w + 1 + WRAP_NONCE, len - 1 - WRAP_NONCE, ad, adlen, w + 1,
	    bc->master));
}

/* Loads (or, with create, makes) the data key of `account` into dk. */
cx_err
cxi_bc_account_key(cxi_blobcrypt *bc, const char *account, bool create,
    uint8_t dk[32], char *why, size_t whylen)
{
	/* Twice at most: a put that loses a race reads the winner's key. */
	for (int attempt = 0; attempt < 2; attempt++) {
		uint8_t *wrapped = NULL;
		size_t len = 0;
		char kid[CXI_BLOB_KID_MAX + 1] = "";
		cx_err rv = bc->ks.get(bc->ks.arg, account, &wrapped, &len, kid,
		    sizeof(kid));
		if (rv == CX_ENOENT && create) {
			uint8_t w[WRAP_LEN];
			randombytes_buf(dk, 32);
			wrap_key(bc, account, dk, w);
			rv = bc->ks.put(bc->ks.arg, account, w, sizeof(w),
			    bc->master_id);
			if (rv == CX_OK) {
				return (CX_OK);
			}
			sodium_memzero(dk, 32);
			if (rv == CX_EEXIST) {
				continue;
			}
			return (cxi_bc_fail(why, whylen, CX_LOG_ERROR, rv,
			    "cannot store the key of account %s: %s", account,
			    cx_strerror(rv)));
		}
		if (rv == CX_ENOENT) {
			return (CX_ENOENT);
		}
		if (rv != CX_OK) {
			return (cxi_bc_fail(why, whylen, CX_LOG_ERROR, rv,
			    "cannot read the key of account %s: %s", account,
			    cx_strerror(rv)));
		}
		kid[sizeof(kid) - 1] = '\0';
		if (strcmp(kid, bc->master_id) != 0) {
			free(wrapped);
			return (cxi_bc_fail(why, whylen, CX_LOG_ERROR, CXI_BLOB_EMASTER,
			    "the key of account %s is wrapped by master key "
			    "'%s', but the loaded master key is '%s'",
			    account, kid, bc->master_id));
		}
		int bad = unwrap_key(bc, account, wrapped, len, dk);
		free(wrapped);
		if (bad != 0) {
			sodium_memzero(dk, 32);
			return (cxi_bc_fail(why, whylen, CX_LOG_ERROR, CXI_BLOB_EMASTER,
			    "the key of account %s does not unwrap with master "
			    "key '%s' (wrong master key, or a wrapped key that "
			    "belongs to another account)",
			    account, bc->master_id));
		}
		return (CX_OK);
	}
	return (cxi_bc_fail(why, whylen, CX_LOG_ERROR, CX_EINTERNAL,
	    "the keystore reports a key for account %s but returns none",
	    account));
}

cx_err
cxi_blobcrypt_new(cxi_blobcrypt **out,
    const uint8_t master[CXI_BLOB_MASTER_BYTES], const char *master_id,
    const cxi_keystore *ks, const cx_blob_ops *ops, void *blob_state,
    char *why, size_t whylen)
{
	*out = NULL;
	if (sodium_init() < 0) {
		return (cxi_bc_fail(why, whylen, CX_LOG_ERROR, CX_EINTERNAL,
		    "libsodium failed to initialise"));
	}
	size_t kl = master_id != NULL ? strlen(master_id) : 0;
	bool printable = kl > 0 && kl <= CXI_BLOB_KID_MAX;
	for (size_t i = 0; printable && i < kl; i++) {
		printable = master_id[i] > ' ' && master_id[i] < 0x7f;
	}
	if (!printable) {
		return (cxi_bc_fail(why, whylen, CX_LOG_ERROR, CX_EINVAL,
		    "master key id must be 1 to %d printable characters",
		    CXI_BLOB_KID_MAX));
	}
	if (ks == NULL || ks->get == NULL || ks->put == NULL ||
	    ks->del == NULL) {
		return (cxi_bc_fail(why, whylen, CX_LOG_ERROR, CX_EINVAL,
		    "incomplete keystore"));
	}
	if (ops == NULL || ops->size < sizeof(cx_blob_ops) ||
	    ops->put_begin == NULL || ops->put_write == NULL ||
	    ops->put_commit == NULL || ops->put_abort == NULL ||
	    ops->get_open == NULL || ops->get_read == NULL ||
	    ops->get_close == NULL || ops->remove == NULL ||
	    ops->remove_prefix == NULL) {
		return (cxi_bc_fail(why, whylen, CX_LOG_ERROR, CX_EINVAL,
		    "the blob plugin's operations are incomplete"));
	}
	cxi_blobcrypt *bc = calloc(1, sizeof(*bc));
	if (bc == NULL) {
		return (CX_ENOMEM);
	}
	memcpy(bc->master, master, CXI_BLOB_MASTER_BYTES);
	memcpy(bc->master_id, master_id, kl + 1);
	bc->ks = *ks;
	bc->ops = ops;
	bc->state = blob_state;
	*out = bc;
	return (CX_OK);
}

void
cxi_blobcrypt_free(cxi_blobcrypt *bc)
{
	if (bc != NULL) {
		sodium_memzero(bc, sizeof(*bc));
		free(bc);
	}
}

cx_err
cxi_blobcrypt_remove(cxi_blobcrypt *bc, const char *key, char *why,
    size_t whylen)
{
	char acct[ACCOUNT_MAX + 1];
	cx_err rv = cxi_bc_key_account(key, acct, why, whylen);
	if (rv == CX_OK && (rv = bc->ops->remove(bc->state, key)) != CX_OK) {
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, rv,
		    "cannot remove blob %s: %s", key, cx_strerror(rv)));
	}
	return (rv);
}

cx_err
cxi_blobcrypt_shred(cxi_blobcrypt *bc, const char *account, char *why,
    size_t whylen)
{
	char prefix[ACCOUNT_MAX + 2];
	size_t n = account != NULL ? strlen(account) : 0;
	if (!account_ok(account != NULL ? account : "", n)) {
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, CX_EINVAL,
		    "cannot shred: '%s' is not an account id",
		    account != NULL ? account : "(null)"));
	}
	cx_err rv = bc->ks.del(bc->ks.arg, account);
	if (rv != CX_OK) {
		return (cxi_bc_fail(why, whylen, CX_LOG_ERROR, rv,
		    "cannot destroy the key of account %s: %s", account,
		    cx_strerror(rv)));
	}
	cxi_logf(CX_LOG_INFO, "blobcrypt",
	    "destroyed the data key of account %s", account);
	snprintf(prefix, sizeof(prefix), "%s/", account);
	rv = bc->ops->remove_prefix(bc->state, prefix);
	if (rv != CX_OK) {
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, rv,
		    "key of account %s destroyed, but its objects could not be "
		    "removed: %s", account, cx_strerror(rv)));
	}
	return (CX_OK);
}
