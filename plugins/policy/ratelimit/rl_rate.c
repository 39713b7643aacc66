/*
 * rl_rate.c - "N/unit" rates and the `limits` setting.
 *
 * The parser sees operator text and is fuzzed (tests/ratelimit): it
 * bounds every number before multiplying so no input can overflow.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rl.h"

/* Bounds that keep capacity * period far from int64 overflow and reject
 * shapes that make no sense for authentication (a window above a day
 * would hold a victim's bucket empty for too long, R-3). */
#define RL_CAP_MAX 1000000
#define RL_MULT_MAX 100000
#define RL_PERIOD_MAX_MS (24LL * 3600 * 1000)

static const struct {
	const char *name;
	int64_t ms;
} units[] = {
    {"s", 1000}, {"sec", 1000}, {"second", 1000},
    {"m", 60000}, {"min", 60000}, {"minute", 60000},
    {"h", 3600000}, {"hour", 3600000},
};

/* Reads up to 8 digits, so the callers' bounds checks cannot be passed
 * by an overflowed value. */
static const char *
read_num(const char *s, int64_t *out)
{
	int64_t v = 0;
	int n = 0;
	while (isdigit((unsigned char) *s) && n < 8) {
		v = v * 10 + (*s - '0');
		s++;
		n++;
	}
	*out = v;
	return (n == 0 || isdigit((unsigned char) *s) ? NULL : s);
}

bool
rl_rate_parse(const char *s, rl_rate *out, char *why, size_t whylen)
{
	int64_t cap, mult = 1;
	const char *p = s;
	while (*p == ' ') {
		p++;
	}
	if ((p = read_num(p, &cap)) == NULL || cap < 1 || cap > RL_CAP_MAX) {
		snprintf(why, whylen, "rate must start with a count from 1 to %d",
		    RL_CAP_MAX);
		return (false);
	}
	while (*p == ' ') {
		p++;
	}
	if (*p != '/') {
		snprintf(why, whylen, "rate must look like N/min");
		return (false);
	}
	p++;
	while (*p == ' ') {
		p++;
	}
	if (isdigit((unsigned char) *p)) {
		if ((p = read_num(p, &mult)) == NULL || mult < 1 ||
		    mult > RL_MULT_MAX) {
			snprintf(why, whylen, "rate window multiplier must be "
			    "1 to %d", RL_MULT_MAX);
			return (false);
		}
		while (*p == ' ') {
			p++;
		}
	}
	size_t n = strlen(p);
	while (n > 0 && p[n - 1] == ' ') {
		n--;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strlen(units[i].name) == n &&
		    strncmp(units[i].name, p, n) == 0) {
			int64_t period = mult * units[i].ms;
			if (period > RL_PERIOD_MAX_MS) {
				snprintf(why, whylen, "rate window is longer "
				    "than a day");
				return (false);
			}
			out->capacity = cap;
			out->period_ms = period;
			return (true);
		}
	}
	snprintf(why, whylen, "rate unit must be sec, min or hour");
	return (false);
}

rl_rate
rl_ceiling_rate(int64_t per_hour)
{
	/* A bucket of capacity b refilled at r per hour lets through at
	 * most b + r in any rolling hour, so b + r = per_hour keeps R-2
	 * strict. Half as burst leaves room for a user's typos, and r > 0
	 * (per_hour >= 2, enforced by the setting) means it always refills:
	 * no lockout an attacker can make permanent. */
	int64_t b = per_hour / 2, r = per_hour - b;
	if (b < 1) {
		b = 1;
		r = 1;
	}
	rl_rate rate = {b, b * 3600000 / r};
	return (rate);
}

double
rl_refill(double tokens, int64_t since_ms, int64_t now_ms, const rl_rate *r)
{
	if (now_ms > since_ms) {
		tokens += (double) (now_ms - since_ms) * (double) r->capacity /
		    (double) r->period_ms;
	}
	return (tokens > (double) r->capacity ? (double) r->capacity : tokens);
}

int64_t
rl_wait_ms(double tokens, const rl_rate *r)
{
	if (tokens >= 1.0) {
		return (0);
	}
	double w = ceil((1.0 - tokens) * (double) r->period_ms /
	    (double) r->capacity);
	return (w < 1.0 ? 1 : (int64_t) w);
}

int64_t
rl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Defaults: a person mistypes a password a few times a minute at
 * most; an office behind one NAT shares an IP, hence the larger per-IP
 * budget. Sign-ups are rarer and cheap to abuse, so they count per hour. */
