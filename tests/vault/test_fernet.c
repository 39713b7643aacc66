/*
 * test_fernet.c - core/fernet against the Fernet spec's vectors (F-1),
 * and the edges where Python's verdict is easy to get wrong (F-2): TTL
 * and clock-skew boundaries, no TTL, version byte, base64 padding, wrong
 * key, tampering, MultiFernet order and rotation.
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

#include <jansson.h>
#include <sodium.h>

#include "fernet.h"

static const char *const SECRET = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

static json_t *
load(const char *name)
{
	char path[1024];
	json_error_t err;
	snprintf(path, sizeof(path), "%s/%s", VECTORS_DIR, name);
	json_t *j = json_load_file(path, 0, &err);
	if (j == NULL) {
		fail_msg("%s: %s", path, err.text);
	}
	assert_true(json_is_array(j));
	return (j);
}

/* "1985-10-26T01:20:00-07:00" -> seconds since the epoch. */
static int64_t
rfc3339(const char *s)
{
	int y, mo, d, h, mi, se, oh, om;
	char sign;
	assert_int_equal(sscanf(s, "%d-%d-%dT%d:%d:%d%c%d:%d", &y, &mo, &d, &h,
	                     &mi, &se, &sign, &oh, &om),
	    9);
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
	    .tm_hour = h, .tm_min = mi, .tm_sec = se};
	int64_t off = (int64_t) oh * 3600 + om * 60;
	return ((int64_t) timegm(&tm) - (sign == '-' ? -off : off));
}

static void
key_of(const char *b64, cxi_fernet_key *k)
{
	char why[256] = "";
	cx_err rv = cxi_fernet_key_parse(b64, strlen(b64), k, why, sizeof(why));
	if (rv != CX_OK) {
		fail_msg("key %s: %s", b64, why);
	}
}

static void
test_generate_vectors(void **state)
{
	(void) state;
	json_t *v = load("generate.json"), *c;
	size_t i;
	json_array_foreach(v, i, c) {
		cxi_fernet_key k;
		uint8_t iv[16];
		char *tok;
		key_of(json_string_value(json_object_get(c, "secret")), &k);
		json_t *jiv = json_object_get(c, "iv");
		assert_int_equal(json_array_size(jiv), 16);
		for (size_t b = 0; b < 16; b++) {
			iv[b] = (uint8_t) json_integer_value(json_array_get(jiv, b));
		}
		const char *src = json_string_value(json_object_get(c, "src"));
		assert_int_equal(cxi_fernet_encrypt(&k, (const uint8_t *) src,
		                     strlen(src),
		                     rfc3339(json_string_value(
		                         json_object_get(c, "now"))),
		                     iv, &tok),
		    CX_OK);
		assert_string_equal(tok,
		    json_string_value(json_object_get(c, "token")));
		free(tok);
	}
	json_decref(v);
}

static void
test_verify_vectors(void **state)
{
	(void) state;
	json_t *v = load("verify.json"), *c;
	size_t i;
	json_array_foreach(v, i, c) {
		cxi_fernet_key k;
		uint8_t *msg;
		size_t len;
		char why[256] = "";
		key_of(json_string_value(json_object_get(c, "secret")), &k);
		const char *src = json_string_value(json_object_get(c, "src"));
		cx_err rv = cxi_fernet_decrypt(&k,
		    json_string_value(json_object_get(c, "token")),
		    json_integer_value(json_object_get(c, "ttl_sec")),
		    rfc3339(json_string_value(json_object_get(c, "now"))), &msg,
		    &len, why, sizeof(why));
		if (rv != CX_OK) {
			fail_msg("verify %zu: %s", i, why);
		}
		assert_int_equal(len, strlen(src));
		assert_memory_equal(msg, src, len);
		free(msg);
	}
	json_decref(v);
}

