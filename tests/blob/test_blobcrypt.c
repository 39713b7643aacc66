/*
 * test_blobcrypt.c - blobcrypt over the in-memory store: round trips at
 * the chunk boundaries, and every way an object or a key can be damaged,
 * moved or destroyed must end in a typed error, never in plaintext.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "blobtest.h"

typedef struct fx {
	fake_store *store;
	mem_keys *keys;
	cxi_keystore ks;
	cxi_blobcrypt *bc;
	uint8_t master[32];
	char kid[9];
} fx;

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	char why[256];
	f->store = fake_new();
	f->keys = mem_keys_new();
	mem_keys_store(f->keys, &f->ks);
	uint64_t seed = 42;
	fill_pattern(f->master, sizeof(f->master), &seed);
	cxi_blobcrypt_key_id(f->master, f->kid);
	assert_int_equal(cxi_blobcrypt_new(&f->bc, f->master, f->kid, &f->ks,
	                     &fake_ops, f->store, why, sizeof(why)),
	    CX_OK);
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	fx *f = *state;
	cxi_blobcrypt_free(f->bc);
	fake_free(f->store);
	mem_keys_free(f->keys);
	free(f);
	return (0);
}

static void
put_buf(cxi_blobcrypt *bc, const char *key, const uint8_t *data, size_t len,
    size_t step)
{
	cxi_bc_writer *w;
	char why[256];
	assert_int_equal(cxi_blobcrypt_put_begin(bc, key, &w, why, sizeof(why)),
	    CX_OK);
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;
		assert_int_equal(cxi_blobcrypt_write(w, data + off, n, why,
		                     sizeof(why)),
		    CX_OK);
	}
	assert_int_equal(cxi_blobcrypt_commit(w, why, sizeof(why)), CX_OK);
}

/* Reads key whole; returns the error, the data in *out when CX_OK. */
static cx_err
get_buf(cxi_blobcrypt *bc, const char *key, uint8_t **out, size_t *len,
    char *why, size_t whylen)
{
	cxi_bc_reader *r;
	*out = NULL;
	*len = 0;
	cx_err rv = cxi_blobcrypt_get_open(bc, key, &r, why, whylen);
	if (rv != CX_OK) {
		return (rv);
	}
	size_t cap = 1 << 16;
	uint8_t *buf = malloc(cap);
	for (;;) {
		size_t got;
		if (*len + 5000 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		rv = cxi_blobcrypt_read(r, buf + *len, 5000, &got, why, whylen);
		if (rv != CX_OK || got == 0) {
			break;
		}
		*len += got;
	}
	cxi_blobcrypt_get_close(r);
	if (rv != CX_OK) {
		free(buf);
		return (rv);
	}
	*out = buf;
	return (CX_OK);
}

static void
test_round_trip(void **state)
{
	fx *f = *state;
	const size_t sizes[] = {0, 1, 65535, 65536, 65537, 5 * 1000 * 1000};
	const size_t steps[] = {1, 7, 65536, 100000};
	uint64_t seed = 7;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		uint8_t *data = malloc(len + 1), *back;
		size_t blen;
		char key[64], why[256];
		fill_pattern(data, len, &seed);
		snprintf(key, sizeof(key), "acct1/rec/%zu", len);
		size_t step = len < 100000 ? steps[i % 4] : 65536 + 17;
		put_buf(f->bc, key, data, len, step == 1 && len > 70000 ? 4096 : step);
		assert_int_equal(get_buf(f->bc, key, &back, &blen, why,
		                     sizeof(why)),
		    CX_OK);
		assert_int_equal(blen, len);
		assert_memory_equal(back, data, len);
		/* The plugin never sees plaintext. */
		size_t rawlen;
		uint8_t *raw = fake_raw(f->store, key, &rawlen);
		assert_true(rawlen > len);
		if (len >= 64) {
			assert_null(memmem(raw, rawlen, data, 32));
		}
		free(back);
		free(data);
	}
	assert_int_equal(mem_keys_count(f->keys), 1);
}

static void
expect_corrupt(fx *f, const char *key)
{
	uint8_t *back;
	size_t blen;
	char why[256] = "";
	assert_int_equal(get_buf(f->bc, key, &back, &blen, why, sizeof(why)),
	    CXI_BLOB_ECORRUPT);
	char want[128];
	snprintf(want, sizeof(want),
	    "blob %s is corrupt or truncated (authentication failed)", key);
	assert_string_equal(why, want);
}