static const struct {
	const char *name, *per_ip, *per_account;
} defaults[] = {
    {"login", "20/min", "5/min"},
    {"signup", "10/hour", "5/hour"},
    {"password", "20/min", "5/min"},
};

static bool
valid_qname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= RL_QNAME_MAX || !islower((unsigned char) s[0])) {
		return (false);
	}
	for (size_t i = 0; i < n; i++) {
		if (!islower((unsigned char) s[i]) &&
		    !isdigit((unsigned char) s[i]) && s[i] != '_') {
			return (false);
		}
	}
	return (true);
}

static rl_question *
add_question(rl_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nq; i++) {
		if (strcmp(cfg->q[i].name, name) == 0) {
			return (&cfg->q[i]);
		}
	}
	if (cfg->nq == RL_MAX_QUESTIONS) {
		return (NULL);
	}
	rl_question *q = &cfg->q[cfg->nq++];
	memset(q, 0, sizeof(*q));
	snprintf(q->name, sizeof(q->name), "%s", name);
	return (q);
}

/* One of per_ip/per_account: a rate string, or null to switch it off. */
static bool
parse_field(const char *qn, const char *field, const json_t *v,
    rl_rate *out, char *why, size_t whylen)
{
	char sub[160];
	if (json_is_null(v)) {
		out->capacity = 0;
		out->period_ms = 0;
		return (true);
	}
	if (!json_is_string(v)) {
		snprintf(why, whylen, "limits.%s.%s must be a rate like "
		    "\"5/min\" or null", qn, field);
		return (false);
	}
	if (!rl_rate_parse(json_string_value(v), out, sub, sizeof(sub))) {
		snprintf(why, whylen, "limits.%s.%s: %s", qn, field, sub);
		return (false);
	}
	return (true);
}

bool
rl_config_parse(const json_t *settings, rl_config *cfg, char *why,
    size_t whylen)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		rl_question *q = add_question(cfg, defaults[i].name);
		if (q == NULL ||
		    !rl_rate_parse(defaults[i].per_ip, &q->per_ip, why,
		        whylen) ||
		    !rl_rate_parse(defaults[i].per_account, &q->per_account,
		        why, whylen)) {
			return (false);
		}
	}
	json_int_t ceil_n = json_integer_value(
	    json_object_get(settings, "failed_login_ceiling"));
	if (ceil_n < 2) {
		snprintf(why, whylen, "failed_login_ceiling must be at least 2");
		return (false);
	}
	cfg->ceiling = rl_ceiling_rate((int64_t) ceil_n);

	const json_t *limits = json_object_get(settings, "limits");
	if (limits == NULL || json_is_null(limits)) {
		return (true);
	}
	if (!json_is_object(limits)) {
		snprintf(why, whylen, "limits must be a mapping of question "
		    "type to {per_ip, per_account}");
		return (false);
	}
	const char *qn;
	const json_t *qv;
	json_object_foreach ((json_t *) limits, qn, qv) {
		if (!valid_qname(qn)) {
			snprintf(why, whylen, "limits: question type names are "
			    "lowercase words (login, signup, password)");
			return (false);
		}
		if (!json_is_object(qv)) {
			snprintf(why, whylen, "limits.%s must be a mapping with "
			    "per_ip and/or per_account", qn);
			return (false);
		}
		rl_question *q = add_question(cfg, qn);
		if (q == NULL) {
			snprintf(why, whylen, "limits: at most %d question types",
			    RL_MAX_QUESTIONS);
			return (false);
		}
		const char *fk;
		const json_t *fv;
		json_object_foreach ((json_t *) qv, fk, fv) {
			rl_rate *dst;
			if (strcmp(fk, "per_ip") == 0) {
				dst = &q->per_ip;
			} else if (strcmp(fk, "per_account") == 0) {
				dst = &q->per_account;
			} else {
				snprintf(why, whylen, "limits.%s: unknown key "
				    "'%s' (per_ip, per_account)", qn, fk);
				return (false);
			}
			if (!parse_field(qn, fk, fv, dst, why, whylen)) {
				return (false);
			}
		}
	}
	return (true);
}

const rl_question *
rl_config_find(const rl_config *cfg, const char *type)
{
	static const char pfx[] = "policy.auth.";
	if (strncmp(type, pfx, sizeof(pfx) - 1) != 0) {
		return (NULL);
	}
	for (size_t i = 0; i < cfg->nq; i++) {
		if (strcmp(cfg->q[i].name, type + sizeof(pfx) - 1) == 0) {
			return (&cfg->q[i]);
		}
	}
	return (NULL);
}
