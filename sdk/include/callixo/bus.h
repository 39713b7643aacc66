/*
 * callixo/bus.h - messages on the Callixo bus.
 *
 * Plugins and the core talk over nng in three patterns:
 *  - events (pub/sub): the event type is the topic, the core brokers
 *    publish-to-all. Delivery is best effort: a slow subscriber may lose
 *    events, so publish only what can be lost or rebuilt. Facts that matter
 *    are stored first, or sent as a service request that is acknowledged.
 *  - services (req/rep with contexts): requests addressed to a plugin by
 *    its instance name, answered concurrently.
 *  - policy surveys (surveyor/respondent): the core asks every policy
 *    module a question with a deadline. Deny wins; a required module that
 *    stays silent counts as deny.
 *
 * Every message is a JSON envelope:
 *   {"v":1,"type":"call.completed","id":"...","time":"2026-...Z",
 *    "account":"acc_..."|null,"data":{...}}
 * The callbacks below receive it decoded as a cx_msg, borrowed for the
 * duration of the call.
 */
#ifndef CALLIXO_BUS_H
#define CALLIXO_BUS_H

#include <stdint.h>
#include <jansson.h>
#include <callixo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CX_ENVELOPE_VERSION 1

/* Event topics published by the core. Since ABI 1.0. */
#define CX_TOPIC_PLUGIN_STARTED "plugin.started"
#define CX_TOPIC_PLUGIN_STOPPED "plugin.stopped"
#define CX_TOPIC_PLUGIN_FAILED "plugin.failed"
#define CX_TOPIC_CONFIG_RELOADED "config.reloaded"
#define CX_TOPIC_CALL_COMPLETED "call.completed"

/* Service request type used by the core to forward an HTTP request to a
 * plugin running under process isolation. */
#define CX_SVC_HTTP_REQUEST "cx.http.request"

/* A decoded envelope, borrowed: copy what you keep. Since ABI 1.0. */
typedef struct cx_msg {
	const char *type;    /* e.g. "call.completed" */
	const char *id;      /* unique message id (32 hex chars) */
	int64_t time_ms;     /* Unix time in milliseconds */
	const char *account; /* account id, or NULL */
	const json_t *data;  /* payload object, never NULL */
} cx_msg;

/* Verdicts of a policy module. */
typedef enum cx_verdict {
	CX_POLICY_ABSTAIN = 0, /* no opinion on this question */
	CX_POLICY_ALLOW = 1,
	CX_POLICY_DENY = 2,
} cx_verdict;

/* Receives one event whose type matched a subscription. Runs on a bus
 * thread: return quickly, hand long work to a timer or your own thread. */
typedef void (*cx_event_fn)(void *arg, const cx_msg *ev);

/* Answers one service request. Set *reply to a new JSON object (ownership
 * passes to the bus) or leave it NULL for an empty object. A non-CX_OK
 * return becomes an error reply with that code; `*reply` may then carry
 * {"message": "..."} for the caller. Called concurrently. */
typedef cx_err (*cx_service_fn)(void *arg, const cx_msg *req, json_t **reply);

/* Answers one policy survey question (msg->type names the question, e.g.
 * "policy.call.place"). When denying, point *reason at a short string;
 * the bus copies it on the calling thread before anything else runs
 * there, so a static or thread-local buffer is fine. Must answer well
 * within the survey deadline. */
typedef cx_verdict (*cx_policy_fn)(void *arg, const cx_msg *q,
    const char **reason);

#ifdef __cplusplus
}
#endif
#endif
