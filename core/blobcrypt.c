/*
 * blobcrypt.c - per-account data keys and streaming encryption of blob
 * objects (format and guarantees in blobcrypt.h).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The first chunk's associated data: the object header, then the blob
 * key, so the stream is bound to the name it was written under. */
typedef struct bound_ad {
	uint8_t buf[HDR_MAX + KEY_MAX];
	size_t len;
	size_t hdr_len;
} bound_ad;

struct cxi_bc_writer {
	cxi_blobcrypt *bc;
	cx_blob_writer *pw;
	ss_state st;
	bound_ad ad;
	bool first;
	cx_err failed;
	size_t fill;
	uint8_t pt[CXI_BLOB_CHUNK];
	uint8_t ct[4 + CT_MAX];
	char key[KEY_MAX + 1];
};

struct cxi_bc_reader {
	cxi_blobcrypt *bc;
	cx_blob_reader *pr;
	ss_state st;
	bound_ad ad;
	bool first;
	bool done; /* verified TAG_FINAL seen */
	cx_err failed;
	size_t off, len;
	uint8_t pt[CXI_BLOB_CHUNK];
	uint8_t ct[CT_MAX];
	char key[KEY_MAX + 1];
};

/* Formats the message, logs it and copies it to why: every failure is
 * both seen by the operator and returned to the caller. */
