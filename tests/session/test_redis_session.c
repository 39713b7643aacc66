/*
 * test_redis_session.c - the Redis session store against a real
 * redis-server (redis_test.sh starts two: a plain one and one with
 * requirepass), loaded through the real core.
 *
 *   test_redis_session <redis.so>
 *
 * Times are injected: sessions are created at the wall clock (so the
 * keys' real TTLs do not lapse mid-test) and read "later" by passing a
 * later now_ms, which is what proves the limits are enforced from the
 * stored times and not from the TTL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "redis_fixture.h"

#define MIN_MS (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define IDLE_MS (30 * MIN_MS)
#define ABS_MS (12 * HOUR_MS)

static rt_inst *g_a; /* the "first daemon" */
static redisContext *g_r;

static int64_t
wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* The core's side: SHA-256 hex of the token. */
static void
hash_token(const char *token, char out[65])
{
	unsigned char d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(d, (const unsigned char *) token, strlen(token));
	sodium_bin2hex(out, 65, d, sizeof(d));
}

static cx_session
mk(const char *token, const char *account, int64_t t0, const char *data)
{
	cx_session s = {.created_ms = t0, .last_seen_ms = t0,
	    .idle_ms = IDLE_MS, .absolute_ms = ABS_MS, .data = (char *) data};
	hash_token(token, s.id_hash);
	snprintf(s.account, sizeof(s.account), "%s", account);
	return (s);
}

static cx_err
get(rt_inst *in, const char *h, int64_t now)
{
	cx_session out;
	cx_err rv = in->ops->get(in->state, h, now, &out);
	if (rv == CX_OK) {
		free(out.data);
	}
	return (rv);
}

static long long
rint_(const char *fmt, const char *arg)
{
	redisReply *r = rt_cmd(g_r, fmt, arg);
	assert_non_null(r);
	long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -99;
	freeReplyObject(r);
	return (v);
}

static cx_err
load_url(const char *url, rt_inst **out)
{
	char yaml[1024], why[512];
	rt_settings(yaml, sizeof(yaml), url, "timeout: 500ms\n");
	cx_err rv = rt_load(yaml, out, why, sizeof(why));
	if (why[0] != '\0') {
		fprintf(stderr, "load: %s\n", why);
	}
	return (rv);
}

static void
test_roundtrip(void **unused)
{
	(void) unused;
	int64_t t0 = wall_ms();
	cx_session s = mk("tok-roundtrip", "alice", t0,
	    "{\"ip\":\"192.0.2.1\",\"role\":\"staff\"}");
	assert_int_equal(g_a->ops->create(g_a->state, &s), CX_OK);
	assert_int_equal(g_a->ops->create(g_a->state, &s), CX_EEXIST);
	cx_session out;
	assert_int_equal(g_a->ops->get(g_a->state, s.id_hash, t0 + 1000, &out),
	    CX_OK);
	assert_string_equal(out.id_hash, s.id_hash);
	assert_string_equal(out.account, "alice");
	assert_int_equal(out.created_ms, t0);
	assert_int_equal(out.last_seen_ms, t0);
	assert_int_equal(out.idle_ms, IDLE_MS);
	assert_int_equal(out.absolute_ms, ABS_MS);
	assert_string_equal(out.data, s.data);
	free(out.data);
	/* No data: NULL back. */
	cx_session n = mk("tok-nodata", "alice", t0, NULL);
	assert_int_equal(g_a->ops->create(g_a->state, &n), CX_OK);
	assert_int_equal(g_a->ops->get(g_a->state, n.id_hash, t0, &out), CX_OK);
	assert_null(out.data);
	/* The key's TTL is the idle timeout (it ends first). */
	char k[128];
	snprintf(k, sizeof(k), "cx:sess:%s", s.id_hash);
	long long pttl = rint_("PTTL %s", k);
	assert_true(pttl > IDLE_MS - 10000 && pttl <= IDLE_MS);
}

