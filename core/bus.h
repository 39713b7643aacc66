/*
 * bus.h - the nng message bus: the broker (in callixod) and the client
 * (one per plugin instance, and one for the core itself).
 *
 * Topology (see docs/architecture.md):
 *   events:   clients PUSH -> broker PULL "publish"; broker PUB "events"
 *             -> clients SUB. The topic is the envelope's type, sent as
 *             "<type>\0<json>" so SUB prefix matching works on types.
 *             A client has one SUB socket for all its subscriptions and
 *             dispatches each event (decoded once) to every match.
 *   services: each serving client listens REP on svc/<name>; callers dial
 *             it with a REQ socket (cached per target) and one context
 *             per request. 8 contexts answer concurrently.
 *   policy:   broker SURVEYOR on "policy"; policy clients dial it with
 *             RESPONDENT sockets and answer {"plugin","verdict","reason"}.
 * Every address exists as inproc://callixo<ns>/<name> (ns "" gives
 * inproc://callixo/<name>) and, when the broker has an ipc directory, as
 * ipc://<dir>/<name>.sock (mode 0600) for process-isolated plugins;
 * services use ipc://<dir>/svc-<name>.sock. An in-process caller tries
 * the inproc service first, then ipc.
 *
 * Messages, all "<type>\0<envelope json>":
 *   event/request/question: {"v":1,"type","id","time","account","data"}
 *   reply:  type "<request type>.reply", plus "ok":true and "data", or
 *           "ok":false and "error":{"code":<cx_err>,"message":...}
 *   answer: type "<question type>.answer", data {"plugin","verdict":
 *           "allow|deny|abstain","reason":string|null}
 * Types are 1..128 printable ASCII characters without spaces, so request
 * and question types are limited to 122 and 121 (the suffix must fit).
 * "cx.bus.sync" is reserved: the first subscribe of a client publishes it
 * to itself to prove the PUB->SUB path is up before returning; it is
 * never delivered to callbacks, "*" included.
 *
 * Callbacks (events, services, policy) run on threads owned by the
 * client, never on nng's; they may block or call services. They must not
 * close or quiesce their own client. quiesce and close return only after
 * every callback of that client has returned.
 */
#ifndef CXI_BUS_H
#define CXI_BUS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <callixo/bus.h>

/* ---- envelope ---- */

/* Builds an envelope; steals data (NULL = {}). */
json_t *cxi_env_new(const char *type, const char *account, json_t *data);
/* Encodes "<type>\0<json>" into a malloc'd buffer. */
int cxi_env_encode(const json_t *env, char **buf, size_t *len);
/* Decodes a wire message; returns a new envelope or NULL with a reason. */
json_t *cxi_env_decode(const void *buf, size_t len, char *why, size_t wl);
/* A borrowed view of an envelope. Returns -1 if malformed. */
int cxi_env_view(const json_t *env, cx_msg *out);

/* ---- broker ---- */

typedef struct cxi_bus cxi_bus;

typedef struct cxi_bus_stats {
	uint64_t events_in;      /* publishes received by the broker */
	uint64_t events_out;     /* events forwarded to subscribers */
	uint64_t surveys;
	uint64_t survey_denies;
	uint64_t survey_timeouts; /* required modules that stayed silent */
	uint32_t respondents;     /* policy respondents connected now */
} cxi_bus_stats;

/* Opens the broker. ipc_dir may be NULL (inproc only); when given, the
 * ipc endpoints are created there with mode 0600. `ns` keeps several
 * brokers apart in one process (tests); "" for the default. */
int cxi_bus_open(cxi_bus **out, const char *ns, const char *ipc_dir);
void cxi_bus_close(cxi_bus *bus);
const char *cxi_bus_ns(const cxi_bus *bus);
const char *cxi_bus_ipc_dir(const cxi_bus *bus);
void cxi_bus_stats_get(cxi_bus *bus, cxi_bus_stats *out);

/* A policy question; `data` is stolen (NULL = {}). Deny wins; any name
 * in `required` that does not answer before the deadline counts as deny
 * ("policy X did not answer within N ms"); so does a question that cannot
 * be sent. With no deny the answer is ALLOW (abstain-only, or no policy
 * module connected). The survey ends early once every respondent
 * connected when it was sent has answered. *n_answers, when not NULL,
 * gets how many modules answered in time. Surveys may run concurrently;
 * none may be running when cxi_bus_close is called. */
cx_verdict cxi_bus_survey(cxi_bus *bus, const char *type,
    const char *account, json_t *data, int deadline_ms,
    const char *const *required, size_t n_required, size_t *n_answers,
    char *reason, size_t reason_len);

/* ---- client ---- */

typedef struct cxi_bus_client cxi_bus_client;

/* Connects a participant named `name` to the broker of namespace `ns`.
 * ipc_dir NULL: inproc; otherwise connect over ipc (plugin host). */
int cxi_bus_client_open(cxi_bus_client **out, const char *name,
    const char *ns, const char *ipc_dir);
/* For an in-process client only: the broker's ipc directory (normally
 * cxi_bus_ipc_dir()), so that cxi_bus_serve also listens on
 * ipc://<dir>/svc-<name>.sock for isolated plugins, and cxi_bus_call
 * falls back to ipc for services that run in a plugin host. Call before
 * cxi_bus_serve. The string is copied. */
int cxi_bus_client_set_ipc_dir(cxi_bus_client *c, const char *ipc_dir);
/* Stops every subscription, service and policy answer, aborts calls in
 * flight on other threads (they return CX_ECLOSED), waits for running
 * callbacks and calls to return, and frees. */
void cxi_bus_client_close(cxi_bus_client *c);
/* Drops subscriptions, service and policy handlers, keeps publishing. */
void cxi_bus_client_quiesce(cxi_bus_client *c);

/* All of these steal `data` (NULL = {}), even on error. */
cx_err cxi_bus_publish(cxi_bus_client *c, const char *type,
    const char *account, json_t *data);
/* topic: "a.b" exact, "a.*" prefix ("a." and below), "*" everything.
 * The first subscription waits (up to 2 s, else CX_ETIMEDOUT) until the
 * client's SUB pipe carries events; later ones return at once. */
cx_err cxi_bus_subscribe(cxi_bus_client *c, const char *topic,
    cx_event_fn fn, void *arg);
/* CX_ENOENT at once when nobody serves `service` (neither inproc nor, if
 * known, ipc); CX_ETIMEDOUT after timeout_ms; a handler's error comes
 * back as its code with *reply = {"message": ...}. */
cx_err cxi_bus_call(cxi_bus_client *c, const char *service,
    const char *type, const char *account, json_t *data, int timeout_ms,
    json_t **reply);
/* One handler per client (CX_EEXIST for a second, or when another client
 * of the same name already serves); again allowed after quiesce. */
cx_err cxi_bus_serve(cxi_bus_client *c, cx_service_fn fn, void *arg);
/* Returns once this end is connected (up to 2 s). The broker's end
 * shows in cxi_bus_stats.respondents. */
cx_err cxi_bus_answer_policy(cxi_bus_client *c, cx_policy_fn fn, void *arg);

#endif
