/*
 * ratelimit - token-bucket rate limits on authentication (kind policy).
 *
 * Contract (also in docs/architecture.md, `policy.auth.*`):
 *
 *   The core asks surveys `policy.auth.login`, `policy.auth.signup`,
 *   `policy.auth.password` (and any other `policy.auth.<name>` the
 *   operator lists in `limits`) with data
 *     {"ip": "...", "account": "<account id or normalized email>"|null,
 *      "outcome": null}
 *   The module answers
 *     DENY  "rate_limited retry_after=<seconds>" when a bucket is empty
 *           (the core turns it into 429 + Retry-After, R-1),
 *     ALLOW otherwise,
 *     ABSTAIN for every question it has no limits for.
 *   After a login the core publishes `auth.login.succeeded` or
 *   `auth.login.failed` {ip, account}.
 *
 * Buckets, per question type: one per IP and one per account (either may
 * be switched off with null). For logins one more per account, the
 * failed-login ceiling: at most `failed_login_ceiling` failures in
 * any rolling hour, whatever the IP spread. Each login the module lets
 * through takes a token from it at survey time and `auth.login.succeeded`
 * gives it back, so the ceiling counts failures plus attempts still in
 * flight. Counting only `auth.login.failed` events would let a burst of
 * concurrent attempts pass before the first failure is reported (hashing
 * takes a while), and a lost event (the bus is best effort) would
 * under-count; this way a lost event can only over-count, which refills.
 * `auth.login.failed` therefore needs no handling here.
 *
 * Buckets always refill: there is no lockout an attacker can make
 * permanent; a victim's own IP bucket is untouched by the attacker.
 *
 * With `redis_url` the buckets live in Redis and every daemon using the
 * same server shares them. If Redis cannot be reached the module
 * falls back to its in-memory buckets and logs that once (and once when
 * Redis is back). Failing closed would turn a Redis outage into nobody
 * being able to log in; failing open would remove the limits exactly
 * when an attacker could arrange the outage. Local buckets keep each
 * daemon limited (the budget is at worst multiplied by the number of
 * daemons) while everyone can still log in.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl.h"

/* How often buckets that refilled to full are dropped from memory. */
#define RL_SWEEP_MS 30000

typedef struct rl_state {
	const cx_host *host;
	pthread_mutex_t mu; /* guards cfg against reconfigure */
	bool mu_init;
	rl_config cfg;
	rl_mem *mem;
	rl_redis *redis;       /* NULL: memory only */
	atomic_bool fell_back; /* logged that Redis is unreachable */
} rl_state;

static const cx_setting rl_settings[] = {
    CX_SETTING_OBJECT("limits", CX_SET_RELOADABLE,
        "Per question type (login, signup, password, or any other "
        "policy.auth.<name>): {per_ip: \"20/min\", per_account: "
        "\"5/min\"}. A rate is N/sec, N/min or N/hour (or N/<k><unit>, "
        "e.g. 5/2s); null switches that bucket off. Merged over the "
        "defaults login 20/min per IP and 5/min per account, signup "
        "10/hour and 5/hour, password 20/min and 5/min"),
    CX_SETTING_INT("failed_login_ceiling", CX_SET_RELOADABLE, "100", 2,
        1000000,
        "At most this many failed logins per account in any rolling hour, "
        "whatever the number of IPs (half as burst, half refilled over "
        "the hour)"),
    CX_SETTING_SECRET("redis_url", 0,
        "redis://[[user]:password@]host[:port][/db]: share the buckets "
        "between daemons through this server; unset keeps them in "
        "memory. Never logged"),
    CX_SETTING_DURATION("redis_timeout", 0, "50ms", 1, 5000,
        "Limit for one Redis connect or script run, so answers meet the "
        "survey deadline"),
    CX_SETTING_STR("key_prefix", 0, "cx:rl:",
        "Prefix of every Redis key, so deployments can share a server"),
    CX_SETTINGS_END,
};

static cx_err
rl_validate(const json_t *s, char *err, size_t errlen)
{
	rl_config cfg;
	if (!rl_config_parse(s, &cfg, err, errlen)) {
		return (CX_ECONFIG);
	}
	const char *url = json_string_value(json_object_get(s, "redis_url"));
	if (url != NULL && url[0] != '\0' &&
	    !rl_redis_url_check(url, err, errlen)) {
		return (CX_ECONFIG);
	}
	return (CX_OK);
}

/* The reason must outlive the callback until the bus has copied it into
 * the answer, which happens on the same thread right after it returns:
 * a per-thread buffer gives each concurrent answer its own. */