static void
test_unknown_and_invalid(void **unused)
{
	(void) unused;
	char h[65];
	hash_token("tok-never-created", h);
	assert_int_equal(get(g_a, h, wall_ms()), CX_ENOENT);
	assert_int_equal(g_a->ops->touch(g_a->state, h, wall_ms()), CX_ENOENT);
	/* Only a hash is accepted as an id: a raw token is refused. */
	assert_int_equal(get(g_a, "tok-raw", wall_ms()), CX_EINVAL);
	cx_session s = mk("x", "alice", wall_ms(), NULL);
	snprintf(s.id_hash, sizeof(s.id_hash), "%s", "tok-raw");
	assert_int_equal(g_a->ops->create(g_a->state, &s), CX_EINVAL);
	s = mk("x", "", wall_ms(), NULL);
	assert_int_equal(g_a->ops->create(g_a->state, &s), CX_EINVAL);
}

static void
test_idle_expiry(void **unused)
{
	(void) unused;
	int64_t t0 = wall_ms();
	cx_session s = mk("tok-idle", "idler", t0, NULL);
	assert_int_equal(g_a->ops->create(g_a->state, &s), CX_OK);
	assert_int_equal(get(g_a, s.id_hash, t0 + 29 * MIN_MS), CX_OK);
	assert_int_equal(get(g_a, s.id_hash, t0 + 31 * MIN_MS), CX_ENOENT);
	/* Deleted, not just hidden: gone even at an earlier time now. */
	char k[128];
	snprintf(k, sizeof(k), "cx:sess:%s", s.id_hash);
	assert_int_equal(rint_("EXISTS %s", k), 0);
	assert_int_equal(rint_("SISMEMBER cx:acct:idler %s", s.id_hash), 0);
	assert_int_equal(get(g_a, s.id_hash, t0), CX_ENOENT);
}

static void
test_absolute_expiry(void **unused)
{
	(void) unused;
	int64_t t0 = wall_ms();
	cx_session s = mk("tok-abs", "busy", t0, NULL);
	assert_int_equal(g_a->ops->create(g_a->state, &s), CX_OK);
	/* Active every 20 minutes for 12 hours. */
	int64_t t;
	for (t = t0 + 20 * MIN_MS; t < t0 + ABS_MS; t += 20 * MIN_MS) {
		assert_int_equal(g_a->ops->touch(g_a->state, s.id_hash, t), CX_OK);
	}
	assert_int_equal(get(g_a, s.id_hash, t0 + ABS_MS - 1000), CX_OK);
	assert_int_equal(get(g_a, s.id_hash, t0 + ABS_MS + 1000), CX_ENOENT);
	assert_int_equal(g_a->ops->touch(g_a->state, s.id_hash, t0 + ABS_MS -
	    1000), CX_ENOENT);
}

static void
test_touch(void **unused)
{
	(void) unused;
	int64_t t0 = wall_ms();
	cx_session s = mk("tok-touch", "toucher", t0, NULL);
	assert_int_equal(g_a->ops->create(g_a->state, &s), CX_OK);
	assert_int_equal(g_a->ops->touch(g_a->state, s.id_hash, t0 + 20 *
	    MIN_MS), CX_OK);
	/* 45 min after creation, 25 after the touch: alive. */
	cx_session out;
	assert_int_equal(g_a->ops->get(g_a->state, s.id_hash, t0 + 45 * MIN_MS,
	    &out), CX_OK);
	assert_int_equal(out.last_seen_ms, t0 + 20 * MIN_MS);
	free(out.data);
	/* Near the absolute end, the TTL stops at the absolute deadline. */
	int64_t late = t0 + ABS_MS - 10 * MIN_MS;
	for (int64_t t = t0 + 40 * MIN_MS; t <= late; t += 25 * MIN_MS) {
		assert_int_equal(g_a->ops->touch(g_a->state, s.id_hash, t), CX_OK);
	}
	assert_int_equal(g_a->ops->touch(g_a->state, s.id_hash, late), CX_OK);
	char k[128];
	snprintf(k, sizeof(k), "cx:sess:%s", s.id_hash);
	long long pttl = rint_("PTTL %s", k);
	assert_true(pttl > 0 && pttl <= 10 * MIN_MS);
	/* Idle would allow it, absolute does not. */
	assert_int_equal(get(g_a, s.id_hash, t0 + ABS_MS), CX_ENOENT);
}

