/*
 * outhooks.h - customer webhooks: what the rest of the core needs to
 * queue an event for an account's endpoints. Delivery (signing, retries
 * for 24 h, the attempt log) runs in outhooks.c on its own thread.
 *
 * Queueing happens inside the caller's transaction, together with the
 * change that caused the event, so an event is queued exactly when its
 * fact is stored; the (endpoint, event_id) key makes it idempotent.
 */
#ifndef CXI_OUTHOOKS_H
#define CXI_OUTHOOKS_H

#include <jansson.h>
#include <callixo/error.h>

#include "store.h"

/* Event types a customer can subscribe to. */
#define CXI_HOOK_CALL_STARTED "call.started"
#define CXI_HOOK_CALL_COMPLETED "call.completed"
#define CXI_HOOK_CALL_ANALYZED "call.analyzed"

/* Queues `type` for every active endpoint of `account` whose events list
 * holds it (an empty list means all), with payload
 * {"id": event_id, "type": type, "created": <ms>, "data": data}.
 * `data` is borrowed. *queued (may be NULL) gets the number of new
 * deliveries. */
cx_err cxi_outhooks_enqueue_c(cxi_dbc *c, const char *account,
    const char *type, const char *event_id, const json_t *data,
    size_t *queued, char *why, size_t whylen);

#endif
