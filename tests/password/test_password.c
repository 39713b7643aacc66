/*
 * test_password.c - argon2id hashing (H-1..H-3), the hash-string
 * grammar, UTF-8 handling and the password policy (A-1..A-3).
 *
 * Most hashes use t=3, m=12 MiB, the cheapest setting ASVS 5.0 allows,
 * so the suite stays quick; one test uses the defaults, whose string
 * form H-2 pins down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "password.h"

#define MIB ((size_t) 1 << 20)

static const cxi_pwparams small = { 3, 12 * MIB, false };

/* Matches "[A-Za-z0-9+/]{n}" at *s and advances. */
static bool
b64n(const char **s, size_t n)
{
	for (size_t i = 0; i < n; i++, (*s)++) {
		char c = **s;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/')) {
			return (false);
		}
	}
	return (true);
}

static void
test_default_phc_format(void **state)
{
	(void) state;
	cxi_pwparams p;
	char h[CXI_PASSWORD_HASH_MAX], why[256];
	bool up;
	const char *pw = "correct horse battery staple";
	cxi_pwparams_default(&p);
	assert_int_equal(cxi_password_hash(&p, pw, strlen(pw), h, why,
	    sizeof(why)), CX_OK);
	/* H-2: $argon2id$v=19$m=65536,t=2,p=1$<22>$<43> */
	const char *pre = "$argon2id$v=19$m=65536,t=2,p=1$";
	assert_memory_equal(h, pre, strlen(pre));
	const char *s = h + strlen(pre);
	assert_true(b64n(&s, 22));
	assert_int_equal(*s++, '$');
	assert_true(b64n(&s, 43));
	assert_int_equal(*s, '\0');
	unsigned long t = 0, m = 0;
	assert_int_equal(cxi_password_kind(h, strlen(h), &t, &m),
	    CXI_PWKIND_ARGON2ID);
	assert_int_equal(t, 2);
	assert_int_equal(m, 65536);
	assert_int_equal(cxi_password_verify(&p, h, pw, strlen(pw), &up),
	    CX_OK);
	assert_false(up);
}

static void
test_round_trip_and_wrong(void **state)
{
	(void) state;
	char h[CXI_PASSWORD_HASH_MAX], h2[CXI_PASSWORD_HASH_MAX];
	bool up = true;
	/* any printable Unicode, verified exactly as received. */
	const char *pw = "p\xc3\xa4ssw\xc3\xb6rd \xf0\x9f\x94\x91 \xe6\x97\xa5";
	size_t n = strlen(pw);
	assert_int_equal(cxi_password_hash(&small, pw, n, h, NULL, 0), CX_OK);
	assert_non_null(strstr(h, "$m=12288,t=3,p=1$"));
	assert_int_equal(cxi_password_verify(&small, h, pw, n, &up), CX_OK);
	assert_false(up);
	/* Salted: the same password gives another string. */
	assert_int_equal(cxi_password_hash(&small, pw, n, h2, NULL, 0), CX_OK);
	assert_string_not_equal(h, h2);
	assert_int_equal(cxi_password_verify(&small, h2, pw, n, &up), CX_OK);
	/* No truncation (drop the last character, 3 bytes), no case
	 * change; a cut inside a character is not UTF-8 at all. */
	assert_int_equal(cxi_password_verify(&small, h, pw, n - 3, &up),
	    CX_EDENIED);
	assert_int_equal(cxi_password_verify(&small, h, pw, n - 1, &up),
	    CX_EINVAL);
	assert_int_equal(cxi_password_verify(&small, h, "P\xc3\xa4ssw", 6,
	    &up), CX_EDENIED);
	assert_false(up);
	/* Long passwords count in full (unlike bcrypt's 72 bytes). */
	char lp[200];
	memset(lp, 'x', sizeof(lp));
	assert_int_equal(cxi_password_hash(&small, lp, sizeof(lp), h, NULL,
	    0), CX_OK);
	lp[150] = 'y';
	assert_int_equal(cxi_password_verify(&small, h, lp, sizeof(lp), &up),
	    CX_EDENIED);
	/* NUL and invalid UTF-8 never get to the hash. */
	char why[256] = "";
	assert_int_equal(cxi_password_hash(&small, "a\0b", 3, h, why,
	    sizeof(why)), CX_EINVAL);
	assert_non_null(strstr(why, "NUL"));
	assert_int_equal(cxi_password_hash(&small, "a\xff", 2, h, why,
	    sizeof(why)), CX_EINVAL);
	assert_non_null(strstr(why, "UTF-8"));
	assert_int_equal(cxi_password_hash(&small, pw, n, h, NULL, 0), CX_OK);
	assert_int_equal(cxi_password_verify(&small, h, "a\0b", 3, &up),
	    CX_EINVAL);
}

