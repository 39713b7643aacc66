/*
 * test_outhooks.c - the pure parts of customer webhook delivery and its
 * SSRF guard: the signature against fixed HMAC-SHA256 vectors (made with
 * Python's hmac) and against /usr/bin/python3 at run time, secrets, the
 * retry schedule, which addresses and URLs are refused, and the
 * connect-time refusal in cxi_outhooks_post.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <sodium.h>

#include "outhooks.h"

static const cxi_outhooks_conf strict = {.timeout_ms = 2000,
    .max_age_ms = 86400000, .backoff_ms = 30000, .backoff_max_ms = 3600000,
    .workers = 1};

/* python3 -c 'import hmac, hashlib; print(hmac.new(b"whsec_test",
 *   b"1700000000." + b"{\"id\":\"evt_1\",\"type\":\"ping\"}",
 *   hashlib.sha256).hexdigest())' */
static void
test_sign_vector(void **state)
{
	(void) state;
	char sig[CXI_OUTHOOKS_SIG_MAX];
	const char *body = "{\"id\":\"evt_1\",\"type\":\"ping\"}";
	cxi_outhooks_sign("whsec_test", 1700000000, body, strlen(body), sig);
	assert_string_equal(sig, "t=1700000000,v1=33ff6664879612e191c4e01184f3"
	                         "da32597a3c9b33ca2655fac317d01c5abc3f");
	/* An empty body still signs "<t>.". */
	cxi_outhooks_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1614556800,
	    "", 0, sig);
	assert_string_equal(sig, "t=1614556800,v1=6a4098e1e20e2cb13ec646f761"
	                         "2369e6f7bd17bcf1e0fade688736e1e61f16e6");
	/* The timestamp is signed: another t, another MAC. */
	char sig2[CXI_OUTHOOKS_SIG_MAX];
	cxi_outhooks_sign("whsec_test", 1700000001, body, strlen(body), sig2);
	assert_string_not_equal(strchr(sig, ','), strchr(sig2, ','));
}

/* A fresh secret and a body with bytes JSON allows (UTF-8, newline,
 * embedded NUL-free binary-ish text), checked by Python's hmac. */
static void
test_sign_python(void **state)
{
	(void) state;
	char secret[CXI_OUTHOOKS_SECRET_LEN + 1], sig[CXI_OUTHOOKS_SIG_MAX];
	char cmd[1024], hex[256], out[128] = "";
	const char body[] = "{\"data\":{\"name\":\"Zo\xc3\xab\",\"n\":\"a\\nb\"},"
	                    "\"id\":\"evt_x\"}\n";
	cxi_outhooks_new_secret(secret);
	cxi_outhooks_sign(secret, 1764000000, body, strlen(body), sig);
	sodium_bin2hex(hex, sizeof(hex), (const unsigned char *) body,
	    strlen(body));
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c 'import hmac, hashlib, "
	    "sys; print(\"t=1764000000,v1=\" + hmac.new(sys.argv[1].encode(), "
	    "b\"1764000000.\" + bytes.fromhex(sys.argv[2]), "
	    "hashlib.sha256).hexdigest())' %s %s", secret, hex);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, sizeof(out), p));
	assert_int_equal(pclose(p), 0);
	out[strcspn(out, "\n")] = '\0';
	assert_string_equal(sig, out);
}

static void
test_secret(void **state)
{
	(void) state;
	char a[CXI_OUTHOOKS_SECRET_LEN + 1], b[CXI_OUTHOOKS_SECRET_LEN + 1];
	cxi_outhooks_new_secret(a);
	cxi_outhooks_new_secret(b);
	assert_int_equal(strlen(a), CXI_OUTHOOKS_SECRET_LEN);
	assert_memory_equal(a, "whsec_", 6);
	assert_int_equal(strspn(a + 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
	                               "nopqrstuvwxyz0123456789-_"), 43);
	assert_string_not_equal(a, b);
}