static void
test_destroy(void **unused)
{
	(void) unused;
	int64_t t0 = wall_ms();
	cx_session s = mk("tok-destroy", "leaver", t0, NULL);
	assert_int_equal(g_a->ops->create(g_a->state, &s), CX_OK);
	assert_int_equal(g_a->ops->destroy(g_a->state, s.id_hash), CX_OK);
	assert_int_equal(get(g_a, s.id_hash, t0), CX_ENOENT);
	assert_int_equal(rint_("SISMEMBER cx:acct:leaver %s", s.id_hash), 0);
	/* Gone already: still CX_OK. */
	assert_int_equal(g_a->ops->destroy(g_a->state, s.id_hash), CX_OK);
}

static void
test_destroy_account(void **unused)
{
	(void) unused;
	int64_t t0 = wall_ms();
	const char *toks[] = {"tok-da-1", "tok-da-2", "tok-da-3"};
	cx_session s[3];
	for (int i = 0; i < 3; i++) {
		s[i] = mk(toks[i], "dave", t0, "{}");
		assert_int_equal(g_a->ops->create(g_a->state, &s[i]), CX_OK);
	}
	cx_session other = mk("tok-da-bob", "bob", t0, NULL);
	assert_int_equal(g_a->ops->create(g_a->state, &other), CX_OK);
	size_t n = 99;
	assert_int_equal(g_a->ops->destroy_account(g_a->state, "dave", &n),
	    CX_OK);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(get(g_a, s[i].id_hash, t0), CX_ENOENT);
	}
	assert_int_equal(rint_("EXISTS %s", "cx:acct:dave"), 0);
	assert_int_equal(get(g_a, other.id_hash, t0), CX_OK);
	assert_int_equal(g_a->ops->destroy_account(g_a->state, "dave", &n),
	    CX_OK);
	assert_int_equal(n, 0);
	assert_int_equal(g_a->ops->destroy_account(g_a->state, "bob", NULL),
	    CX_OK);
	assert_int_equal(get(g_a, other.id_hash, t0), CX_ENOENT);
}

static void
test_list_account(void **unused)
{
	(void) unused;
	int64_t t0 = wall_ms();
	cx_session a = mk("tok-l-1", "lisa", t0, "{\"n\":1}");
	cx_session b = mk("tok-l-2", "lisa", t0 - 25 * MIN_MS, NULL);
	cx_session c = mk("tok-l-3", "lisa", t0, NULL);
	assert_int_equal(g_a->ops->create(g_a->state, &a), CX_OK);
	assert_int_equal(g_a->ops->create(g_a->state, &b), CX_OK);
	assert_int_equal(g_a->ops->create(g_a->state, &c), CX_OK);
	/* c's key vanishes behind the store's back (as a lapsed TTL would):
	 * a stale member, cleaned lazily. */
	char k[128];
	snprintf(k, sizeof(k), "cx:sess:%s", c.id_hash);
	assert_int_equal(rint_("DEL %s", k), 1);
	cx_session *v = NULL;
	size_t n = 0;
	/* At t0 + 10 min, b (idle since t0 - 25 min) has expired. */
	assert_int_equal(g_a->ops->list_account(g_a->state, "lisa",
	    t0 + 10 * MIN_MS, &v, &n), CX_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id_hash, a.id_hash);
	assert_string_equal(v[0].account, "lisa");
	assert_string_equal(v[0].data, "{\"n\":1}");
	for (size_t i = 0; i < n; i++) {
		free(v[i].data);
	}
	free(v);
	assert_int_equal(rint_("SCARD %s", "cx:acct:lisa"), 1);
	assert_int_equal(g_a->ops->list_account(g_a->state, "nobody", t0, &v,
	    &n), CX_OK);
	assert_int_equal(n, 0);
	free(v);
}

