/*
 * rl_redis.c - token buckets shared through Redis.
 *
 * Every check is one EVAL of the script below, so reading, refilling and
 * spending the (up to three) buckets of a question is atomic across all
 * daemons. The script takes the time from Redis (TIME), not from the
 * daemon, so daemons with skewed clocks still agree on refills. Each key
 * expires once it would be full again: an idle bucket costs nothing.
 *
 * One connection, used under a mutex: a script runs in microseconds, so
 * the policy threads queue only briefly, and every connect and command is
 * bounded by the timeout so an answer still meets the survey deadline.
 * After a failure the client does not dial again for RL_REDIS_RETRY_MS:
 * during an outage each check fails at once and the caller falls back
 * to memory instead of paying the timeout on every survey.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>

#include "rl.h"

#define RL_REDIS_RETRY_MS 1000

/* KEYS: the buckets. ARGV[1]: "take" or "give"; then per key its
 * capacity and period in ms. Returns {allowed, wait_ms}. */
static const char rl_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local give = ARGV[1] == 'give'\n"
    "local tok, wait = {}, 0\n"
    "for i = 1, #KEYS do\n"
    "  local cap = tonumber(ARGV[2 * i])\n"
    "  local per = tonumber(ARGV[2 * i + 1])\n"
    "  local v = redis.call('HMGET', KEYS[i], 'tok', 'ts')\n"
    "  local k, s = tonumber(v[1]), tonumber(v[2])\n"
    "  if k == nil or s == nil then k = cap; s = now end\n"
    "  if now > s then k = k + (now - s) * cap / per end\n"
    "  if k > cap then k = cap end\n"
    "  tok[i] = k\n"
    "  if not give and k < 1 then\n"
    "    local w = math.ceil((1 - k) * per / cap)\n"
    "    if w > wait then wait = w end\n"
    "  end\n"
    "end\n"
    "if wait > 0 then return {0, wait} end\n"
    "for i = 1, #KEYS do\n"
    "  local cap = tonumber(ARGV[2 * i])\n"
    "  local per = tonumber(ARGV[2 * i + 1])\n"
    "  local k = tok[i] - 1\n"
    "  if give then k = math.min(cap, tok[i] + 1) end\n"
    "  redis.call('HSET', KEYS[i], 'tok', tostring(k), 'ts', tostring(now))\n"
    "  redis.call('PEXPIRE', KEYS[i], math.ceil((cap - k) * per / cap) + 1000)\n"
    "end\n"
    "return {1, 0}\n";

typedef struct rl_url {
	char host[256];
	int port;
	char user[128];
	char password[256];
	int db;
} rl_url;

struct rl_redis {
	pthread_mutex_t mu;
	rl_url url;
	char prefix[64];
	int64_t timeout_ms;
	redisContext *c; /* NULL until dialled, and after a failure */
	int64_t retry_at;
};

static bool
parse_port(const char *s, size_t n, int lo, int hi, int *out)
{
	if (n == 0 || n > 6) {
		return (false);
	}
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char) s[i])) {
			return (false);
		}
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi) {
		return (false);
	}
	*out = v;
	return (true);
}

