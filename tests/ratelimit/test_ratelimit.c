/*
 * test_ratelimit.c - the ratelimit module in the SDK test kit (a real
 * core in process): surveys in, verdicts out, events published as the
 * core would publish them.
 *
 *   test_ratelimit <ratelimit.so> memory
 *   test_ratelimit <ratelimit.so> redis    (needs CALLIXO_REDIS_URL)
 *
 * Test-only short windows ("2/1s") keep the refill tests fast on the
 * real clock.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <callixo/testkit.h>

#define DEADLINE_MS 2000

static const char *plugin_path;
static char run_id[32]; /* keeps Redis keys of separate runs apart */

static cx_testkit *
kit(const char *yaml)
{
	cx_testkit *tk;
	assert_int_equal(cx_testkit_new(&tk), CX_OK);
	if (cx_testkit_load(tk, plugin_path, yaml) != CX_OK) {
		fail_msg("load: %s", cx_testkit_error(tk));
	}
	assert_int_equal(cx_testkit_start(tk), CX_OK);
	return (tk);
}

static cx_verdict
ask(cx_testkit *tk, const char *type, const char *ip, const char *acct)
{
	char data[256];
	if (acct != NULL) {
		snprintf(data, sizeof(data),
		    "{\"ip\":\"%s\",\"account\":\"%s\",\"outcome\":null}", ip,
		    acct);
	} else {
		snprintf(data, sizeof(data),
		    "{\"ip\":\"%s\",\"account\":null,\"outcome\":null}", ip);
	}
	cx_verdict v;
	assert_int_equal(cx_testkit_survey(tk, type, data, DEADLINE_MS, &v),
	    CX_OK);
	return (v);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0) {
	}
}

/* Defaults: 5/min per account, so a burst gets exactly five through. */
static void
test_burst_per_account(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit("");
	for (int i = 0; i < 5; i++) {
		assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.1",
		                     "acc_burst"), CX_POLICY_ALLOW);
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.1",
		                     "acc_burst"), CX_POLICY_DENY);
	}
	/* A fresh IP does not help: the account bucket is empty. */
	assert_int_equal(ask(tk, "policy.auth.login", "198.51.100.7",
	                     "acc_burst"), CX_POLICY_DENY);
	/* Another account does not share it. */
	assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.1", "acc_other"),
	    CX_POLICY_ALLOW);
	/* Nor does another question type. */
	assert_int_equal(ask(tk, "policy.auth.password", "192.0.2.1",
	                     "acc_burst"), CX_POLICY_ALLOW);
	/* A question the module does not handle is not limited (it
	 * abstains; the survey folds that into allow). */
	assert_int_equal(ask(tk, "policy.call.place", "192.0.2.1", "acc_burst"),
	    CX_POLICY_ALLOW);
	cx_testkit_free(tk);
}

static void
test_per_ip(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit("limits:\n  login:\n    per_ip: 3/min\n"
	                     "    per_account: 100/min\n");
	char acct[32];
	for (int i = 0; i < 3; i++) {
		snprintf(acct, sizeof(acct), "acc_ip%d", i);
		assert_int_equal(ask(tk, "policy.auth.login", "203.0.113.5",
		                     acct), CX_POLICY_ALLOW);
	}
	assert_int_equal(ask(tk, "policy.auth.login", "203.0.113.5", "acc_ip9"),
	    CX_POLICY_DENY);
	/* Other IPs, even for the same accounts, keep their budgets: an
	 * attacker's IP being limited does not lock the victim out. */
	assert_int_equal(ask(tk, "policy.auth.login", "203.0.113.6", "acc_ip0"),
	    CX_POLICY_ALLOW);
	/* Signup with no account yet: the IP bucket alone. */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(ask(tk, "policy.auth.signup", "203.0.113.7",
		                     NULL), CX_POLICY_ALLOW);
	}
	assert_int_equal(ask(tk, "policy.auth.signup", "203.0.113.7", NULL),
	    CX_POLICY_DENY);
	cx_testkit_free(tk);
}

