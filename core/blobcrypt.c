/*
 * blobcrypt.c - streaming encryption of blob objects: writer and reader
 * (format and guarantees in blobcrypt.h; keys are in blobkeys.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blobcrypt_int.h"

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

static cx_err
corrupt(const char *key, char *why, size_t whylen)
{
	return (cxi_bc_fail(why, whylen, CX_LOG_WARN, CXI_BLOB_ECORRUPT,
	    "blob %s is corrupt or truncated (authentication failed)", key));
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
	cx_err rv = cxi_bc_key_account(key, acct, why, whylen);
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
	if ((rv = cxi_bc_account_key(bc, acct, true, dk, why, whylen)) != CX_OK) {
		free(w);
		return (rv);
	}
	cxi_bc_data_key_id(dk, dkid);
	crypto_secretstream_xchacha20poly1305_init_push(&w->st, ssh, dk);
	sodium_memzero(dk, sizeof(dk));
	build_header(&w->ad, bc->master_id, dkid, ssh, key);
	rv = bc->ops->put_begin(bc->state, key, &w->pw);
	if (rv != CX_OK) {
		sodium_memzero(w, sizeof(*w));
		free(w);
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, rv,
		    "cannot write blob %s: %s", key, cx_strerror(rv)));
	}
	rv = bc->ops->put_write(w->pw, w->ad.buf, w->ad.hdr_len);
	if (rv != CX_OK) {
		cxi_blobcrypt_abort(w);
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, rv,
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
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, w->failed,
		    "blob %s: write after a failed write", w->key));
	}
	while (len > 0) {
		/* A full chunk waits for more data before it goes out, so
		 * the last chunk is always the one tagged final. */
		if (w->fill == CXI_BLOB_CHUNK) {
			cx_err rv = flush_chunk(w, TAG_MSG);
			if (rv != CX_OK) {
				w->failed = rv;
				return (cxi_bc_fail(why, whylen, CX_LOG_WARN, rv,
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
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, rv,
		    "cannot write blob %s: %s", key, cx_strerror(rv)));
	}
	rv = w->bc->ops->put_commit(w->pw);
	writer_free(w);
	if (rv != CX_OK) {
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, rv,
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
			rv = cxi_bc_fail(why, whylen, CX_LOG_WARN, rv,
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
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, rv,
		    "cannot read blob %s: %s", r->key, cx_strerror(rv)));
	}
	if (got != HDR_FIXED || memcmp(h, "CXB1", 4) != 0 ||
	    h[4] != OBJ_VERSION || h[5] == 0 || h[5] > CXI_BLOB_KID_MAX) {
		return (corrupt(r->key, why, whylen));
	}
	size_t rest = (size_t) h[5] + DKID_LEN + SS_HBYTES;
	rv = read_full(r, h + HDR_FIXED, rest, &got);
	if (rv != CX_OK) {
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, rv,
		    "cannot read blob %s: %s", r->key, cx_strerror(rv)));
	}
	if (got != rest) {
		return (corrupt(r->key, why, whylen));
	}
	r->ad.hdr_len = HDR_FIXED + rest;
	size_t kl = strlen(r->key);
	memcpy(h + r->ad.hdr_len, r->key, kl);
	r->ad.len = r->ad.hdr_len + kl;
	rv = cxi_bc_account_key(r->bc, acct, false, dk, why, whylen);
	if (rv == CX_ENOENT) {
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, CXI_BLOB_EKEYGONE,
		    "blob %s cannot be decrypted: the key of account %s was "
		    "destroyed (crypto-shredded)", r->key, acct));
	}
	if (rv != CX_OK) {
		return (rv);
	}
	cxi_bc_data_key_id(dk, dkid);
	const uint8_t *hdkid = h + HDR_FIXED + h[5];
	if (sodium_memcmp(dkid, hdkid, DKID_LEN) != 0) {
		sodium_memzero(dk, sizeof(dk));
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, CXI_BLOB_EKEYGONE,
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
	cx_err rv = cxi_bc_key_account(key, acct, why, whylen);
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
		return (cxi_bc_fail(why, whylen,
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
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, rv,
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
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, r->failed,
		    "blob %s: read after a failed read", r->key));
	}
	if (cap == 0) {
		return (cxi_bc_fail(why, whylen, CX_LOG_WARN, CX_EINVAL,
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

