/*
 * callixo/error.h - error codes shared by the SDK and the core.
 *
 * Every SDK function that can fail returns a cx_err. Zero is success, so
 * `if ((rv = f()) != CX_OK)` reads naturally. Codes are small, stable and
 * never renumbered: a plugin built against ABI 1.0 sees the same meaning
 * for the same number on any 1.x host. Human detail goes to the log; the
 * code says what class of failure happened.
 */
#ifndef CALLIXO_ERROR_H
#define CALLIXO_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cx_err {
	CX_OK = 0,
	CX_ENOMEM = 1,      /* allocation failed */
	CX_EINVAL = 2,      /* bad argument or malformed input */
	CX_ENOENT = 3,      /* no such object, route, service or plugin */
	CX_EEXIST = 4,      /* name or object already present */
	CX_ETIMEDOUT = 5,   /* deadline passed before an answer came */
	CX_EDECLINE = 6,    /* init: plugin unavailable here, system safe */
	CX_EABI = 7,        /* descriptor magic or ABI version mismatch */
	CX_ECONFIG = 8,     /* configuration rejected */
	CX_ECLOSED = 9,     /* bus, socket or plugin shutting down */
	CX_EBUSY = 10,      /* resource in use, try again */
	CX_EDENIED = 11,    /* refused by policy or permission */
	CX_EPROTO = 12,     /* peer sent a message we cannot parse */
	CX_EIO = 13,        /* I/O or OS failure (detail in the log) */
	CX_ENOTSUP = 14,    /* operation not supported by this plugin/host */
	CX_EINTERNAL = 15,  /* invariant broken: a bug */
	CX_ERR_COUNT
} cx_err;

/* Static English description of an error code; never NULL. It is inline
 * so that a plugin needs no library beyond the host table. Since ABI 1.0. */
static inline const char *
cx_strerror(cx_err err)
{
	static const char *const msgs[CX_ERR_COUNT] = {
		"success", "out of memory", "invalid argument", "not found",
		"already exists", "timed out", "declined", "ABI mismatch",
		"configuration error", "closed", "busy", "denied",
		"protocol error", "I/O error", "not supported", "internal error",
	};
	if ((int) err < 0 || err >= CX_ERR_COUNT) {
		return ("unknown error");
	}
	return (msgs[err]);
}

#ifdef __cplusplus
}
#endif
#endif