static cx_err
fail(char *why, size_t whylen, cx_log_level lvl, cx_err code,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static cx_err
fail(char *why, size_t whylen, cx_log_level lvl, cx_err code,
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

static cx_err
corrupt(const char *key, char *why, size_t whylen)
{
	return (fail(why, whylen, CX_LOG_WARN, CXI_BLOB_ECORRUPT,
	    "blob %s is corrupt or truncated (authentication failed)", key));
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
static cx_err
key_account(const char *key, char *acct, char *why, size_t whylen)
{
	const char *slash = key != NULL ? strchr(key, '/') : NULL;
	if (slash == NULL || strlen(key) > KEY_MAX || slash[1] == '\0' ||
	    !account_ok(key, (size_t) (slash - key))) {
		return (fail(why, whylen, CX_LOG_WARN, CX_EINVAL,
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
static void
data_key_id(const uint8_t dk[32], uint8_t id[DKID_LEN])
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
static cx_err
account_key(cxi_blobcrypt *bc, const char *account, bool create,
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
			return (fail(why, whylen, CX_LOG_ERROR, rv,
			    "cannot store the key of account %s: %s", account,
			    cx_strerror(rv)));
		}
		if (rv == CX_ENOENT) {
			return (CX_ENOENT);
		}
		if (rv != CX_OK) {
			return (fail(why, whylen, CX_LOG_ERROR, rv,
			    "cannot read the key of account %s: %s", account,
			    cx_strerror(rv)));
		}
		kid[sizeof(kid) - 1] = '\0';
		if (strcmp(kid, bc->master_id) != 0) {
			free(wrapped);
			return (fail(why, whylen, CX_LOG_ERROR, CXI_BLOB_EMASTER,
			    "the key of account %s is wrapped by master key "
			    "'%s', but the loaded master key is '%s'",
			    account, kid, bc->master_id));
		}
		int bad = unwrap_key(bc, account, wrapped, len, dk);
		free(wrapped);
		if (bad != 0) {
			sodium_memzero(dk, 32);
			return (fail(why, whylen, CX_LOG_ERROR, CXI_BLOB_EMASTER,
			    "the key of account %s does not unwrap with master "
			    "key '%s' (wrong master key, or a wrapped key that "
			    "belongs to another account)",
			    account, bc->master_id));
		}
		return (CX_OK);
	}
	return (fail(why, whylen, CX_LOG_ERROR, CX_EINTERNAL,
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
		return (fail(why, whylen, CX_LOG_ERROR, CX_EINTERNAL,
		    "libsodium failed to initialise"));
	}
	size_t kl = master_id != NULL ? strlen(master_id) : 0;
	bool printable = kl > 0 && kl <= CXI_BLOB_KID_MAX;
	for (size_t i = 0; printable && i < kl; i++) {
		printable = master_id[i] > ' ' && master_id[i] < 0x7f;
	}
	if (!printable) {
		return (fail(why, whylen, CX_LOG_ERROR, CX_EINVAL,
		    "master key id must be 1 to %d printable characters",
		    CXI_BLOB_KID_MAX));
	}
	if (ks == NULL || ks->get == NULL || ks->put == NULL ||
	    ks->del == NULL) {
		return (fail(why, whylen, CX_LOG_ERROR, CX_EINVAL,
		    "incomplete keystore"));
	}
	if (ops == NULL || ops->size < sizeof(cx_blob_ops) ||
	    ops->put_begin == NULL || ops->put_write == NULL ||
	    ops->put_commit == NULL || ops->put_abort == NULL ||
	    ops->get_open == NULL || ops->get_read == NULL ||
	    ops->get_close == NULL || ops->remove == NULL ||
	    ops->remove_prefix == NULL) {
		return (fail(why, whylen, CX_LOG_ERROR, CX_EINVAL,
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

/* Writes the header into ad->buf and appends the blob key after it. */
static void
build_header(bound_ad *ad, const char *kid, const uint8_t dkid[DKID_LEN],
    const uint8_t ssh[SS_HBYTES], const char *key)
{
	size_t kl = strlen(kid), n = 0;
	memcpy(ad->buf, "CXB1", 4);
	ad->buf[4] = OBJ_VERSION;
	ad->buf[5] = (uint8_t) kl;
	n = HDR_FIXED;
	memcpy(ad->buf + n, kid, kl);
	n += kl;
	memcpy(ad->buf + n, dkid, DKID_LEN);
	n += DKID_LEN;
	memcpy(ad->buf + n, ssh, SS_HBYTES);
	n += SS_HBYTES;
	ad->hdr_len = n;
	memcpy(ad->buf + n, key, strlen(key));
	ad->len = n + strlen(key);
}

cx_err
cxi_blobcrypt_put_begin(cxi_blobcrypt *bc, const char *key,
    cxi_bc_writer **out, char *why, size_t whylen)
{
	char acct[ACCOUNT_MAX + 1];
	uint8_t dk[32], dkid[DKID_LEN], ssh[SS_HBYTES];
	*out = NULL;
	cx_err rv = key_account(key, acct, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	cxi_bc_writer *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return (CX_ENOMEM);
	}
	w->bc = bc;
	w->first = true;
	snprintf(w->key, sizeof(w->key), "%s", key);
	if ((rv = account_key(bc, acct, true, dk, why, whylen)) != CX_OK) {
		free(w);
		return (rv);
	}
	data_key_id(dk, dkid);
	crypto_secretstream_xchacha20poly1305_init_push(&w->st, ssh, dk);
	sodium_memzero(dk, sizeof(dk));
	build_header(&w->ad, bc->master_id, dkid, ssh, key);
	rv = bc->ops->put_begin(bc->state, key, &w->pw);
	if (rv != CX_OK) {
		sodium_memzero(w, sizeof(*w));
		free(w);
		return (fail(why, whylen, CX_LOG_WARN, rv,
		    "cannot write blob %s: %s", key, cx_strerror(rv)));
	}
	rv = bc->ops->put_write(w->pw, w->ad.buf, w->ad.hdr_len);
	if (rv != CX_OK) {
		cxi_blobcrypt_abort(w);
		return (fail(why, whylen, CX_LOG_WARN, rv,
		    "cannot write blob %s: %s", key, cx_strerror(rv)));
	}
	*out = w;
	return (CX_OK);
}

/* Encrypts the buffered plaintext as one chunk and hands it on. */
static cx_err
flush_chunk(cxi_bc_writer *w, unsigned char tag)
{
	unsigned long long clen;
	crypto_secretstream_xchacha20poly1305_push(&w->st, w->ct + 4, &clen,
	    w->pt, w->fill, w->first ? w->ad.buf : NULL,
	    w->first ? w->ad.len : 0, tag);
	w->first = false;
	w->ct[0] = (uint8_t) (clen >> 24);
	w->ct[1] = (uint8_t) (clen >> 16);
	w->ct[2] = (uint8_t) (clen >> 8);
	w->ct[3] = (uint8_t) clen;
	sodium_memzero(w->pt, w->fill);
	w->fill = 0;
	return (w->bc->ops->put_write(w->pw, w->ct, (size_t) clen + 4));
}

cx_err
cxi_blobcrypt_write(cxi_bc_writer *w, const void *buf, size_t len,
    char *why, size_t whylen)
{
	const uint8_t *p = buf;
	if (w->failed != CX_OK) {
		return (fail(why, whylen, CX_LOG_WARN, w->failed,
		    "blob %s: write after a failed write", w->key));
	}
	while (len > 0) {
		/* A full chunk waits for more data before it goes out, so
		 * the last chunk is always the one tagged final. */
		if (w->fill == CXI_BLOB_CHUNK) {
			cx_err rv = flush_chunk(w, TAG_MSG);
			if (rv != CX_OK) {
				w->failed = rv;
				return (fail(why, whylen, CX_LOG_WARN, rv,
				    "cannot write blob %s: %s", w->key,
				    cx_strerror(rv)));
			}
		}
		size_t n = CXI_BLOB_CHUNK - w->fill;
		n = n < len ? n : len;
		memcpy(w->pt + w->fill, p, n);
		w->fill += n;
		p += n;
		len -= n;
	}
	return (CX_OK);
}

static void
writer_free(cxi_bc_writer *w)
{
	sodium_memzero(w, sizeof(*w));
	free(w);
}

cx_err
cxi_blobcrypt_commit(cxi_bc_writer *w, char *why, size_t whylen)
{
	char key[KEY_MAX + 1];
	snprintf(key, sizeof(key), "%s", w->key);
	cx_err rv = w->failed;
	if (rv == CX_OK) {
		rv = flush_chunk(w, TAG_FINAL);
	}
	if (rv != CX_OK) {
		cxi_blobcrypt_abort(w);
		return (fail(why, whylen, CX_LOG_WARN, rv,
		    "cannot write blob %s: %s", key, cx_strerror(rv)));
	}
	rv = w->bc->ops->put_commit(w->pw);
	writer_free(w);
	if (rv != CX_OK) {
		return (fail(why, whylen, CX_LOG_WARN, rv,
		    "cannot commit blob %s: %s", key, cx_strerror(rv)));
	}
	return (CX_OK);
}

void
cxi_blobcrypt_abort(cxi_bc_writer *w)
{
	if (w != NULL) {
		if (w->pw != NULL) {
			w->bc->ops->put_abort(w->pw);
		}
		writer_free(w);
	}
}

cx_err
cxi_blobcrypt_put(cxi_blobcrypt *bc, const char *key, cxi_bc_source fn,
    void *arg, char *why, size_t whylen)
{
	cxi_bc_writer *w;
	cx_err rv = cxi_blobcrypt_put_begin(bc, key, &w, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	uint8_t *buf = malloc(CXI_BLOB_CHUNK);
	if (buf == NULL) {
		cxi_blobcrypt_abort(w);
		return (CX_ENOMEM);
	}
	for (;;) {
		size_t got = 0;
		rv = fn(arg, buf, CXI_BLOB_CHUNK, &got);
		if (rv != CX_OK) {
			rv = fail(why, whylen, CX_LOG_WARN, rv,
			    "blob %s: the source failed: %s", key,
			    cx_strerror(rv));
			break;
		}
		if (got == 0) {
			break;
		}
		if ((rv = cxi_blobcrypt_write(w, buf, got, why, whylen)) !=
		    CX_OK) {
			break;
		}
	}
	sodium_memzero(buf, CXI_BLOB_CHUNK);
	free(buf);
	if (rv != CX_OK) {
		cxi_blobcrypt_abort(w);
		return (rv);
	}
	return (cxi_blobcrypt_commit(w, why, whylen));
}

/* Reads exactly n bytes unless the object ends first; *got tells. */
static cx_err
read_full(cxi_bc_reader *r, uint8_t *buf, size_t n, size_t *got)
{
	*got = 0;
	while (*got < n) {
		size_t g = 0;
		cx_err rv = r->bc->ops->get_read(r->pr, buf + *got, n - *got, &g);
		if (rv != CX_OK) {
			return (rv);
		}
		if (g == 0) {
			break;
		}
		*got += g;
	}
	return (CX_OK);
}

/* Reads and checks the header; sets the stream up under the account key. */
static cx_err
read_header(cxi_bc_reader *r, const char *acct, char *why, size_t whylen)
{
	uint8_t *h = r->ad.buf, dk[32], dkid[DKID_LEN];
	size_t got;
	cx_err rv = read_full(r, h, HDR_FIXED, &got);
	if (rv != CX_OK) {
		return (fail(why, whylen, CX_LOG_WARN, rv,
		    "cannot read blob %s: %s", r->key, cx_strerror(rv)));
	}
	if (got != HDR_FIXED || memcmp(h, "CXB1", 4) != 0 ||
	    h[4] != OBJ_VERSION || h[5] == 0 || h[5] > CXI_BLOB_KID_MAX) {
		return (corrupt(r->key, why, whylen));
	}
	size_t rest = (size_t) h[5] + DKID_LEN + SS_HBYTES;
	rv = read_full(r, h + HDR_FIXED, rest, &got);
	if (rv != CX_OK) {
		return (fail(why, whylen, CX_LOG_WARN, rv,
		    "cannot read blob %s: %s", r->key, cx_strerror(rv)));
	}
	if (got != rest) {
		return (corrupt(r->key, why, whylen));
	}
	r->ad.hdr_len = HDR_FIXED + rest;
	size_t kl = strlen(r->key);
	memcpy(h + r->ad.hdr_len, r->key, kl);
	r->ad.len = r->ad.hdr_len + kl;
	rv = account_key(r->bc, acct, false, dk, why, whylen);
	if (rv == CX_ENOENT) {
		return (fail(why, whylen, CX_LOG_WARN, CXI_BLOB_EKEYGONE,
		    "blob %s cannot be decrypted: the key of account %s was "
		    "destroyed (crypto-shredded)", r->key, acct));
	}
	if (rv != CX_OK) {
		return (rv);
	}
	data_key_id(dk, dkid);
	const uint8_t *hdkid = h + HDR_FIXED + h[5];
	if (sodium_memcmp(dkid, hdkid, DKID_LEN) != 0) {
		sodium_memzero(dk, sizeof(dk));
		return (fail(why, whylen, CX_LOG_WARN, CXI_BLOB_EKEYGONE,
		    "blob %s cannot be decrypted: it was written under a key "
		    "of account %s that has been destroyed and replaced",
		    r->key, acct));
	}
	int bad = crypto_secretstream_xchacha20poly1305_init_pull(&r->st,
	    hdkid + DKID_LEN, dk);
	sodium_memzero(dk, sizeof(dk));
	return (bad != 0 ? corrupt(r->key, why, whylen) : CX_OK);
}

cx_err
cxi_blobcrypt_get_open(cxi_blobcrypt *bc, const char *key,
    cxi_bc_reader **out, char *why, size_t whylen)
{
	char acct[ACCOUNT_MAX + 1];
	uint64_t size = 0;
	*out = NULL;
	cx_err rv = key_account(key, acct, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	cxi_bc_reader *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return (CX_ENOMEM);
	}
	r->bc = bc;
	r->first = true;
	snprintf(r->key, sizeof(r->key), "%s", key);
	rv = bc->ops->get_open(bc->state, key, &r->pr, &size);
	if (rv != CX_OK) {
		free(r);
		return (fail(why, whylen,
		    rv == CX_ENOENT ? CX_LOG_DEBUG : CX_LOG_WARN, rv,
		    "cannot open blob %s: %s", key, cx_strerror(rv)));
	}
	if ((rv = read_header(r, acct, why, whylen)) != CX_OK) {
		cxi_blobcrypt_get_close(r);
		return (rv);
	}
	*out = r;
	return (CX_OK);
}

/* Reads, verifies and decrypts the next chunk into r->pt. */
static cx_err
next_chunk(cxi_bc_reader *r, char *why, size_t whylen)
{
	uint8_t lenb[4], tag;
	size_t got;
	unsigned long long mlen;
	cx_err rv = read_full(r, lenb, 4, &got);
	if (rv == CX_OK && got == 4) {
		uint32_t clen = (uint32_t) lenb[0] << 24 |
		    (uint32_t) lenb[1] << 16 | (uint32_t) lenb[2] << 8 | lenb[3];
		if (clen < SS_ABYTES || clen > CT_MAX) {
			return (corrupt(r->key, why, whylen));
		}
		rv = read_full(r, r->ct, clen, &got);
		if (rv == CX_OK && got != clen) {
			return (corrupt(r->key, why, whylen));
		}
	} else if (rv == CX_OK) {
		/* The object ended before a chunk tagged final. */
		return (corrupt(r->key, why, whylen));
	}
	if (rv != CX_OK) {
		return (fail(why, whylen, CX_LOG_WARN, rv,
		    "cannot read blob %s: %s", r->key, cx_strerror(rv)));
	}
	if (crypto_secretstream_xchacha20poly1305_pull(&r->st, r->pt, &mlen,
	        &tag, r->ct, got, r->first ? r->ad.buf : NULL,
	        r->first ? r->ad.len : 0) != 0 ||
	    (tag != TAG_MSG && tag != TAG_FINAL)) {
		return (corrupt(r->key, why, whylen));
	}
	r->first = false;
	r->off = 0;
	r->len = (size_t) mlen;
	if (tag == TAG_FINAL) {
		/* Nothing may follow the final chunk. */
		rv = read_full(r, lenb, 1, &got);
		if (rv != CX_OK || got != 0) {
			r->len = 0;
			return (rv != CX_OK ? rv : corrupt(r->key, why, whylen));
		}
		r->done = true;
	}
	return (CX_OK);
}

cx_err
cxi_blobcrypt_read(cxi_bc_reader *r, void *buf, size_t cap, size_t *got,
    char *why, size_t whylen)
{
	*got = 0;
	if (r->failed != CX_OK) {
		return (fail(why, whylen, CX_LOG_WARN, r->failed,
		    "blob %s: read after a failed read", r->key));
	}
	if (cap == 0) {
		return (fail(why, whylen, CX_LOG_WARN, CX_EINVAL,
		    "blob %s: read into an empty buffer", r->key));
	}
	while (r->off == r->len && !r->done) {
		cx_err rv = next_chunk(r, why, whylen);
		if (rv != CX_OK) {
			sodium_memzero(r->pt, sizeof(r->pt));
			r->failed = rv;
			return (rv);
		}
	}
	size_t n = r->len - r->off;
	n = n < cap ? n : cap;
	memcpy(buf, r->pt + r->off, n);
	r->off += n;
	*got = n;
	return (CX_OK);
}

void
cxi_blobcrypt_get_close(cxi_bc_reader *r)
{
	if (r != NULL) {
		if (r->pr != NULL) {
			r->bc->ops->get_close(r->pr);
		}
		sodium_memzero(r, sizeof(*r));
		free(r);
	}
}

cx_err
cxi_blobcrypt_remove(cxi_blobcrypt *bc, const char *key, char *why,
    size_t whylen)
{
	char acct[ACCOUNT_MAX + 1];
	cx_err rv = key_account(key, acct, why, whylen);
	if (rv == CX_OK && (rv = bc->ops->remove(bc->state, key)) != CX_OK) {
		return (fail(why, whylen, CX_LOG_WARN, rv,
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
		return (fail(why, whylen, CX_LOG_WARN, CX_EINVAL,
		    "cannot shred: '%s' is not an account id",
		    account != NULL ? account : "(null)"));
	}
	cx_err rv = bc->ks.del(bc->ks.arg, account);
	if (rv != CX_OK) {
		return (fail(why, whylen, CX_LOG_ERROR, rv,
		    "cannot destroy the key of account %s: %s", account,
		    cx_strerror(rv)));
	}
	cxi_logf(CX_LOG_INFO, "blobcrypt",
	    "destroyed the data key of account %s", account);
	snprintf(prefix, sizeof(prefix), "%s/", account);
	rv = bc->ops->remove_prefix(bc->state, prefix);
	if (rv != CX_OK) {
		return (fail(why, whylen, CX_LOG_WARN, rv,
		    "key of account %s destroyed, but its objects could not be "
		    "removed: %s", account, cx_strerror(rv)));
	}
	return (CX_OK);
}
