/*
 * test_totp.c - core/totp against RFC 6238 Appendix B, plus the rules
 * the RFC leaves to the verifier: the one-step window, replay refusal,
 * the otpauth URI, base32, and single-use recovery codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "totp.h"

/* RFC 6238 Appendix B: the SHA1 seed is the ASCII "1234567890" twice. */
static const uint8_t rfc_key[] = "12345678901234567890";
#define RFC_KEY_LEN 20

static const struct {
	int64_t t;
	const char *code8;
} rfc_vectors[] = {
	{ 59, "94287082" },
	{ 1111111109, "07081804" },
	{ 1111111111, "14050471" },
	{ 1234567890, "89005924" },
	{ 2000000000, "69279037" },
	{ INT64_C(20000000000), "65353130" },
};
#define N_VECTORS (sizeof(rfc_vectors) / sizeof(rfc_vectors[0]))

static void
test_rfc6238_sha1_8(void **state)
{
	char code[CXI_TOTP_MAX_DIGITS + 1];

	(void) state;
	for (size_t i = 0; i < N_VECTORS; i++) {
		assert_int_equal(cxi_totp_code(rfc_key, RFC_KEY_LEN,
		    rfc_vectors[i].t, 8, code), CX_OK);
		assert_string_equal(code, rfc_vectors[i].code8);
	}
}

/* Six digits is the same truncated value mod 10^6: the last six. */
static void
test_rfc6238_sha1_6(void **state)
{
	char code[CXI_TOTP_MAX_DIGITS + 1];
	int64_t step;

	(void) state;
	for (size_t i = 0; i < N_VECTORS; i++) {
		const char *want = rfc_vectors[i].code8 + 2;
		assert_int_equal(cxi_totp_code(rfc_key, RFC_KEY_LEN,
		    rfc_vectors[i].t, 6, code), CX_OK);
		assert_string_equal(code, want);
		assert_int_equal(cxi_totp_verify(rfc_key, RFC_KEY_LEN, want,
		    rfc_vectors[i].t, CXI_TOTP_NO_STEP, &step), CX_OK);
		assert_true(step == rfc_vectors[i].t / CXI_TOTP_PERIOD);
	}
}

static void
test_code_bad_args(void **state)
{
	char code[CXI_TOTP_MAX_DIGITS + 1];

	(void) state;
	assert_int_equal(cxi_totp_code(rfc_key, RFC_KEY_LEN, 59, 5, code),
	    CX_EINVAL);
	assert_int_equal(cxi_totp_code(rfc_key, RFC_KEY_LEN, 59, 9, code),
	    CX_EINVAL);
	assert_int_equal(cxi_totp_code(rfc_key, RFC_KEY_LEN, -1, 6, code),
	    CX_EINVAL);
	assert_int_equal(cxi_totp_code(NULL, RFC_KEY_LEN, 59, 6, code),
	    CX_EINVAL);
	assert_int_equal(cxi_totp_code(rfc_key, 0, 59, 6, code), CX_EINVAL);
}

/* Code of the step `delta` steps away from `now`. */
static void
code_near(const uint8_t *key, int64_t now, int delta, char *out)
{
	assert_int_equal(cxi_totp_code(key, CXI_TOTP_SECRET_LEN,
	    now + delta * CXI_TOTP_PERIOD, CXI_TOTP_DIGITS, out), CX_OK);
}

