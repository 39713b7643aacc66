/*
 * blobcrypt.h - the core's encryption layer in front of the blob plugin.
 *
 * Blob plugins store opaque bytes; every object is encrypted here first,
 * so neither the plugin nor whoever hosts its bytes sees plaintext.
 *
 * Keys: each account has a 32-byte data key, made on its first write and
 * stored only wrapped by the master key (XChaCha20-Poly1305, associated
 * data = version byte + account id, so a wrapped key copied to another
 * account does not unwrap). Wrapped key: 0x01 | nonce[24] | ct[32+16].
 * Destroying the wrapped key (cxi_blobcrypt_shred) makes every object of
 * the account unreadable wherever copies of its bytes remain.
 *
 * Object (what the plugin stores):
 *   "CXB1" | version 0x01 | kid_len | master key id[kid_len] |
 *   data key id[16] | secretstream header[24] |
 *   chunks: u32 big-endian ciphertext length | ciphertext
 * Plaintext is cut in 64 KiB chunks (crypto_secretstream_xchacha20poly1305);
 * the last, possibly empty, carries TAG_FINAL. The first chunk's
 * associated data is the whole object header plus the blob key, and the
 * stream chains every chunk to the previous ones, so a tampered header,
 * a renamed or swapped object, a reordered, dropped or altered chunk and
 * a missing end are all detected. The data key id is a keyed BLAKE2b of
 * the data key: it tells "key destroyed or replaced" apart from damage.
 *
 * A reader hands out plaintext only from chunks it has verified, and
 * reports the end (got = 0) only after a verified TAG_FINAL.
 *
 * Errors (cx_err), besides the plugin's own (CX_ENOENT, CX_EIO,
 * CX_EDENIED, CX_EBUSY, CX_EINVAL):
 *   CXI_BLOB_ECORRUPT  authentication failed: tampered, truncated, swapped
 *   CXI_BLOB_EKEYGONE  the account's data key was destroyed (shredded) or
 *                      replaced; the object can never be read again
 *   CXI_BLOB_EMASTER   the account key is wrapped by another master key,
 *                      or does not unwrap with this one
 * Every fallible call takes why/whylen (may be NULL) for a message such
 * as "blob a/rec/1 is corrupt or truncated (authentication failed)".
 *
 * All calls are thread safe as long as the keystore is; a writer or a
 * reader is used by one thread at a time.
 */
#ifndef CXI_BLOBCRYPT_H
#define CXI_BLOBCRYPT_H

#include <stddef.h>
#include <stdint.h>
#include <callixo/blob.h>
#include <callixo/error.h>

#define CXI_BLOB_ECORRUPT CX_EPROTO
#define CXI_BLOB_EKEYGONE CX_ENOENT
#define CXI_BLOB_EMASTER CX_EDENIED

#define CXI_BLOB_MASTER_BYTES 32
#define CXI_BLOB_CHUNK (64 * 1024)
/* Longest master key id; ids are printable, e.g. 8 hex digits. */
#define CXI_BLOB_KID_MAX 32

/* Where wrapped account keys live (the account_keys table). Every
 * member returns CX_OK or a cx_err:
 *   get: CX_ENOENT when the account has no key; else *wrapped is a
 *        malloc'd copy the caller frees and key_id the master key id.
 *   put: stores a new key; CX_EEXIST when the account already has one
 *        (two first writes racing: the loser reads the winner's key).
 *   del: removes the key; CX_OK also when there was none. */
typedef struct cxi_keystore {
	cx_err (*get)(void *arg, const char *account, uint8_t **wrapped,
	    size_t *len, char *key_id, size_t kidlen);
	cx_err (*put)(void *arg, const char *account, const uint8_t *wrapped,
	    size_t len, const char *key_id);
	cx_err (*del)(void *arg, const char *account);
	void *arg;
} cxi_keystore;

typedef struct cxi_blobcrypt cxi_blobcrypt;
typedef struct cxi_bc_writer cxi_bc_writer;
typedef struct cxi_bc_reader cxi_bc_reader;

/* A master key id: the first 8 hex digits of BLAKE2b(master). out must
 * hold 9 bytes. */
void cxi_blobcrypt_key_id(const uint8_t master[CXI_BLOB_MASTER_BYTES],
    char out[9]);

/* Copies the master key (wiped again at free) and the id (1 to
 * CXI_BLOB_KID_MAX printable characters). ks, ops and blob_state are
 * borrowed and must outlive the context. */
cx_err cxi_blobcrypt_new(cxi_blobcrypt **out,
    const uint8_t master[CXI_BLOB_MASTER_BYTES], const char *master_id,
    const cxi_keystore *ks, const cx_blob_ops *ops, void *blob_state,
    char *why, size_t whylen);
void cxi_blobcrypt_free(cxi_blobcrypt *bc);

/* Writing: begin, write any number of times, then commit or abort.
 * `key` is "<account>/<kind>/<id>"; the account's key is created on its
 * first write. Commit makes the object visible whole and frees w, also on
 * error (then nothing became visible). Abort frees w. After a failed
 * write, call abort. */
cx_err cxi_blobcrypt_put_begin(cxi_blobcrypt *bc, const char *key,
    cxi_bc_writer **w, char *why, size_t whylen);
cx_err cxi_blobcrypt_write(cxi_bc_writer *w, const void *buf, size_t len,
    char *why, size_t whylen);
cx_err cxi_blobcrypt_commit(cxi_bc_writer *w, char *why, size_t whylen);
void cxi_blobcrypt_abort(cxi_bc_writer *w);

/* Reads everything from fn (which sets *got = 0 at its end, or fails)
 * into a new object. */
typedef cx_err (*cxi_bc_source)(void *arg, void *buf, size_t cap,
    size_t *got);
cx_err cxi_blobcrypt_put(cxi_blobcrypt *bc, const char *key,
    cxi_bc_source fn, void *arg, char *why, size_t whylen);

/* Reading: open checks the header and unwraps the account key; read
 * returns verified plaintext, *got = 0 at the verified end. */
cx_err cxi_blobcrypt_get_open(cxi_blobcrypt *bc, const char *key,
    cxi_bc_reader **r, char *why, size_t whylen);
cx_err cxi_blobcrypt_read(cxi_bc_reader *r, void *buf, size_t cap,
    size_t *got, char *why, size_t whylen);
void cxi_blobcrypt_get_close(cxi_bc_reader *r);

cx_err cxi_blobcrypt_remove(cxi_blobcrypt *bc, const char *key, char *why,
    size_t whylen);
/* Crypto-shredding: destroys the account's key first (so every copy of
 * its objects becomes unreadable even if a removal fails), then asks the
 * plugin to remove "<account>/". */
cx_err cxi_blobcrypt_shred(cxi_blobcrypt *bc, const char *account,
    char *why, size_t whylen);

#endif
