/*
 * test_s3.c - the s3 blob plugin against s3rver (started by
 * s3_harness.sh, which exports S3_ENDPOINT and S3_BUCKET), loaded through
 * the real core. s3rver accepts any well-formed SigV4 signature from a
 * known access key, so the secret used here is a marker: test_s3.sh
 * checks that it never shows in the log. Signature correctness is checked
 * separately, against an independent verifier, in test_s3_wire.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "s3_rig.h"

#define SECRET "s3cr3t-NEVER-LOGGED"
#define MIB (1024u * 1024u)

static char yaml_buf[2048];

/* Settings for s3rver: its bucket reports an empty LocationConstraint,
 * which means us-east-1. */
static const char *
conf(const char *region, const char *allowed, const char *access)
{
	snprintf(yaml_buf, sizeof(yaml_buf),
	    "endpoint: %s\nbucket: %s\nregion: %s\n%s%s%s"
	    "access_key: %s\nsecret_key: " SECRET "\npart_size: 5242880\n"
	    "retry_backoff: 10ms\nmax_retries: 2\ntimeout: 20s\n"
	    "prefix: cx/\n",
	    getenv("S3_ENDPOINT"), getenv("S3_BUCKET"), region,
	    allowed ? "allowed_regions: " : "", allowed ? allowed : "",
	    allowed ? "\n" : "", access);
	return (yaml_buf);
}

static int
group_setup(void **state)
{
	(void) state;
	if (getenv("S3_ENDPOINT") == NULL || getenv("S3_BUCKET") == NULL) {
		fprintf(stderr, "run through tests/blob/s3_harness.sh\n");
		return (-1);
	}
	if (sodium_init() < 0) {
		return (-1);
	}
	rig_setup();
	return (0);
}

static int
group_teardown(void **state)
{
	(void) state;
	rig_teardown();
	return (0);
}

static int
open_inst(void **state)
{
	static s3_inst in;
	if (rig_open(&in, conf("us-east-1", "[us-east-1]", "S3RVER")) !=
	    CX_OK) {
		return (-1);
	}
	rig_metric_reset();
	*state = &in;
	return (0);
}

static int
close_inst(void **state)
{
	rig_close(*state);
	return (0);
}

static void
test_small_round_trip(void **state)
{
	s3_inst *in = *state;
	const char msg[] = "ciphertext, as far as the plugin knows";
	char *back;
	size_t len;
	assert_int_equal(rig_put_all(in, "acc1/rec/small", msg, sizeof(msg), 7),
	    CX_OK);
	assert_int_equal(rig_metric("s3_parts_total"), 0); /* one PUT */
	assert_int_equal(rig_get_all(in, "acc1/rec/small", &back, &len, 5),
	    CX_OK);
	assert_int_equal(len, sizeof(msg));
	assert_memory_equal(back, msg, len);
	free(back);
	/* Replacing is atomic and whole: the new content, nothing else. */
	assert_int_equal(rig_put_all(in, "acc1/rec/small", "x", 1, 1), CX_OK);
	assert_int_equal(rig_get_all(in, "acc1/rec/small", &back, &len, 64),
	    CX_OK);
	assert_int_equal(len, 1);
	free(back);
	/* An empty object is an object. */
	assert_int_equal(rig_put_all(in, "acc1/rec/empty", "", 0, 1), CX_OK);
	assert_int_equal(rig_get_all(in, "acc1/rec/empty", &back, &len, 64),
	    CX_OK);
	assert_int_equal(len, 0);
	free(back);
}

static void
fill(unsigned char *p, size_t len, uint32_t seed)
{
	uint32_t x = seed;
	for (size_t i = 0; i < len; i++) {
		x = x * 1664525u + 1013904223u;
		p[i] = (unsigned char) (x >> 24);
	}
}

/* 20 MB with 5 MiB parts: three full parts and a short last one. The
 * object must stay invisible until commit. */