static void
test_backoff(void **state)
{
	(void) state;
	const int64_t base = 30000, cap = 3600000;
	const uint32_t lo = 0, mid = 1u << 31, hi = UINT32_MAX;
	/* 30 s doubling, +-20%. */
	assert_int_equal(cxi_outhooks_backoff_ms(base, cap, 1, mid), 30000);
	assert_int_equal(cxi_outhooks_backoff_ms(base, cap, 1, lo), 24000);
	assert_in_range(cxi_outhooks_backoff_ms(base, cap, 1, hi), 35990,
	    36000);
	assert_int_equal(cxi_outhooks_backoff_ms(base, cap, 2, mid), 60000);
	assert_int_equal(cxi_outhooks_backoff_ms(base, cap, 3, mid), 120000);
	assert_int_equal(cxi_outhooks_backoff_ms(base, cap, 7, mid), 1920000);
	/* Capped at an hour, jitter included, also for huge counts. */
	assert_int_equal(cxi_outhooks_backoff_ms(base, cap, 8, mid), 3600000);
	assert_int_equal(cxi_outhooks_backoff_ms(base, cap, 8, lo), 2880000);
	assert_int_equal(cxi_outhooks_backoff_ms(base, cap, 8, hi), 3600000);
	assert_int_equal(cxi_outhooks_backoff_ms(base, cap, 4000000000u, mid),
	    3600000);
	/* Never decreasing at the same jitter. */
	for (unsigned i = 1; i < 64; i++) {
		assert_true(cxi_outhooks_backoff_ms(base, cap, i, mid) <=
		    cxi_outhooks_backoff_ms(base, cap, i + 1, mid));
	}
	/* Over 24 h at the middle jitter: 7 doubling retries, then hourly,
	 * for about 28 attempts in all. */
	int64_t t = 0;
	unsigned n = 1;
	while (t + cxi_outhooks_backoff_ms(base, cap, n, mid) < 86400000) {
		t += cxi_outhooks_backoff_ms(base, cap, n, mid);
		n++;
	}
	assert_in_range(n, 26, 30);
	/* Degenerate settings stay sane. */
	assert_int_equal(cxi_outhooks_backoff_ms(0, 0, 1, mid), 1);
}

static bool
v4_ok(const char *a)
{
	struct sockaddr_in s = {.sin_family = AF_INET};
	assert_int_equal(inet_pton(AF_INET, a, &s.sin_addr), 1);
	return (cxi_outhooks_addr_ok((struct sockaddr *) &s, false));
}

static bool
v6_ok(const char *a)
{
	struct sockaddr_in6 s = {.sin6_family = AF_INET6};
	assert_int_equal(inet_pton(AF_INET6, a, &s.sin6_addr), 1);
	return (cxi_outhooks_addr_ok((struct sockaddr *) &s, false));
}

