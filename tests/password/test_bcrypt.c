/*
 * test_bcrypt.c - legacy bcrypt verification (H-5..H-8).
 *
 * Vectors come from two independent sources: pyca/bcrypt, run at test
 * time through bcrypt_vectors.py (fresh salts, $2a$/$2b$/$2y$, costs 4,
 * 5 and 10, UTF-8 and over-72-byte passwords), and the published
 * OpenWall crypt_blowfish vectors. Every match must ask for an upgrade,
 * since bcrypt is never kept (H-6).
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

static const cxi_pwparams plain = { 3, 12 * MIB, false };
static const cxi_pwparams with_2x = { 3, 12 * MIB, true };

static size_t
unhex(const char *hex, char *out, size_t cap)
{
	size_t n = 0;
	if (strcmp(hex, "-") == 0) {
		return (0);
	}
	for (; hex[0] != '\0' && hex[1] != '\0' && n < cap; hex += 2) {
		unsigned v;
		assert_int_equal(sscanf(hex, "%2x", &v), 1);
		out[n++] = (char) v;
	}
	return (n);
}

static void
expect(const cxi_pwparams *p, const char *h, const char *pw, size_t n,
    cx_err want)
{
	bool up = !(want == CX_OK);
	cx_err rv = cxi_password_verify(p, h, pw, n, &up);
	if (rv != want) {
		fail_msg("%s with %zu-byte password: %d, want %d", h, n, rv,
		    want);
	}
	/* Upgrade exactly when the password matched. */
	assert_int_equal(up, want == CX_OK);
}

static void
test_pyca_vectors(void **state)
{
	(void) state;
	char cmd[4200], line[1024], hex[600], h[128], pw[300];
	const char *root = getenv("CALLIXO_SOURCE_ROOT");
	assert_non_null(root);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/tests/password/"
	    "bcrypt_vectors.py'", root);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	size_t count = 0, long_ones = 0, seen[3] = { 0 }, c04 = 0, c10 = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		assert_int_equal(sscanf(line, "%599s %127s", hex, h), 2);
		size_t n = unhex(hex, pw, sizeof(pw));
		assert_int_equal(cxi_password_kind(h, strlen(h), NULL, NULL),
		    CXI_PWKIND_BCRYPT);
		seen[h[2] == 'a' ? 0 : h[2] == 'b' ? 1 : 2]++;
		c04 += strncmp(h + 4, "04", 2) == 0;
		c10 += strncmp(h + 4, "10", 2) == 0;
		expect(&plain, h, pw, n, CX_OK);
		/* A wrong password: one more character, or a changed one. */
		pw[n] = 'x';
		expect(&plain, h, pw, n + 1, n >= 72 ? CX_OK : CX_EDENIED);
		if (n > 0) {
			pw[0] ^= 1;
			expect(&plain, h, pw, n, CX_EDENIED);
			pw[0] ^= 1;
		}
		if (n > 72) {
			/* libcrypt truncates to 72 bytes: what follows is
			 * ignored, what precedes is not. */
			long_ones++;
			expect(&plain, h, pw, 72, CX_OK);
			expect(&plain, h, pw, 71, CX_EDENIED);
			pw[80] = '#';
			expect(&plain, h, pw, n, CX_OK);
			pw[71] = '#';
			expect(&plain, h, pw, n, CX_EDENIED);
		}
		/* For ASCII passwords $2x$ computes the same hash (its bug
		 * is in 8-bit characters); it is only accepted when the flag
		 * allows it. */
		unhex(hex, pw, sizeof(pw));
		bool ascii = true;
		for (size_t i = 0; i < n; i++) {
			ascii = ascii && (unsigned char) pw[i] < 0x80;
		}
		h[2] = 'x';
		expect(&plain, h, pw, n, CX_EINVAL);
		expect(&with_2x, h, pw, n, ascii ? CX_OK : CX_EDENIED);
		count++;
	}
	assert_int_equal(pclose(f), 0);
	assert_int_equal(count, 33);
	assert_int_equal(seen[0], 11);
	assert_int_equal(seen[1], 11);
	assert_int_equal(seen[2], 11);
	assert_int_equal(long_ones, 6);
	assert_int_equal(c04, 15);
	assert_int_equal(c10, 3);
}

static void
test_openwall_vectors(void **state)
{
	(void) state;
	/* crypt_blowfish wrapper.c tests[] (the entries whose passwords
	 * are valid UTF-8; the 8-bit ones are refused by A-2 anyway). */
	static const char *const v[][2] = {
		{ "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		  "U*U" },
		{ "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK",
		  "U*U*" },
		{ "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a",
		  "U*U*U" },
		{ "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
		  "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		  "0123456789chars after 72 are ignored" },
		{ "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy",
		  "" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		expect(&plain, v[i][0], v[i][1], strlen(v[i][1]), CX_OK);
		expect(&plain, v[i][0], "U*U*U*", 6, CX_EDENIED);
	}
}

static void
test_malformed(void **state)
{
	(void) state;
	const char *good =
	    "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
	static const char *const bad[] = {
		"$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2a$32$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2a$00$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2a$99$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2z$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2A$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$3a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
		"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWx",
		"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe=",
		"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe ",
		"$2a$5$CCCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2a05$CCCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2a$05CCCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2$05$CCCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2a$",
		"$2",
	};
	expect(&plain, good, "U*U", 3, CX_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect(&plain, bad[i], "U*U", 3, CX_EINVAL);
		expect(&with_2x, bad[i], "U*U", 3, CX_EINVAL);
	}
	/* Passwords crypt_r cannot take (NUL) or A-2 refuses. */
	expect(&plain, good, "U*U\0x", 5, CX_EINVAL);
	expect(&plain, good, "U*U\xff", 4, CX_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pyca_vectors),
		cmocka_unit_test(test_openwall_vectors),
		cmocka_unit_test(test_malformed),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
