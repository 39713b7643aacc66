/*
 * httpc.h - a small blocking HTTP client (nng's), used by the test kit and tests.
 */
#ifndef CXI_HTTPC_H
#define CXI_HTTPC_H

#include <stddef.h>

/* Performs one request. `headers` is NULL or a NULL-terminated list of
 * "Name: value". Returns 0 and sets *status and *body (malloc'd,
 * NUL-terminated) with its length in *resp_len when not NULL, or -1 on a transport error. */
int cxi_httpc_do(const char *method, const char *url, const char *const *headers,
    const char *body, size_t len, int *status, char **resp_body, size_t *resp_len);

#endif