static void
test_two_daemons(void **unused)
{
	(void) unused;
	rt_inst *b = NULL;
	assert_int_equal(load_url(getenv("CALLIXO_REDIS_URL"), &b), CX_OK);
	int64_t t0 = wall_ms();
	cx_session s = mk("tok-shared", "sam", t0, "{}");
	assert_int_equal(g_a->ops->create(g_a->state, &s), CX_OK);
	assert_int_equal(get(b, s.id_hash, t0 + 1000), CX_OK);
	assert_int_equal(b->ops->touch(b->state, s.id_hash, t0 + 20 * MIN_MS),
	    CX_OK);
	/* A's view includes B's touch. */
	assert_int_equal(get(g_a, s.id_hash, t0 + 45 * MIN_MS), CX_OK);
	/* Logout on B is effective on A at once (S-7). */
	assert_int_equal(b->ops->destroy(b->state, s.id_hash), CX_OK);
	assert_int_equal(get(g_a, s.id_hash, t0 + 1000), CX_ENOENT);
	/* And logout-all on A is effective on B. */
	cx_session s2 = mk("tok-shared-2", "sam", t0, NULL);
	assert_int_equal(b->ops->create(b->state, &s2), CX_OK);
	size_t n;
	assert_int_equal(g_a->ops->destroy_account(g_a->state, "sam", &n), CX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(get(b, s2.id_hash, t0), CX_ENOENT);
	rt_unload(b);
}

static void
test_no_raw_token(void **unused)
{
	(void) unused;
	const char *tok = "tok-RAW-SECRET-7f3a";
	cx_session s = mk(tok, "rita", wall_ms(), "{\"ua\":\"x\"}");
	assert_int_equal(g_a->ops->create(g_a->state, &s), CX_OK);
	redisReply *r = rt_cmd(g_r, "SCAN 0 COUNT 10000");
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	redisReply *keys = r->element[1];
	assert_true(keys->elements > 0);
	for (size_t i = 0; i < keys->elements; i++) {
		const char *k = keys->element[i]->str;
		assert_null(strstr(k, "RAW-SECRET"));
		if (strncmp(k, "cx:sess:", 8) == 0) {
			assert_int_equal(strlen(k + 8), 64);
			assert_int_equal(strspn(k + 8, "0123456789abcdef"), 64);
		} else {
			assert_int_equal(strncmp(k, "cx:acct:", 8), 0);
		}
		/* Nor in any value. */
		redisReply *d = rt_cmd(g_r, "DUMP %s", k);
		assert_non_null(d);
		assert_true(d->type != REDIS_REPLY_STRING ||
		    memmem(d->str, d->len, "RAW-SECRET", 10) == NULL);
		freeReplyObject(d);
	}
	freeReplyObject(r);
}

static void
test_restart(void **unused)
{
	(void) unused;
	int64_t t0 = wall_ms();
	cx_session s = mk("tok-restart", "rex", t0, NULL);
	assert_int_equal(g_a->ops->create(g_a->state, &s), CX_OK);
	int cap = rt_capture_begin();
	redisReply *r = rt_cmd(g_r, "SHUTDOWN NOSAVE");
	if (r != NULL) {
		freeReplyObject(r);
	}
	redisFree(g_r);
	g_r = NULL;
	usleep(300 * 1000);
	/* Outage: every op fails cleanly, none hangs or crashes. */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(get(g_a, s.id_hash, t0), CX_ECLOSED);
		cx_session n = mk("tok-during", "rex", t0, NULL);
		assert_int_equal(g_a->ops->create(g_a->state, &n), CX_ECLOSED);
	}
	assert_int_equal(system(getenv("CALLIXO_REDIS_START")), 0);
	/* Back (empty: nothing is persisted): within the backoff cap the
	 * store answers again. */
	cx_err rv = CX_ECLOSED;
	for (int i = 0; i < 100 && rv == CX_ECLOSED; i++) {
		usleep(100 * 1000);
		rv = get(g_a, s.id_hash, t0);
	}
	char log[16384];
	rt_capture_end(cap, log, sizeof(log));
	assert_int_equal(rv, CX_ENOENT);
	assert_int_equal(g_a->ops->create(g_a->state, &s), CX_OK);
	assert_int_equal(get(g_a, s.id_hash, t0), CX_OK);
	assert_non_null(strstr(log, "reconnected to Redis at 127.0.0.1:"));
	assert_non_null(g_r = rt_redis());
}