static bool
copy_part(char *dst, size_t dstlen, const char *s, size_t n)
{
	if (n >= dstlen || memchr(s, '\0', n) != NULL) {
		return (false);
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return (true);
}

/* redis://[[user]:password@]host[:port][/db]. The password is taken
 * literally (no percent-decoding): the last '@' ends it. */
static bool
url_parse(const char *s, rl_url *u, char *why, size_t whylen)
{
	memset(u, 0, sizeof(*u));
	u->port = 6379;
	if (strncmp(s, "redis://", 8) != 0) {
		snprintf(why, whylen, "redis_url must start with redis://");
		return (false);
	}
	s += 8;
	const char *at = strrchr(s, '@');
	if (at != NULL) {
		const char *colon = memchr(s, ':', (size_t) (at - s));
		const char *pw = colon != NULL ? colon + 1 : s;
		if ((colon != NULL &&
		        !copy_part(u->user, sizeof(u->user), s,
		            (size_t) (colon - s))) ||
		    !copy_part(u->password, sizeof(u->password), pw,
		        (size_t) (at - pw))) {
			snprintf(why, whylen, "redis_url credentials are too long");
			return (false);
		}
		s = at + 1;
	}
	size_t hn = strcspn(s, ":/");
	if (hn == 0 || !copy_part(u->host, sizeof(u->host), s, hn)) {
		snprintf(why, whylen, "redis_url has no host");
		return (false);
	}
	s += hn;
	if (*s == ':') {
		size_t pn = strcspn(s + 1, "/");
		if (!parse_port(s + 1, pn, 1, 65535, &u->port)) {
			snprintf(why, whylen, "redis_url has a bad port");
			return (false);
		}
		s += 1 + pn;
	}
	if (*s == '/' && s[1] != '\0' &&
	    !parse_port(s + 1, strlen(s + 1), 0, 100000, &u->db)) {
		snprintf(why, whylen, "redis_url path must be a database number");
		return (false);
	}
	return (true);
}

bool
rl_redis_url_check(const char *url, char *why, size_t whylen)
{
	rl_url u;
	bool ok = url_parse(url, &u, why, whylen);
	/* The parsed copy holds the password: do not leave it on the stack. */
	memset(&u, 0, sizeof(u));
	return (ok);
}

cx_err
rl_redis_new(const char *url, const char *prefix, int64_t timeout_ms,
    rl_redis **out)
{
	char why[128];
	rl_redis *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return (CX_ENOMEM);
	}
	if (!url_parse(url, &r->url, why, sizeof(why))) {
		free(r);
		return (CX_EINVAL);
	}
	if (pthread_mutex_init(&r->mu, NULL) != 0) {
		free(r);
		return (CX_ENOMEM);
	}
	snprintf(r->prefix, sizeof(r->prefix), "%s", prefix);
	r->timeout_ms = timeout_ms;
	*out = r;
	return (CX_OK);
}

void
rl_redis_free(rl_redis *r)
{
	if (r == NULL) {
		return;
	}
	if (r->c != NULL) {
		redisFree(r->c);
	}
	pthread_mutex_destroy(&r->mu);
	memset(&r->url, 0, sizeof(r->url));
	free(r);
}

/* Runs one command; a reply that is an error is reported in why. */
static redisReply *
command(rl_redis *r, int argc, const char **argv, const size_t *lens,
    char *why, size_t whylen)
{
	redisReply *rep = redisCommandArgv(r->c, argc, argv, lens);
	if (rep == NULL) {
		snprintf(why, whylen, "%s", r->c->errstr[0] != '\0' ?
		    r->c->errstr : "no reply");
		return (NULL);
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(why, whylen, "%.*s", (int) rep->len, rep->str);
		freeReplyObject(rep);
		return (NULL);
	}
	return (rep);
}

/* Dials, authenticates and selects the database, or leaves r->c NULL. */
static cx_err
dial(rl_redis *r, char *why, size_t whylen)
{
	struct timeval tv = {(time_t) (r->timeout_ms / 1000),
	    (suseconds_t) (r->timeout_ms % 1000) * 1000};
	redisContext *c = redisConnectWithTimeout(r->url.host, r->url.port, tv);
	if (c == NULL || c->err != 0) {
		snprintf(why, whylen, "connect to %s:%d: %s", r->url.host,
		    r->url.port, c != NULL ? c->errstr : "out of memory");
		redisFree(c);
		return (CX_EIO);
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(why, whylen, "cannot set the command timeout");
		redisFree(c);
		return (CX_EIO);
	}
	r->c = c;
	char db[16];
	const char *argv[3];
	size_t lens[3];
	redisReply *rep = NULL;
	if (r->url.password[0] != '\0') {
		int argc = 0;
		argv[argc++] = "AUTH";
		if (r->url.user[0] != '\0') {
			argv[argc++] = r->url.user;
		}
		argv[argc++] = r->url.password;
		for (int i = 0; i < argc; i++) {
			lens[i] = strlen(argv[i]);
		}
		if ((rep = command(r, argc, argv, lens, why, whylen)) == NULL) {
			goto fail;
		}
		freeReplyObject(rep);
	}
	if (r->url.db != 0) {
		snprintf(db, sizeof(db), "%d", r->url.db);
		argv[0] = "SELECT";
		argv[1] = db;
		lens[0] = 6;
		lens[1] = strlen(db);
		if ((rep = command(r, 2, argv, lens, why, whylen)) == NULL) {
			goto fail;
		}
		freeReplyObject(rep);
	}
	return (CX_OK);
fail:
	redisFree(r->c);
	r->c = NULL;
	return (CX_EIO);
}

