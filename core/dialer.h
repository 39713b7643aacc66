/*
 * dialer.h - the core's dialer: one thread that places the calls of
 * running campaigns, and a small pool that sends the place requests.
 *
 * Each tick (dialer.tick, or at once after cxi_dialer_kick) it
 *   1. on its first tick, reconciles what an earlier run left: calls in
 *      'dispatching' or 'unknown' are looked up at the provider before
 *      anything is placed again;
 *   2. looks up 'unknown' calls (a place_call that timed out) once
 *      dialer.reconcile_after has passed, and live calls older than
 *      dialer.max_call_duration;
 *   3. settles finished calls exactly once (calls.settled_at): the lead
 *      is retried per the campaign's retry policy or done, and the
 *      circuit breaker may pause the campaign;
 *   4. applies cancellations (hang up live calls, cancel pending leads)
 *      and completes running campaigns with nothing left;
 *   5. picks due leads inside their calling window, asks the policy
 *      survey policy.call.place, and dispatches them within the
 *      campaign's and the account's concurrency and calls per second.
 *
 * Dispatch is idempotent per (campaign, lead, attempt): the calls row is
 * written ('dispatching', UNIQUE campaign_id, lead_id, attempt) before
 * the request goes out, and a row whose fate is unknown is looked up,
 * never placed blindly a second time.
 */
#ifndef CXI_DIALER_H
#define CXI_DIALER_H

#include <callixo/error.h>

#include "calling.h"

/* Policy survey asked before each call, with {account, campaign_id,
 * lead_id, to, from, attempt}. */
#define CXI_POLICY_CALL_PLACE "policy.call.place"

/* Starts the dialer thread and its dispatch workers on cl (its manager,
 * API vault and cl->dialer_conf). */
cx_err cxi_dialer_start(cxi_dialer **out, cxi_calling *cl, char *why,
    size_t whylen);
/* Stops the thread, lets requests in flight finish (at most
 * dialer.dispatch_timeout) and frees. Jobs not yet sent stay
 * 'dispatching' and are reconciled by the next start. NULL is fine. */
void cxi_dialer_stop(cxi_dialer *d);
/* Runs the next tick now (a campaign started, resumed or was cancelled,
 * leads were attached). NULL is fine. */
void cxi_dialer_kick(cxi_dialer *d);

#endif
