/*
 * test_deepgram.c - the deepgram plugin in the SDK test kit (a real core
 * in process) against fake_deepgram.py, a loopback fake of Deepgram's
 * pre-recorded API that checks the documented request format.
 *
 *   test_deepgram <deepgram.so> <python3> <fake_deepgram.py>
 *
 * Failure modes of the fake are picked through api_base
 * (http://127.0.0.1:<port>/mode/<m>), which also exercises a base URL
 * with a path.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>

#include <callixo/testkit.h>
#include <callixo/transcription.h>

#include "dg_rig.h"

#define KEY "dg-test-key-0123456789abcdef"
#define WAIT_MS 20000

static const char *plugin_path, *python, *fake_py;
static dg_fake fake = {.pid = -1, .stdin_fd = -1};
#define fake_port (fake.port)
static char dir[256], wav_small[300], wav_big[300], not_audio[300];

static json_t *
fake_last(void)
{
	json_t *j = dg_fake_last(&fake);
	assert_non_null(j);
	return (j);
}

static const char *
last_q(json_t *last, const char *k)
{
	return (json_string_value(json_object_get(json_object_get(last,
	    "query"), k)));
}

static void
sha256_hex(const char *path, char out[65])
{
	assert_int_equal(dg_sha256_hex(path, out), 0);
}

/* -- the kit ------------------------------------------------------------- */

static cx_testkit *
kit_with(const char *fmt, ...)
{
	char yaml[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(yaml, sizeof(yaml), fmt, ap);
	va_end(ap);
	cx_testkit *tk;
	assert_int_equal(cx_testkit_new(&tk), CX_OK);
	if (cx_testkit_load(tk, plugin_path, yaml) != CX_OK) {
		fail_msg("load: %s", cx_testkit_error(tk));
	}
	assert_int_equal(cx_testkit_start(tk), CX_OK);
	return (tk);
}

/* A kit on the fake in `mode` ("" for the well-behaved fake). */
static cx_testkit *
kit(const char *mode, const char *extra)
{
	return (kit_with("api_key: %s\napi_base: http://127.0.0.1:%d%s%s\n%s",
	    KEY, fake_port, mode[0] ? "/mode/" : "", mode, extra));
}

static cx_err
transcribe(cx_testkit *tk, const char *path, const char *lang,
    const char *ctype, const char *cred_key, json_t **reply)
{
	json_t *d = json_pack("{s:i, s:s, s:s}", "v", 1, "call_id",
	    "call_test", "path", path);
	assert_non_null(d);
	if (ctype != NULL) {
		json_object_set_new(d, "content_type", json_string(ctype));
	}
	if (lang != NULL) {
		json_object_set_new(d, "language", json_string(lang));
	}
	if (cred_key != NULL) {
		json_object_set_new(d, "credentials", json_pack("{s:s}",
		    "api_key", cred_key));
	}
	char *txt = json_dumps(d, 0);
	json_decref(d);
	assert_non_null(txt);
	*reply = NULL;
	cx_err e = cx_testkit_request(tk, CX_SVC_TRANSCRIBE, txt, WAIT_MS,
	    reply);
	free(txt);
	return (e);
}

static const char *
message(const json_t *reply)
{
	const char *m = json_string_value(json_object_get(reply, "message"));
	return (m ? m : "");
}

/* Expects error `want` with `needle` in the message. */
static void
expect_err(cx_testkit *tk, const char *path, const char *lang, cx_err want,
    const char *needle)
{
	json_t *reply;
	cx_err e = transcribe(tk, path, lang, "audio/wav", NULL, &reply);
	if (e != want || strstr(message(reply), needle) == NULL) {
		fail_msg("want %s with '%s', got %s: '%s'", cx_strerror(want),
		    needle, cx_strerror(e), message(reply));
	}
	json_decref(reply);
}

/* -- tests --------------------------------------------------------------- */

static void
test_transcribe(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit("", "");
	json_t *reply;
	cx_err e = transcribe(tk, wav_small, "en", "audio/wav", NULL, &reply);
	if (e != CX_OK) {
		fail_msg("transcribe: %s: %s", cx_strerror(e), message(reply));
	}
	json_t *last = fake_last();
	/* The request, as the docs give it. */
	assert_string_equal(json_string_value(json_object_get(last,
	    "authorization")), "Token " KEY);
	assert_string_equal(json_string_value(json_object_get(last,
	    "content_type")), "audio/wav");
	assert_string_equal(last_q(last, "model"), "nova-3");
	assert_string_equal(last_q(last, "smart_format"), "true");
	assert_string_equal(last_q(last, "punctuate"), "true");
	assert_string_equal(last_q(last, "diarize"), "true");
	assert_string_equal(last_q(last, "utterances"), "true");
	assert_string_equal(last_q(last, "summarize"), "v2");
	assert_string_equal(last_q(last, "language"), "en");
	/* Call audio is personal data: not kept for Deepgram's training. */
	assert_string_equal(last_q(last, "mip_opt_out"), "true");
	char sha[65];
	sha256_hex(wav_small, sha);
	assert_string_equal(json_string_value(json_object_get(last,
	    "body_sha256")), sha);
	/* The reply, as the contract gives it. */
	assert_string_equal(json_string_value(json_object_get(reply,
	    "request_id")), json_string_value(json_object_get(last,
	    "request_id")));
	const json_t *tr = json_object_get(reply, "transcript");
	const char *text = json_string_value(json_object_get(tr, "text"));
	assert_non_null(text);
	assert_non_null(strstr(text, "Brightline Solar"));
	assert_non_null(strstr(text, "before then."));
	const json_t *utts = json_object_get(tr, "utterances");
	assert_int_equal(json_array_size(utts), 4);
	const char *want_spk[] = {"0", "1", "0", "1"};
	json_int_t prev_end = 0;
	for (size_t i = 0; i < 4; i++) {
		const json_t *u = json_array_get(utts, i);
		json_int_t s = json_integer_value(json_object_get(u, "start_ms"));
		json_int_t en = json_integer_value(json_object_get(u, "end_ms"));
		assert_string_equal(json_string_value(json_object_get(u,
		    "speaker")), want_spk[i]);
		assert_true(json_string_length(json_object_get(u, "text")) > 0);
		assert_true(s >= prev_end && en > s);
		prev_end = en;
	}
	/* Fractions of a 3 s file: 0.27 s and the end at 3.0 s. */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    utts, 1), "start_ms")), 810);
	assert_int_equal(prev_end, 3000);
	/* The summary is results.summary.short, not the summary object. */
	const char *sum = json_string_value(json_object_get(reply, "summary"));
	assert_non_null(sum);
	assert_non_null(strstr(sum, "site visit for Thursday"));
	json_decref(last);
	json_decref(reply);
	cx_testkit_free(tk);
}