static void
test_refill(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit("limits:\n  login:\n    per_account: 2/1s\n");
	assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.2", "acc_r"),
	    CX_POLICY_ALLOW);
	assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.2", "acc_r"),
	    CX_POLICY_ALLOW);
	assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.2", "acc_r"),
	    CX_POLICY_DENY);
	/* One token every 500 ms. */
	sleep_ms(650);
	assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.2", "acc_r"),
	    CX_POLICY_ALLOW);
	assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.2", "acc_r"),
	    CX_POLICY_DENY);
	/* A reload changes the shape in place. */
	assert_int_equal(cx_testkit_reconfigure(tk,
	                     "limits:\n  login:\n    per_account: 50/1s\n"),
	    CX_OK);
	sleep_ms(100);
	assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.2", "acc_r"),
	    CX_POLICY_ALLOW);
	cx_testkit_free(tk);
}

/* 200 attempts from 50 IPs against one account; every attempt let
 * through fails. At most 100 per hour may be evaluated. */
static void
test_failed_login_ceiling(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit("failed_login_ceiling: 100\nlimits:\n  login:\n"
	                     "    per_ip: null\n    per_account: 10000/min\n");
	int allowed = 0;
	char ip[32];
	for (int i = 0; i < 200; i++) {
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i % 50, i % 7);
		if (ask(tk, "policy.auth.login", ip, "acc_victim") ==
		    CX_POLICY_ALLOW) {
			allowed++;
			assert_int_equal(cx_testkit_publish(tk,
			                     "auth.login.failed", NULL,
			                     "{\"ip\":\"10.0.0.1\","
			                     "\"account\":\"acc_victim\"}"),
			    CX_OK);
		}
	}
	assert_true(allowed <= 100);
	assert_true(allowed >= 50);
	/* Another account is untouched. */
	assert_int_equal(ask(tk, "policy.auth.login", "10.0.0.1", "acc_bystander"),
	    CX_POLICY_ALLOW);
	cx_testkit_free(tk);
}

/* A successful login gives its ceiling token back. */
static void
test_success_refunds(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit("failed_login_ceiling: 4\nlimits:\n  login:\n"
	                     "    per_account: 100/min\n");
	assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.3", "acc_s"),
	    CX_POLICY_ALLOW);
	assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.3", "acc_s"),
	    CX_POLICY_ALLOW);
	assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.3", "acc_s"),
	    CX_POLICY_DENY);
	assert_int_equal(cx_testkit_publish(tk, "auth.login.succeeded", NULL,
	                     "{\"ip\":\"192.0.2.3\",\"account\":\"acc_s\"}"),
	    CX_OK);
	cx_verdict v = CX_POLICY_DENY;
	/* Events are asynchronous: give delivery a moment. */
	for (int i = 0; i < 50 && v != CX_POLICY_ALLOW; i++) {
		sleep_ms(20);
		v = ask(tk, "policy.auth.login", "192.0.2.3", "acc_s");
	}
	assert_int_equal(v, CX_POLICY_ALLOW);
	cx_testkit_free(tk);
}

static void
test_bad_settings(void **unused)
{
	(void) unused;
	static const char *const bad[] = {
	    "limits:\n  login:\n    per_ip: 20/fortnight\n",
	    "limits:\n  login:\n    per_host: 20/min\n",
	    "failed_login_ceiling: 1\n",
	    "redis_url: http://127.0.0.1/\n",
	    "limit: {}\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cx_testkit *tk;
		assert_int_equal(cx_testkit_new(&tk), CX_OK);
		assert_int_not_equal(cx_testkit_load(tk, plugin_path, bad[i]),
		    CX_OK);
		assert_true(cx_testkit_error(tk)[0] != '\0');
		/* The message never quotes a redis URL (it may hold a
		 * password). */
		assert_null(strstr(cx_testkit_error(tk), "http://127"));
		cx_testkit_free(tk);
	}
}

/* Runs fn with stderr (where the core writes log lines) sent to a file,
 * and returns that file's contents. */
static char *
capture_stderr(void (*fn)(void *), void *arg)
{
	char path[] = "/tmp/rltest.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fd, 2) >= 0);
	fn(arg);
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	assert_int_equal(close(saved), 0);
	off_t len = lseek(fd, 0, SEEK_END);
	assert_true(len >= 0);
	char *buf = calloc(1, (size_t) len + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t) len, 0), len);
	assert_int_equal(close(fd), 0);
	return (buf);
}

