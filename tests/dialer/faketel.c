/*
 * faketel - a scripted telephony plugin for the dialer tests.
 *
 * It answers CX_SVC_CALL_PLACE / LOOKUP / HANGUP the way a provider
 * plugin would, with behaviour the test sets per request:
 *   fake.script {"place": ["ok", "429", "500", "4xx", "timeout_created",
 *                "timeout_lost"], "deny": ["+1555..."], "known":
 *                ["call_..."], "forget": ["call_..."], "hangup": "ok" |
 *                "enotsup"}
 *     queues outcomes for the next place requests (then "ok"), numbers
 *     the policy answer denies, calls to treat as already created and
 *     calls the provider has lost;
 *   fake.log -> {"events": [{"op": "place"|"lookup"|"hangup",
 *                "call_id", "at_ms", "to", "from", "credentials",
 *                "variables", "voicemail", "result"}], "created":
 *                {call_id: provider_call_id}}
 * A created call is what the "provider" has: lookup finds it, and a
 * second place of the same call_id is counted as a duplicate.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <callixo/callixo.h>
#include <callixo/telephony.h>

typedef struct fk {
	const cx_host *host;
	pthread_mutex_t mu;
	json_t *script;  /* array of place outcomes still to use */
	json_t *deny;    /* array of numbers */
	json_t *created; /* call_id -> provider id */
	json_t *events;
	char hangup[16];
	unsigned seq;
} fk;

static const cx_setting fk_settings[] = {CX_SETTINGS_END};

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Under mu. */
static void
log_event(fk *p, const char *op, const json_t *d, const char *result)
{
	json_t *e = json_pack("{s:s, s:s?, s:I, s:s}", "op", op, "call_id",
	    json_string_value(json_object_get(d, "call_id")), "at_ms",
	    (json_int_t) now_ms(), "result", result);
	if (e == NULL) {
		return;
	}
	const char *keep[] = {"to", "from", "variables", "voicemail",
	    "analysis", "agent", "since_ms", "provider_call_id", NULL};
	for (size_t i = 0; keep[i] != NULL; i++) {
		json_t *v = json_object_get(d, keep[i]);
		if (v != NULL) {
			json_object_set(e, keep[i], v);
		}
	}
	/* Whether credentials came, and their account_sid: never a
	 * secret in a real plugin's log, fine in a test. */
	json_object_set(e, "credentials", json_object_get(d, "credentials") ?
	    json_object_get(d, "credentials") : json_null());
	json_array_append_new(p->events, e);
}

static cx_err
place(fk *p, const json_t *d, json_t **reply)
{
	const char *id = json_string_value(json_object_get(d, "call_id"));
	if (id == NULL || json_string_value(json_object_get(d, "to")) == NULL) {
		*reply = json_pack("{s:s}", "message", "call_id and to needed");
		return (CX_EINVAL);
	}
	pthread_mutex_lock(&p->mu);
	char what[32] = "ok";
	if (json_array_size(p->script) > 0) {
		snprintf(what, sizeof(what), "%s",
		    json_string_value(json_array_get(p->script, 0)));
		json_array_remove(p->script, 0);
	}
	bool dup = json_object_get(p->created, id) != NULL;
	log_event(p, "place", d, dup ? "duplicate" : what);
	cx_err rv = CX_OK;
	char pid[64];
	snprintf(pid, sizeof(pid), "FK%06u", ++p->seq);
	if (strcmp(what, "429") == 0) {
		*reply = json_pack("{s:s}", "message", "fake 429: slow down");
		rv = CX_EBUSY;
	} else if (strcmp(what, "500") == 0) {
		*reply = json_pack("{s:s}", "message", "fake 500");
		rv = CX_EIO;
	} else if (strcmp(what, "4xx") == 0) {
		*reply = json_pack("{s:s}", "message", "fake 21211: invalid To");
		rv = CX_EINVAL;
	} else if (strcmp(what, "timeout_created") == 0) {
		json_object_set_new(p->created, id, json_string(pid));
		rv = CX_ETIMEDOUT;
	} else if (strcmp(what, "timeout_lost") == 0) {
		rv = CX_ETIMEDOUT;
	} else {
		json_object_set_new(p->created, id, json_string(pid));
		*reply = json_pack("{s:s, s:s}", "provider_call_id", pid,
		    "status", CX_CALL_QUEUED);
	}
	pthread_mutex_unlock(&p->mu);
	return (rv);
}