/* The file is streamed with its size: a few MB arrive intact. */
static void
test_large_file(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit("", "");
	json_t *reply;
	cx_err e = transcribe(tk, wav_big, NULL, "audio/x-wav", NULL, &reply);
	if (e != CX_OK) {
		fail_msg("transcribe: %s: %s", cx_strerror(e), message(reply));
	}
	json_t *last = fake_last();
	char sha[65];
	sha256_hex(wav_big, sha);
	assert_string_equal(json_string_value(json_object_get(last,
	    "body_sha256")), sha);
	assert_int_equal(json_integer_value(json_object_get(last, "body_len")),
	    44 + 2 * 16000 * 200);
	assert_null(last_q(last, "language"));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    json_object_get(json_object_get(reply, "transcript"),
	        "utterances"), 3), "end_ms")), 200000);
	json_decref(last);
	json_decref(reply);
	cx_testkit_free(tk);
}

/* A vault entry's key wins over the settings'; without one the
 * settings' key is used (and here refused by the fake). */
static void
test_credentials(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit_with("api_key: platform-default-key\napi_base: "
	                          "http://127.0.0.1:%d\n", fake_port);
	json_t *reply;
	assert_int_equal(transcribe(tk, wav_small, "en", "audio/wav", KEY,
	                     &reply), CX_OK);
	json_decref(reply);
	json_t *last = fake_last();
	assert_string_equal(json_string_value(json_object_get(last,
	    "authorization")), "Token " KEY);
	json_decref(last);
	expect_err(tk, wav_small, "en", CX_EDENIED, "INVALID_AUTH");
	cx_testkit_free(tk);

	/* No key anywhere: refused before any request. */
	tk = kit_with("api_base: http://127.0.0.1:%d\n", fake_port);
	expect_err(tk, wav_small, "en", CX_EDENIED, "no Deepgram api_key");
	assert_int_equal(transcribe(tk, wav_small, "en", "audio/wav", KEY,
	                     &reply), CX_OK);
	json_decref(reply);
	cx_testkit_free(tk);
}

