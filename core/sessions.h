/*
 * sessions.h - session tokens: made, checked and ended by the core.
 *
 * A token is 256 random bits, base64url (43 characters), handed out only
 * in the session cookie. Stores see its SHA-256 (hex) and nothing else.
 * The store is the enabled session plugin (e.g. plugins/session/redis)
 * or, when none is enabled, the embedded one in the storage backend
 * (session_db.c). Both enforce the idle timeout and the absolute
 * lifetime server-side.
 */
#ifndef CXI_SESSIONS_H
#define CXI_SESSIONS_H

#include <stddef.h>
#include <stdint.h>
#include <callixo/session.h>
#include "manager.h"

#define CXI_SESSION_TOKEN_LEN 43

typedef struct cxi_sessions cxi_sessions;

int cxi_sessions_new(cxi_sessions **out, cxi_manager *m, int64_t idle_ms,
    int64_t absolute_ms);
void cxi_sessions_free(cxi_sessions *s);

/* Hex SHA-256 of a token: the only form a store ever sees. */
void cxi_session_hash(const char *token, char hex[65]);

/* Starts a session for `account` (data: a JSON object text, or NULL)
 * and writes the new token. */
cx_err cxi_sessions_create(cxi_sessions *s, const char *account,
    const char *data, int64_t now_ms, char token[CXI_SESSION_TOKEN_LEN + 1]);
/* Checks a token from a cookie and records the activity. CX_ENOENT for
 * a malformed, unknown, ended or expired token. On CX_OK the caller
 * frees out->data. */
cx_err cxi_sessions_check(cxi_sessions *s, const char *token, int64_t now_ms,
    cx_session *out);
/* Ends one session at once (logout). */
cx_err cxi_sessions_end(cxi_sessions *s, const char *token);
/* Ends every session of an account (logout-all, password change). */
cx_err cxi_sessions_end_account(cxi_sessions *s, const char *account,
    size_t *count);

#endif
