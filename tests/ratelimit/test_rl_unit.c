/*
 * test_rl_unit.c - the ratelimit module's parts, without a core.
 *
 *   test_rl_unit <ratelimit.so>
 *
 * The rate parser and the bucket arithmetic are compiled in directly.
 * The plugin itself is opened with dlopen and driven through a stub host,
 * because the test kit reports only the combined verdict of a survey:
 * the exact DENY reason ("rate_limited retry_after=N") and ABSTAIN (which
 * a survey folds into allow) are visible only at the module's answer.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rl.h"

static const char *plugin_path;

static void
test_rate_parse(void **unused)
{
	(void) unused;
	static const struct {
		const char *s;
		int64_t cap, ms;
	} good[] = {
	    {"20/min", 20, 60000}, {"5/sec", 5, 1000}, {"1/hour", 1, 3600000},
	    {"5/2s", 5, 2000}, {" 3 / 10 minute ", 3, 600000},
	    {"100/h", 100, 3600000}, {"7/24h", 7, 86400000},
	};
	static const char *const bad[] = {"20/fortnight", "0/min", "abc", "5/",
	    "/min", "99999999/min", "5/0s", "5/25h", "5/min/", "-1/min", "",
	    "5 min", "5/minx", "5/100001s", "1e3/min"};
	char why[128];
	rl_rate r;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(rl_rate_parse(good[i].s, &r, why, sizeof(why)));
		assert_int_equal(r.capacity, good[i].cap);
		assert_int_equal(r.period_ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(rl_rate_parse(bad[i], &r, why, sizeof(why)));
		assert_true(why[0] != '\0');
	}
}

static void
test_config(void **unused)
{
	(void) unused;
	char why[256];
	rl_config cfg;
	json_t *s = json_pack("{s:I, s:n}", "failed_login_ceiling",
	    (json_int_t) 100, "limits");
	assert_true(rl_config_parse(s, &cfg, why, sizeof(why)));
	const rl_question *q = rl_config_find(&cfg, "policy.auth.login");
	assert_non_null(q);
	assert_int_equal(q->per_ip.capacity, 20);
	assert_int_equal(q->per_account.capacity, 5);
	assert_int_equal(q->per_account.period_ms, 60000);
	assert_non_null(rl_config_find(&cfg, "policy.auth.signup"));
	assert_non_null(rl_config_find(&cfg, "policy.auth.password"));
	assert_null(rl_config_find(&cfg, "policy.auth.reset"));
	assert_null(rl_config_find(&cfg, "policy.call.place"));
	assert_null(rl_config_find(&cfg, "policy.auth.log"));
	/* burst + one hour of refill never exceeds the ceiling. */
	assert_int_equal(cfg.ceiling.capacity, 50);
	assert_int_equal(cfg.ceiling.period_ms, 3600000);
	json_decref(s);

	/* Overrides merge over the defaults; new question types are added;
	 * null switches a bucket off. */
	s = json_loads("{\"failed_login_ceiling\": 3, \"limits\": {"
	               "\"login\": {\"per_ip\": null},"
	               "\"reset\": {\"per_account\": \"2/hour\"}}}",
	    0, NULL);
	assert_true(rl_config_parse(s, &cfg, why, sizeof(why)));
	q = rl_config_find(&cfg, "policy.auth.login");
	assert_int_equal(q->per_ip.capacity, 0);
	assert_int_equal(q->per_account.capacity, 5);
	q = rl_config_find(&cfg, "policy.auth.reset");
	assert_non_null(q);
	assert_int_equal(q->per_ip.capacity, 0);
	assert_int_equal(q->per_account.capacity, 2);
	assert_int_equal(cfg.ceiling.capacity, 1);
	assert_int_equal(cfg.ceiling.period_ms, 1800000);
	json_decref(s);

	static const char *const bad[] = {
	    "{\"limits\": {\"login\": {\"per_ip\": \"20/fortnight\"}}}",
	    "{\"limits\": {\"login\": {\"per_host\": \"1/min\"}}}",
	    "{\"limits\": {\"Login\": {\"per_ip\": \"1/min\"}}}",
	    "{\"limits\": {\"login\": \"1/min\"}}",
	    "{\"limits\": {\"login\": {\"per_ip\": 5}}}",
	    "{\"limits\": [1]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = json_loads(bad[i], 0, NULL);
		assert_non_null(s);
		assert_int_equal(json_object_set_new(s, "failed_login_ceiling",
		                     json_integer(100)), 0);
		assert_false(rl_config_parse(s, &cfg, why, sizeof(why)));
		json_decref(s);
	}
}

