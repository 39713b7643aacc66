/*
 * rs_ops.c - the session operations.
 *
 * Each operation that changes more than one key is one Lua script, run
 * with EVAL: Redis runs a script atomically, so a session hash and its
 * account set never disagree (no MULTI/EXEC round trips, and a read that
 * decides - expired? exists? - cannot race the write that follows it).
 * EVAL rather than EVALSHA: the script cache empties when Redis
 * restarts, and these scripts are small. The account-set key is built
 * inside the scripts from the prefix, which is fine on a single server
 * (the only deployment this plugin supports; Redis Cluster would need
 * every key in KEYS).
 *
 * Both limits are enforced from the stored times, against the caller's
 * clock: a session is live while now < last_seen + idle and
 * now < created + absolute. The key's PEXPIRE, min(idle, absolute - age),
 * only garbage-collects what nobody asks about any more.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs.h"

/* Shared by the scripts that read a session: HMGET order, the liveness
 * rule and the removal of a dead one from its account set. */
#define LUA_COMMON                                                      \
	"local F = {'account', 'created_ms', 'last_seen_ms', 'idle_ms', " \
	"'absolute_ms', 'data'}\n"                                        \
	"local function live(f, now)\n"                                   \
	"  return now - tonumber(f[3]) < tonumber(f[4]) and\n"            \
	"    now - tonumber(f[2]) < tonumber(f[5])\n"                     \
	"end\n"                                                           \
	"local function kill(key, acct, h)\n"                             \
	"  redis.call('DEL', key)\n"                                      \
	"  redis.call('SREM', acct, h)\n"                                 \
	"end\n"                                                           \
	"local function keep_set(acct, ttl)\n"                            \
	"  if redis.call('PTTL', acct) < ttl then\n"                      \
	"    redis.call('PEXPIRE', acct, string.format('%d', ttl))\n"      \
	"  end\n"                                                         \
	"end\n"

/* KEYS: sess, acct. ARGV: account, created, last_seen, idle, absolute,
 * ttl, hash[, data]. The account set lives as long as its longest
 * session, so an account whose sessions all lapsed leaves nothing. */
static const char lua_create[] = LUA_COMMON
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'account', ARGV[1], 'created_ms', ARGV[2],"
    " 'last_seen_ms', ARGV[3], 'idle_ms', ARGV[4], 'absolute_ms', ARGV[5])\n"
    "if ARGV[8] then redis.call('HSET', KEYS[1], 'data', ARGV[8]) end\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[6])\n"
    "redis.call('SADD', KEYS[2], ARGV[7])\n"
    "keep_set(KEYS[2], tonumber(ARGV[6]))\n"
    "return 1\n";

/* KEYS: sess. ARGV: now, acct prefix, hash. 0 or the HMGET fields. */
static const char lua_get[] = LUA_COMMON
    "local f = redis.call('HMGET', KEYS[1], unpack(F))\n"
    "if not f[1] then return 0 end\n"
    "if not live(f, tonumber(ARGV[1])) then\n"
    "  kill(KEYS[1], ARGV[2] .. f[1], ARGV[3])\n"
    "  return 0\n"
    "end\n"
    "return f\n";

/* KEYS: sess. ARGV: now, acct prefix, hash. last_seen never moves back
 * (two daemons with skewed clocks), and the new TTL stops at the
 * absolute deadline. */
static const char lua_touch[] = LUA_COMMON
    "local f = redis.call('HMGET', KEYS[1], unpack(F))\n"
    "if not f[1] then return 0 end\n"
    "local now = tonumber(ARGV[1])\n"
    "local acct = ARGV[2] .. f[1]\n"
    "if not live(f, now) then kill(KEYS[1], acct, ARGV[3]) return 0 end\n"
    "local last = math.max(now, tonumber(f[3]))\n"
    "local ttl = math.min(last + tonumber(f[4]),"
    " tonumber(f[2]) + tonumber(f[5])) - now\n"
    "redis.call('HSET', KEYS[1], 'last_seen_ms', string.format('%d', last))\n"
    "redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))\n"
    "keep_set(acct, ttl)\n"
    "return 1\n";