/* Every invalid token is rejected, for the reason its name gives. */
static void
test_invalid_vectors(void **state)
{
	(void) state;
	static const struct {
		const char *desc;
		cx_err code;
		const char *says;
	} want[] = {
		{"incorrect mac", CXI_FERNET_EBADSIG, "signature mismatch"},
		{"too short", CXI_FERNET_EFORMAT, "too short"},
		{"invalid base64", CXI_FERNET_EFORMAT, "bad base64"},
		{"payload size not multiple of block size", CXI_FERNET_EFORMAT,
		    "not whole AES blocks"},
		{"payload padding error", CXI_FERNET_EFORMAT, "bad padding"},
		{"far-future TS (unacceptable clock skew)", CXI_FERNET_ETIME,
		    "from the future"},
		{"expired TTL", CXI_FERNET_ETIME, "expired"},
		{"incorrect IV (causes padding error)", CXI_FERNET_EFORMAT,
		    "bad padding"},
	};
	json_t *v = load("invalid.json"), *c;
	size_t i, seen = 0;
	json_array_foreach(v, i, c) {
		cxi_fernet_key k;
		uint8_t *msg = (uint8_t *) "x";
		size_t len = 7;
		char why[256] = "";
		const char *desc = json_string_value(json_object_get(c, "desc"));
		key_of(json_string_value(json_object_get(c, "secret")), &k);
		cx_err rv = cxi_fernet_decrypt(&k,
		    json_string_value(json_object_get(c, "token")),
		    json_integer_value(json_object_get(c, "ttl_sec")),
		    rfc3339(json_string_value(json_object_get(c, "now"))), &msg,
		    &len, why, sizeof(why));
		assert_null(msg);
		assert_int_equal(len, 0);
		for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
			if (strcmp(want[w].desc, desc) != 0) {
				continue;
			}
			seen++;
			if (rv != want[w].code || strstr(why, want[w].says) == NULL) {
				fail_msg("%s: got %d '%s'", desc, rv, why);
			}
		}
	}
	assert_int_equal(seen, 8);
	json_decref(v);
}

/* Decodes a canonical token, lets `edit` change the raw bytes, re-signs
 * them with `k` when it is given, and encodes again. */
static char *
reforge(const char *tok, const cxi_fernet_key *k, void (*edit)(uint8_t *,
    size_t *, void *), void *arg)
{
	uint8_t raw[4096];
	size_t len;
	assert_int_equal(sodium_base642bin(raw, sizeof(raw) - 64, tok,
	                     strlen(tok), NULL, &len, NULL,
	                     sodium_base64_VARIANT_URLSAFE),
	    0);
	edit(raw, &len, arg);
	if (k != NULL) {
		crypto_auth_hmacsha256_state st;
		crypto_auth_hmacsha256_init(&st, k->sign, sizeof(k->sign));
		crypto_auth_hmacsha256_update(&st, raw, len - 32);
		crypto_auth_hmacsha256_final(&st, raw + len - 32);
	}
	size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE);
	char *out = malloc(n);
	assert_non_null(out);
	sodium_bin2base64(out, n, raw, len, sodium_base64_VARIANT_URLSAFE);
	return (out);
}

static cx_err
try(const cxi_fernet_key *k, const char *tok, int64_t ttl, int64_t now,
    char *why)
{
	uint8_t *msg;
	size_t len;
	cx_err rv = cxi_fernet_decrypt(k, tok, ttl, now, &msg, &len, why, 256);
	if (rv == CX_OK) {
		free(msg);
	}
	return (rv);
}

static char *
make(const cxi_fernet_key *k, const char *msg, int64_t now)
{
	char *tok;
	assert_int_equal(cxi_fernet_encrypt(k, (const uint8_t *) msg,
	                     strlen(msg), now, NULL, &tok),
	    CX_OK);
	return (tok);
}

