/*
 * rl.h - internals of the ratelimit policy module.
 *
 * Files, one concern each:
 *   rl_plugin.c  descriptor, settings, the policy answer, events, timer
 *   rl_rate.c    "N/unit" rates and the `limits` object
 *   rl_mem.c     in-memory token buckets (hash map, periodic sweep)
 *   rl_redis.c   shared token buckets in Redis (one Lua script, atomic)
 *
 * A bucket is named by a key: "<question>|ip|<ip>",
 * "<question>|acct|<account>" or "ceiling|<account>". The caller-supplied
 * part is always last, so no two (kind, value) pairs share a key.
 */
#ifndef CX_RL_H
#define CX_RL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <callixo/callixo.h>

/* A token bucket shape: at most `capacity` tokens, refilled evenly so an
 * empty bucket is full again after `period_ms`. capacity 0: disabled. */
typedef struct rl_rate {
	int64_t capacity;
	int64_t period_ms;
} rl_rate;

/* Longest question suffix ("login"), and how many the config may name. */
#define RL_QNAME_MAX 32
#define RL_MAX_QUESTIONS 16

typedef struct rl_question {
	char name[RL_QNAME_MAX]; /* survey type minus "policy.auth." */
	rl_rate per_ip;
	rl_rate per_account;
} rl_question;

typedef struct rl_config {
	rl_question q[RL_MAX_QUESTIONS];
	size_t nq;
	rl_rate ceiling; /* failed logins per account, see rl_ceiling_rate */
} rl_config;

/* One bucket a question must draw from. */
typedef struct rl_check {
	const char *key;
	size_t keylen;
	rl_rate rate;
} rl_check;

/* rl_rate.c */
/* Parses "N/unit" or "N/<k>unit" (unit: s|sec|second, m|min|minute,
 * h|hour; k a multiplier, "5/2s" is five per two seconds). False with a
 * message in why on anything else. */
bool rl_rate_parse(const char *s, rl_rate *out, char *why, size_t whylen);
/* Builds the config from validated settings: built-in defaults, then
 * the operator's `limits` over them. */
bool rl_config_parse(const json_t *settings, rl_config *cfg, char *why,
    size_t whylen);
/* The question for a survey type ("policy.auth.login"), or NULL. */
const rl_question *rl_config_find(const rl_config *cfg, const char *type);
/* The bucket that enforces "at most `per_hour` failed logins in any
 * rolling hour": half as burst, the rest refilled over the hour. */
rl_rate rl_ceiling_rate(int64_t per_hour);
/* Milliseconds until a bucket holding `tokens` has one whole token. */
int64_t rl_wait_ms(double tokens, const rl_rate *r);
/* Tokens after refilling from `since_ms` to `now_ms`, capped. */
double rl_refill(double tokens, int64_t since_ms, int64_t now_ms,
    const rl_rate *r);

/* rl_mem.c */
typedef struct rl_mem rl_mem;
cx_err rl_mem_new(rl_mem **out);
void rl_mem_free(rl_mem *m);
/* Takes one token from every bucket if each has one, else none and
 * *wait_ms says when all will. CX_ENOMEM if a bucket cannot be made. */
cx_err rl_mem_take(rl_mem *m, const rl_check *c, size_t n, int64_t now_ms,
    bool *allowed, int64_t *wait_ms);
/* Gives one token back (capped at capacity). */
void rl_mem_give(rl_mem *m, const rl_check *c, int64_t now_ms);
/* Drops buckets that have refilled to full (the same as absent). */
size_t rl_mem_sweep(rl_mem *m, int64_t now_ms);
size_t rl_mem_count(rl_mem *m);

/* rl_redis.c */
typedef struct rl_redis rl_redis;
/* Checks a redis://[[user]:password@]host[:port][/db] URL. The message
 * never quotes the URL: it may hold the password. */
bool rl_redis_url_check(const char *url, char *why, size_t whylen);
/* Prepares a client; it dials lazily, so a down server is not an error
 * here. `timeout_ms` bounds each connect and each command. */
cx_err rl_redis_new(const char *url, const char *prefix, int64_t timeout_ms,
    rl_redis **out);
void rl_redis_free(rl_redis *r);
/* As rl_mem_take, on the shared buckets. CX_EIO/CX_ETIMEDOUT when the
 * server did not answer (the caller falls back); why gets the reason. */
cx_err rl_redis_take(rl_redis *r, const rl_check *c, size_t n,
    bool *allowed, int64_t *wait_ms, char *why, size_t whylen);
cx_err rl_redis_give(rl_redis *r, const rl_check *c, char *why,
    size_t whylen);

int64_t rl_now_ms(void);

#endif
