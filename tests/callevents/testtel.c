/*
 * testtel - a tiny telephony plugin for the call events tests. It does
 * what a provider plugin does towards the core, on command:
 *   - bus request "forward" {"type": "call.event"|..., "data": {...}}:
 *     sends data to the core service through its own cx_host and
 *     answers {"rv": <cx_err>, "reply": <the core's answer>};
 *   - POST /webhooks/<name>/forward with the same body: the same, over
 *     HTTP (the daemon integration test);
 *   - POST /webhooks/<name>/file/<fname>: writes the body into its data
 *     dir, as a provider plugin writes a downloaded recording.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <callixo/callixo.h>

typedef struct tt {
	const cx_host *h;
} tt;

static json_t *
forward(tt *t, const json_t *cmd)
{
	const char *type = json_string_value(json_object_get(cmd, "type"));
	json_t *data = json_object_get(cmd, "data");
	json_t *reply = NULL;
	if (type == NULL || !json_is_object(data)) {
		return (NULL);
	}
	cx_err rv = t->h->call(t->h, "core", type, NULL,
	    json_deep_copy(data), 10000, &reply);
	return (json_pack("{s:i, s:o}", "rv", (int) rv,
	    "reply", reply != NULL ? reply : json_null()));
}

static cx_err
tt_serve(void *arg, const cx_msg *req, json_t **reply)
{
	if (strcmp(req->type, "forward") != 0) {
		return (CX_ENOTSUP);
	}
	*reply = forward(arg, req->data);
	return (*reply != NULL ? CX_OK : CX_EINVAL);
}

static bool
fname_ok(const char *s)
{
	if (*s == '\0' || *s == '.') {
		return (false);
	}
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		        *s == '.' || *s == '_' || *s == '-')) {
			return (false);
		}
	}
	return (true);
}

static cx_err
tt_http(void *arg, const cx_http_req *req, cx_http_resp *resp)
{
	tt *t = arg;
	if (strncmp(req->subpath, "/file/", 6) == 0) {
		const char *name = req->subpath + 6;
		char path[1024];
		if (!fname_ok(name)) {
			resp->status = 400;
			return (CX_OK);
		}
		snprintf(path, sizeof(path), "%s/%s", t->h->data_dir, name);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		bool ok = fd >= 0 && write(fd, req->body, req->body_len) ==
		    (ssize_t) req->body_len;
		if (fd >= 0) {
			close(fd);
		}
		char out[1100];
		snprintf(out, sizeof(out), "{\"path\":\"%s\"}", path);
		return (cx_http_resp_set(resp, ok ? 200 : 500,
		    "application/json", out, strlen(out)));
	}
	json_t *cmd = json_loadb((const char *) req->body, req->body_len, 0,
	    NULL);
	json_t *r = forward(t, cmd);
	json_decref(cmd);
	char *text = r != NULL ? json_dumps(r, JSON_COMPACT) : NULL;
	json_decref(r);
	cx_err rv = text == NULL ? cx_http_resp_set(resp, 400,
	                               "application/json", "{}", 2) :
	                           cx_http_resp_set(resp, 200,
	                               "application/json", text, strlen(text));
	free(text);
	return (rv);
}

static cx_err
tt_init(void *state, const cx_host *h, const json_t *s)
{
	(void) s;
	tt *t = state;
	t->h = h;
	/* The unit tests run a core without HTTP: the routes are only
	 * for the daemon test, so their absence is fine. */
	if (h->http_route(h, "POST", "/forward", tt_http, t) != CX_OK ||
	    h->http_route(h, "POST", "/file/", tt_http, t) != CX_OK) {
		h->log(h, CX_LOG_INFO, "no HTTP routes (core without HTTP)");
	}
	return (h->serve(h, tt_serve, t));
}

CX_PLUGIN_DEFINE(.kind = CX_KIND_TELEPHONY, .name = "testtel",
    .version = "0.0.1",
    .summary = "Test telephony plugin: forwards call events to the core",
    .state_size = sizeof(tt), .init = tt_init);