static void
test_time_edges(void **state)
{
	(void) state;
	cxi_fernet_key k;
	char why[256];
	const int64_t T = 1700000000;
	key_of(SECRET, &k);
	char *tok = make(&k, "secret", T);
	/* TTL: ts + ttl is still good, one second later is not. */
	assert_int_equal(try(&k, tok, 60, T + 60, why), CX_OK);
	assert_int_equal(try(&k, tok, 60, T + 61, why), CXI_FERNET_ETIME);
	assert_non_null(strstr(why, "token expired"));
	assert_int_equal(try(&k, tok, 0, T, why), CX_OK);
	assert_int_equal(try(&k, tok, 0, T + 1, why), CXI_FERNET_ETIME);
	/* Clock skew: 60 s ahead of us is accepted, 61 s is not. */
	assert_int_equal(try(&k, tok, 3600, T - 60, why), CX_OK);
	assert_int_equal(try(&k, tok, 3600, T - 61, why), CXI_FERNET_ETIME);
	assert_non_null(strstr(why, "token from the future"));
	/* No TTL: no time check at all, either way. */
	assert_int_equal(try(&k, tok, -1, T + 100 * 365 * 86400LL, why), CX_OK);
	assert_int_equal(try(&k, tok, -1, 0, why), CX_OK);
	/* Huge values must not overflow into acceptance or rejection. */
	assert_int_equal(try(&k, tok, INT64_MAX, INT64_MAX, why), CX_OK);
	free(tok);
	/* Python's struct.pack(">Q") refuses a negative time. */
	assert_int_equal(cxi_fernet_encrypt(&k, NULL, 0, -1, NULL, &tok),
	    CX_EINVAL);
	tok = make(&k, "secret", INT64_MAX);
	assert_int_equal(try(&k, tok, 10, INT64_MAX - 60, why), CX_OK);
	assert_int_equal(try(&k, tok, 10, 0, why), CXI_FERNET_ETIME);
	free(tok);
}

static void
set_version(uint8_t *raw, size_t *len, void *arg)
{
	(void) len;
	raw[0] = *(uint8_t *) arg;
}

static void
test_version_and_base64(void **state)
{
	(void) state;
	cxi_fernet_key k;
	char why[256], buf[512];
	uint8_t v81 = 0x81;
	key_of(SECRET, &k);
	char *tok = make(&k, "hello", 1000);
	/* Re-signed, so the version byte is the only thing wrong. */
	char *bad = reforge(tok, &k, set_version, &v81);
	assert_int_equal(try(&k, bad, -1, 0, why), CXI_FERNET_EFORMAT);
	assert_string_equal(why, "unsupported version 0x81");
	free(bad);
	/* Python requires the '=' padding ... */
	size_t n = strlen(tok);
	assert_true(tok[n - 1] == '=');
	snprintf(buf, sizeof(buf), "%.*s", (int) (strcspn(tok, "=")), tok);
	assert_int_equal(try(&k, buf, -1, 0, why), CXI_FERNET_EFORMAT);
	assert_non_null(strstr(why, "bad base64 (incorrect padding)"));
	/* ... and, reading bytes, skips what is not base64 and stops at
	 * complete padding: these all decrypt in Python too. */
	snprintf(buf, sizeof(buf), "%s\n", tok);
	assert_int_equal(try(&k, buf, -1, 0, why), CX_OK);
	snprintf(buf, sizeof(buf), " %.20s\r\n%s", tok, tok + 20);
	assert_int_equal(try(&k, buf, -1, 0, why), CX_OK);
	snprintf(buf, sizeof(buf), "%s%s", tok, "garbage!");
	assert_int_equal(try(&k, buf, -1, 0, why), CX_OK);
	assert_int_equal(try(&k, "", -1, 0, why), CXI_FERNET_EFORMAT);
	assert_int_equal(try(&k, "gA==", -1, 0, why), CXI_FERNET_EFORMAT);
	assert_non_null(strstr(why, "too short"));
	assert_int_equal(try(&k, "gAAAA", -1, 0, why), CXI_FERNET_EFORMAT);
	assert_non_null(strstr(why, "one digit too many"));
	free(tok);
}