/* KEYS: sess. ARGV: acct prefix, hash. */
static const char lua_destroy[] =
    "local a = redis.call('HGET', KEYS[1], 'account')\n"
    "if a then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  redis.call('SREM', ARGV[1] .. a, ARGV[2])\n"
    "end\n"
    "return 1\n";

/* KEYS: acct. ARGV: sess prefix. Counts the sessions that still
 * existed; members whose key already lapsed are stale, not sessions. */
static const char lua_destroy_account[] =
    "local n = 0\n"
    "for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  n = n + redis.call('DEL', ARGV[1] .. h)\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return n\n";

/* KEYS: acct. ARGV: now, sess prefix. Flat list of (hash, created,
 * last_seen, idle, absolute, data); stale members and expired sessions
 * are removed on the way. */
static const char lua_list[] = LUA_COMMON
    "local out = {}\n"
    "local now = tonumber(ARGV[1])\n"
    "for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  local k = ARGV[2] .. h\n"
    "  local f = redis.call('HMGET', k, unpack(F))\n"
    "  if not f[1] then redis.call('SREM', KEYS[1], h)\n"
    "  elseif not live(f, now) then kill(k, KEYS[1], h)\n"
    "  else\n"
    "    out[#out + 1] = h\n"
    "    for i = 2, 6 do out[#out + 1] = f[i] end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* Only a SHA-256 hex digest may become a key: this is what keeps a raw
 * token out of Redis even if a caller passes the wrong string. */
static bool
valid_hash(const char *h)
{
	if (h == NULL) {
		return (false);
	}
	size_t i;
	for (i = 0; h[i] != '\0'; i++) {
		if (i >= 64 || !((h[i] >= '0' && h[i] <= '9') ||
		    (h[i] >= 'a' && h[i] <= 'f'))) {
			return (false);
		}
	}
	return (i == 64);
}

static bool
valid_account(const char *a)
{
	return (a != NULL && a[0] != '\0' &&
	    strnlen(a, sizeof(((cx_session *) 0)->account)) <
	    sizeof(((cx_session *) 0)->account));
}

static void
key(const rs_state *st, char *buf, size_t len, const char *kind,
    const char *id)
{
	snprintf(buf, len, "%s%s:%s", st->prefix, kind, id);
}

/* Runs a script with the given keys and args (NUL-terminated strings). */
static cx_err
eval(rs_state *st, const char *script, int nkeys, int nargs,
    const char **kv, redisReply **reply)
{
	const char *argv[16];
	char nk[8];
	snprintf(nk, sizeof(nk), "%d", nkeys);
	argv[0] = "EVAL";
	argv[1] = script;
	argv[2] = nk;
	for (int i = 0; i < nkeys + nargs; i++) {
		argv[3 + i] = kv[i];
	}
	return (rs_command(st, 3 + nkeys + nargs, argv, NULL, reply));
}

static bool
to_i64(const redisReply *r, int64_t *out)
{
	if (r->type != REDIS_REPLY_STRING || r->len == 0) {
		return (false);
	}
	char *end;
	errno = 0;
	long long v = strtoll(r->str, &end, 10);
	if (errno != 0 || *end != '\0') {
		return (false);
	}
	*out = v;
	return (true);
}

/* Fills out from five reply elements (created, last_seen, idle,
 * absolute, data). */