static void
test_window(void **state)
{
	uint8_t key[CXI_TOTP_SECRET_LEN];
	char code[CXI_TOTP_MAX_DIGITS + 1];
	const int64_t now = 1700000015, s = now / CXI_TOTP_PERIOD;
	int64_t step;

	(void) state;
	assert_int_equal(cxi_totp_secret_new(key), CX_OK);
	for (int d = -1; d <= 1; d++) {
		code_near(key, now, d, code);
		step = -42;
		assert_int_equal(cxi_totp_verify(key, sizeof(key), code, now,
		    CXI_TOTP_NO_STEP, &step), CX_OK);
		assert_true(step == s + d);
	}
	/* Two steps away on either side is out of the window. A random
	 * key could make a far code equal a near one (1 in 10^6 each);
	 * skip the check for such a key rather than flake. */
	for (int d = -2; d <= 2; d += 4) {
		char near[3][CXI_TOTP_MAX_DIGITS + 1];
		bool clash = false;
		code_near(key, now, d, code);
		for (int k = -1; k <= 1; k++) {
			code_near(key, now, k, near[k + 1]);
			clash = clash || strcmp(near[k + 1], code) == 0;
		}
		if (!clash) {
			step = -42;
			assert_int_equal(cxi_totp_verify(key, sizeof(key), code,
			    now, CXI_TOTP_NO_STEP, &step), CX_EDENIED);
			assert_true(step == -42);
		}
	}
	/* The RFC key at t = 59 (step 1): step 0 and 2 pass, 3 does not. */
	assert_int_equal(cxi_totp_verify(rfc_key, RFC_KEY_LEN, "287082", 59 +
	    CXI_TOTP_PERIOD, CXI_TOTP_NO_STEP, &step), CX_OK);
	assert_true(step == 1);
	assert_int_equal(cxi_totp_verify(rfc_key, RFC_KEY_LEN, "287082", 59 +
	    2 * CXI_TOTP_PERIOD, CXI_TOTP_NO_STEP, &step), CX_EDENIED);
	/* Near the epoch the window has no step -1; still works. */
	assert_int_equal(cxi_totp_verify(rfc_key, RFC_KEY_LEN, "287082", 0,
	    CXI_TOTP_NO_STEP, &step), CX_OK);
	assert_true(step == 1);
}

static void
test_replay(void **state)
{
	uint8_t key[CXI_TOTP_SECRET_LEN];
	char code[CXI_TOTP_MAX_DIGITS + 1], prev[CXI_TOTP_MAX_DIGITS + 1];
	const int64_t now = 1700000000;
	int64_t step, last = CXI_TOTP_NO_STEP;

	(void) state;
	/* The fixed RFC key keeps this deterministic: with a random key the
	 * code of one step may equal another's and be accepted there. */
	memcpy(key, rfc_key, sizeof(key));
	code_near(key, now, 0, code);
	code_near(key, now, -1, prev);
	assert_int_equal(cxi_totp_verify(key, sizeof(key), code, now, last,
	    &step), CX_OK);
	last = step;
	/* Same code again, at the same time or a bit later. */
	assert_int_equal(cxi_totp_verify(key, sizeof(key), code, now, last,
	    &step), CX_EDENIED);
	assert_int_equal(cxi_totp_verify(key, sizeof(key), code, now + 29,
	    last, &step), CX_EDENIED);
	/* The previous step's code is still in the window but older than
	 * what was accepted: refused (unless it equals the current one). */
	if (strcmp(prev, code) != 0) {
		assert_int_equal(cxi_totp_verify(key, sizeof(key), prev, now,
		    last, &step), CX_EDENIED);
	}
	/* The next step's code is new: accepted once. */
	code_near(key, now, 1, code);
	assert_int_equal(cxi_totp_verify(key, sizeof(key), code,
	    now + CXI_TOTP_PERIOD, last, &step), CX_OK);
	assert_true(step == last + 1);
	last = step;
	assert_int_equal(cxi_totp_verify(key, sizeof(key), code,
	    now + CXI_TOTP_PERIOD, last, &step), CX_EDENIED);
}

