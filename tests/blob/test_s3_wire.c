/*
 * test_s3_wire.c - the s3 plugin against a scripted loopback server:
 * what goes on the wire (methods, paths, sorted and encoded queries,
 * Range/If-Match, the Complete XML), SigV4 signatures recomputed
 * independently, retries with backoff on 5xx/429/"200 with an error",
 * none on 4xx, error mapping and ListObjectsV2 pagination.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "s3_fake.h"
#include "s3_rig.h"

#define MIB (1024u * 1024u)
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

typedef struct wire {
	fake_srv *f;
	s3_inst in;
} wire;

static int
setup(void **state)
{
	static wire w;
	char y[1024];
	if (sodium_init() < 0 || (w.f = fake_start()) == NULL) {
		return (-1);
	}
	/* Region defaults to eu-central-1, which the fake reports. */
	snprintf(y, sizeof(y), "endpoint: http://127.0.0.1:%d\n"
	    "bucket: fake-bucket\naccess_key: AKIDEXAMPLE\nsecret_key: %s\n"
	    "max_retries: 3\nretry_backoff: 20ms\ntimeout: 5s\nprefix: cx/\n"
	    "part_size: 5242880\n",
	    fake_port(w.f), SECRET);
	if (rig_open(&w.in, y) != CX_OK) {
		fake_stop(w.f);
		return (-1);
	}
	rig_metric_reset();
	*state = &w;
	return (0);
}

static int
teardown(void **state)
{
	wire *w = *state;
	rig_close(&w->in);
	fake_stop(w->f);
	return (0);
}

static fake_req *
req(wire *w, size_t i)
{
	static fake_req r;
	if (fake_get(w->f, i, &r) != 0) {
		fail_msg("no request %zu", i);
	}
	return (&r);
}

static void
expect_req(wire *w, size_t i, const char *method, const char *target)
{
	fake_req *r = req(w, i);
	char why[256];
	if (strcmp(r->method, method) != 0 || strcmp(r->target, target) != 0) {
		fail_msg("request %zu: want %s %s, got %s %s", i, method, target,
		    r->method, r->target);
	}
	if (fake_sigv4_check(r, SECRET, why, sizeof(why)) != 0) {
		fail_msg("request %zu: %s", i, why);
	}
}

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1e3 + ts.tv_nsec / 1e6);
}

static void
test_retry_then_success(void **state)
{
	wire *w = *state;
	const fake_resp s[] = {
	    {503, "<Error><Code>SlowDown</Code></Error>", NULL},
	    {500, NULL, NULL}, {200, NULL, "ETag: \"e\"\r\n"}};
	fake_script(w->f, s, 3);
	double t0 = now_ms();
	assert_int_equal(rig_put_all(&w->in, "a/k", "hello", 5, 5), CX_OK);
	/* Backoff of 20 ms doubling, full jitter over the upper half:
	 * at least 10 + 20 ms in total. */
	assert_true(now_ms() - t0 >= 30.0);
	assert_int_equal(fake_count(w->f), 3);
	for (size_t i = 0; i < 3; i++) {
		expect_req(w, i, "PUT", "/fake-bucket/cx/a/k");
		assert_int_equal(req(w, i)->body_len, 5);
	}
	char v[512];
	assert_int_equal(fake_header(req(w, 0), "x-amz-content-sha256", v,
	                     sizeof(v)), 0);
	assert_string_equal(v, "UNSIGNED-PAYLOAD");
	assert_int_equal(fake_header(req(w, 0), "authorization", v, sizeof(v)),
	    0);
	assert_non_null(strstr(v, "eu-central-1/s3/aws4_request"));
	assert_int_equal(rig_metric("s3_retries_total"), 2);
	/* The residency check at init: "location=", as SigV4 canonicalizes
	 * it (curl 7.88 signs the query verbatim; "?location" would not
	 * verify on AWS). */
	fake_req loc;
	assert_int_equal(fake_location(w->f, &loc), 0);
	assert_string_equal(loc.target, "/fake-bucket?location=");
	assert_int_equal(fake_sigv4_check(&loc, SECRET, v, sizeof(v)), 0);
	/* The verifier is not vacuous: another secret does not match. */
	assert_int_equal(fake_sigv4_check(&loc, "not-the-secret", v,
	                     sizeof(v)), -1);
	/* 429 is retried too. */
	const fake_resp s2[] = {{429, NULL, NULL}, {200, NULL, NULL}};
	fake_script(w->f, s2, 2);
	assert_int_equal(w->in.ops->remove(w->in.state, "a/k"), CX_OK);
	assert_int_equal(fake_count(w->f), 2);
	expect_req(w, 1, "DELETE", "/fake-bucket/cx/a/k");
}