/* One EVAL of the script over the checks, with the connection held. */
static cx_err
run(rl_redis *r, const char *mode, const rl_check *c, size_t n,
    bool *allowed, int64_t *wait_ms, char *why, size_t whylen)
{
	enum { MAXK = 8 };
	char nums[MAXK][2][24], nkeys[8];
	char *keys[MAXK] = {0};
	const char *argv[3 + 3 * MAXK];
	size_t lens[3 + 3 * MAXK];
	size_t plen = strlen(r->prefix);
	cx_err rv = CX_ENOMEM;
	int argc = 0;

	if (n == 0 || n > MAXK) {
		return (CX_EINVAL);
	}
	snprintf(nkeys, sizeof(nkeys), "%zu", n);
	argv[argc] = "EVAL";
	lens[argc++] = 4;
	argv[argc] = rl_script;
	lens[argc++] = sizeof(rl_script) - 1;
	argv[argc] = nkeys;
	lens[argc++] = strlen(nkeys);
	for (size_t i = 0; i < n; i++) {
		if ((keys[i] = malloc(plen + c[i].keylen)) == NULL) {
			goto out;
		}
		memcpy(keys[i], r->prefix, plen);
		memcpy(keys[i] + plen, c[i].key, c[i].keylen);
		argv[argc] = keys[i];
		lens[argc++] = plen + c[i].keylen;
	}
	argv[argc] = mode;
	lens[argc++] = strlen(mode);
	for (size_t i = 0; i < n; i++) {
		snprintf(nums[i][0], sizeof(nums[i][0]), "%lld",
		    (long long) c[i].rate.capacity);
		snprintf(nums[i][1], sizeof(nums[i][1]), "%lld",
		    (long long) c[i].rate.period_ms);
		for (int j = 0; j < 2; j++) {
			argv[argc] = nums[i][j];
			lens[argc++] = strlen(nums[i][j]);
		}
	}

	pthread_mutex_lock(&r->mu);
	int64_t now = rl_now_ms();
	if (r->c == NULL) {
		if (now < r->retry_at) {
			snprintf(why, whylen, "waiting before the next dial");
			rv = CX_EIO;
			goto unlock;
		}
		if ((rv = dial(r, why, whylen)) != CX_OK) {
			r->retry_at = now + RL_REDIS_RETRY_MS;
			goto unlock;
		}
	}
	redisReply *rep = command(r, argc, argv, lens, why, whylen);
	if (rep == NULL) {
		/* After an I/O error or timeout the reply stream is out of
		 * step: drop the connection rather than reuse it. */
		redisFree(r->c);
		r->c = NULL;
		r->retry_at = now + RL_REDIS_RETRY_MS;
		rv = CX_EIO;
		goto unlock;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER ||
	    rep->element[1]->type != REDIS_REPLY_INTEGER) {
		snprintf(why, whylen, "unexpected script reply");
		rv = CX_EPROTO;
	} else {
		*allowed = rep->element[0]->integer == 1;
		*wait_ms = (int64_t) rep->element[1]->integer;
		rv = CX_OK;
	}
	freeReplyObject(rep);
unlock:
	pthread_mutex_unlock(&r->mu);
out:
	for (size_t i = 0; i < n; i++) {
		free(keys[i]);
	}
	return (rv);
}

cx_err
rl_redis_take(rl_redis *r, const rl_check *c, size_t n, bool *allowed,
    int64_t *wait_ms, char *why, size_t whylen)
{
	return (run(r, "take", c, n, allowed, wait_ms, why, whylen));
}

cx_err
rl_redis_give(rl_redis *r, const rl_check *c, char *why, size_t whylen)
{
	bool allowed;
	int64_t wait_ms;
	return (run(r, "give", c, 1, &allowed, &wait_ms, why, whylen));
}
