/*
 * hello - the example plugin of the Callixo SDK.
 *
 * It shows every part of the host API an integrator needs: declared
 * settings, a service request ("hello.greet"), events published and
 * subscribed to, a policy answer, a timer and a webhook route. Copy this
 * folder to start a plugin of your own; see docs/plugin-guide.md.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <callixo/callixo.h>

typedef struct hello {
	const cx_host *host;
	pthread_mutex_t mu;
	char greeting[64];
	json_t *blocked;      /* names the policy answer denies */
	unsigned long calls;  /* call.completed events seen */
	unsigned long ticks;
} hello;

static const cx_setting hello_settings[] = {
    CX_SETTING_STR("greeting", CX_SET_RELOADABLE, "Hello",
        "Word put before the name in hello.greet replies"),
    CX_SETTING_LIST("blocked", CX_SET_RELOADABLE,
        "Names for which the policy.greet survey answers deny"),
    CX_SETTING_DURATION("tick", 0, "0", 0, 3600000,
        "Publish hello.tick at this interval; 0 disables"),
    CX_SETTINGS_END,
};

static void
apply(hello *p, const json_t *s)
{
	pthread_mutex_lock(&p->mu);
	snprintf(p->greeting, sizeof(p->greeting), "%s",
	    json_string_value(json_object_get(s, "greeting")));
	json_decref(p->blocked);
	json_t *b = json_object_get(s, "blocked");
	p->blocked = json_is_array(b) ? json_deep_copy(b) : json_array();
	pthread_mutex_unlock(&p->mu);
}

/* Service: {"who": "ann"} -> {"message": "Hello, ann"}. */
static cx_err
hello_request(void *arg, const cx_msg *req, json_t **reply)
{
	hello *p = arg;
	if (strcmp(req->type, "hello.greet") != 0) {
		*reply = json_pack("{s:s}", "message", "unknown request type");
		return (CX_ENOENT);
	}
	const char *who = json_string_value(json_object_get(req->data, "who"));
	if (who == NULL || who[0] == '\0') {
		*reply = json_pack("{s:s}", "message", "'who' is required");
		return (CX_EINVAL);
	}
	char msg[256];
	pthread_mutex_lock(&p->mu);
	snprintf(msg, sizeof(msg), "%s, %s", p->greeting, who);
	pthread_mutex_unlock(&p->mu);
	*reply = json_pack("{s:s}", "message", msg);
	p->host->publish(p->host, "hello.greeted", req->account,
	    json_pack("{s:s}", "who", who));
	return (CX_OK);
}

static void
hello_on_call(void *arg, const cx_msg *ev)
{
	hello *p = arg;
	(void) ev;
	pthread_mutex_lock(&p->mu);
	p->calls++;
	pthread_mutex_unlock(&p->mu);
}

static cx_verdict
hello_policy(void *arg, const cx_msg *q, const char **reason)
{
	hello *p = arg;
	if (strcmp(q->type, "policy.greet") != 0) {
		return (CX_POLICY_ABSTAIN);
	}
	const char *who = json_string_value(json_object_get(q->data, "who"));
	cx_verdict v = CX_POLICY_ALLOW;
	pthread_mutex_lock(&p->mu);
	size_t i;
	json_t *b;
	json_array_foreach (p->blocked, i, b) {
		if (who != NULL && strcmp(json_string_value(b), who) == 0) {
			v = CX_POLICY_DENY;
			*reason = "name is blocked";
		}
	}
	pthread_mutex_unlock(&p->mu);
	return (v);
}

static void
hello_tick(void *arg)
{
	hello *p = arg;
	pthread_mutex_lock(&p->mu);
	unsigned long n = ++p->ticks;
	pthread_mutex_unlock(&p->mu);
	p->host->publish(p->host, "hello.tick", NULL,
	    json_pack("{s:I}", "n", (json_int_t) n));
}

/* Webhook: POST /webhooks/<name>/ping echoes what it got. */
static cx_err
hello_ping(void *arg, const cx_http_req *req, cx_http_resp *resp)
{
	hello *p = arg;
	const char *ctype = cx_http_req_header(req, "Content-Type");
	pthread_mutex_lock(&p->mu);
	unsigned long calls = p->calls;
	pthread_mutex_unlock(&p->mu);
	json_t *j = json_pack("{s:s, s:I, s:s, s:s, s:I}", "plugin",
	    p->host->name, "bytes", (json_int_t) req->body_len, "query",
	    req->query, "content_type", ctype ? ctype : "", "calls_seen",
	    (json_int_t) calls);
	char *body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (body == NULL) {
		return (CX_ENOMEM);
	}
	cx_err rv = cx_http_resp_set(resp, 200, "application/json", body,
	    strlen(body));
	free(body);
	return (rv);
}

static cx_err
hello_init(void *state, const cx_host *h, const json_t *s)
{
	hello *p = state;
	cx_err rv;
	p->host = h;
	pthread_mutex_init(&p->mu, NULL);
	apply(p, s);
	if ((rv = h->serve(h, hello_request, p)) != CX_OK ||
	    (rv = h->subscribe(h, CX_TOPIC_CALL_COMPLETED, hello_on_call, p)) !=
	        CX_OK ||
	    (rv = h->answer_policy(h, hello_policy, p)) != CX_OK ||
	    (rv = h->http_route(h, "POST", "/ping", hello_ping, p)) != CX_OK) {
		json_decref(p->blocked);
		pthread_mutex_destroy(&p->mu);
		return (rv);
	}
	json_int_t tick = json_integer_value(json_object_get(s, "tick"));
	if (tick > 0 &&
	    (rv = h->timer_add(h, tick, tick, hello_tick, p, NULL)) != CX_OK) {
		json_decref(p->blocked);
		pthread_mutex_destroy(&p->mu);
		return (rv);
	}
	h->log(h, CX_LOG_INFO, "hello is up, greeting with '%s'", p->greeting);
	return (CX_OK);
}

static cx_err
hello_reconfigure(void *state, const json_t *s)
{
	apply(state, s);
	return (CX_OK);
}

static void
hello_fini(void *state)
{
	hello *p = state;
	json_decref(p->blocked);
	pthread_mutex_destroy(&p->mu);
}

CX_PLUGIN_DEFINE(.kind = CX_KIND_GENERIC, .name = "hello",
    .version = "1.0.0", .summary = "SDK example: greets, counts calls",
    .settings = hello_settings, .state_size = sizeof(hello),
    .init = hello_init, .reconfigure = hello_reconfigure,
    .fini = hello_fini);
