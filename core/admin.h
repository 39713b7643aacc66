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

/* Handles one command; returns the full reply object (new reference). */
typedef json_t *(*cxi_admin_fn)(void *arg, const char *cmd,
    const json_t *args);

int cxi_admin_start(cxi_admin **out, const char *socket_path,
    cxi_admin_fn fn, void *arg, char *why, size_t whylen);
void cxi_admin_stop(cxi_admin *a);

/* Client side (callixoctl): sends one command and waits for the reply.
 * Returns 0, or -1 with a clear reason (daemon not running, timeout). */
int cxi_admin_request(const char *socket_path, const char *cmd,
    json_t *args, int timeout_ms, json_t **reply, char *why, size_t whylen);

/* Helpers for handlers. */
json_t *cxi_admin_ok(json_t *result);
json_t *cxi_admin_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
