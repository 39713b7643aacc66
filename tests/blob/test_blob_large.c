/*
 * test_blob_large.c - a 200 MB object streamed through blobcrypt and the
 * fs plugin: written from a generator, read back and hashed, with the
 * process's peak memory growing by far less than the object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sodium.h>

#include "blobtest.h"

#define TOTAL (200ull * 1000 * 1000)

typedef struct gen {
	uint64_t left;
	uint64_t seed;
	crypto_generichash_state h;
} gen;

/* Odd read sizes, so chunks and source reads never line up. */
static cx_err
generate(void *arg, void *buf, size_t cap, size_t *got)
{
	gen *g = arg;
	size_t n = cap > 50001 ? 50001 : cap;
	n = g->left < n ? (size_t) g->left : n;
	fill_pattern(buf, n, &g->seed);
	crypto_generichash_update(&g->h, buf, n);
	g->left -= n;
	*got = n;
	return (CX_OK);
}

static long
peak_kb(void)
{
	struct rusage ru;
	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return (ru.ru_maxrss);
}

static void
test_200mb_streamed(void **state)
{
	(void) state;
	char root[64] = "/tmp/cxbiglobXXXXXX", why[256], cmd[128];
	uint8_t master[32] = {5}, want[32], have[32];
	fs_rig rig;
	cxi_keystore ks;
	cxi_blobcrypt *bc;
	assert_non_null(mkdtemp(root));
	assert_int_equal(fs_rig_open(&rig, root, NULL), CX_OK);
	mem_keys *keys = mem_keys_new();
	mem_keys_store(keys, &ks);
	assert_int_equal(cxi_blobcrypt_new(&bc, master, "big", &ks, rig.ops,
	                     rig.state, why, sizeof(why)),
	    CX_OK);
	long before = peak_kb();

	gen g = {.left = TOTAL, .seed = 99};
	crypto_generichash_init(&g.h, NULL, 0, sizeof(want));
	assert_int_equal(cxi_blobcrypt_put(bc, "big/rec/1", generate, &g, why,
	                     sizeof(why)),
	    CX_OK);
	crypto_generichash_final(&g.h, want, sizeof(want));

	cxi_bc_reader *r;
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, sizeof(have));
	assert_int_equal(cxi_blobcrypt_get_open(bc, "big/rec/1", &r, why,
	                     sizeof(why)),
	    CX_OK);
	uint8_t *buf = malloc(100000);
	uint64_t total = 0;
	size_t got;
	while (cxi_blobcrypt_read(r, buf, 100000, &got, why, sizeof(why)) ==
	        CX_OK &&
	    got > 0) {
		crypto_generichash_update(&h, buf, got);
		total += got;
	}
	free(buf);
	cxi_blobcrypt_get_close(r);
	crypto_generichash_final(&h, have, sizeof(have));
	assert_int_equal(total, TOTAL);
	assert_memory_equal(have, want, sizeof(want));

	long grew = peak_kb() - before;
	printf("peak RSS grew by %ld KiB for a %llu MB object\n", grew,
	    TOTAL / 1000000);
	assert_true(grew < 32 * 1024);

	cxi_blobcrypt_free(bc);
	mem_keys_free(keys);
	fs_rig_close(&rig);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_200mb_streamed),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
