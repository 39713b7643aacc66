/*
 * admin.h - the admin socket used by callixoctl.
 *
 * A REP socket on ipc://<path>, created with mode 0600 so only the
 * daemon's user can drive it. One request is one JSON object:
 *   {"cmd":"status"|"plugins"|"reload"|"enable"|"disable"|"check-config",
 *    "args":{...}}
 * and one reply:
 *   {"ok":true,"result":...}   or   {"ok":false,"error":"..."}
 * Commands are answered one at a time by the daemon's handler.
 */
#ifndef CXI_ADMIN_H
#define CXI_ADMIN_H

#include <stddef.h>
#include <jansson.h>

typedef struct cxi_admin cxi_admin;

/* Handles one command; returns the full reply object (new reference).
 * `args` is never NULL: a request without args gets an empty object.
 * Returning NULL makes the loop answer with an internal error. */
typedef json_t *(*cxi_admin_fn)(void *arg, const char *cmd,
    const json_t *args);

/* Listens on ipc://<socket_path> (mode 0600) and answers requests on a
 * thread of its own. A stale socket file nobody listens on is removed;
 * a live one fails with "admin socket <path> in use by a running
 * daemon"; anything that is not a socket is left alone and fails. While
 * idle, the thread checks every 2 s that its listener still accepts and
 * replaces it if not (works around nanomsg/nng#1518 in nng 1.5.2). */
int cxi_admin_start(cxi_admin **out, const char *socket_path,
    cxi_admin_fn fn, void *arg, char *why, size_t whylen);
/* Closes the socket, joins the thread (waiting for a command in
 * progress) and removes the socket file; NULL is a no-op. */
void cxi_admin_stop(cxi_admin *a);

/* Returned by cxi_admin_request when nothing listens on the socket, so
 * callixoctl can tell "daemon down" (exit 3) from "command failed". */
#define CXI_ADMIN_NOT_RUNNING (-2)

/* Client side (callixoctl): sends one command and waits for the reply.
 * `args` may be NULL and is not consumed. On success *reply is a
 * checked reply object ({"ok":true,"result":...} or {"ok":false,
 * "error":"..."}), owned by the caller. Returns 0, CXI_ADMIN_NOT_RUNNING,
 * or -1 (timeout, malformed reply, ...), always with a clear reason. */
int cxi_admin_request(const char *socket_path, const char *cmd,
    json_t *args, int timeout_ms, json_t **reply, char *why, size_t whylen);

/* Strict request parser, exposed for the fuzz target and tests. Accepts
 * exactly {"cmd": non-empty string, "args": object (optional)} and no
 * other keys. On success returns 0 with *req a new reference, *cmd
 * pointing into it and *args borrowed from it (an empty object when the
 * request had none). On failure returns -1 with `why` set. */
int cxi_admin_parse_request(const void *buf, size_t len, json_t **req,
    const char **cmd, const json_t **args, char *why, size_t whylen);

/* What the receive loop does with one raw request: parse, call fn,
 * and return the reply to send (new reference, never NULL except when
 * out of memory). */
json_t *cxi_admin_dispatch(const void *buf, size_t len, cxi_admin_fn fn,
    void *arg);

/* Version of the core callixoctl was built with (CX_VERSION). */
const char *cxi_admin_version(void);

/* Helpers for handlers. */
json_t *cxi_admin_ok(json_t *result);
json_t *cxi_admin_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