static void
test_needs_rehash(void **state)
{
	(void) state;
	char h[CXI_PASSWORD_HASH_MAX];
	bool up;
	const char *pw = "rehash me when the config changes";
	size_t n = strlen(pw);
	assert_int_equal(cxi_password_hash(&small, pw, n, h, NULL, 0), CX_OK);
	cxi_pwparams more_t = small, more_m = small, def;
	more_t.opslimit = 4;
	more_m.memlimit = 16 * MIB;
	cxi_pwparams_default(&def);
	assert_int_equal(cxi_password_verify(&more_t, h, pw, n, &up), CX_OK);
	assert_true(up);
	assert_int_equal(cxi_password_verify(&more_m, h, pw, n, &up), CX_OK);
	assert_true(up);
	assert_int_equal(cxi_password_verify(&def, h, pw, n, &up), CX_OK);
	assert_true(up);
	/* A wrong password never asks for an upgrade. */
	assert_int_equal(cxi_password_verify(&def, h, "nope", 4, &up),
	    CX_EDENIED);
	assert_false(up);
}

static void
expect_params(unsigned long long t, size_t mib, cx_err want)
{
	cxi_pwparams p = { t, mib * MIB, false };
	char why[256] = "";
	char h[CXI_PASSWORD_HASH_MAX];
	assert_int_equal(cxi_pwparams_check(&p, why, sizeof(why)), want);
	if (want != CX_OK) {
		assert_true(strlen(why) > 0);
		/* Refused before any work is done. */
		assert_int_equal(cxi_password_hash(&p, "x", 1, h, NULL, 0),
		    want);
		assert_string_equal(h, "");
	}
}

static void
test_minima(void **state)
{
	(void) state;
	expect_params(0, 1024, CX_ECONFIG);
	expect_params(1, 45, CX_ECONFIG);
	expect_params(1, 46, CX_OK);
	expect_params(2, 18, CX_ECONFIG);
	expect_params(2, 19, CX_OK);
	expect_params(3, 11, CX_ECONFIG);
	expect_params(3, 12, CX_OK);
	expect_params(10, 11, CX_ECONFIG);
	expect_params(10, 12, CX_OK);
	expect_params(65, 64, CX_ECONFIG);
	expect_params(2, 4097, CX_ECONFIG);
	cxi_pwparams p = { 2, 18 * MIB, false };
	char why[256];
	assert_int_equal(cxi_pwparams_check(&p, why, sizeof(why)),
	    CX_ECONFIG);
	assert_string_equal(why,
	    "argon2id t=2 needs m >= 19 MiB (ASVS 5.0 Appendix C)");
}