static void
test_wrong_and_malformed(void **state)
{
	int64_t step;
	char code[CXI_TOTP_DIGITS + 1];

	(void) state;
	/* 287082 is right at t = 59; a one-digit change is not. */
	assert_int_equal(cxi_totp_verify(rfc_key, RFC_KEY_LEN, "287083", 59,
	    CXI_TOTP_NO_STEP, &step), CX_EDENIED);
	assert_int_equal(cxi_totp_verify(rfc_key, RFC_KEY_LEN, "000000", 59,
	    CXI_TOTP_NO_STEP, &step), CX_EDENIED);
	/* Spaces as apps display them are fine. */
	assert_int_equal(cxi_totp_verify(rfc_key, RFC_KEY_LEN, "287 082", 59,
	    CXI_TOTP_NO_STEP, &step), CX_OK);
	const char *bad[] = { "", "28708", "2870820", "28708a", "94287082",
	    "-28708", "287\t082", "２８７０８２" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cxi_totp_verify(rfc_key, RFC_KEY_LEN, bad[i],
		    59, CXI_TOTP_NO_STEP, &step), CX_EINVAL);
	}
	assert_int_equal(cxi_totp_parse_code("12\0" "3456", 7, code),
	    CX_EINVAL);
	assert_int_equal(cxi_totp_parse_code(" 123 456 ", 9, code), CX_OK);
	assert_string_equal(code, "123456");
	assert_int_equal(cxi_totp_verify(rfc_key, RFC_KEY_LEN, "287082", -1,
	    CXI_TOTP_NO_STEP, &step), CX_EINVAL);
	assert_int_equal(cxi_totp_verify(rfc_key, RFC_KEY_LEN, NULL, 59,
	    CXI_TOTP_NO_STEP, &step), CX_EINVAL);
}

static void
test_uri(void **state)
{
	char *uri = NULL;

	(void) state;
	assert_int_equal(cxi_totp_uri(NULL, "alice@example.com", rfc_key,
	    RFC_KEY_LEN, &uri), CX_OK);
	assert_string_equal(uri, "otpauth://totp/Callixo:alice@example.com"
	    "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Callixo"
	    "&algorithm=SHA1&digits=6&period=30");
	free(uri);
	/* Anything that could end the label or start a parameter, and
	 * non-ASCII bytes, are encoded; '@' and unreserved are kept. */
	assert_int_equal(cxi_totp_uri("Acme Co&x", "a+b c:d/é?#%@x.org",
	    rfc_key, RFC_KEY_LEN, &uri), CX_OK);
	assert_string_equal(uri, "otpauth://totp/Acme%20Co%26x:"
	    "a%2Bb%20c%3Ad%2F%C3%A9%3F%23%25@x.org"
	    "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Co%26x"
	    "&algorithm=SHA1&digits=6&period=30");
	free(uri);
	assert_int_equal(cxi_totp_uri(NULL, "Z_y-x.w~v", rfc_key, RFC_KEY_LEN,
	    &uri), CX_OK);
	assert_non_null(strstr(uri, "totp/Callixo:Z_y-x.w~v?secret="));
	free(uri);
	uri = (char *) 1;
	assert_int_equal(cxi_totp_uri(NULL, "", rfc_key, RFC_KEY_LEN, &uri),
	    CX_EINVAL);
	assert_null(uri);
	assert_int_equal(cxi_totp_uri("", "a@b", rfc_key, RFC_KEY_LEN, &uri),
	    CX_EINVAL);
	assert_int_equal(cxi_totp_uri(NULL, "a@b", rfc_key, 16, &uri),
	    CX_EINVAL);
	assert_int_equal(cxi_totp_uri(NULL, NULL, rfc_key, RFC_KEY_LEN, &uri),
	    CX_EINVAL);
}

