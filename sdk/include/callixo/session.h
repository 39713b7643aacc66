/*
 * callixo/session.h - the session store contract.
 *
 * Sessions sit on the hot path of every cookie-authenticated request, so
 * the core calls the active session plugin directly through its
 * descriptor (kind CX_KIND_SESSION, `kind_ops` pointing at a
 * cx_session_ops), in process. The core generates the token, hashes it
 * (SHA-256, hex) and only ever hands the store that hash: a store never
 * sees a usable token. The store enforces both limits server-side: the
 * idle timeout (refreshed by touch) and the absolute lifetime (from the
 * creation time, whatever the TTL says).
 */
#ifndef CALLIXO_SESSION_H
#define CALLIXO_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <callixo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One session as stored. Strings are NUL-terminated; `data` is a JSON
 * object text chosen by the core (ip, user agent, role, mfa state). */
typedef struct cx_session {
	char id_hash[65];      /* hex SHA-256 of the token */
	char account[64];
	int64_t created_ms;
	int64_t last_seen_ms;
	int64_t idle_ms;       /* idle timeout */
	int64_t absolute_ms;   /* lifetime from created_ms */
	char *data;            /* malloc'd by the store on get; may be NULL */
} cx_session;

typedef struct cx_session_ops {
	uint32_t size; /* sizeof(cx_session_ops) at build time */

	/* Stores a new session; CX_EEXIST if the hash is taken. */
	cx_err (*create)(void *state, const cx_session *s);
	/* Looks a session up at time now_ms. Expired (idle or absolute) or
	 * unknown: CX_ENOENT, and an expired one is deleted. On CX_OK, the
	 * caller frees out->data. */
	cx_err (*get)(void *state, const char *id_hash, int64_t now_ms,
	    cx_session *out);
	/* Records activity at now_ms, extending the idle timeout but never
	 * past the absolute lifetime. CX_ENOENT if gone or expired. */
	cx_err (*touch)(void *state, const char *id_hash, int64_t now_ms);
	/* Ends one session at once (logout). CX_OK also if it was gone. */
	cx_err (*destroy)(void *state, const char *id_hash);
	/* Ends every session of an account (logout-all, password change,
	 * account disabled); *count (may be NULL) gets how many. */
	cx_err (*destroy_account)(void *state, const char *account,
	    size_t *count);
	/* Lists an account's live sessions at now_ms: a malloc'd array the
	 * caller frees (each data, then the array). */
	cx_err (*list_account)(void *state, const char *account,
	    int64_t now_ms, cx_session **out, size_t *n);
} cx_session_ops;

#ifdef __cplusplus
}
#endif
#endif
