/*
 * lifecycle - a test plugin whose behaviour is chosen by its settings:
 * it can fail or decline init, fail start, or abort() at init, start or
 * on a request (to test process isolation). It records each lifecycle
 * call in <data_dir>/lifecycle.log so tests can check order, and it uses
 * every member of the host table.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <callixo/callixo.h>

typedef struct lc {
	const cx_host *h;
	char log[4200];
	char fail[16];
	char crash[16];
	int generation;
} lc;

static const char *const stages[] = {"none", "init", "start", "request",
    NULL};
static const char *const fails[] = {"none", "init", "decline", "start", NULL};

static const cx_setting lc_settings[] = {
    CX_SETTING_ENUM("fail", 0, "none", fails,
        "Return an error (or decline) at this stage"),
    CX_SETTING_ENUM("crash", 0, "none", stages, "abort() at this stage"),
    CX_SETTING_INT("generation", CX_SET_RELOADABLE, "1", 0, 1000,
        "Free-form number; changing it exercises reconfigure"),
    CX_SETTING_STR("label", 0, "x", "Changing it forces a restart"),
    CX_SETTING_SECRET("token", 0, "A secret that must never be logged"),
    CX_SETTINGS_END,
};

static void
record(lc *p, const char *what)
{
	int fd = open(p->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		char line[128];
		int n = snprintf(line, sizeof(line), "%s %d\n", what,
		    p->generation);
		if (write(fd, line, (size_t) n) < 0) {
			p->h->log(p->h, CX_LOG_WARN, "cannot record %s", what);
		}
		close(fd);
	}
}

static cx_err
lc_request(void *arg, const cx_msg *req, json_t **reply)
{
	lc *p = arg;
	if (strcmp(p->crash, "request") == 0 ||
	    strcmp(req->type, "lifecycle.crash") == 0) {
		abort();
	}
	*reply = json_pack("{s:s, s:i, s:s}", "name", p->h->name,
	    "generation", p->generation, "type", req->type);
	return (CX_OK);
}

static cx_err
lc_http(void *arg, const cx_http_req *req, cx_http_resp *resp)
{
	lc *p = arg;
	char body[256];
	int n = snprintf(body, sizeof(body),
	    "{\"plugin\":\"%s\",\"pid\":%d,\"bytes\":%zu}", p->h->name,
	    (int) getpid(), req->body_len);
	return (cx_http_resp_set(resp, 200, "application/json", body,
	    (size_t) n));
}

static void
lc_tick(void *arg)
{
	lc *p = arg;
	p->h->metric_add(p->h, "lifecycle_ticks_total", 1);
}

static cx_verdict
lc_policy(void *arg, const cx_msg *q, const char **reason)
{
	(void) arg;
	if (json_is_true(json_object_get(q->data, "deny"))) {
		*reason = "asked to deny";
		return (CX_POLICY_DENY);
	}
	return (CX_POLICY_ALLOW);
}

static cx_err
lc_init(void *state, const cx_host *h, const json_t *s)
{
	lc *p = state;
	p->h = h;
	snprintf(p->log, sizeof(p->log), "%s/lifecycle.log", h->data_dir);
	snprintf(p->fail, sizeof(p->fail), "%s",
	    json_string_value(json_object_get(s, "fail")));
	snprintf(p->crash, sizeof(p->crash), "%s",
	    json_string_value(json_object_get(s, "crash")));
	p->generation = (int) json_integer_value(json_object_get(s,
	    "generation"));
	record(p, "init");
	if (strcmp(p->crash, "init") == 0) {
		abort();
	}
	if (strcmp(p->fail, "init") == 0) {
		return (CX_EIO);
	}
	if (strcmp(p->fail, "decline") == 0) {
		return (CX_EDECLINE);
	}
	cx_err rv;
	if ((rv = h->serve(h, lc_request, p)) != CX_OK ||
	    (rv = h->http_route(h, "POST", "/hit", lc_http, p)) != CX_OK ||
	    (rv = h->http_route(h, "GET", "/tree/", lc_http, p)) != CX_OK ||
	    (rv = h->timer_add(h, 10, 50, lc_tick, p, NULL)) != CX_OK) {
		return (rv);
	}
	if (CX_HOST_HAS(h, answer_policy) &&
	    (rv = h->answer_policy(h, lc_policy, p)) != CX_OK) {
		return (rv);
	}
	h->log(h, CX_LOG_INFO, "lifecycle init, generation %d", p->generation);
	return (CX_OK);
}

static cx_err
lc_start(void *state)
{
	lc *p = state;
	record(p, "start");
	if (strcmp(p->crash, "start") == 0) {
		abort();
	}
	if (strcmp(p->fail, "start") == 0) {
		return (CX_EIO);
	}
	return (p->h->publish(p->h, "lifecycle.started", NULL,
	    json_pack("{s:i}", "generation", p->generation)));
}

static cx_err
lc_reconfigure(void *state, const json_t *s)
{
	lc *p = state;
	p->generation = (int) json_integer_value(json_object_get(s,
	    "generation"));
	record(p, "reconfigure");
	return (CX_OK);
}

static void
lc_stop(void *state)
{
	record(state, "stop");
}

static void
lc_fini(void *state)
{
	record(state, "fini");
}

CX_PLUGIN_DEFINE(.kind = CX_KIND_GENERIC, .name = "lifecycle",
    .version = "0.0.1", .summary = "Test plugin: scripted lifecycle",
    .settings = lc_settings, .state_size = sizeof(lc), .init = lc_init,
    .start = lc_start, .reconfigure = lc_reconfigure, .stop = lc_stop,
    .fini = lc_fini);