static void
test_keys(void **state)
{
	(void) state;
	cxi_fernet_key k, k2;
	char why[256], enc[CXI_FERNET_KEY_B64], buf[128];
	key_of(SECRET, &k);
	cxi_fernet_key_encode(&k, enc);
	assert_string_equal(enc, SECRET);
	/* Unpadded: Python says "Incorrect padding". */
	assert_int_equal(cxi_fernet_key_parse(SECRET, 43, &k2, why, sizeof(why)),
	    CX_EINVAL);
	assert_non_null(strstr(why, "incorrect padding"));
	/* Too short / too long. */
	assert_int_equal(cxi_fernet_key_parse("AAAA", 4, &k2, why, sizeof(why)),
	    CX_EINVAL);
	assert_non_null(strstr(why, "decodes to 3"));
	snprintf(buf, sizeof(buf), "%.43sAAAA", SECRET);
	assert_int_equal(cxi_fernet_key_parse(buf, strlen(buf), &k2, why,
	                     sizeof(why)),
	    CX_EINVAL);
	/* A trailing newline (a secrets file) and the standard alphabet
	 * both give the same key, as in Python. */
	snprintf(buf, sizeof(buf), "%s\n", SECRET);
	key_of(buf, &k2);
	assert_memory_equal(&k, &k2, sizeof(k));
	snprintf(buf, sizeof(buf), "%s", SECRET);
	for (char *p = buf; *p; p++) {
		*p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
	}
	key_of(buf, &k2);
	assert_memory_equal(&k, &k2, sizeof(k));
	/* Generated keys are random and encode to 44 characters. */
	assert_int_equal(cxi_fernet_key_generate(&k2), CX_OK);
	assert_memory_not_equal(&k, &k2, sizeof(k));
	cxi_fernet_key_encode(&k2, enc);
	assert_int_equal(strlen(enc), 44);
	cxi_fernet_key_wipe(&k2);
	assert_true(sodium_is_zero((const unsigned char *) &k2, sizeof(k2)));
}

static void
flip(uint8_t *raw, size_t *len, void *arg)
{
	size_t at = *(size_t *) arg;
	if (at < *len) {
		raw[at] ^= 0x01;
	} else {
		*len = at - *len; /* cut */
	}
}

/* Wrong key and every single-bit change and every cut: rejected. */
static void
test_wrong_key_and_tamper(void **state)
{
	(void) state;
	cxi_fernet_key k, other;
	char why[256];
	key_of(SECRET, &k);
	assert_int_equal(cxi_fernet_key_generate(&other), CX_OK);
	char *tok = make(&k, "a credential of some length", 5000);
	assert_int_equal(try(&other, tok, -1, 0, why), CXI_FERNET_EBADSIG);
	assert_string_equal(why, "signature mismatch (wrong key or tampered)");
	size_t rawlen = 57 + 32;
	for (size_t at = 0; at < 2 * rawlen; at++) {
		if (at == rawlen) {
			continue; /* a cut to 0 bytes: base64 "" below */
		}
		char *bad = reforge(tok, NULL, flip, &at);
		assert_int_not_equal(try(&k, bad, -1, 0, why), CX_OK);
		assert_true(why[0] != '\0');
		free(bad);
	}
	free(tok);
}

static void
test_message_sizes(void **state)
{
	(void) state;
	static const size_t sizes[] = {0, 1, 15, 16, 17, 31, 32, 33, 256, 4097};
	cxi_fernet_key k;
	char why[256];
	assert_int_equal(cxi_fernet_key_generate(&k), CX_OK);
	uint8_t *src = malloc(4097), *msg;
	size_t len;
	char *tok;
	for (size_t i = 0; i < sizeof(src[0]) * 4097; i++) {
		src[i] = (uint8_t) (i * 31 + 7);
	}
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];
		assert_int_equal(cxi_fernet_encrypt(&k, n ? src : NULL, n, 42,
		                     NULL, &tok),
		    CX_OK);
		size_t raw = 57 + (n / 16 + 1) * 16;
		assert_int_equal(strlen(tok), (raw + 2) / 3 * 4);
		assert_int_equal(cxi_fernet_decrypt(&k, tok, -1, 0, &msg, &len,
		                     why, sizeof(why)),
		    CX_OK);
		assert_int_equal(len, n);
		assert_memory_equal(msg, src, n);
		assert_int_equal(msg[n], 0);
		free(msg);
		free(tok);
	}
	const char *utf8 = "p\xc3\xa4ss w\xc3\xb6rd \xe2\x82\xac \xf0\x9f\x94\x91";
	tok = make(&k, utf8, 42);
	assert_int_equal(cxi_fernet_decrypt(&k, tok, 10, 42, &msg, &len, why,
	                     sizeof(why)),
	    CX_OK);
	assert_string_equal((char *) msg, utf8);
	free(msg);
	/* Fresh IVs: the same message twice gives different tokens. */
	char *tok2 = make(&k, utf8, 42);
	assert_string_not_equal(tok, tok2);
	free(tok);
	free(tok2);
	free(src);
}