static void
test_provider_errors(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit("", "");
	/* Deepgram's own words for audio it cannot read. */
	expect_err(tk, not_audio, "en", CX_EINVAL,
	    "corrupt or unsupported data");
	cx_testkit_free(tk);
	struct {
		const char *mode;
		cx_err want;
		const char *needle;
	} cases[] = {
	    {"403", CX_EDENIED, "INSUFFICIENT_PERMISSIONS"},
	    {"429", CX_EBUSY, "TOO_MANY_REQUESTS"},
	    {"500", CX_EIO, "INTERNAL_SERVER_ERROR: Internal server error "
	                    "(upstream worker failed)"},
	    {"502", CX_EIO, "HTTP 502: <html><body><h1>502 Bad Gateway"},
	    {"close", CX_EIO, "request to Deepgram failed"},
	    {"malformed", CX_EPROTO, "not JSON"},
	    {"noresults", CX_EPROTO, "results is missing"},
	    {"badutt", CX_EPROTO, "results.utterances[1].end"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tk = kit(cases[i].mode, "");
		expect_err(tk, wav_small, "en", cases[i].want, cases[i].needle);
		cx_testkit_free(tk);
	}
	/* Nobody listening. */
	tk = kit_with("api_key: k\napi_base: http://127.0.0.1:1\n");
	expect_err(tk, wav_small, "en", CX_EIO, "request to Deepgram failed");
	cx_testkit_free(tk);
}

static void
test_timeout(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit("slow", "http_timeout: 1s\n");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_err(tk, wav_small, "en", CX_ETIMEDOUT, "within 1000 ms");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 4);
	cx_testkit_free(tk);
}

/* A failed summary costs the summary, not the transcript. */
static void
test_summary_failure(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit("sumfail", "");
	json_t *reply;
	assert_int_equal(transcribe(tk, wav_small, "en", "audio/wav", NULL,
	                     &reply), CX_OK);
	assert_true(json_is_null(json_object_get(reply, "summary")));
	assert_int_equal(json_array_size(json_object_get(json_object_get(
	    reply, "transcript"), "utterances")), 4);
	json_decref(reply);
	cx_testkit_free(tk);
}

/* summarize=v2 with a non-English language is a 400 at Deepgram: the
 * plugin leaves it out and still gets the transcript. */
static void
test_other_language(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit("", "language: en-GB\n");
	json_t *reply;
	assert_int_equal(transcribe(tk, wav_small, "de", "audio/wav", NULL,
	                     &reply), CX_OK);
	json_t *last = fake_last();
	assert_string_equal(last_q(last, "language"), "de");
	assert_null(last_q(last, "summarize"));
	assert_true(json_is_null(json_object_get(reply, "summary")));
	json_decref(last);
	json_decref(reply);
	/* The setting is the fallback when the request names none. */
	assert_int_equal(transcribe(tk, wav_small, NULL, "audio/wav", NULL,
	                     &reply), CX_OK);
	last = fake_last();
	assert_string_equal(last_q(last, "language"), "en-GB");
	assert_string_equal(last_q(last, "summarize"), "v2");
	json_decref(last);
	json_decref(reply);
	cx_testkit_free(tk);
}

/* Reload: options off, another model, another base; no restart. */
static void
test_reload(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit("", "");
	char yaml[512];
	snprintf(yaml, sizeof(yaml), "api_key: %s\napi_base: "
	    "http://127.0.0.1:%d/\nmodel: nova-2-phonecall\nutterances: false\n"
	    "diarize: false\nsmart_format: false\nsummarize: none\n"
	    "mip_opt_out: false\n", KEY,
	    fake_port);
	assert_int_equal(cx_testkit_reconfigure(tk, yaml), CX_OK);
	json_t *reply;
	assert_int_equal(transcribe(tk, wav_small, "en", NULL, NULL, &reply),
	    CX_OK);
	json_t *last = fake_last();
	assert_string_equal(last_q(last, "model"), "nova-2-phonecall");
	assert_null(last_q(last, "utterances"));
	assert_null(last_q(last, "diarize"));
	assert_null(last_q(last, "smart_format"));
	assert_null(last_q(last, "summarize"));
	assert_null(last_q(last, "mip_opt_out"));
	assert_string_equal(last_q(last, "punctuate"), "true");
	assert_string_equal(json_string_value(json_object_get(last,
	    "content_type")), "application/octet-stream");
	assert_int_equal(json_array_size(json_object_get(json_object_get(
	    reply, "transcript"), "utterances")), 0);
	assert_true(json_is_null(json_object_get(reply, "summary")));
	json_decref(last);
	json_decref(reply);
	cx_testkit_free(tk);
}

typedef struct slow_call {
	cx_testkit *tk;
	cx_err e;
	json_t *reply;
} slow_call;

static void *
slow_thread(void *arg)
{
	slow_call *sc = arg;
	sc->e = transcribe(sc->tk, wav_small, "en", "audio/wav", NULL,
	    &sc->reply);
	return (NULL);
}

/* max_concurrent answers busy at once instead of queueing behind a slow
 * Deepgram; a reload during a request leaves that request its settings. */