static void
test_tamper_truncate(void **state)
{
	fx *f = *state;
	size_t len = 300000, rawlen;
	uint8_t *data = malloc(len);
	uint64_t seed = 3;
	fill_pattern(data, len, &seed);
	put_buf(f->bc, "a/rec/t", data, len, len);
	uint8_t *raw = fake_raw(f->store, "a/rec/t", &rawlen);
	uint8_t *orig = malloc(rawlen);
	memcpy(orig, raw, rawlen);

	/* A reader hands out the verified first chunks, then fails. */
	raw[rawlen / 2] ^= 0x01;
	cxi_bc_reader *r;
	char why[256];
	assert_int_equal(cxi_blobcrypt_get_open(f->bc, "a/rec/t", &r, why,
	                     sizeof(why)),
	    CX_OK);
	uint8_t buf[4096];
	size_t got, total = 0;
	cx_err rv;
	while ((rv = cxi_blobcrypt_read(r, buf, sizeof(buf), &got, why,
	            sizeof(why))) == CX_OK &&
	    got > 0) {
		assert_memory_equal(buf, data + total, got);
		total += got;
	}
	assert_int_equal(rv, CXI_BLOB_ECORRUPT);
	assert_true(total < rawlen / 2);
	assert_int_equal(total % CXI_BLOB_CHUNK, 0);
	/* And stays failed. */
	assert_int_equal(cxi_blobcrypt_read(r, buf, sizeof(buf), &got, why,
	                     sizeof(why)),
	    CXI_BLOB_ECORRUPT);
	cxi_blobcrypt_get_close(r);

	/* Every header byte is covered: magic, kid, key id, stream header. */
	for (size_t pos = 0; pos < 60; pos += 3) {
		fake_set(f->store, "a/rec/t", orig, rawlen);
		raw = fake_raw(f->store, "a/rec/t", &rawlen);
		raw[pos] ^= 0x80;
		uint8_t *back;
		size_t blen;
		assert_int_not_equal(get_buf(f->bc, "a/rec/t", &back, &blen, why,
		                         sizeof(why)),
		    CX_OK);
	}
	/* Truncated anywhere: inside a chunk, at a chunk boundary (the
	 * final chunk is missing), or to the header alone. */
	size_t cuts[] = {rawlen - 1, rawlen - 20, 6 + 8 + 16 + 24 + 4 +
	        CXI_BLOB_CHUNK + 17, 6 + 8 + 16 + 24, 3, 0};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		fake_set(f->store, "a/rec/t", orig, cuts[i]);
		expect_corrupt(f, "a/rec/t");
	}
	/* Bytes appended after the final chunk. */
	uint8_t *longer = malloc(rawlen + 4);
	memcpy(longer, orig, rawlen);
	memset(longer + rawlen, 0, 4);
	fake_set(f->store, "a/rec/t", longer, rawlen + 4);
	expect_corrupt(f, "a/rec/t");
	free(longer);
	free(orig);
	free(data);
}

static void
test_swapped_objects(void **state)
{
	fx *f = *state;
	uint8_t one[100] = {1}, two[100] = {2};
	size_t l1, l2;
	put_buf(f->bc, "a/rec/one", one, sizeof(one), 100);
	put_buf(f->bc, "a/rec/two", two, sizeof(two), 100);
	uint8_t *r1 = fake_raw(f->store, "a/rec/one", &l1);
	uint8_t *c1 = malloc(l1);
	memcpy(c1, r1, l1);
	uint8_t *r2 = fake_raw(f->store, "a/rec/two", &l2);
	fake_set(f->store, "a/rec/one", r2, l2);
	fake_set(f->store, "a/rec/two", c1, l1);
	free(c1);
	expect_corrupt(f, "a/rec/one");
	expect_corrupt(f, "a/rec/two");
}

static void
test_key_of_other_account(void **state)
{
	fx *f = *state;
	uint8_t data[10] = "secret";
	uint8_t *back;
	size_t blen;
	char why[256];
	put_buf(f->bc, "alice/rec/1", data, sizeof(data), 10);
	put_buf(f->bc, "bob/rec/1", data, sizeof(data), 10);
	/* Bob's row gets Alice's wrapped key: it must not unwrap. */
	assert_int_equal(mem_keys_copy(f->keys, "alice", "bob"), 0);
	assert_int_equal(get_buf(f->bc, "bob/rec/1", &back, &blen, why,
	                     sizeof(why)),
	    CXI_BLOB_EMASTER);
	assert_non_null(strstr(why, "does not unwrap"));
	assert_non_null(strstr(why, "another account"));
	/* Alice's object copied under bob/ is still bound to alice. */
	size_t l;
	uint8_t *raw = fake_raw(f->store, "alice/rec/1", &l);
	fake_set(f->store, "bob/rec/2", raw, l);
	assert_int_not_equal(get_buf(f->bc, "bob/rec/2", &back, &blen, why,
	                         sizeof(why)),
	    CX_OK);
}

