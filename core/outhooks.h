/*
 * outhooks.h - customer webhooks: what the rest of the core needs to
 * queue an event for an account's endpoints. Delivery (signing, retries
 * for 24 h, the attempt log) runs in outhooks.c on its own thread.
 *
 * Queueing happens inside the caller's transaction, together with the
 * change that caused the event, so an event is queued exactly when its
 * fact is stored; the (endpoint, event_id) key makes it idempotent.
 * After the commit, cxi_outhooks_kick makes the sender look at once
 * (without it the event still goes out within a second).
 *
 * Delivery: a scheduler thread claims due deliveries with a
 * compare-and-set on next_attempt_at (a lease, so two daemons on one
 * database never send the same attempt), and a small worker pool POSTs
 * the stored payload byte for byte, signed
 *   Callixo-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 * where the key is the whole "whsec_..." secret text. 2xx is delivered;
 * anything else is retried with jittered exponential backoff until
 * max_age after the delivery was queued, then it is failed. Every try
 * is a webhook_attempts row. All state is in the database.
 */
#ifndef CXI_OUTHOOKS_H
#define CXI_OUTHOOKS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <jansson.h>
#include <callixo/error.h>

#include "store.h"

/* Event types a customer can subscribe to. */
#define CXI_HOOK_CALL_STARTED "call.started"
#define CXI_HOOK_CALL_COMPLETED "call.completed"
#define CXI_HOOK_CALL_ANALYZED "call.analyzed"
/* What POST /v1/webhooks/{id}/test sends (to that endpoint only). */
#define CXI_HOOK_PING "ping"

typedef struct cxi_outhooks cxi_outhooks;
struct cxi_calling;

/* The webhooks: config section (config_webhooks.c), copied at start. */
typedef struct cxi_outhooks_conf {
	bool allow_private; /* loopback/private/link-local targets */
	bool allow_http;    /* http:// URLs */
	int timeout_ms;     /* one attempt */
	int64_t max_age_ms; /* retries stop this long after queueing */
	int64_t backoff_ms; /* first retry delay, doubled each time */
	int64_t backoff_max_ms;
	int workers;
	int retention_days; /* finished deliveries are deleted after it */
} cxi_outhooks_conf;

/* Queues `type` for every active endpoint of `account` whose events list
 * holds it (an empty list means all), with payload
 * {"id": event_id, "type": type, "created": <ms>, "data": data}.
 * `data` is borrowed. *queued (may be NULL) gets the number of new
 * deliveries. */
cx_err cxi_outhooks_enqueue_c(cxi_dbc *c, const char *account,
    const char *type, const char *event_id, const json_t *data,
    size_t *queued, char *why, size_t whylen);

/* ---- delivery (outhooks.c) ---- */

/* Starts the scheduler and the worker pool on cl's manager and vault,
 * with cl->hooks_conf. */
cx_err cxi_outhooks_start(cxi_outhooks **out, struct cxi_calling *cl,
    char *why, size_t whylen);
/* Stops taking work, lets attempts in flight finish (each is bounded
 * by the timeout), frees. NULL is fine. */
void cxi_outhooks_stop(cxi_outhooks *h);
/* Something may be due now (after a commit that queued an event, a
 * resend, a test). NULL is fine. */
void cxi_outhooks_kick(cxi_outhooks *h);

/* ---- pure parts (outhooks_sign.c) ---- */

/* "whsec_" + 43 base64url characters of 32 random bytes, and the NUL. */
#define CXI_OUTHOOKS_SECRET_LEN 49
/* "t=<20 digits>,v1=<64 hex>" and the NUL. */
#define CXI_OUTHOOKS_SIG_MAX 96

void cxi_outhooks_new_secret(char out[CXI_OUTHOOKS_SECRET_LEN + 1]);
/* The Callixo-Signature header value for `body` sent at unix time t. */
void cxi_outhooks_sign(const char *secret, int64_t t, const char *body,
    size_t len, char out[CXI_OUTHOOKS_SIG_MAX]);
/* Delay before retry number `attempt` (1 = after the first failure):
 * base * 2^(attempt-1) capped at `cap`, then spread by +-20% with
 * `rnd` (uniform 32-bit) so failed bursts do not return in step, and
 * never above `cap`. */
int64_t cxi_outhooks_backoff_ms(int64_t base, int64_t cap, unsigned attempt,
    uint32_t rnd);

/* ---- SSRF guard (outhooks_ssrf.c) ---- */

/* Whether the endpoint URL may be used: absolute http(s) URL without
 * user info, https unless allow_http, and unless allow_private a host
 * that is no loopback/private/link-local/reserved address or a
 * "localhost" name. With `resolve`, a host name is also looked up and
 * refused when any address it has is such an address (a name that does
 * not resolve now passes: the connect-time check in outhooks_send.c is
 * the one that counts). False with `why` set. */
bool cxi_outhooks_url_ok(const cxi_outhooks_conf *cf, const char *url,
    bool resolve, char *why, size_t whylen);
/* Whether a connection to `sa` is allowed (always with allow_private). */
bool cxi_outhooks_addr_ok(const struct sockaddr *sa, bool allow_private);

/* ---- one POST (outhooks_send.c) ---- */

typedef struct cxi_outhooks_result {
	long status;        /* HTTP status, 0 when none came back */
	char error[256];    /* "" when a status came back */
	int64_t duration_ms;
} cxi_outhooks_result;

/* POSTs `body` to `url` with `headers` ("Name: value", NULL-ended),
 * following no redirect, verifying TLS, and refusing at connect time an
 * address cxi_outhooks_addr_ok refuses. */
void cxi_outhooks_post(const cxi_outhooks_conf *cf, const char *url,
    const char *const *headers, const char *body, size_t len,
    cxi_outhooks_result *res);

#endif