static void
test_no_retry_on_4xx_and_mapping(void **state)
{
	wire *w = *state;
	cx_blob_reader *r;
	uint64_t size;
	const fake_resp bad[] = {{400, "<Error><Code>InvalidArgument</Code>"
	                               "<Message>no</Message></Error>", NULL}};
	fake_script(w->f, bad, 1);
	assert_int_equal(rig_put_all(&w->in, "a/k", "x", 1, 1), CX_EIO);
	assert_int_equal(fake_count(w->f), 1);
	const fake_resp denied[] = {{403, NULL, NULL}};
	fake_script(w->f, denied, 1);
	assert_int_equal(w->in.ops->get_open(w->in.state, "a/k", &r, &size),
	    CX_EDENIED);
	assert_int_equal(fake_count(w->f), 1);
	expect_req(w, 0, "HEAD", "/fake-bucket/cx/a/k");
	const fake_resp missing[] = {{404, NULL, NULL}};
	fake_script(w->f, missing, 1);
	assert_int_equal(w->in.ops->get_open(w->in.state, "a/k", &r, &size),
	    CX_ENOENT);
	/* Always 503: gives up after max_retries (3) retries. */
	const fake_resp busy[] = {{503, NULL, NULL}, {503, NULL, NULL},
	    {503, NULL, NULL}, {503, NULL, NULL}, {200, NULL, NULL}};
	fake_script(w->f, busy, 5);
	assert_int_equal(w->in.ops->remove(w->in.state, "a/k"), CX_EIO);
	assert_int_equal(fake_count(w->f), 4);
}

static void
test_ranged_get(void **state)
{
	wire *w = *state;
	cx_blob_reader *r;
	uint64_t size;
	char buf[16], v[64];
	size_t got;
	const fake_resp s[] = {{200, "0123456789", "ETag: \"v1\"\r\n"},
	    {206, "0123456789", "Content-Range: bytes 0-9/10\r\n"}};
	fake_script(w->f, s, 2);
	assert_int_equal(w->in.ops->get_open(w->in.state, "a/k", &r, &size),
	    CX_OK);
	assert_int_equal(size, 10);
	assert_int_equal(w->in.ops->get_read(r, buf, 4, &got), CX_OK);
	assert_int_equal(got, 4);
	assert_int_equal(w->in.ops->get_read(r, buf + 4, 16, &got), CX_OK);
	assert_int_equal(got, 6);
	assert_memory_equal(buf, "0123456789", 10);
	assert_int_equal(w->in.ops->get_read(r, buf, 16, &got), CX_OK);
	assert_int_equal(got, 0);
	w->in.ops->get_close(r);
	expect_req(w, 1, "GET", "/fake-bucket/cx/a/k");
	assert_int_equal(fake_header(req(w, 1), "range", v, sizeof(v)), 0);
	assert_string_equal(v, "bytes=0-9");
	assert_int_equal(fake_header(req(w, 1), "if-match", v, sizeof(v)), 0);
	assert_string_equal(v, "\"v1\"");
	/* A retried chunk: the 503's error document is longer than the
	 * range asked for, and must not turn into a transport error. */
	const fake_resp s2[] = {{200, "0123456789", "ETag: \"v1\"\r\n"},
	    {503, "<Error><Code>SlowDown</Code><Message>Please reduce your "
	          "request rate, this message being longer than ten bytes"
	          "</Message></Error>", NULL},
	    {206, "0123456789", NULL}};
	fake_script(w->f, s2, 3);
	assert_int_equal(w->in.ops->get_open(w->in.state, "a/k", &r, &size),
	    CX_OK);
	assert_int_equal(w->in.ops->get_read(r, buf, 16, &got), CX_OK);
	assert_int_equal(got, 10);
	w->in.ops->get_close(r);
	assert_int_equal(fake_count(w->f), 3);
	const fake_resp s3[] = {{200, "0123", "ETag: \"v2\"\r\n"},
	    {206, "01", NULL}};
	fake_script(w->f, s3, 2);
	/* A short answer is an error, not a silently short object. */
	assert_int_equal(w->in.ops->get_open(w->in.state, "a/k", &r, &size),
	    CX_OK);
	assert_int_equal(w->in.ops->get_read(r, buf, 16, &got), CX_EIO);
	w->in.ops->get_close(r);
}