static void
test_unreachable(void **unused)
{
	(void) unused;
	/* Port 1 on loopback: nothing listens there. */
	int cap = rt_capture_begin();
	rt_inst *in = NULL;
	cx_err rv = load_url("redis://:hunter2secret@127.0.0.1:1/0", &in);
	char log[8192];
	rt_capture_end(cap, log, sizeof(log));
	assert_int_equal(rv, CX_EIO);
	assert_null(in);
	assert_non_null(strstr(log, "cannot connect to Redis at 127.0.0.1:1"));
	assert_non_null(strstr(log, "refused"));
	assert_null(strstr(log, "hunter2secret"));
}

static void
test_password(void **unused)
{
	(void) unused;
	const char *url = getenv("CALLIXO_REDIS_AUTH_URL");
	const char *pw = getenv("CALLIXO_REDIS_AUTH_PASSWORD");
	assert_non_null(url);
	assert_non_null(pw);
	int cap = rt_capture_begin();
	rt_inst *in = NULL;
	cx_err rv = load_url(url, &in);
	cx_err op = CX_EINTERNAL;
	if (rv == CX_OK) {
		cx_session s = mk("tok-auth", "ann", wall_ms(), NULL);
		op = in->ops->create(in->state, &s);
		rt_unload(in);
	}
	/* A wrong password: refused, and neither password is logged. */
	char bad[512];
	const char *at = strchr(url, '@');
	assert_non_null(at);
	snprintf(bad, sizeof(bad), "redis://:wrongpw%s%s", pw + 4, at);
	rt_inst *in2 = NULL;
	cx_err rv2 = load_url(bad, &in2);
	char log[16384];
	rt_capture_end(cap, log, sizeof(log));
	assert_int_equal(rv, CX_OK);
	assert_int_equal(op, CX_OK);
	assert_int_equal(rv2, CX_EIO);
	assert_null(in2);
	assert_non_null(strstr(log, "(authenticated)"));
	assert_non_null(strstr(log, "AUTH refused"));
	assert_null(strstr(log, pw));
	assert_null(strstr(log, pw + 4));
}

static void
test_bad_settings(void **unused)
{
	(void) unused;
	rt_inst *in = NULL;
	char why[512];
	assert_int_equal(rt_load("url: \"http://x\"\n", &in, why, sizeof(why)),
	    CX_ECONFIG);
	assert_int_equal(rt_load("pool_size: 2\n", &in, why, sizeof(why)),
	    CX_ECONFIG);
	assert_null(in);
}

int
main(int argc, char **argv)
{
	if (argc != 2 || getenv("CALLIXO_REDIS_URL") == NULL) {
		fprintf(stderr, "usage: %s <redis.so> (run by redis_test.sh, "
		    "which sets CALLIXO_REDIS_URL)\n", argv[0]);
		return (2);
	}
	if (sodium_init() < 0 || rt_global_init(argv[1]) != 0) {
		fprintf(stderr, "setup failed\n");
		return (1);
	}
	if (load_url(getenv("CALLIXO_REDIS_URL"), &g_a) != CX_OK ||
	    (g_r = rt_redis()) == NULL) {
		fprintf(stderr, "cannot load the plugin or reach Redis\n");
		rt_unload(g_a);
		rt_global_fini();
		return (1);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_unknown_and_invalid),
		cmocka_unit_test(test_idle_expiry),
		cmocka_unit_test(test_absolute_expiry),
		cmocka_unit_test(test_touch),
		cmocka_unit_test(test_destroy),
		cmocka_unit_test(test_destroy_account),
		cmocka_unit_test(test_list_account),
		cmocka_unit_test(test_two_daemons),
		cmocka_unit_test(test_no_raw_token),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_bad_settings),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rt_unload(g_a);
	if (g_r != NULL) {
		redisFree(g_r);
	}
	rt_global_fini();
	return (rc);
}