static _Thread_local char rl_reason[64];

/* "<a>|<b>|<value>" in a fresh buffer. */
static char *
make_key(const char *a, const char *b, const char *v, size_t *len)
{
	size_t n = strlen(a) + strlen(b) + strlen(v) + 3;
	char *k = malloc(n);
	if (k == NULL) {
		return (NULL);
	}
	*len = (size_t) snprintf(k, n, "%s|%s|%s", a, b, v);
	return (k);
}

/* Takes from the shared buckets, or the local ones when Redis fails. */
static cx_err
take(rl_state *st, const rl_check *c, size_t n, bool *allowed,
    int64_t *wait_ms)
{
	if (st->redis != NULL) {
		char why[160];
		if (rl_redis_take(st->redis, c, n, allowed, wait_ms, why,
		        sizeof(why)) == CX_OK) {
			if (atomic_exchange(&st->fell_back, false)) {
				st->host->log(st->host, CX_LOG_INFO,
				    "redis reachable again: rate limits are "
				    "shared between daemons again");
			}
			return (CX_OK);
		}
		if (!atomic_exchange(&st->fell_back, true)) {
			st->host->log(st->host, CX_LOG_WARN,
			    "redis unreachable (%s): using in-memory rate "
			    "limits of this daemon until it answers", why);
		}
		st->host->metric_add(st->host, "ratelimit_redis_fallback", 1);
	}
	return (rl_mem_take(st->mem, c, n, rl_now_ms(), allowed, wait_ms));
}

static const char *
str_or_null(const json_t *v)
{
	const char *s = json_string_value(v);
	return (s != NULL && s[0] != '\0' ? s : NULL);
}

static cx_verdict
rl_policy(void *arg, const cx_msg *q, const char **reason)
{
	rl_state *st = arg;
	rl_question qc;
	rl_rate ceiling;

	pthread_mutex_lock(&st->mu);
	const rl_question *found = rl_config_find(&st->cfg, q->type);
	if (found != NULL) {
		qc = *found;
		ceiling = st->cfg.ceiling;
	}
	pthread_mutex_unlock(&st->mu);
	if (found == NULL) {
		return (CX_POLICY_ABSTAIN);
	}

	const char *ip = str_or_null(json_object_get(q->data, "ip"));
	const char *acct = str_or_null(json_object_get(q->data, "account"));
	rl_check c[3];
	char *keys[3] = {NULL, NULL, NULL};
	size_t n = 0;
	bool oom = false;
	if (ip != NULL && qc.per_ip.capacity > 0) {
		keys[n] = make_key(qc.name, "ip", ip, &c[n].keylen);
		c[n].rate = qc.per_ip;
		oom |= keys[n] == NULL;
		c[n].key = keys[n];
		n++;
	}
	if (acct != NULL && qc.per_account.capacity > 0) {
		keys[n] = make_key(qc.name, "acct", acct, &c[n].keylen);
		c[n].rate = qc.per_account;
		oom |= keys[n] == NULL;
		c[n].key = keys[n];
		n++;
	}
	if (acct != NULL && strcmp(qc.name, "login") == 0) {
		keys[n] = make_key("ceiling", "acct", acct, &c[n].keylen);
		c[n].rate = ceiling;
		oom |= keys[n] == NULL;
		c[n].key = keys[n];
		n++;
	}

	bool allowed = true;
	int64_t wait_ms = 0;
	cx_err rv = oom ? CX_ENOMEM :
	    n == 0     ? CX_OK :
	                 take(st, c, n, &allowed, &wait_ms);
	for (size_t i = 0; i < n; i++) {
		free(keys[i]);
	}
	if (rv != CX_OK) {
		/* Only memory exhaustion lands here. Deny: answering allow
		 * would let an attacker who can exhaust memory bypass the
		 * limits, and the condition is transient. */
		st->host->log(st->host, CX_LOG_ERROR,
		    "cannot evaluate %s: %s", q->type, cx_strerror(rv));
		*reason = "rate_limited retry_after=1";
		return (CX_POLICY_DENY);
	}
	if (allowed) {
		return (CX_POLICY_ALLOW);
	}
	/* Retry-After is whole seconds; round up so a client that obeys it
	 * finds a token. */
	snprintf(rl_reason, sizeof(rl_reason), "rate_limited retry_after=%" PRId64,
	    (wait_ms + 999) / 1000);
	*reason = rl_reason;
	st->host->metric_add(st->host, "ratelimit_denied", 1);
	return (CX_POLICY_DENY);
}

