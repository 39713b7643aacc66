/*
 * fuzz_blobcrypt.c - fuzz target for the blobcrypt reader.
 *
 * An attacker who holds the stored bytes can change any of them, so the
 * reader must turn every object the writer did not produce into an error,
 * and must never crash. Two modes, chosen by the first input byte:
 *   even: the rest is the body of an object (after a genuine header, so
 *         the chunk parser and the stream see arbitrary bytes), or, when
 *         the second byte is 0, the whole object;
 *   odd:  a genuine object is written (plaintext from the input), then
 *         damaged by (offset, xor) pairs and a cut taken from the input;
 *         it must read back intact only when no byte changed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blobtest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY "acct/rec/fuzz"

static cx_err
read_all(cxi_blobcrypt *bc, uint8_t **out, size_t *len)
{
	cxi_bc_reader *r;
	char why[256] = "";
	*out = NULL;
	*len = 0;
	cx_err rv = cxi_blobcrypt_get_open(bc, KEY, &r, why, sizeof(why));
	if (rv == CX_OK) {
		size_t cap = 4096, got;
		uint8_t *buf = malloc(cap);
		for (;;) {
			if (*len + 1024 > cap) {
				cap *= 2;
				buf = realloc(buf, cap);
			}
			rv = cxi_blobcrypt_read(r, buf + *len, 1024, &got, why,
			    sizeof(why));
			if (rv != CX_OK || got == 0) {
				break;
			}
			*len += got;
		}
		cxi_blobcrypt_get_close(r);
		*out = buf;
	}
	/* Every failure says why. */
	if (rv != CX_OK && why[0] == '\0') {
		abort();
	}
	return (rv);
}

static void
write_obj(cxi_blobcrypt *bc, const uint8_t *pt, size_t len)
{
	char why[256];
	cxi_bc_writer *w;
	if (cxi_blobcrypt_put_begin(bc, KEY, &w, why, sizeof(why)) != CX_OK ||
	    cxi_blobcrypt_write(w, pt, len, why, sizeof(why)) != CX_OK ||
	    cxi_blobcrypt_commit(w, why, sizeof(why)) != CX_OK) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t master[32] = {1, 2, 3}, *out, *obj;
	char why[256];
	size_t len, olen;
	cxi_keystore ks;
	cxi_blobcrypt *bc;
	if (size < 2) {
		return (0);
	}
	fake_store *store = fake_new();
	mem_keys *keys = mem_keys_new();
	mem_keys_store(keys, &ks);
	if (cxi_blobcrypt_new(&bc, master, "fuzz", &ks, &fake_ops, store, why,
	        sizeof(why)) != CX_OK) {
		abort();
	}
	/* A genuine object first: it creates the account key and gives
	 * the header the body is grafted onto. */
	write_obj(bc, data, size > 200000 ? 200000 : size);
	obj = fake_raw(store, KEY, &olen);
	if ((data[0] & 1) == 0) {
		size_t hdr = 6 + 4 + 16 + 24;
		size_t keep = data[1] == 0 ? 0 : hdr;
		uint8_t *mix = malloc(keep + size);
		memcpy(mix, obj, keep);
		memcpy(mix + keep, data + 2, size - 2);
		int same = keep + size - 2 == olen &&
		    memcmp(mix, obj, olen) == 0;
		fake_set(store, KEY, mix, keep + size - 2);
		free(mix);
		if (read_all(bc, &out, &len) == CX_OK && !same) {
			abort();
		}
		free(out);
	} else {
		uint8_t *mut = malloc(olen + 1);
		memcpy(mut, obj, olen);
		size_t cut = olen;
		if (size >= 4 && data[1] == 0xff) {
			cut = ((size_t) data[2] << 8 | data[3]) % (olen + 1);
		}
		for (size_t i = 4; i + 2 < size && i < 64; i += 3) {
			size_t pos = ((size_t) data[i] << 8 | data[i + 1]) % olen;
			mut[pos] ^= data[i + 2];
		}
		int same = cut == olen && memcmp(mut, obj, olen) == 0;
		fake_set(store, KEY, mut, cut);
		free(mut);
		cx_err rv = read_all(bc, &out, &len);
		size_t plen = size > 200000 ? 200000 : size;
		if (same != (rv == CX_OK) ||
		    (rv == CX_OK && (len != plen || memcmp(out, data, len) != 0))) {
			abort();
		}
		free(out);
	}
	cxi_blobcrypt_free(bc);
	fake_free(store);
	mem_keys_free(keys);
	return (0);
}