static const char initiate[] = "<InitiateMultipartUploadResult><Bucket>"
    "fake-bucket</Bucket><Key>cx/m</Key><UploadId>u/1+x=</UploadId>"
    "</InitiateMultipartUploadResult>";

static void
test_multipart_wire(void **state)
{
	wire *w = *state;
	size_t len = 6 * MIB;
	char *data = calloc(1, len);
	assert_non_null(data);
	const fake_resp s[] = {{200, initiate, NULL},
	    {200, NULL, "ETag: \"e1\"\r\n"}, {200, NULL, "ETag: \"e2\"\r\n"},
	    {200, "<CompleteMultipartUploadResult><ETag>\"x-2\"</ETag>"
	          "</CompleteMultipartUploadResult>", NULL}};
	fake_script(w->f, s, 4);
	assert_int_equal(rig_put_all(&w->in, "m", data, len, 1 * MIB), CX_OK);
	assert_int_equal(fake_count(w->f), 4);
	expect_req(w, 0, "POST", "/fake-bucket/cx/m?uploads=");
	expect_req(w, 1, "PUT",
	    "/fake-bucket/cx/m?partNumber=1&uploadId=u%2F1%2Bx%3D");
	assert_int_equal(req(w, 1)->body_len, 5 * MIB);
	expect_req(w, 2, "PUT",
	    "/fake-bucket/cx/m?partNumber=2&uploadId=u%2F1%2Bx%3D");
	assert_int_equal(req(w, 2)->body_len, 1 * MIB);
	expect_req(w, 3, "POST", "/fake-bucket/cx/m?uploadId=u%2F1%2Bx%3D");
	assert_non_null(strstr(req(w, 3)->body, "<Part><PartNumber>1"
	                                        "</PartNumber><ETag>&quot;e1&quot;"
	                                        "</ETag></Part><Part><PartNumber>2"
	                                        "</PartNumber><ETag>&quot;e2&quot;"
	                                        "</ETag></Part>"));
	/* Complete answers 200 with an error inside every time: retried,
	 * then the upload is aborted. */
	const char *err = "<Error><Code>InternalError</Code></Error>";
	const fake_resp s2[] = {{200, initiate, NULL},
	    {200, NULL, "ETag: \"e1\"\r\n"}, {200, NULL, "ETag: \"e2\"\r\n"},
	    {200, err, NULL}, {200, err, NULL}, {200, err, NULL},
	    {200, err, NULL}, {204, NULL, NULL}};
	fake_script(w->f, s2, 8);
	assert_int_equal(rig_put_all(&w->in, "m", data, len, len), CX_EIO);
	assert_int_equal(fake_count(w->f), 8);
	expect_req(w, 7, "DELETE", "/fake-bucket/cx/m?uploadId=u%2F1%2Bx%3D");
	/* A part refused: the writer stays failed, abort cleans up. */
	const fake_resp s3[] = {{200, initiate, NULL}, {400, NULL, NULL},
	    {204, NULL, NULL}};
	fake_script(w->f, s3, 3);
	cx_blob_writer *wr;
	assert_int_equal(w->in.ops->put_begin(w->in.state, "m", &wr), CX_OK);
	assert_int_equal(w->in.ops->put_write(wr, data, len), CX_EIO);
	assert_int_equal(w->in.ops->put_write(wr, data, 1), CX_EIO);
	w->in.ops->put_abort(wr);
	assert_int_equal(fake_count(w->f), 3);
	expect_req(w, 2, "DELETE", "/fake-bucket/cx/m?uploadId=u%2F1%2Bx%3D");
	free(data);
}