/* A successful login was no failure: give its ceiling token back. */
static void
rl_on_success(void *arg, const cx_msg *ev)
{
	rl_state *st = arg;
	const char *acct = str_or_null(json_object_get(ev->data, "account"));
	if (acct == NULL) {
		acct = ev->account;
	}
	if (acct == NULL) {
		return;
	}
	rl_check c;
	char *key = make_key("ceiling", "acct", acct, &c.keylen);
	if (key == NULL) {
		return;
	}
	c.key = key;
	pthread_mutex_lock(&st->mu);
	c.rate = st->cfg.ceiling;
	pthread_mutex_unlock(&st->mu);
	char why[160];
	if (st->redis == NULL ||
	    rl_redis_give(st->redis, &c, why, sizeof(why)) != CX_OK) {
		rl_mem_give(st->mem, &c, rl_now_ms());
	}
	free(key);
}

static void
rl_sweep(void *arg)
{
	rl_state *st = arg;
	rl_mem_sweep(st->mem, rl_now_ms());
}

static void
rl_fini(void *state)
{
	rl_state *st = state;
	rl_redis_free(st->redis);
	st->redis = NULL;
	rl_mem_free(st->mem);
	st->mem = NULL;
	if (st->mu_init) {
		pthread_mutex_destroy(&st->mu);
		st->mu_init = false;
	}
}

static cx_err
rl_init(void *state, const cx_host *h, const json_t *s)
{
	rl_state *st = state;
	char why[256];
	cx_err rv;

	st->host = h;
	atomic_init(&st->fell_back, false);
	if (!rl_config_parse(s, &st->cfg, why, sizeof(why))) {
		h->log(h, CX_LOG_ERROR, "%s", why);
		return (CX_ECONFIG);
	}
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		return (CX_ENOMEM);
	}
	st->mu_init = true;
	if ((rv = rl_mem_new(&st->mem)) != CX_OK) {
		rl_fini(st);
		return (rv);
	}
	const char *url = json_string_value(json_object_get(s, "redis_url"));
	if (url != NULL && url[0] != '\0') {
		/* Lazy dial: a daemon must start even while Redis is down,
		 * and the memory fallback covers the gap. */
		rv = rl_redis_new(url,
		    json_string_value(json_object_get(s, "key_prefix")),
		    (int64_t) json_integer_value(
		        json_object_get(s, "redis_timeout")),
		    &st->redis);
		if (rv != CX_OK) {
			h->log(h, CX_LOG_ERROR, "redis_url rejected: %s",
			    cx_strerror(rv));
			rl_fini(st);
			return (rv == CX_EINVAL ? CX_ECONFIG : rv);
		}
	}
	if ((rv = h->answer_policy(h, rl_policy, st)) != CX_OK ||
	    (rv = h->subscribe(h, "auth.login.succeeded", rl_on_success,
	         st)) != CX_OK) {
		rl_fini(st);
		return (rv);
	}
	h->log(h, CX_LOG_INFO, "rate limits on %zu question types, buckets %s",
	    st->cfg.nq, st->redis != NULL ? "in redis" : "in memory");
	return (CX_OK);
}

static cx_err
rl_start(void *state)
{
	rl_state *st = state;
	cx_timer_id id;
	return (st->host->timer_add(st->host, RL_SWEEP_MS, RL_SWEEP_MS,
	    rl_sweep, st, &id));
}

static cx_err
rl_reconfigure(void *state, const json_t *s)
{
	rl_state *st = state;
	rl_config cfg;
	char why[256];
	if (!rl_config_parse(s, &cfg, why, sizeof(why))) {
		st->host->log(st->host, CX_LOG_ERROR, "%s", why);
		return (CX_ECONFIG);
	}
	/* Buckets keep their tokens; the new shapes apply from the next
	 * question on (capacity caps the tokens, refill uses the new rate). */
	pthread_mutex_lock(&st->mu);
	st->cfg = cfg;
	pthread_mutex_unlock(&st->mu);
	return (CX_OK);
}

CX_PLUGIN_DEFINE(.kind = CX_KIND_POLICY, .name = "ratelimit",
    .version = "1.0.0",
    .summary = "Token-bucket rate limits per IP and per account on "
               "authentication (memory or shared through Redis)",
    .settings = rl_settings, .state_size = sizeof(rl_state),
    .validate = rl_validate, .init = rl_init, .start = rl_start,
    .reconfigure = rl_reconfigure, .fini = rl_fini);