static void
down_body(void *arg)
{
	cx_testkit *tk = kit((const char *) arg);
	/* The fallback buckets still limit: 5 through, then denied. The
	 * sleep crosses the client's redial interval, so the module does
	 * try again (and must not log again). */
	for (int i = 0; i < 8; i++) {
		cx_verdict v = ask(tk, "policy.auth.login", "192.0.2.4",
		    "acc_down");
		assert_int_equal(v, i < 5 ? CX_POLICY_ALLOW : CX_POLICY_DENY);
		if (i == 3) {
			sleep_ms(1100);
		}
	}
	cx_testkit_free(tk);
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) {
		n++;
	}
	return (n);
}

static void
test_redis_down_falls_back(void **unused)
{
	(void) unused;
	/* A port nobody listens on: bind, note it, close. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	assert_int_equal(bind(s, (struct sockaddr *) &a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *) &a, &al), 0);
	assert_int_equal(close(s), 0);
	char yaml[160];
	snprintf(yaml, sizeof(yaml),
	    "redis_url: redis://:hunter2pw@127.0.0.1:%d/0\n",
	    ntohs(a.sin_port));
	char *log = capture_stderr(down_body, yaml);
	fputs(log, stderr);
	assert_int_equal(count(log, "redis unreachable"), 1);
	assert_null(strstr(log, "hunter2pw"));
	free(log);
}

/* two daemons (two kits, two instances) share one Redis budget. */
static void
test_redis_shared(void **unused)
{
	(void) unused;
	const char *url = getenv("CALLIXO_REDIS_URL");
	assert_non_null(url);
	char yaml[512];
	snprintf(yaml, sizeof(yaml),
	    "redis_url: %s\nredis_timeout: 500ms\nkey_prefix: \"t%s:\"\n"
	    "limits:\n  signup:\n    per_account: 2/1s\n", url, run_id);
	cx_testkit *a = kit(yaml), *b = kit(yaml);
	int allowed = 0;
	for (int i = 0; i < 10; i++) {
		cx_testkit *tk = i % 2 ? b : a;
		char ip[32];
		snprintf(ip, sizeof(ip), "192.0.2.%d", 10 + i);
		allowed += ask(tk, "policy.auth.login", ip, "acc_shared") ==
		    CX_POLICY_ALLOW;
	}
	assert_int_equal(allowed, 5);
	/* Refill seen by both through Redis' clock. */
	assert_int_equal(ask(a, "policy.auth.signup", "192.0.2.50", "e@x"),
	    CX_POLICY_ALLOW);
	assert_int_equal(ask(b, "policy.auth.signup", "192.0.2.51", "e@x"),
	    CX_POLICY_ALLOW);
	assert_int_equal(ask(a, "policy.auth.signup", "192.0.2.52", "e@x"),
	    CX_POLICY_DENY);
	assert_int_equal(ask(b, "policy.auth.signup", "192.0.2.53", "e@x"),
	    CX_POLICY_DENY);
	sleep_ms(650);
	assert_int_equal(ask(b, "policy.auth.signup", "192.0.2.54", "e@x"),
	    CX_POLICY_ALLOW);
	assert_int_equal(ask(a, "policy.auth.signup", "192.0.2.55", "e@x"),
	    CX_POLICY_DENY);
	/* Every bucket key carries a TTL, so idle buckets cost nothing. */
	char cmd[512];
	const char *port = getenv("CALLIXO_REDIS_PORT");
	assert_non_null(port);
	snprintf(cmd, sizeof(cmd),
	    "n=0; for k in $(redis-cli -p %s --scan --pattern 't%s:*'); do "
	    "t=$(redis-cli -p %s pttl \"$k\"); [ \"$t\" -gt 0 ] || exit 1; "
	    "n=$((n+1)); done; [ $n -ge 3 ]", port, run_id, port);
	assert_int_equal(system(cmd), 0);
	cx_testkit_free(a);
	cx_testkit_free(b);
}

/* The failed-login ceiling shared across two daemons: 50 IPs spread
 * over both still meet one ceiling, and a success reported to one
 * daemon frees a token for the other. */
static void
test_redis_ceiling(void **unused)
{
	(void) unused;
	const char *url = getenv("CALLIXO_REDIS_URL");
	assert_non_null(url);
	char yaml[512];
	snprintf(yaml, sizeof(yaml),
	    "redis_url: %s\nredis_timeout: 500ms\nkey_prefix: \"t%s:\"\n"
	    "failed_login_ceiling: 20\nlimits:\n  login:\n    per_ip: null\n"
	    "    per_account: 10000/min\n", url, run_id);
	cx_testkit *a = kit(yaml), *b = kit(yaml);
	int allowed = 0;
	for (int i = 0; i < 60; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.1.%d.1", i % 50);
		allowed += ask(i % 2 ? b : a, "policy.auth.login", ip,
		    "acc_ceil") == CX_POLICY_ALLOW;
	}
	assert_int_equal(allowed, 10);
	assert_int_equal(cx_testkit_publish(b, "auth.login.succeeded", NULL,
	                     "{\"ip\":\"10.1.0.1\",\"account\":\"acc_ceil\"}"),
	    CX_OK);
	cx_verdict v = CX_POLICY_DENY;
	for (int i = 0; i < 50 && v != CX_POLICY_ALLOW; i++) {
		sleep_ms(20);
		v = ask(a, "policy.auth.login", "10.1.0.1", "acc_ceil");
	}
	assert_int_equal(v, CX_POLICY_ALLOW);
	cx_testkit_free(a);
	cx_testkit_free(b);
}

static void
sh(const char *cmd)
{
	char line[1024];
	snprintf(line, sizeof(line), "%s >/dev/null 2>&1", cmd);
	assert_int_equal(system(line), 0);
}

static void
recover_body(void *arg)
{
	cx_testkit *tk = kit((const char *) arg);
	const char *port = getenv("CALLIXO_REDIS_PORT");
	assert_non_null(port);
	char ping[128];
	snprintf(ping, sizeof(ping),
	    "test \"$(redis-cli -h 127.0.0.1 -p %s ping)\" = PONG", port);
	assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.60", "acc_rec"),
	    CX_POLICY_ALLOW);
	sh(getenv("CALLIXO_REDIS_STOP"));
	/* The outage is absorbed by the local buckets. */
	assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.60", "acc_rec"),
	    CX_POLICY_ALLOW);
	assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.60", "acc_rec"),
	    CX_POLICY_ALLOW);
	sh(getenv("CALLIXO_REDIS_START"));
	for (int i = 0; i < 100; i++) {
		char line[256];
		snprintf(line, sizeof(line), "%s 2>/dev/null", ping);
		if (system(line) == 0) {
			break;
		}
		sleep_ms(50);
	}
	/* Past the redial interval the shared buckets are used again. */
	sleep_ms(1100);
	assert_int_equal(ask(tk, "policy.auth.login", "192.0.2.60", "acc_rec"),
	    CX_POLICY_ALLOW);
	cx_testkit_free(tk);
}