static void
test_multifernet(void **state)
{
	(void) state;
	cxi_fernet_key keys[3];
	char why[256], *tok, *rot;
	uint8_t *msg;
	size_t len, used;
	uint64_t ts;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cxi_fernet_key_generate(&keys[i]), CX_OK);
	}
	/* Encrypts with the first key only. */
	assert_int_equal(cxi_multifernet_encrypt(keys, 3,
	                     (const uint8_t *) "new", 3, 100, NULL, &tok),
	    CX_OK);
	assert_int_equal(try(&keys[0], tok, -1, 0, why), CX_OK);
	assert_int_equal(try(&keys[1], tok, -1, 0, why), CXI_FERNET_EBADSIG);
	free(tok);
	/* Decrypts with whichever key, in order. */
	tok = make(&keys[2], "old", 100);
	assert_int_equal(cxi_multifernet_decrypt(keys, 3, tok, -1, 0, &msg, &len,
	                     &used, why, sizeof(why)),
	    CX_OK);
	assert_int_equal(used, 2);
	assert_memory_equal(msg, "old", 3);
	free(msg);
	assert_int_equal(cxi_multifernet_decrypt(keys, 2, tok, -1, 0, &msg,
	                     &len, &used, why, sizeof(why)),
	    CXI_FERNET_EBADSIG);
	assert_non_null(strstr(why, "under all 2 keys"));
	/* Time checks still apply, once, before any key. */
	assert_int_equal(cxi_multifernet_decrypt(keys, 3, tok, 10, 1000, &msg,
	                     &len, &used, why, sizeof(why)),
	    CXI_FERNET_ETIME);
	/* Rotation: under keys[0], original timestamp, age ignored. */
	assert_int_equal(cxi_multifernet_rotate(keys, 3, tok, NULL, &rot, why,
	                     sizeof(why)),
	    CX_OK);
	assert_int_equal(cxi_fernet_timestamp(&keys[0], rot, &ts, why,
	                     sizeof(why)),
	    CX_OK);
	assert_int_equal(ts, 100);
	assert_int_equal(cxi_fernet_timestamp(&keys[2], rot, &ts, why,
	                     sizeof(why)),
	    CXI_FERNET_EBADSIG);
	assert_int_equal(cxi_fernet_decrypt(&keys[0], rot, -1, 0, &msg, &len,
	                     why, sizeof(why)),
	    CX_OK);
	assert_memory_equal(msg, "old", 3);
	free(msg);
	free(rot);
	/* A token no key opens does not rotate. */
	assert_int_equal(cxi_multifernet_rotate(keys, 2, tok, NULL, &rot, why,
	                     sizeof(why)),
	    CXI_FERNET_EBADSIG);
	assert_null(rot);
	assert_int_equal(cxi_multifernet_rotate(keys, 0, tok, NULL, &rot, why,
	                     sizeof(why)),
	    CX_EINVAL);
	free(tok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_vectors),
		cmocka_unit_test(test_verify_vectors),
		cmocka_unit_test(test_invalid_vectors),
		cmocka_unit_test(test_time_edges),
		cmocka_unit_test(test_version_and_base64),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_wrong_key_and_tamper),
		cmocka_unit_test(test_message_sizes),
		cmocka_unit_test(test_multifernet),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