static void
test_base32(void **state)
{
	uint8_t key[CXI_TOTP_SECRET_LEN], back[64];
	char b32[CXI_TOTP_B32_LEN + 1], small[8];
	size_t n;

	(void) state;
	assert_int_equal(cxi_totp_b32_encode(rfc_key, RFC_KEY_LEN, b32,
	    sizeof(b32)), CX_OK);
	assert_string_equal(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	for (int i = 0; i < 50; i++) {
		assert_int_equal(cxi_totp_secret_new(key), CX_OK);
		assert_int_equal(cxi_totp_b32_encode(key, sizeof(key), b32,
		    sizeof(b32)), CX_OK);
		assert_int_equal(strlen(b32), CXI_TOTP_B32_LEN);
		assert_null(strchr(b32, '='));
		assert_int_equal(cxi_totp_b32_decode(b32, strlen(b32), back,
		    sizeof(back), &n), CX_OK);
		assert_int_equal(n, sizeof(key));
		assert_memory_equal(back, key, sizeof(key));
	}
	/* Lengths that need padding: encoded bare, decoded either way. */
	assert_int_equal(cxi_totp_b32_encode((const uint8_t *) "f", 1, small,
	    sizeof(small)), CX_OK);
	assert_string_equal(small, "MY");
	assert_int_equal(cxi_totp_b32_encode((const uint8_t *) "foo", 3,
	    small, sizeof(small)), CX_OK);
	assert_string_equal(small, "MZXW6");
	assert_int_equal(cxi_totp_b32_encode((const uint8_t *) "foob", 4,
	    small, 7), CX_EINVAL);
	assert_int_equal(cxi_totp_b32_decode("MZXW6", 5, back, sizeof(back),
	    &n), CX_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(back, "foo", 3);
	assert_int_equal(cxi_totp_b32_decode("mzxw 6===", 9, back,
	    sizeof(back), &n), CX_OK);
	assert_int_equal(n, 3);
	/* What users paste wrongly. */
	const char *bad[] = { "", "M", "MZXW1", "MZ!W6", "MZXW6=A" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cxi_totp_b32_decode(bad[i], strlen(bad[i]),
		    back, sizeof(back), &n), CX_EINVAL);
	}
	assert_int_equal(cxi_totp_b32_decode("MZ\0W6", 5, back, sizeof(back),
	    &n), CX_EINVAL);
	/* Longer than the caller's buffer. */
	assert_int_equal(cxi_totp_b32_decode("MZXW6", 5, back, 2, &n),
	    CX_EINVAL);
}

static bool
is_recovery_char(char c)
{
	return ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z' &&
	    c != 'i' && c != 'l' && c != 'o' && c != 'u'));
}

static void
test_recovery_generate(void **state)
{
	cxi_recovery_set set;
	cxi_recovery_codes codes;

	(void) state;
	assert_int_equal(cxi_recovery_generate(&set, &codes), CX_OK);
	assert_int_equal(cxi_recovery_remaining(&set), CXI_RECOVERY_COUNT);
	for (int i = 0; i < CXI_RECOVERY_COUNT; i++) {
		const char *c = codes.code[i];
		assert_int_equal(strlen(c), CXI_RECOVERY_TEXT_LEN);
		assert_int_equal(c[5], '-');
		for (int j = 0; j < CXI_RECOVERY_TEXT_LEN; j++) {
			if (j != 5) {
				assert_true(is_recovery_char(c[j]));
			}
		}
		for (int k = 0; k < i; k++) {
			assert_string_not_equal(c, codes.code[k]);
			assert_memory_not_equal(set.hash[i], set.hash[k],
			    CXI_RECOVERY_HASH_LEN);
		}
		/* Only hashes are kept: the code is nowhere in the set. */
		assert_null(memmem(&set, sizeof(set), c, 5));
	}
	/* A second set has a different key, so the same code would hash
	 * differently. */
	cxi_recovery_set set2;
	cxi_recovery_codes codes2;
	assert_int_equal(cxi_recovery_generate(&set2, &codes2), CX_OK);
	assert_memory_not_equal(set.key, set2.key, sizeof(set.key));
	sodium_memzero(&codes, sizeof(codes));
	sodium_memzero(&codes2, sizeof(codes2));
}

static void
test_recovery_use(void **state)
{
	cxi_recovery_set set, other;
	cxi_recovery_codes codes, ocodes;
	char typed[32];
	int idx;

	(void) state;
	assert_int_equal(cxi_recovery_generate(&set, &codes), CX_OK);
	assert_int_equal(cxi_recovery_generate(&other, &ocodes), CX_OK);
	/* Another set's code is refused, and consumes nothing. */
	idx = -7;
	assert_int_equal(cxi_recovery_use(&set, ocodes.code[0], &idx),
	    CX_EDENIED);
	assert_int_equal(idx, -7);
	assert_int_equal(cxi_recovery_remaining(&set), CXI_RECOVERY_COUNT);
	/* Each code works once, in any order, as typed by a person. */
	for (int n = 0; n < CXI_RECOVERY_COUNT; n++) {
		int i = (n * 3 + 1) % CXI_RECOVERY_COUNT;
		const char *c = codes.code[i];
		if (n % 2 == 0) {
			snprintf(typed, sizeof(typed), "%s", c);
		} else {
			/* Upper case, no dash, spaces around. */
			size_t k = 0;
			typed[k++] = ' ';
			for (const char *p = c; *p != '\0'; p++) {
				if (*p != '-') {
					typed[k++] = (char) ((*p >= 'a' &&
					    *p <= 'z') ? *p - 'a' + 'A' : *p);
				}
			}
			typed[k++] = ' ';
			typed[k] = '\0';
		}
		assert_int_equal(cxi_recovery_use(&set, typed, &idx), CX_OK);
		assert_int_equal(idx, i);
		assert_int_equal(cxi_recovery_remaining(&set),
		    CXI_RECOVERY_COUNT - n - 1);
		assert_int_equal(cxi_recovery_use(&set, c, &idx), CX_EDENIED);
	}
	assert_int_equal(cxi_recovery_remaining(&set), 0);
	/* Not codes at all. */
	const char *bad[] = { "", "abcde", "abcde-fghjk-m", "abcde-fghju",
	    "abcde_fghjk", "abcdé-fghj" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cxi_recovery_use(&other, bad[i], &idx),
		    CX_EINVAL);
	}
	sodium_memzero(&codes, sizeof(codes));
	sodium_memzero(&ocodes, sizeof(ocodes));
}