static cx_err
fill(rs_state *st, cx_session *out, const char *hash, const char *account,
    redisReply **e)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->id_hash, sizeof(out->id_hash), "%s", hash);
	snprintf(out->account, sizeof(out->account), "%s", account);
	if (!to_i64(e[0], &out->created_ms) ||
	    !to_i64(e[1], &out->last_seen_ms) || !to_i64(e[2], &out->idle_ms) ||
	    !to_i64(e[3], &out->absolute_ms)) {
		st->host->log(st->host, CX_LOG_ERROR, "session %.12s... has a "
		    "malformed record in Redis", hash);
		return (CX_EPROTO);
	}
	if (e[4]->type == REDIS_REPLY_STRING) {
		if ((out->data = strndup(e[4]->str, e[4]->len)) == NULL) {
			return (CX_ENOMEM);
		}
	}
	return (CX_OK);
}

static cx_err
rs_create(void *state, const cx_session *s)
{
	rs_state *st = state;
	if (s == NULL || !valid_hash(s->id_hash) || !valid_account(s->account) ||
	    s->idle_ms <= 0 || s->absolute_ms <= 0 ||
	    s->last_seen_ms < s->created_ms) {
		return (CX_EINVAL);
	}
	/* The TTL counts from the last activity the caller reports. */
	int64_t end = s->last_seen_ms + s->idle_ms;
	if (s->created_ms + s->absolute_ms < end) {
		end = s->created_ms + s->absolute_ms;
	}
	int64_t ttl = end - s->last_seen_ms;
	if (ttl <= 0) {
		return (CX_EINVAL);
	}
	char k1[160], k2[160], n[5][24];
	key(st, k1, sizeof(k1), "sess", s->id_hash);
	key(st, k2, sizeof(k2), "acct", s->account);
	const int64_t v[5] = {s->created_ms, s->last_seen_ms, s->idle_ms,
	    s->absolute_ms, ttl};
	for (int i = 0; i < 5; i++) {
		snprintf(n[i], sizeof(n[i]), "%lld", (long long) v[i]);
	}
	const char *kv[] = {k1, k2, s->account, n[0], n[1], n[2], n[3], n[4],
	    s->id_hash, s->data};
	redisReply *r;
	cx_err rv = eval(st, lua_create, 2, s->data != NULL ? 8 : 7, kv, &r);
	if (rv != CX_OK) {
		return (rv);
	}
	rv = r->type != REDIS_REPLY_INTEGER ? CX_EPROTO :
	    r->integer == 1 ? CX_OK : CX_EEXIST;
	freeReplyObject(r);
	return (rv);
}

static cx_err
rs_get(void *state, const char *id_hash, int64_t now_ms, cx_session *out)
{
	rs_state *st = state;
	if (!valid_hash(id_hash) || out == NULL) {
		return (CX_EINVAL);
	}
	char k1[160], k2[80], now[24];
	key(st, k1, sizeof(k1), "sess", id_hash);
	key(st, k2, sizeof(k2), "acct", "");
	snprintf(now, sizeof(now), "%lld", (long long) now_ms);
	const char *kv[] = {k1, now, k2, id_hash};
	redisReply *r;
	cx_err rv = eval(st, lua_get, 1, 3, kv, &r);
	if (rv != CX_OK) {
		return (rv);
	}
	if (r->type == REDIS_REPLY_INTEGER) {
		rv = CX_ENOENT;
	} else if (r->type != REDIS_REPLY_ARRAY || r->elements != 6 ||
	    r->element[0]->type != REDIS_REPLY_STRING) {
		rv = CX_EPROTO;
	} else {
		rv = fill(st, out, id_hash, r->element[0]->str, r->element + 1);
	}
	freeReplyObject(r);
	return (rv);
}

static cx_err
rs_touch(void *state, const char *id_hash, int64_t now_ms)
{
	rs_state *st = state;
	if (!valid_hash(id_hash)) {
		return (CX_EINVAL);
	}
	char k1[160], k2[80], now[24];
	key(st, k1, sizeof(k1), "sess", id_hash);
	key(st, k2, sizeof(k2), "acct", "");
	snprintf(now, sizeof(now), "%lld", (long long) now_ms);
	const char *kv[] = {k1, now, k2, id_hash};
	redisReply *r;
	cx_err rv = eval(st, lua_touch, 1, 3, kv, &r);
	if (rv != CX_OK) {
		return (rv);
	}
	rv = r->type != REDIS_REPLY_INTEGER ? CX_EPROTO :
	    r->integer == 1 ? CX_OK : CX_ENOENT;
	freeReplyObject(r);
	return (rv);
}

