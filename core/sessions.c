/*
 * sessions.c - session tokens over the active session store.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "session_db.h"
#include "sessions.h"

struct cxi_sessions {
	cxi_manager *m;
	int64_t idle_ms;
	int64_t absolute_ms;
};

int
cxi_sessions_new(cxi_sessions **out, cxi_manager *m, int64_t idle_ms,
    int64_t absolute_ms)
{
	if (idle_ms <= 0 || absolute_ms <= 0 || sodium_init() < 0) {
		return (CX_EINVAL);
	}
	cxi_sessions *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return (CX_ENOMEM);
	}
	s->m = m;
	s->idle_ms = idle_ms;
	s->absolute_ms = absolute_ms;
	*out = s;
	return (CX_OK);
}

void
cxi_sessions_free(cxi_sessions *s)
{
	free(s);
}

void
cxi_session_hash(const char *token, char hex[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *) token, strlen(token));
	sodium_bin2hex(hex, 65, h, sizeof(h));
}

/* The enabled session plugin, else the embedded store; release with
 * store_put when `held`. */
static const cx_session_ops *
store_get(cxi_sessions *s, void **state, bool *held)
{
	const cx_session_ops *ops;
	if (cxi_manager_session_hold(s->m, &ops, state)) {
		*held = true;
		return (ops);
	}
	*held = false;
	*state = s->m;
	return (&cxi_session_db_ops);
}

static void
store_put(cxi_sessions *s, bool held)
{
	if (held) {
		cxi_manager_unhold(s->m);
	}
}

/* A token is exactly 43 base64url characters: anything else is refused
 * before a store is asked (and cannot be an oracle for lookups). */
static bool
token_ok(const char *t)
{
	size_t n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                     "0123456789-_");
	return (n == CXI_SESSION_TOKEN_LEN && t[n] == '\0');
}

cx_err
cxi_sessions_create(cxi_sessions *s, const char *account, const char *data,
    int64_t now_ms, char token[CXI_SESSION_TOKEN_LEN + 1])
{
	unsigned char raw[32];
	cx_session rec = {0};
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(token, CXI_SESSION_TOKEN_LEN + 1, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	cxi_session_hash(token, rec.id_hash);
	if (strlen(account) >= sizeof(rec.account)) {
		return (CX_EINVAL);
	}
	strcpy(rec.account, account);
	rec.created_ms = now_ms;
	rec.last_seen_ms = now_ms;
	rec.idle_ms = s->idle_ms;
	rec.absolute_ms = s->absolute_ms;
	rec.data = (char *) data;
	bool held;
	void *state;
	const cx_session_ops *ops = store_get(s, &state, &held);
	cx_err rv = ops->create(state, &rec);
	store_put(s, held);
	if (rv != CX_OK) {
		sodium_memzero(token, CXI_SESSION_TOKEN_LEN + 1);
	}
	return (rv);
}

cx_err
cxi_sessions_check(cxi_sessions *s, const char *token, int64_t now_ms,
    cx_session *out)
{
	char hash[65];
	memset(out, 0, sizeof(*out));
	if (token == NULL || !token_ok(token)) {
		return (CX_ENOENT);
	}
	cxi_session_hash(token, hash);
	bool held;
	void *state;
	const cx_session_ops *ops = store_get(s, &state, &held);
	cx_err rv = ops->get(state, hash, now_ms, out);
	if (rv == CX_OK && (rv = ops->touch(state, hash, now_ms)) != CX_OK) {
		free(out->data);
		memset(out, 0, sizeof(*out));
	}
	store_put(s, held);
	return (rv);
}

cx_err
cxi_sessions_end(cxi_sessions *s, const char *token)
{
	char hash[65];
	if (token == NULL || !token_ok(token)) {
		return (CX_OK);
	}
	cxi_session_hash(token, hash);
	bool held;
	void *state;
	const cx_session_ops *ops = store_get(s, &state, &held);
	cx_err rv = ops->destroy(state, hash);
	store_put(s, held);
	return (rv);
}

cx_err
cxi_sessions_end_account(cxi_sessions *s, const char *account, size_t *count)
{
	bool held;
	void *state;
	const cx_session_ops *ops = store_get(s, &state, &held);
	cx_err rv = ops->destroy_account(state, account, count);
	store_put(s, held);
	return (rv);
}