static cx_err
fk_request(void *arg, const cx_msg *req, json_t **reply)
{
	fk *p = arg;
	const json_t *d = req->data;
	if (strcmp(req->type, CX_SVC_CALL_PLACE) == 0) {
		return (place(p, d, reply));
	}
	if (strcmp(req->type, CX_SVC_CALL_LOOKUP) == 0) {
		const char *id = json_string_value(json_object_get(d,
		    "call_id"));
		pthread_mutex_lock(&p->mu);
		json_t *pid = id != NULL ? json_object_get(p->created, id) :
		                           NULL;
		log_event(p, "lookup", d, pid != NULL ? "found" : "not_found");
		*reply = pid != NULL ? json_pack("{s:b, s:O, s:s}", "found", 1,
		                           "provider_call_id", pid, "status",
		                           CX_CALL_QUEUED) :
		                       json_pack("{s:b}", "found", 0);
		pthread_mutex_unlock(&p->mu);
		return (CX_OK);
	}
	if (strcmp(req->type, CX_SVC_CALL_HANGUP) == 0) {
		pthread_mutex_lock(&p->mu);
		bool ok = strcmp(p->hangup, "ok") == 0;
		log_event(p, "hangup", d, ok ? "ok" : "enotsup");
		pthread_mutex_unlock(&p->mu);
		return (ok ? CX_OK : CX_ENOTSUP);
	}
	if (strcmp(req->type, "fake.script") == 0) {
		pthread_mutex_lock(&p->mu);
		json_t *v;
		if ((v = json_object_get(d, "place")) != NULL) {
			json_array_extend(p->script, v);
		}
		if ((v = json_object_get(d, "deny")) != NULL) {
			json_array_extend(p->deny, v);
		}
		if ((v = json_object_get(d, "known")) != NULL) {
			size_t i;
			json_t *k;
			json_array_foreach (v, i, k) {
				char pid[64];
				snprintf(pid, sizeof(pid), "FK%06u", ++p->seq);
				json_object_set_new(p->created,
				    json_string_value(k), json_string(pid));
			}
		}
		if ((v = json_object_get(d, "forget")) != NULL) {
			size_t i;
			json_t *k;
			json_array_foreach (v, i, k) {
				json_object_del(p->created,
				    json_string_value(k));
			}
		}
		if ((v = json_object_get(d, "hangup")) != NULL) {
			snprintf(p->hangup, sizeof(p->hangup), "%s",
			    json_string_value(v));
		}
		pthread_mutex_unlock(&p->mu);
		return (CX_OK);
	}
	if (strcmp(req->type, "fake.log") == 0) {
		pthread_mutex_lock(&p->mu);
		*reply = json_pack("{s:O, s:O}", "events", p->events, "created",
		    p->created);
		pthread_mutex_unlock(&p->mu);
		return (CX_OK);
	}
	*reply = json_pack("{s:s}", "message", "unknown request type");
	return (CX_ENOENT);
}

static cx_verdict
fk_policy(void *arg, const cx_msg *q, const char **reason)
{
	fk *p = arg;
	if (strcmp(q->type, "policy.call.place") != 0) {
		return (CX_POLICY_ABSTAIN);
	}
	const char *to = json_string_value(json_object_get(q->data, "to"));
	cx_verdict v = CX_POLICY_ABSTAIN;
	pthread_mutex_lock(&p->mu);
	size_t i;
	json_t *n;
	json_array_foreach (p->deny, i, n) {
		if (to != NULL && strcmp(json_string_value(n), to) == 0) {
			v = CX_POLICY_DENY;
			*reason = "number is on the do-not-call list";
		}
	}
	pthread_mutex_unlock(&p->mu);
	return (v);
}

static cx_err
fk_init(void *state, const cx_host *h, const json_t *s)
{
	fk *p = state;
	cx_err rv;
	(void) s;
	p->host = h;
	pthread_mutex_init(&p->mu, NULL);
	p->script = json_array();
	p->deny = json_array();
	p->created = json_object();
	p->events = json_array();
	snprintf(p->hangup, sizeof(p->hangup), "ok");
	if (p->script == NULL || p->deny == NULL || p->created == NULL ||
	    p->events == NULL) {
		return (CX_ENOMEM);
	}
	if ((rv = h->serve(h, fk_request, p)) != CX_OK ||
	    (rv = h->answer_policy(h, fk_policy, p)) != CX_OK) {
		return (rv);
	}
	return (CX_OK);
}

static void
fk_fini(void *state)
{
	fk *p = state;
	json_decref(p->script);
	json_decref(p->deny);
	json_decref(p->created);
	json_decref(p->events);
	pthread_mutex_destroy(&p->mu);
}

CX_PLUGIN_DEFINE(.kind = CX_KIND_TELEPHONY, .name = "faketel",
    .version = "0.0.1", .summary = "Test plugin: a scripted telephony "
    "provider for the dialer tests", .settings = fk_settings,
    .state_size = sizeof(fk), .init = fk_init, .fini = fk_fini);