static void
test_multipart_round_trip(void **state)
{
	s3_inst *in = *state;
	size_t len = 20u * 1000u * 1000u;
	unsigned char *data = malloc(len), h1[32], h2[32];
	assert_non_null(data);
	fill(data, len, 42);
	crypto_hash_sha256(h1, data, len);
	cx_blob_writer *w;
	cx_blob_reader *r;
	uint64_t size;
	assert_int_equal(in->ops->put_begin(in->state, "acc1/rec/big", &w),
	    CX_OK);
	size_t off = 0, chunk = 100003; /* not a divisor of the part size */
	for (; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		assert_int_equal(in->ops->put_write(w, data + off, n), CX_OK);
		if (off > 12 * MIB && off < 12 * MIB + chunk) {
			assert_int_equal(in->ops->get_open(in->state,
			                     "acc1/rec/big", &r, &size),
			    CX_ENOENT);
		}
	}
	assert_int_equal(in->ops->put_commit(w), CX_OK);
	assert_int_equal(rig_metric("s3_parts_total"), 4);
	char *back;
	size_t blen;
	assert_int_equal(rig_get_all(in, "acc1/rec/big", &back, &blen, 65536),
	    CX_OK);
	assert_int_equal(blen, len);
	crypto_hash_sha256(h2, (unsigned char *) back, blen);
	assert_memory_equal(h1, h2, sizeof(h1));
	free(back);
	free(data);
}

static void
test_abort_leaves_nothing(void **state)
{
	s3_inst *in = *state;
	size_t len = 11 * MIB;
	unsigned char *data = malloc(len);
	assert_non_null(data);
	fill(data, len, 7);
	cx_blob_writer *w;
	cx_blob_reader *r;
	uint64_t size;
	/* Multipart under way (two parts sent), then abort. s3rver 3.7
	 * answers AbortMultipartUpload with 405 (not implemented), so here
	 * only invisibility is checked; test_s3_wire.c checks the abort
	 * request itself. */
	assert_int_equal(in->ops->put_begin(in->state, "acc1/rec/aborted",
	                     &w), CX_OK);
	assert_int_equal(in->ops->put_write(w, data, len), CX_OK);
	assert_true(rig_metric("s3_parts_total") >= 2);
	in->ops->put_abort(w);
	assert_int_equal(in->ops->get_open(in->state, "acc1/rec/aborted", &r,
	                     &size), CX_ENOENT);
	/* A small one that never left memory. */
	assert_int_equal(in->ops->put_begin(in->state, "acc1/rec/aborted2",
	                     &w), CX_OK);
	assert_int_equal(in->ops->put_write(w, data, 100), CX_OK);
	in->ops->put_abort(w);
	assert_int_equal(in->ops->get_open(in->state, "acc1/rec/aborted2",
	                     &r, &size), CX_ENOENT);
	free(data);
}

static void
test_missing_and_bad_keys(void **state)
{
	s3_inst *in = *state;
	cx_blob_reader *r = NULL;
	cx_blob_writer *w = NULL;
	uint64_t size;
	assert_int_equal(in->ops->get_open(in->state, "acc1/rec/none", &r,
	                     &size), CX_ENOENT);
	assert_null(r);
	const char *bad[] = {"/abs", "a/../b", "sp ace", "", "a//b",
	    "q?x=1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(in->ops->put_begin(in->state, bad[i], &w),
		    CX_EINVAL);
		assert_int_equal(in->ops->get_open(in->state, bad[i], &r,
		                     &size), CX_EINVAL);
		assert_int_equal(in->ops->remove(in->state, bad[i]),
		    CX_EINVAL);
	}
	assert_int_equal(in->ops->remove_prefix(in->state, ""), CX_EINVAL);
}