/* Redis stops and comes back: one warning, one recovery line, and the
 * module keeps answering throughout. */
static void
test_redis_recovers(void **unused)
{
	(void) unused;
	const char *url = getenv("CALLIXO_REDIS_URL");
	assert_non_null(url);
	assert_non_null(getenv("CALLIXO_REDIS_STOP"));
	assert_non_null(getenv("CALLIXO_REDIS_START"));
	char yaml[512];
	snprintf(yaml, sizeof(yaml),
	    "redis_url: %s\nredis_timeout: 500ms\nkey_prefix: \"r%s:\"\n", url,
	    run_id);
	char *log = capture_stderr(recover_body, yaml);
	fputs(log, stderr);
	assert_int_equal(count(log, "redis unreachable"), 1);
	assert_int_equal(count(log, "redis reachable again"), 1);
	free(log);
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s <ratelimit.so> memory|redis\n",
		    argv[0]);
		return (2);
	}
	plugin_path = argv[1];
	snprintf(run_id, sizeof(run_id), "%ld%d", (long) time(NULL),
	    (int) getpid());
	const struct CMUnitTest memory[] = {
	    cmocka_unit_test(test_burst_per_account),
	    cmocka_unit_test(test_per_ip),
	    cmocka_unit_test(test_refill),
	    cmocka_unit_test(test_failed_login_ceiling),
	    cmocka_unit_test(test_success_refunds),
	    cmocka_unit_test(test_bad_settings),
	    cmocka_unit_test(test_redis_down_falls_back),
	};
	const struct CMUnitTest redis[] = {
	    cmocka_unit_test(test_redis_shared),
	    cmocka_unit_test(test_redis_ceiling),
	    cmocka_unit_test(test_redis_recovers),
	};
	if (strcmp(argv[2], "redis") == 0) {
		return (cmocka_run_group_tests(redis, NULL, NULL));
	}
	return (cmocka_run_group_tests(memory, NULL, NULL));
}