static void
test_shred(void **state)
{
	fx *f = *state;
	uint8_t data[1000] = {9};
	uint8_t *back;
	size_t blen, l;
	char why[256];
	put_buf(f->bc, "carol/rec/1", data, sizeof(data), 1000);
	put_buf(f->bc, "carol/rec/2", data, sizeof(data), 1000);
	put_buf(f->bc, "dave/rec/1", data, sizeof(data), 1000);
	/* A copy of the bytes that survives somewhere (a backup). */
	uint8_t *raw = fake_raw(f->store, "carol/rec/1", &l);
	uint8_t *copy = malloc(l);
	memcpy(copy, raw, l);
	assert_int_equal(cxi_blobcrypt_shred(f->bc, "carol", why, sizeof(why)),
	    CX_OK);
	assert_int_equal(fake_count(f->store), 1);
	assert_int_equal(get_buf(f->bc, "carol/rec/2", &back, &blen, why,
	                     sizeof(why)),
	    CX_ENOENT);
	fake_set(f->store, "carol/rec/1", copy, l);
	assert_int_equal(get_buf(f->bc, "carol/rec/1", &back, &blen, why,
	                     sizeof(why)),
	    CXI_BLOB_EKEYGONE);
	assert_non_null(strstr(why, "destroyed"));
	/* A new write makes a new key; the old copy stays unreadable. */
	put_buf(f->bc, "carol/rec/3", data, sizeof(data), 1000);
	fake_set(f->store, "carol/rec/1", copy, l);
	assert_int_equal(get_buf(f->bc, "carol/rec/1", &back, &blen, why,
	                     sizeof(why)),
	    CXI_BLOB_EKEYGONE);
	assert_non_null(strstr(why, "destroyed and replaced"));
	free(copy);
	assert_int_equal(get_buf(f->bc, "dave/rec/1", &back, &blen, why,
	                     sizeof(why)),
	    CX_OK);
	free(back);
	assert_int_equal(cxi_blobcrypt_shred(f->bc, "../x", why, sizeof(why)),
	    CX_EINVAL);
}

static void
test_wrong_master(void **state)
{
	fx *f = *state;
	uint8_t data[10] = "x", other[32];
	uint8_t *back;
	size_t blen;
	char why[256], kid[9];
	put_buf(f->bc, "erin/rec/1", data, sizeof(data), 10);
	memcpy(other, f->master, 32);
	other[0] ^= 1;
	cxi_blobcrypt_key_id(other, kid);
	cxi_blobcrypt *bc2;
	/* Another master under another id: the id says it. */
	assert_int_equal(cxi_blobcrypt_new(&bc2, other, kid, &f->ks, &fake_ops,
	                     f->store, why, sizeof(why)),
	    CX_OK);
	assert_int_equal(get_buf(bc2, "erin/rec/1", &back, &blen, why,
	                     sizeof(why)),
	    CXI_BLOB_EMASTER);
	assert_non_null(strstr(why, "is wrapped by master key"));
	assert_non_null(strstr(why, f->kid));
	cxi_blobcrypt_free(bc2);
	/* Another master claiming the same id: unwrapping fails. */
	assert_int_equal(cxi_blobcrypt_new(&bc2, other, f->kid, &f->ks,
	                     &fake_ops, f->store, why, sizeof(why)),
	    CX_OK);
	assert_int_equal(get_buf(bc2, "erin/rec/1", &back, &blen, why,
	                     sizeof(why)),
	    CXI_BLOB_EMASTER);
	assert_non_null(strstr(why, "wrong master key"));
	cxi_blobcrypt_free(bc2);
}

static void
test_bad_keys_and_abort(void **state)
{
	fx *f = *state;
	cxi_bc_writer *w;
	char why[256];
	const char *bad[] = {"noslash", "/a/b", "a/", "../x/y", "a b/c", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cxi_blobcrypt_put_begin(f->bc, bad[i], &w, why,
		                     sizeof(why)),
		    CX_EINVAL);
	}
	assert_int_equal(cxi_blobcrypt_put_begin(f->bc, "g/rec/1", &w, why,
	                     sizeof(why)),
	    CX_OK);
	assert_int_equal(cxi_blobcrypt_write(w, "abc", 3, why, sizeof(why)),
	    CX_OK);
	cxi_blobcrypt_abort(w);
	size_t l;
	assert_null(fake_raw(f->store, "g/rec/1", &l));
	cxi_bc_reader *r;
	assert_int_equal(cxi_blobcrypt_get_open(f->bc, "g/rec/1", &r, why,
	                     sizeof(why)),
	    CX_ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper_truncate, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_swapped_objects, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_key_of_other_account, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_shred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_master, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_keys_and_abort, setup,
		    teardown),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