static void
test_kind(void **state)
{
	(void) state;
	static const struct {
		const char *h;
		cxi_pwkind k;
	} v[] = {
		{ "$2a$04$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		  CXI_PWKIND_BCRYPT },
		{ "$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		  CXI_PWKIND_BCRYPT },
		{ "$2y$10$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		  CXI_PWKIND_BCRYPT },
		{ "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		  CXI_PWKIND_BCRYPT_2X },
		{ "$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		  CXI_PWKIND_INVALID },
		{ "$2a$32$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		  CXI_PWKIND_INVALID },
		{ "$2z$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		  CXI_PWKIND_INVALID },
		{ "$2$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		  CXI_PWKIND_INVALID },
		{ "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
		  CXI_PWKIND_INVALID },
		{ "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWW",
		  CXI_PWKIND_INVALID },
		{ "$2a$05$CCCCCCCCCCCCCCCCCCCCC+E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		  CXI_PWKIND_INVALID },
		{ "$2a$5$CCCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		  CXI_PWKIND_INVALID },
		{ "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA"
		  "$RdescudvJCsgt3ub+b+dWRWJTmaaJObG0ZWNtwK5lGk",
		  CXI_PWKIND_ARGON2ID },
		{ "$argon2id$v=19$m=65536,t=2,p=2$c29tZXNhbHRzb21lc2FsdA"
		  "$RdescudvJCsgt3ub+b+dWRWJTmaaJObG0ZWNtwK5lGk",
		  CXI_PWKIND_INVALID },
		{ "$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA"
		  "$RdescudvJCsgt3ub+b+dWRWJTmaaJObG0ZWNtwK5lGk",
		  CXI_PWKIND_INVALID },
		{ "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA"
		  "$RdescudvJCsgt3ub+b+dWRWJTmaaJObG0ZWNtwK5lGk",
		  CXI_PWKIND_INVALID },
		/* Costs no worker should be made to pay. */
		{ "$argon2id$v=19$m=99999999999,t=2,p=1$c29tZXNhbHRzb21lc2FsdA"
		  "$RdescudvJCsgt3ub+b+dWRWJTmaaJObG0ZWNtwK5lGk",
		  CXI_PWKIND_INVALID },
		{ "$argon2id$v=19$m=65536,t=4294967295,p=1$c29tZXNhbHRzb21lc2FsdA"
		  "$RdescudvJCsgt3ub+b+dWRWJTmaaJObG0ZWNtwK5lGk",
		  CXI_PWKIND_INVALID },
		{ "$argon2id$v=19$m=065536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA"
		  "$RdescudvJCsgt3ub+b+dWRWJTmaaJObG0ZWNtwK5lGk",
		  CXI_PWKIND_INVALID },
		{ "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA"
		  "$RdescudvJCsgt3ub+b+dWRWJTmaaJObG0ZWNtwK5lGk=",
		  CXI_PWKIND_INVALID },
		{ "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA",
		  CXI_PWKIND_INVALID },
		{ "", CXI_PWKIND_INVALID },
		{ "plaintext", CXI_PWKIND_INVALID },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (cxi_password_kind(v[i].h, strlen(v[i].h), NULL, NULL) !=
		    v[i].k) {
			fail_msg("kind of %s", v[i].h);
		}
		bool up = true;
		if (v[i].k == CXI_PWKIND_INVALID) {
			assert_int_equal(cxi_password_verify(&small, v[i].h,
			    "x", 1, &up), CX_EINVAL);
			assert_false(up);
		}
	}
	/* An embedded NUL cuts nothing short: the string is refused. */
	const char nul[] = "$2a$04$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0Xo\0Yb4YMJKvyOeW";
	assert_int_equal(cxi_password_kind(nul, sizeof(nul) - 1, NULL, NULL),
	    CXI_PWKIND_INVALID);
}

static void
test_utf8(void **state)
{
	(void) state;
	static const struct {
		const char *s;
		size_t len;
		cx_err rv;
		size_t chars;
	} v[] = {
		{ "", 0, CX_OK, 0 },
		{ "abc", 3, CX_OK, 3 },
		{ "\xc3\xa9", 2, CX_OK, 1 },
		{ "\xe2\x82\xac", 3, CX_OK, 1 },
		{ "\xf0\x9f\x98\x80", 4, CX_OK, 1 },
		{ "\xf4\x8f\xbf\xbf", 4, CX_OK, 1 },       /* U+10FFFF */
		{ "a\0b", 3, CX_EINVAL, 0 },
		{ "\xc0\xaf", 2, CX_EINVAL, 0 },           /* overlong / */
		{ "\xe0\x80\xaf", 3, CX_EINVAL, 0 },       /* overlong */
		{ "\xed\xa0\x80", 3, CX_EINVAL, 0 },       /* surrogate */
		{ "\xf4\x90\x80\x80", 4, CX_EINVAL, 0 },   /* > U+10FFFF */
		{ "\xc3", 1, CX_EINVAL, 0 },               /* cut short */
		{ "\xe2\x82", 2, CX_EINVAL, 0 },
		{ "\x80", 1, CX_EINVAL, 0 },
		{ "\xc3\x28", 2, CX_EINVAL, 0 },
		{ "\xff", 1, CX_EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = 999;
		if (cxi_password_utf8(v[i].s, v[i].len, &n, NULL, 0) !=
		    v[i].rv || (v[i].rv == CX_OK && n != v[i].chars)) {
			fail_msg("utf8 case %zu", i);
		}
	}
}

/* n copies of the UTF-8 sequence u. */
static char *
rep(const char *u, size_t n, size_t *len)
{
	size_t ul = strlen(u);
	char *s = malloc(ul * n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		memcpy(s + i * ul, u, ul);
	}
	s[ul * n] = '\0';
	*len = ul * n;
	return (s);
}

static void
check_len(const char *u, size_t n, cx_err want)
{
	size_t len;
	char why[256] = "";
	char *s = rep(u, n, &len);
	cx_err rv = cxi_password_check(s, len, NULL, NULL, why, sizeof(why));
	if (rv != want) {
		fail_msg("%zu x %s: %d (%s)", n, u, rv, why);
	}
	free(s);
}

static void
test_policy_length(void **state)
{
	(void) state;
	/* A-1 boundaries, counted in code points: ASCII, 2-byte, emoji. */
	const char *units[] = { "k", "\xc3\xa9", "\xf0\x9f\x94\x91" };
	for (size_t i = 0; i < 3; i++) {
		check_len(units[i], 11, CX_EDENIED);
		check_len(units[i], 12, CX_OK);
		check_len(units[i], 64, CX_OK);
		check_len(units[i], 128, CX_OK);
		check_len(units[i], 129, CX_EDENIED);
	}
	char why[256];
	assert_int_equal(cxi_password_check("short", 5, NULL, NULL, why,
	    sizeof(why)), CX_EDENIED);
	assert_string_equal(why,
	    "password is too short: 5 characters, at least 12 are needed");
	/* No composition rules: all lowercase letters are fine. */
	assert_int_equal(cxi_password_check("zebracoffeemountain", 19, NULL,
	    NULL, NULL, 0), CX_OK);
	assert_int_equal(cxi_password_check("abcdefghijk\0lmn", 15, NULL,
	    NULL, why, sizeof(why)), CX_EINVAL);
	assert_int_equal(cxi_password_check("abcdefghijk\xfflmn", 15, NULL,
	    NULL, why, sizeof(why)), CX_EINVAL);
}

static void
test_policy_common_and_context(void **state)
{
	(void) state;
	char why[256] = "", path[4096];
	cxi_common_list *l;
	const char *root = getenv("CALLIXO_SOURCE_ROOT");
	assert_non_null(root);
	snprintf(path, sizeof(path), "%s/conf/common-passwords.txt", root);
	assert_int_equal(cxi_common_list_load(path, &l, why, sizeof(why)),
	    CX_OK);
	/* The shipped list: 5000 entries, header comments skipped. */
	assert_true(cxi_common_list_count(l) >= 4900);
	const char *hits[] = { "password1234", "PassWord1234", "123qweasdzxc",
	    "qwerty123456" };
	for (size_t i = 0; i < 4; i++) {
		assert_true(cxi_common_list_contains(l, hits[i],
		    strlen(hits[i])));
		assert_int_equal(cxi_password_check(hits[i], strlen(hits[i]),
		    NULL, l, why, sizeof(why)), CX_EDENIED);
		assert_non_null(strstr(why, "too common"));
	}
	assert_false(cxi_common_list_contains(l, "password123", 11));
	assert_false(cxi_common_list_contains(l, "password12345x", 14));
	assert_false(cxi_common_list_contains(l, "# common-passwords.txt - "
	    "refused at signup and password change (A-3).", 69));
	const char *ctx[] = { "callixo", "Acme Telecom", "jane.doe", "jd",
	    NULL };
	assert_int_equal(cxi_password_check("my-CALLIXO-account", 18, ctx, l,
	    why, sizeof(why)), CX_EDENIED);
	assert_string_equal(why, "password must not contain \"callixo\"");
	assert_int_equal(cxi_password_check("xxacme telecom!!", 16, ctx, l,
	    why, sizeof(why)), CX_EDENIED);
	assert_int_equal(cxi_password_check("Jane.Doe-rocks-2026", 19, ctx, l,
	    why, sizeof(why)), CX_EDENIED);
	/* "jd" is too short to be a context word. */
	assert_int_equal(cxi_password_check("jd staple battery", 17, ctx, l,
	    why, sizeof(why)), CX_OK);
	assert_int_equal(cxi_password_check("correct horse battery", 21, ctx,
	    l, why, sizeof(why)), CX_OK);
	cxi_common_list_free(l);

	/* Parser edge cases: CRLF, duplicates, comments, no final newline. */
	const char txt[] = "# c\r\nZeta12345678\r\n\nalpha1234567\nALPHA1234567"
	    "\nlast-one-no-newline";
	assert_int_equal(cxi_common_list_parse(txt, sizeof(txt) - 1, &l, why,
	    sizeof(why)), CX_OK);
	assert_int_equal(cxi_common_list_count(l), 3);
	assert_true(cxi_common_list_contains(l, "zeta12345678", 12));
	assert_true(cxi_common_list_contains(l, "Alpha1234567", 12));
	assert_true(cxi_common_list_contains(l, "last-one-no-newline", 19));
	assert_false(cxi_common_list_contains(l, "alpha123456", 11));
	assert_false(cxi_common_list_contains(l, "# c", 3));
	cxi_common_list_free(l);
	assert_int_equal(cxi_common_list_parse("a\0b\n", 4, &l, why,
	    sizeof(why)), CX_EINVAL);
	assert_null(l);
	assert_int_equal(cxi_common_list_load("/nonexistent/list", &l, why,
	    sizeof(why)), CX_EIO);
	assert_non_null(strstr(why, "/nonexistent/list"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_phc_format),
		cmocka_unit_test(test_round_trip_and_wrong),
		cmocka_unit_test(test_needs_rehash),
		cmocka_unit_test(test_minima),
		cmocka_unit_test(test_kind),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_policy_length),
		cmocka_unit_test(test_policy_common_and_context),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
