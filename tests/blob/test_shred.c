/*
 * test_shred.c - crypto-shredding end to end with the real pieces: the
 * SQLite driver holding the account keys (account_keys, through the
 * repository), the fs blob plugin holding the ciphertext, and the core's
 * blob encryption in between. Deleting an account deletes its key row
 * (ON DELETE CASCADE), and from then on its recordings cannot be read,
 * even where the files are still on disk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blobcrypt.h"
#include "blobtest.h"
#include "migrate.h"
#include "repo_rig.h"

static char root[] = "/tmp/cxshredXXXXXX";
static const char *sqlite_so;

typedef struct src {
	const uint8_t *p;
	size_t len, off;
} src;

static cx_err
source(void *arg, void *buf, size_t cap, size_t *got)
{
	src *s = arg;
	size_t n = s->len - s->off < cap ? s->len - s->off : cap;
	memcpy(buf, s->p + s->off, n);
	s->off += n;
	*got = n;
	return (CX_OK);
}

static cx_err
read_all(cxi_blobcrypt *bc, const char *key, uint8_t *out, size_t cap,
    size_t *len, char *why, size_t whylen)
{
	cxi_bc_reader *r;
	cx_err rv = cxi_blobcrypt_get_open(bc, key, &r, why, whylen);
	*len = 0;
	if (rv != CX_OK) {
		return (rv);
	}
	for (;;) {
		size_t got;
		if ((rv = cxi_blobcrypt_read(r, out + *len, cap - *len, &got, why,
		         whylen)) != CX_OK || got == 0) {
			break;
		}
		*len += got;
	}
	cxi_blobcrypt_get_close(r);
	return (rv);
}

static void
test_shred_by_account_deletion(void **state)
{
	(void) state;
	char why[512] = "";
	assert_non_null(mkdtemp(root));
	char yaml[600];
	snprintf(yaml, sizeof(yaml), "file: %s/callixo.db\n", root);
	assert_int_equal(rig_open(sqlite_so, yaml, why, sizeof(why)), 0);
	assert_int_equal(cxi_migrate_up(&rig_db, NULL, why, sizeof(why)), 0);
	fs_rig fs;
	assert_int_equal(fs_rig_open(&fs, root, NULL), CX_OK);

	uint8_t master[CXI_BLOB_MASTER_BYTES];
	char mid[9];
	randombytes_buf(master, sizeof(master));
	cxi_blobcrypt_key_id(master, mid);
	cxi_keystore ks = {cxi_account_key_get, cxi_account_key_put,
	    cxi_account_key_del, &rig_db};
	cxi_blobcrypt *bc;
	assert_int_equal(cxi_blobcrypt_new(&bc, master, mid, &ks, fs.ops,
	                     fs.state, why, sizeof(why)), CX_OK);

	json_t *a = rig_account(NULL), *b = rig_account(NULL);
	size_t n = 300 * 1024;
	uint8_t *data = malloc(n), *back = malloc(n + 1);
	uint64_t seed = 42;
	fill_pattern(data, n, &seed);
	char ka[160], kb[160];
	snprintf(ka, sizeof(ka), "%s/recording/call_1", ID(a));
	snprintf(kb, sizeof(kb), "%s/recording/call_2", ID(b));
	src s1 = {data, n, 0}, s2 = {data, n, 0};
	assert_int_equal(cxi_blobcrypt_put(bc, ka, source, &s1, why,
	                     sizeof(why)), CX_OK);
	assert_int_equal(cxi_blobcrypt_put(bc, kb, source, &s2, why,
	                     sizeof(why)), CX_OK);
	/* One wrapped key per account, in the database, not the raw one. */
	assert_int_equal(rig_count("account_keys"), 2);

	size_t len;
	assert_int_equal(read_all(bc, ka, back, n + 1, &len, why, sizeof(why)),
	    CX_OK);
	assert_int_equal(len, n);
	assert_memory_equal(back, data, n);

	/* Close and delete account A: its key row goes with it. */
	assert_int_equal(cxi_repo_delete(&rig_db, &cxi_ent_account, ID(a),
	                     ID(a)), CX_OK);
	assert_int_equal(rig_count("account_keys"), 1);
	/* The ciphertext is still on disk... */
	char path[700];
	snprintf(path, sizeof(path), "%s/plugins/fs/blobs/%s", root, ka);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	/* ...and can no longer be read by anyone. */
	why[0] = '\0';
	assert_int_not_equal(read_all(bc, ka, back, n + 1, &len, why,
	                         sizeof(why)), CX_OK);
	assert_non_null(strstr(why, "destroyed"));
	/* B is untouched. */
	assert_int_equal(read_all(bc, kb, back, n + 1, &len, why, sizeof(why)),
	    CX_OK);
	assert_int_equal(len, n);

	/* Shredding B removes its key and its files. */
	assert_int_equal(cxi_blobcrypt_shred(bc, ID(b), why, sizeof(why)),
	    CX_OK);
	assert_int_equal(rig_count("account_keys"), 0);
	snprintf(path, sizeof(path), "%s/plugins/fs/blobs/%s", root, kb);
	assert_int_not_equal(stat(path, &st), 0);

	cxi_blobcrypt_free(bc);
	fs_rig_close(&fs);
	rig_close();
	json_decref(a);
	json_decref(b);
	free(data);
	free(back);
	sodium_memzero(master, sizeof(master));
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_shred SQLITE_PLUGIN.so\n");
		return (2);
	}
	sqlite_so = argv[1];
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shred_by_account_deletion),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
