/*
 * rs.h - internals of the Redis session store.
 *
 * Files, one concern each:
 *   rs_plugin.c  descriptor, settings, init/fini
 *   rs_ops.c     the cx_session_ops, each one Lua script (EVAL) so the
 *                session hash and the account set change together
 *   rs_pool.c    the pool of redisContext: lazy connect, AUTH/SELECT,
 *                health check, reconnect with exponential backoff
 *   rs_url.c     redis:// and unix:// URL parsing
 *
 * Keys (prefix from the settings, "cx:" by default):
 *   <prefix>sess:<sha256 hex>  hash {account, created_ms, last_seen_ms,
 *                              idle_ms, absolute_ms, data}
 *   <prefix>acct:<account>     set of that account's session hashes
 * Only the hash of a token ever reaches Redis: the store refuses an id
 * that is not 64 lowercase hex digits.
 */
#ifndef CX_RS_H
#define CX_RS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include <callixo/callixo.h>
#include <callixo/session.h>

/* Reconnect backoff: after a failed dial the pool waits this long before
 * the next one, doubling up to the cap, so a down server sees at most one
 * attempt per interval from this instance. The cap is short because
 * sessions sit on every request: recovery should be quick. */
#define RS_BACKOFF_MIN_MS 50
#define RS_BACKOFF_MAX_MS 2000

/* A parsed connection URL. `password` is a secret: never logged. */
typedef struct rs_url {
	char host[256];     /* TCP host, or "" for a unix socket */
	int port;
	char path[256];     /* unix socket path, or "" */
	char user[128];     /* ACL user (Redis 6+), or "" */
	char password[256]; /* or "" for no AUTH */
	int db;
} rs_url;

typedef struct rs_slot {
	redisContext *c; /* NULL until first used, and after a failure */
	bool in_use;
} rs_slot;

typedef struct rs_state {
	const cx_host *host;
	rs_url url;
	char where[300]; /* "host:port db N" or "unix:/path db N", for logs */
	char prefix[64];
	int pool_size;
	int64_t timeout_ms;

	pthread_mutex_t mu;
	pthread_cond_t cv; /* a slot was released */
	bool sync_init;    /* mu and cv exist */
	rs_slot *slots;
	int64_t backoff_ms; /* 0 while the server answers */
	int64_t retry_at;   /* monotonic ms before which we do not dial */
	bool down;          /* logged as down; log the recovery once */
	bool ready;         /* init is done: dial outcomes are logged */
	char last_error[200];
} rs_state;

/* rs_ops.c */
extern const cx_session_ops rs_session_ops;

/* rs_url.c: parses `s` into u. On failure writes why (which never quotes
 * the URL, as it may hold the password) and returns false. */
bool rs_url_parse(const char *s, rs_url *u, char *why, size_t whylen);
void rs_url_describe(const rs_url *u, char *buf, size_t len);

/* rs_pool.c */
int64_t rs_now_ms(void);
cx_err rs_pool_init(rs_state *st);
void rs_pool_fini(rs_state *st);
/* Dials `s` now, ignoring the backoff (init uses it to fail fast with
 * the reason, which lands in why). */
cx_err rs_connect(rs_state *st, rs_slot *s, char *why, size_t whylen);
cx_err rs_acquire(rs_state *st, rs_slot **out);
/* Gives the slot back; `broken` drops its connection first (the reply
 * stream is unusable after an I/O error or timeout). */
void rs_release(rs_state *st, rs_slot *s, bool broken);
/* Runs one command on a pooled connection. On CX_OK *reply is the reply
 * (freeReplyObject it); a Redis error reply is logged and CX_EIO. A lost
 * connection is CX_ECLOSED, a timeout CX_ETIMEDOUT. */
cx_err rs_command(rs_state *st, int argc, const char **argv,
    const size_t *lens, redisReply **reply);

#endif