static void
test_list_pagination(void **state)
{
	wire *w = *state;
	const fake_resp s[] = {
	    {200, "<ListBucketResult><IsTruncated>true</IsTruncated>"
	          "<Contents><Key>cx/acc/1</Key></Contents>"
	          "<Contents><Key>cx/acc/2</Key></Contents>"
	          "<NextContinuationToken>t/k+n=</NextContinuationToken>"
	          "</ListBucketResult>", NULL},
	    {204, NULL, NULL}, {204, NULL, NULL},
	    {200, "<ListBucketResult><IsTruncated>false</IsTruncated>"
	          "<Contents><Key>cx/other/x</Key></Contents>"
	          "<Contents><Key>cx/acc/3</Key></Contents>"
	          "</ListBucketResult>", NULL},
	    {204, NULL, NULL}};
	fake_script(w->f, s, 5);
	assert_int_equal(w->in.ops->remove_prefix(w->in.state, "acc/"), CX_OK);
	assert_int_equal(fake_count(w->f), 5);
	expect_req(w, 0, "GET", "/fake-bucket?list-type=2&prefix=cx%2Facc%2F");
	expect_req(w, 1, "DELETE", "/fake-bucket/cx/acc/1");
	expect_req(w, 2, "DELETE", "/fake-bucket/cx/acc/2");
	expect_req(w, 3, "GET", "/fake-bucket?continuation-token=t%2Fk%2Bn%3D"
	                        "&list-type=2&prefix=cx%2Facc%2F");
	/* cx/other/x was listed but is outside the prefix: not deleted. */
	expect_req(w, 4, "DELETE", "/fake-bucket/cx/acc/3");
	/* A malformed listing stops the removal. */
	const fake_resp bad[] = {{200, "<ListBucketResult><Key>cx/acc/1",
	    NULL}};
	fake_script(w->f, bad, 1);
	assert_int_equal(w->in.ops->remove_prefix(w->in.state, "acc/"), CX_EIO);
	assert_int_equal(fake_count(w->f), 1);
}

/* Virtual-hosted style (the AWS default): the bucket goes into the host
 * name. curl resolves any *.localhost name to the loopback itself. */
static void
test_virtual_host(void **state)
{
	(void) state;
	fake_srv *f = fake_start();
	assert_non_null(f);
	char y[1024], v[256];
	snprintf(y, sizeof(y), "endpoint: http://localhost:%d\n"
	    "path_style: false\nbucket: fake-bucket\naccess_key: AKID\n"
	    "secret_key: %s\n", fake_port(f), SECRET);
	s3_inst in;
	assert_int_equal(rig_open(&in, y), CX_OK);
	fake_req r;
	assert_int_equal(fake_location(f, &r), 0);
	assert_string_equal(r.target, "/?location=");
	assert_int_equal(fake_header(&r, "host", v, sizeof(v)), 0);
	snprintf(y, sizeof(y), "fake-bucket.localhost:%d", fake_port(f));
	assert_string_equal(v, y);
	assert_int_equal(fake_sigv4_check(&r, SECRET, v, sizeof(v)), 0);
	assert_int_equal(in.ops->remove(in.state, "a/k"), CX_OK);
	assert_int_equal(fake_get(f, 0, &r), 0);
	assert_string_equal(r.target, "/a/k");
	assert_int_equal(fake_sigv4_check(&r, SECRET, v, sizeof(v)), 0);
	rig_close(&in);
	fake_stop(f);
}

int
main(void)
{
	rig_setup();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_retry_then_success, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_no_retry_on_4xx_and_mapping,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ranged_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_multipart_wire, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_list_pagination, setup,
	        teardown),
	    cmocka_unit_test(test_virtual_host),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rig_teardown();
	return (rc);
}