static void
test_bucket_math(void **unused)
{
	(void) unused;
	rl_rate r = {5, 60000};
	assert_int_equal(rl_wait_ms(0.0, &r), 12000);
	assert_int_equal(rl_wait_ms(0.5, &r), 6000);
	assert_int_equal(rl_wait_ms(1.0, &r), 0);
	assert_true(rl_refill(0.0, 0, 6000, &r) == 0.5);
	assert_true(rl_refill(4.0, 0, 600000, &r) == 5.0);
	assert_true(rl_refill(2.0, 100, 50, &r) == 2.0);

	rl_mem *m;
	assert_int_equal(rl_mem_new(&m), CX_OK);
	rl_check c[2] = {{"a", 1, {2, 1000}}, {"b", 1, {5, 1000}}};
	bool ok;
	int64_t w;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rl_mem_take(m, c, 2, 0, &ok, &w), CX_OK);
		assert_true(ok);
	}
	assert_int_equal(rl_mem_take(m, c, 2, 0, &ok, &w), CX_OK);
	assert_false(ok);
	assert_int_equal(w, 500);
	/* A denied take spends nothing: "b" still has its 3 tokens. */
	assert_int_equal(rl_mem_take(m, &c[1], 1, 0, &ok, &w), CX_OK);
	assert_true(ok);
	assert_int_equal(rl_mem_take(m, c, 2, 500, &ok, &w), CX_OK);
	assert_true(ok);
	rl_mem_give(m, &c[0], 500);
	assert_int_equal(rl_mem_take(m, &c[0], 1, 500, &ok, &w), CX_OK);
	assert_true(ok);
	assert_int_equal(rl_mem_count(m), 2);
	assert_int_equal(rl_mem_sweep(m, 600), 0);
	assert_int_equal(rl_mem_sweep(m, 5000), 2);
	assert_int_equal(rl_mem_count(m), 0);
	/* Enough keys to make the table grow, all still found. */
	char key[32];
	for (int i = 0; i < 2000; i++) {
		rl_check k = {key, (size_t) snprintf(key, sizeof(key), "k%d", i),
		    {1, 60000}};
		assert_int_equal(rl_mem_take(m, &k, 1, 0, &ok, &w), CX_OK);
		assert_true(ok);
	}
	for (int i = 0; i < 2000; i++) {
		rl_check k = {key, (size_t) snprintf(key, sizeof(key), "k%d", i),
		    {1, 60000}};
		assert_int_equal(rl_mem_take(m, &k, 1, 0, &ok, &w), CX_OK);
		assert_false(ok);
	}
	assert_int_equal(rl_mem_count(m), 2000);
	rl_mem_free(m);
}

/* A stub host: records the policy callback and swallows the rest. */
static cx_policy_fn stub_fn;
static void *stub_arg;
static int stub_logs;

static void
stub_log(const cx_host *h, cx_log_level lvl, const char *fmt, ...)
{
	(void) h;
	(void) lvl;
	(void) fmt;
	stub_logs++;
}
static cx_err
stub_answer(const cx_host *h, cx_policy_fn fn, void *arg)
{
	(void) h;
	stub_fn = fn;
	stub_arg = arg;
	return (CX_OK);
}
static cx_err
stub_subscribe(const cx_host *h, const char *t, cx_event_fn fn, void *arg)
{
	(void) h;
	(void) t;
	(void) fn;
	(void) arg;
	return (CX_OK);
}
static void
stub_metric(const cx_host *h, const char *m, int64_t d)
{
	(void) h;
	(void) m;
	(void) d;
}