static void
test_recovery_parse(void **state)
{
	char canon[CXI_RECOVERY_CHARS + 1];

	(void) state;
	/* Crockford's look-alikes read as the digit they resemble. */
	assert_int_equal(cxi_recovery_parse("ILOab-cdefg", 11, canon), CX_OK);
	assert_string_equal(canon, "110abcdefg");
	assert_int_equal(cxi_recovery_parse("abcdefghjk", 10, canon), CX_OK);
	assert_int_equal(cxi_recovery_parse("abcde\0fghj", 10, canon),
	    CX_EINVAL);
	assert_int_equal(cxi_recovery_parse("abcdefghjkm", 11, canon),
	    CX_EINVAL);
}

static void
test_recovery_encode(void **state)
{
	cxi_recovery_set set, back;
	cxi_recovery_codes codes;
	char enc[CXI_RECOVERY_ENC_LEN];
	int idx;

	(void) state;
	assert_int_equal(cxi_recovery_generate(&set, &codes), CX_OK);
	assert_int_equal(cxi_recovery_use(&set, codes.code[4], &idx), CX_OK);
	assert_int_equal(cxi_recovery_encode(&set, enc, sizeof(enc)), CX_OK);
	memset(&back, 0xa5, sizeof(back));
	assert_int_equal(cxi_recovery_decode(enc, strlen(enc), &back), CX_OK);
	assert_memory_equal(&back, &set, sizeof(set));
	/* The decoded set still knows which code was consumed. */
	assert_int_equal(cxi_recovery_use(&back, codes.code[4], &idx),
	    CX_EDENIED);
	assert_int_equal(cxi_recovery_use(&back, codes.code[5], &idx), CX_OK);
	assert_int_equal(idx, 5);
	/* Damaged rows. */
	assert_int_equal(cxi_recovery_decode(enc, strlen(enc) - 1, &back),
	    CX_EINVAL);
	assert_int_equal(cxi_recovery_decode("", 0, &back), CX_EINVAL);
	/* A byte outside the alphabet, which libsodium alone would take. */
	char c = enc[10];
	enc[10] = (char) 0xca;
	assert_int_equal(cxi_recovery_decode(enc, strlen(enc), &back),
	    CX_EINVAL);
	enc[10] = c;
	enc[0] = enc[0] == 'A' ? 'B' : 'A'; /* version byte changes */
	assert_int_equal(cxi_recovery_decode(enc, strlen(enc), &back),
	    CX_EINVAL);
	assert_int_equal(cxi_recovery_encode(&set, enc, 100), CX_EINVAL);
	sodium_memzero(&codes, sizeof(codes));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6238_sha1_8),
		cmocka_unit_test(test_rfc6238_sha1_6),
		cmocka_unit_test(test_code_bad_args),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_wrong_and_malformed),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_base32),
		cmocka_unit_test(test_recovery_generate),
		cmocka_unit_test(test_recovery_use),
		cmocka_unit_test(test_recovery_parse),
		cmocka_unit_test(test_recovery_encode),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