static cx_err
rs_destroy(void *state, const char *id_hash)
{
	rs_state *st = state;
	if (!valid_hash(id_hash)) {
		return (CX_EINVAL);
	}
	char k1[160], k2[80];
	key(st, k1, sizeof(k1), "sess", id_hash);
	key(st, k2, sizeof(k2), "acct", "");
	const char *kv[] = {k1, k2, id_hash};
	redisReply *r;
	cx_err rv = eval(st, lua_destroy, 1, 2, kv, &r);
	if (rv == CX_OK) {
		freeReplyObject(r);
	}
	return (rv);
}

static cx_err
rs_destroy_account(void *state, const char *account, size_t *count)
{
	rs_state *st = state;
	if (count != NULL) {
		*count = 0;
	}
	if (!valid_account(account)) {
		return (CX_EINVAL);
	}
	char k1[160], k2[80];
	key(st, k1, sizeof(k1), "acct", account);
	key(st, k2, sizeof(k2), "sess", "");
	const char *kv[] = {k1, k2};
	redisReply *r;
	cx_err rv = eval(st, lua_destroy_account, 1, 1, kv, &r);
	if (rv != CX_OK) {
		return (rv);
	}
	if (r->type != REDIS_REPLY_INTEGER || r->integer < 0) {
		rv = CX_EPROTO;
	} else if (count != NULL) {
		*count = (size_t) r->integer;
	}
	freeReplyObject(r);
	return (rv);
}

static void
free_list(cx_session *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].data);
	}
	free(v);
}

static cx_err
rs_list_account(void *state, const char *account, int64_t now_ms,
    cx_session **out, size_t *n)
{
	rs_state *st = state;
	if (out == NULL || n == NULL) {
		return (CX_EINVAL);
	}
	*out = NULL;
	*n = 0;
	if (!valid_account(account)) {
		return (CX_EINVAL);
	}
	char k1[160], k2[80], now[24];
	key(st, k1, sizeof(k1), "acct", account);
	key(st, k2, sizeof(k2), "sess", "");
	snprintf(now, sizeof(now), "%lld", (long long) now_ms);
	const char *kv[] = {k1, now, k2};
	redisReply *r;
	cx_err rv = eval(st, lua_list, 1, 2, kv, &r);
	if (rv != CX_OK) {
		return (rv);
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 6 != 0) {
		freeReplyObject(r);
		return (CX_EPROTO);
	}
	size_t cnt = r->elements / 6;
	/* One spare slot: an empty list is still a valid, freeable array. */
	cx_session *v = calloc(cnt + 1, sizeof(*v));
	if (v == NULL) {
		freeReplyObject(r);
		return (CX_ENOMEM);
	}
	for (size_t i = 0; i < cnt; i++) {
		redisReply **e = r->element + i * 6;
		if (e[0]->type != REDIS_REPLY_STRING || !valid_hash(e[0]->str)) {
			rv = CX_EPROTO;
		} else {
			rv = fill(st, &v[i], e[0]->str, account, e + 1);
		}
		if (rv != CX_OK) {
			free_list(v, i);
			freeReplyObject(r);
			return (rv);
		}
	}
	freeReplyObject(r);
	*out = v;
	*n = cnt;
	return (CX_OK);
}

const cx_session_ops rs_session_ops = {
	.size = sizeof(cx_session_ops),
	.create = rs_create,
	.get = rs_get,
	.touch = rs_touch,
	.destroy = rs_destroy,
	.destroy_account = rs_destroy_account,
	.list_account = rs_list_account,
};