static void
test_busy_and_reload_in_flight(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit("slow", "max_concurrent: 1\nhttp_timeout: 10s\n");
	slow_call sc = {.tk = tk};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, slow_thread, &sc), 0);
	struct timespec pause = {0, 500 * 1000000L};
	nanosleep(&pause, NULL); /* the fake is now sitting on the first */
	expect_err(tk, wav_small, "en", CX_EBUSY, "max_concurrent");
	char yaml[512];
	snprintf(yaml, sizeof(yaml), "api_key: %s\napi_base: "
	    "http://127.0.0.1:%d\nmodel: nova-2\nmax_concurrent: 2\n", KEY,
	    fake_port);
	assert_int_equal(cx_testkit_reconfigure(tk, yaml), CX_OK);
	assert_int_equal(pthread_join(th, NULL), 0);
	if (sc.e != CX_OK) {
		fail_msg("in-flight request: %s: %s", cx_strerror(sc.e),
		    message(sc.reply));
	}
	json_decref(sc.reply);
	json_t *reply;
	assert_int_equal(transcribe(tk, wav_small, "en", "audio/wav", NULL,
	                     &reply), CX_OK);
	json_decref(reply);
	json_t *last = fake_last();
	assert_string_equal(last_q(last, "model"), "nova-2");
	json_decref(last);
	cx_testkit_free(tk);
}

static void
test_bad_requests(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit("", "max_bytes: 1000\n");
	expect_err(tk, wav_small, "en", CX_EINVAL, "more than max_bytes");
	cx_testkit_free(tk);
	tk = kit("", "");
	char missing[300];
	snprintf(missing, sizeof(missing), "%s/nope.wav", dir);
	expect_err(tk, missing, "en", CX_EIO, "cannot open the recording");
	expect_err(tk, dir, "en", CX_EINVAL, "not a regular file");
	expect_err(tk, "relative.wav", "en", CX_EINVAL, "absolute");
	expect_err(tk, wav_small, "en\r\nX: y", CX_EINVAL, "BCP-47");
	json_t *reply;
	assert_int_equal(transcribe(tk, wav_small, "en", "audio/wav\r\nX: 1",
	                     NULL, &reply), CX_EINVAL);
	json_decref(reply);
	assert_int_equal(cx_testkit_request(tk, "transcription.other", "{}",
	                     WAIT_MS, &reply), CX_ENOTSUP);
	json_decref(reply);
	cx_testkit_free(tk);
}

static void
test_settings_refused(void **unused)
{
	(void) unused;
	const char *bad[] = {
	    "api_base: ftp://api.deepgram.com\n",
	    "api_base: https://user:pw@api.deepgram.com\n",
	    "api_base: https://api.deepgram.com/?x=1\n",
	    "model: \"nova 3\"\n",
	    "http_timeout: 10m\n",
	    "summarize: v1\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cx_testkit *tk;
		assert_int_equal(cx_testkit_new(&tk), CX_OK);
		if (cx_testkit_load(tk, plugin_path, bad[i]) == CX_OK) {
			fail_msg("accepted: %s", bad[i]);
		}
		assert_true(strlen(cx_testkit_error(tk)) > 0);
		cx_testkit_free(tk);
	}
}

/* -- setup --------------------------------------------------------------- */

static int
setup(void **unused)
{
	(void) unused;
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof(dir), "%s/dgtest.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		return (-1);
	}
	snprintf(wav_small, sizeof(wav_small), "%s/small.wav", dir);
	snprintf(wav_big, sizeof(wav_big), "%s/big.wav", dir);
	snprintf(not_audio, sizeof(not_audio), "%s/notes.wav", dir);
	if (dg_write_wav(wav_small, 3, 8000) != 0 ||
	    dg_write_wav(wav_big, 200, 16000) != 0) { /* 6.4 MB */
		return (-1);
	}
	FILE *f = fopen(not_audio, "w");
	if (f == NULL) {
		return (-1);
	}
	fputs("these are meeting notes, not audio\n", f);
	fclose(f);
	signal(SIGPIPE, SIG_IGN);
	return (dg_fake_start(&fake, python, fake_py, KEY));
}

static int
teardown(void **unused)
{
	(void) unused;
	dg_fake_stop(&fake);
	unlink(wav_small);
	unlink(wav_big);
	unlink(not_audio);
	rmdir(dir);
	return (0);
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s deepgram.so python3 "
		                "fake_deepgram.py\n", argv[0]);
		return (2);
	}
	plugin_path = argv[1];
	python = argv[2];
	fake_py = argv[3];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_transcribe),
	    cmocka_unit_test(test_large_file),
	    cmocka_unit_test(test_credentials),
	    cmocka_unit_test(test_provider_errors),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_summary_failure),
	    cmocka_unit_test(test_other_language),
	    cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_busy_and_reload_in_flight),
	    cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_settings_refused),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return (rc);
}
