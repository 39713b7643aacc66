/*
 * callixo/telephony.h - the contract between the core's dialer and a
 * telephony plugin (kind CX_KIND_TELEPHONY). Since ABI 1.1.
 *
 * Everything is a bus message; there is no ops table, so a telephony
 * plugin may run in its own process. Two directions:
 *
 * 1. The core asks the plugin (host->serve on the plugin's instance
 *    name), one request per call attempt:
 *
 *    CX_SVC_CALL_PLACE  {"v":1, "call_id":"call_...", "to":"+E164",
 *        "from":"+E164", "agent":"<Retell agent id | TwiML/agent URL>",
 *        "record":true, "disclosure":true,
 *        "voicemail":{"action":"hangup"|"message", "message":"..."},
 *        "machine_detection":true,
 *        "variables":{"name":"Ada", ...}          (strings only)
 *        "analysis":{"summary":true, "fields":[{"name":"interested",
 *            "type":"boolean"|"string"|"number"|"enum",
 *            "description":"...", "choices":["a","b"]?}]}  (post-call
 *            analysis to ask the provider for; results come back in
 *            call.event "analysis":{"interested":true, ...})
 *        "credentials":{...}  (only when the account has a vault entry
 *            for this provider: its fields, e.g. Twilio {"account_sid",
 *            "auth_token"}, Retell {"api_key"}; else use the settings)}
 *      -> {"provider_call_id":"CA...", "status":"queued"}
 *      Errors tell the dialer what to do next:
 *        CX_EINVAL    the provider refused the call for good (4xx);
 *                     reply {"message":"twilio 21211: invalid To"}
 *        CX_EBUSY     rate limited (429): try the same attempt later
 *        CX_EIO       5xx or no connection: the provider did not
 *                     take the call; retry the same attempt later
 *        CX_ETIMEDOUT no answer in time: the call MAY exist. Neither
 *                     Twilio nor Retell has an idempotency key, so the
 *                     dialer reconciles with CX_SVC_CALL_LOOKUP before
 *                     it ever places the attempt again.
 *
 *    CX_SVC_CALL_LOOKUP {"v":1, "call_id", "to", "from",
 *        "since_ms": <dispatch time>, "provider_call_id"?, "credentials"?}
 *      -> {"found":false} or {"found":true, "provider_call_id":"...",
 *          "status":"<CX call status>"}
 *
 *    CX_SVC_CALL_HANGUP {"v":1, "call_id", "provider_call_id", "credentials"?}
 *      -> {} (campaign cancelled); CX_ENOTSUP when the plugin cannot.
 *
 * 2. The plugin tells the core what happened, by request/reply to the
 *    service CX_SVC_CORE ("core"), never by publish: the core stores the
 *    fact durably before it answers CX_OK, and the plugin acknowledges
 *    the provider's webhook only then (on any error it answers 5xx so
 *    the provider retries).
 *
 *    CX_SVC_CALL_EVENT {"v":1,
 *        "provider":"<instance name>",
 *        "event_id":"<unique per provider event>",  (dedup key)
 *        "call_id":"call_..." (ours, when the provider echoes it),
 *        "provider_call_id":"...",
 *        "seq": <integer, increasing within one call>,
 *        "status": one of CX_CALL_* below,
 *        "outcome": one of CX_OUTCOME_* (terminal statuses only),
 *        "at_ms", "started_at", "answered_at", "ended_at", "duration_ms",
 *        "cost_micros", "currency"                       (all optional)
 *        "transcript":{"text":"...", "utterances":[{"speaker":"agent"|
 *            "user", "text", "start_ms", "end_ms"}]},      (optional)
 *        "summary":"...", "sentiment":"positive"|"neutral"|"negative"|
 *            "unknown", "success":bool, "voicemail":bool,
 *        "disconnection_reason":"...", "analysis":{...}, (optional)
 *        "recording_pending":true  (a CX_SVC_CALL_RECORDING follows),
 *        "raw":{...}   (the verified provider payload, kept for audit)}
 *      -> {"duplicate":false} ; the same event_id twice changes nothing
 *         and answers {"duplicate":true}. A lower seq than the call has
 *         seen never moves its status backwards.
 *
 *    CX_SVC_CALL_RECORDING {"v":1, "provider", "call_id"?,
 *        "provider_call_id", "path":"<file under the plugin's data_dir>",
 *        "content_type":"audio/wav"|"audio/mpeg", "duration_ms"?}
 *      -> {"recording":"<blob key>"} once the core has encrypted it into
 *         the blob store. The plugin then removes its file (and, if so
 *         configured, the provider's copy). The core refuses a path
 *         outside <data_dir> of the plugin (CX_EDENIED).
 *
 *    CX_SVC_CALL_CREDENTIALS {"v":1, "provider", "call_id"}
 *      -> {"credentials":{...}} or {} (platform default): the vault
 *         entry the call was placed with, to check that account's
 *         webhook signatures. Never logged by either side.
 */
#ifndef CALLIXO_TELEPHONY_H
#define CALLIXO_TELEPHONY_H

#ifdef __cplusplus
extern "C" {
#endif

#define CX_TELEPHONY_VERSION 1

/* Core -> telephony plugin. */
#define CX_SVC_CALL_PLACE "telephony.call.place"
#define CX_SVC_CALL_LOOKUP "telephony.call.lookup"
#define CX_SVC_CALL_HANGUP "telephony.call.hangup"

/* Plugin -> core. */
#define CX_SVC_CORE "core"
#define CX_SVC_CALL_EVENT "call.event"
#define CX_SVC_CALL_RECORDING "call.recording"
#define CX_SVC_CALL_CREDENTIALS "call.credentials"

/* Call statuses. The first three are live; the rest are terminal. */
#define CX_CALL_QUEUED "queued"
#define CX_CALL_RINGING "ringing"
#define CX_CALL_IN_PROGRESS "in_progress"
#define CX_CALL_COMPLETED "completed"
#define CX_CALL_BUSY "busy"
#define CX_CALL_NO_ANSWER "no_answer"
#define CX_CALL_FAILED "failed"
#define CX_CALL_CANCELED "canceled"

/* Outcomes of a terminal call; retry policies are keyed by them. */
#define CX_OUTCOME_ANSWERED "answered"
#define CX_OUTCOME_VOICEMAIL "voicemail"
#define CX_OUTCOME_BUSY "busy"
#define CX_OUTCOME_NO_ANSWER "no_answer"
#define CX_OUTCOME_FAILED "failed"
#define CX_OUTCOME_CANCELED "canceled"

/* Events the core publishes (best effort) once it has stored the fact;
 * data is the call as GET /v1/calls/{id} shows it. */
#define CX_TOPIC_CALL_STARTED "call.started"
#define CX_TOPIC_CALL_ANALYZED "call.analyzed"
/* CX_TOPIC_CALL_COMPLETED is in callixo/bus.h. */

#ifdef __cplusplus
}
#endif
#endif