static void
test_addresses(void **state)
{
	(void) state;
	const char *bad4[] = {"127.0.0.1", "127.255.0.9", "10.0.0.1",
	    "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
	    "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255",
	    "198.18.0.1", "192.0.0.8", NULL};
	const char *good4[] = {"8.8.8.8", "93.184.216.34", "172.32.0.1",
	    "100.128.0.1", "1.1.1.1", NULL};
	const char *bad6[] = {"::1", "::", "fe80::1", "fc00::1", "fd12::1",
	    "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe",
	    "2002:7f00:1::1", "2001:db8::1", "fec0::1", "::127.0.0.1", NULL};
	const char *good6[] = {"2606:4700:4700::1111", "2a00:1450:4001::1",
	    "::ffff:8.8.8.8", NULL};
	for (size_t i = 0; bad4[i] != NULL; i++) {
		assert_false(v4_ok(bad4[i]));
	}
	for (size_t i = 0; good4[i] != NULL; i++) {
		assert_true(v4_ok(good4[i]));
	}
	for (size_t i = 0; bad6[i] != NULL; i++) {
		assert_false(v6_ok(bad6[i]));
	}
	for (size_t i = 0; good6[i] != NULL; i++) {
		assert_true(v6_ok(good6[i]));
	}
	struct sockaddr_in lo = {.sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_true(cxi_outhooks_addr_ok((struct sockaddr *) &lo, true));
	struct sockaddr un = {.sa_family = AF_UNIX};
	assert_false(cxi_outhooks_addr_ok(&un, true));
}

static void
test_urls(void **state)
{
	(void) state;
	char why[200];
	cxi_outhooks_conf open = strict;
	open.allow_private = open.allow_http = true;
	const char *good[] = {"https://hooks.example.com/callixo",
	    "https://hooks.example.com:8443/a?b=c", "https://8.8.8.8/x",
	    "https://[2606:4700:4700::1111]/x", NULL};
	const char *bad[] = {"http://hooks.example.com/", "https://localhost/",
	    "https://LOCALHOST./", "https://a.localhost/", "https://intranet/",
	    "https://127.0.0.1/", "https://10.0.0.1:443/", "https://[::1]/",
	    "https://[fe80::1%25eth0]/", "https://169.254.169.254/",
	    "https://u:p@hooks.example.com/", "ftp://hooks.example.com/",
	    "hooks.example.com/x", "", "https://hooks.example.com/a b",
	    "https://hooks.example.com/\xc3\xa9", "javascript:alert(1)",
	    "https://0x7f000001/", "https://2130706433/", NULL};
	for (size_t i = 0; good[i] != NULL; i++) {
		assert_true(cxi_outhooks_url_ok(&strict, good[i], false, why,
		    sizeof(why)));
	}
	for (size_t i = 0; bad[i] != NULL; i++) {
		if (cxi_outhooks_url_ok(&strict, bad[i], false, why,
		        sizeof(why))) {
			fail_msg("accepted %s", bad[i]);
		}
	}
	assert_true(cxi_outhooks_url_ok(&open, "http://127.0.0.1:8080/h",
	    false, why, sizeof(why)));
	assert_true(cxi_outhooks_url_ok(&open, "http://localhost/h", false,
	    why, sizeof(why)));
	assert_false(cxi_outhooks_url_ok(&open, "ftp://127.0.0.1/", false, why,
	    sizeof(why)));
	/* With DNS: "localhost." style names already fail without it. */
	assert_false(cxi_outhooks_url_ok(&strict, "https://localhost/", true,
	    why, sizeof(why)));
	char big[3000];
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "https://", 8);
	big[sizeof(big) - 1] = '\0';
	assert_false(cxi_outhooks_url_ok(&strict, big, false, why,
	    sizeof(why)));
}

/* The registration check is bypassed here on purpose: the address is
 * refused again when curl is about to connect. */
static void
test_connect_refused(void **state)
{
	(void) state;
	cxi_outhooks_result res;
	cxi_outhooks_conf cf = strict;
	const char *hl[] = {"Content-Type: application/json", NULL};
	cf.allow_http = true;
	cxi_outhooks_post(&cf, "http://127.0.0.1:9/x", hl, "{}", 2, &res);
	assert_int_equal(res.status, 0);
	assert_string_equal(res.error, "blocked: 127.0.0.1 is a loopback, "
	                               "private or link-local address");
	cxi_outhooks_post(&cf, "http://[::1]:9/x", hl, "{}", 2, &res);
	assert_int_equal(res.status, 0);
	assert_memory_equal(res.error, "blocked: ::1 ", 13);
	/* https only unless allowed: curl itself refuses the scheme. */
	cf.allow_http = false;
	cf.allow_private = true;
	cxi_outhooks_post(&cf, "http://127.0.0.1:9/x", hl, "{}", 2, &res);
	assert_int_equal(res.status, 0);
	assert_non_null(strstr(res.error, "http: "));
	/* Allowed, but nobody listens: a connect error, with a duration. */
	cf.allow_http = true;
	cxi_outhooks_post(&cf, "http://127.0.0.1:9/x", hl, "{}", 2, &res);
	assert_int_equal(res.status, 0);
	assert_memory_equal(res.error, "connect: ", 9);
	assert_true(res.duration_ms >= 0);
}

int
main(void)
{
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		return (1);
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_vector),
	    cmocka_unit_test(test_sign_python),
	    cmocka_unit_test(test_secret),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_urls),
	    cmocka_unit_test(test_connect_refused),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return (rc);
}