static void
test_remove_and_prefix(void **state)
{
	s3_inst *in = *state;
	cx_blob_reader *r;
	uint64_t size;
	char key[64];
	assert_int_equal(rig_put_all(in, "acc2/rec/one", "1", 1, 1), CX_OK);
	assert_int_equal(in->ops->remove(in->state, "acc2/rec/one"), CX_OK);
	assert_int_equal(in->ops->get_open(in->state, "acc2/rec/one", &r,
	                     &size), CX_ENOENT);
	/* S3 deletes are idempotent. */
	assert_int_equal(in->ops->remove(in->state, "acc2/rec/one"), CX_OK);
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "acc3/rec/%d", i);
		assert_int_equal(rig_put_all(in, key, key, strlen(key), 4),
		    CX_OK);
	}
	assert_int_equal(rig_put_all(in, "acc33/rec/keep", "k", 1, 1), CX_OK);
	assert_int_equal(rig_put_all(in, "acc4/rec/keep", "k", 1, 1), CX_OK);
	assert_int_equal(in->ops->remove_prefix(in->state, "acc3/"), CX_OK);
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "acc3/rec/%d", i);
		assert_int_equal(in->ops->get_open(in->state, key, &r, &size),
		    CX_ENOENT);
	}
	assert_int_equal(in->ops->get_open(in->state, "acc33/rec/keep", &r,
	                     &size), CX_OK);
	in->ops->get_close(r);
	assert_int_equal(in->ops->get_open(in->state, "acc4/rec/keep", &r,
	                     &size), CX_OK);
	assert_int_equal(size, 1);
	in->ops->get_close(r);
	/* Nothing under the prefix is fine too. */
	assert_int_equal(in->ops->remove_prefix(in->state, "acc9/"), CX_OK);
}

/* s3rver's bucket is in us-east-1. */
static void
test_residency_guard(void **state)
{
	(void) state;
	s3_inst in;
	/* The configured region itself is not allowed. */
	assert_int_equal(rig_open(&in, conf("us-east-1", NULL, "S3RVER")),
	    CX_EDENIED);
	rig_close(&in);
	/* Region allowed, but the bucket answers us-east-1. */
	assert_int_equal(rig_open(&in, conf("eu-central-1", "[eu-central-1]",
	                                   "S3RVER")), CX_EDENIED);
	rig_close(&in);
	/* Both allowed, but the bucket is not where the config says. */
	assert_int_equal(rig_open(&in, conf("eu-central-1",
	                                   "[eu-central-1, us-east-1]",
	                                   "S3RVER")), CX_ECONFIG);
	rig_close(&in);
	/* Allowed and in place: runs (the fixture does the same). */
	assert_int_equal(rig_open(&in, conf("us-east-1",
	                                   "[eu-west-1, us-east-1]", "S3RVER")),
	    CX_OK);
	rig_close(&in);
}

static void
test_wrong_credentials(void **state)
{
	(void) state;
	s3_inst in;
	assert_int_equal(rig_open(&in, conf("us-east-1", "[us-east-1]",
	                                   "NOT-A-KEY")), CX_EDENIED);
	rig_close(&in);
}

static void
test_settings_refused(void **state)
{
	(void) state;
	s3_inst in;
	char y[1024];
	/* Below S3's 5 MiB minimum part size. */
	snprintf(y, sizeof(y), "bucket: b-1\naccess_key: a\nsecret_key: s\n"
	                       "part_size: 1048576\n");
	assert_int_equal(rig_open(&in, y), CX_ECONFIG);
	rig_close(&in);
	snprintf(y, sizeof(y), "bucket: Bad_Bucket\naccess_key: a\n"
	                       "secret_key: s\n");
	assert_int_equal(rig_open(&in, y), CX_ECONFIG);
	rig_close(&in);
	snprintf(y, sizeof(y), "bucket: b-1\naccess_key: a\nsecret_key: s\n"
	                       "endpoint: http://user@host/path\n");
	assert_int_equal(rig_open(&in, y), CX_ECONFIG);
	rig_close(&in);
	snprintf(y, sizeof(y), "bucket: b-1\naccess_key: a\n");
	assert_int_equal(rig_open(&in, y), CX_ECONFIG);
	rig_close(&in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_small_round_trip, open_inst,
	        close_inst),
	    cmocka_unit_test_setup_teardown(test_multipart_round_trip,
	        open_inst, close_inst),
	    cmocka_unit_test_setup_teardown(test_abort_leaves_nothing,
	        open_inst, close_inst),
	    cmocka_unit_test_setup_teardown(test_missing_and_bad_keys,
	        open_inst, close_inst),
	    cmocka_unit_test_setup_teardown(test_remove_and_prefix, open_inst,
	        close_inst),
	    cmocka_unit_test(test_residency_guard),
	    cmocka_unit_test(test_wrong_credentials),
	    cmocka_unit_test(test_settings_refused),
	};
	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