static cx_verdict
ask(const char *type, const char *data, const char **reason)
{
	json_t *d = json_loads(data, 0, NULL);
	assert_non_null(d);
	cx_msg q = {type, "0123456789abcdef0123456789abcdef", 0, NULL, d};
	*reason = NULL;
	cx_verdict v = stub_fn(stub_arg, &q, reason);
	json_decref(d);
	return (v);
}

static void
test_answers(void **unused)
{
	(void) unused;
	void *so = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(so);
	const cx_plugin *p = dlsym(so, CX_PLUGIN_ENTRY_SYMBOL);
	assert_non_null(p);
	assert_int_equal(p->kind, CX_KIND_POLICY);
	cx_host h = {.size = sizeof(cx_host), .abi_major = CX_ABI_MAJOR,
	    .abi_minor = CX_ABI_MINOR, .name = "ratelimit", .data_dir = "/",
	    .log = stub_log, .subscribe = stub_subscribe,
	    .answer_policy = stub_answer, .metric_add = stub_metric};
	json_t *s = json_pack("{s:n, s:I, s:n, s:I, s:s}", "limits",
	    "failed_login_ceiling", (json_int_t) 100, "redis_url",
	    "redis_timeout", (json_int_t) 50, "key_prefix", "cx:rl:");
	char err[128];
	assert_int_equal(p->validate(s, err, sizeof(err)), CX_OK);
	void *st = calloc(1, p->state_size);
	assert_non_null(st);
	assert_int_equal(p->init(st, &h, s), CX_OK);
	assert_non_null(stub_fn);

	const char *why;
	const char *q = "{\"ip\":\"192.0.2.1\",\"account\":\"acc_1\","
	                "\"outcome\":null}";
	for (int i = 0; i < 5; i++) {
		assert_int_equal(ask("policy.auth.login", q, &why),
		    CX_POLICY_ALLOW);
	}
	assert_int_equal(ask("policy.auth.login", q, &why), CX_POLICY_DENY);
	/* 5/min: the next token is 12 s away. */
	assert_string_equal(why, "rate_limited retry_after=12");
	assert_int_equal(ask("policy.call.place", q, &why), CX_POLICY_ABSTAIN);
	assert_int_equal(ask("policy.auth.unknown", q, &why),
	    CX_POLICY_ABSTAIN);
	/* The password question has buckets of its own. */
	assert_int_equal(ask("policy.auth.password", q, &why),
	    CX_POLICY_ALLOW);
	/* Signup without an account: the IP bucket alone (10/hour). */
	const char *su = "{\"ip\":\"192.0.2.9\",\"account\":null}";
	for (int i = 0; i < 10; i++) {
		assert_int_equal(ask("policy.auth.signup", su, &why),
		    CX_POLICY_ALLOW);
	}
	assert_int_equal(ask("policy.auth.signup", su, &why), CX_POLICY_DENY);
	assert_string_equal(why, "rate_limited retry_after=360");

	json_t *bad = json_loads("{\"limits\": {\"login\": {\"per_ip\": "
	                         "\"20/fortnight\"}}, \"failed_login_ceiling\":"
	                         " 100, \"redis_url\": null}",
	    0, NULL);
	assert_int_equal(p->validate(bad, err, sizeof(err)), CX_ECONFIG);
	assert_non_null(strstr(err, "unit"));
	assert_int_equal(json_object_set_new(bad, "limits", json_null()), 0);
	assert_int_equal(json_object_set_new(bad, "redis_url",
	                     json_string("http://x")), 0);
	assert_int_equal(p->validate(bad, err, sizeof(err)), CX_ECONFIG);
	json_decref(bad);

	p->fini(st);
	free(st);
	json_decref(s);
	dlclose(so);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s <ratelimit.so>\n", argv[0]);
		return (2);
	}
	plugin_path = argv[1];
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rate_parse),
	    cmocka_unit_test(test_config),
	    cmocka_unit_test(test_bucket_math),
	    cmocka_unit_test(test_answers),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
