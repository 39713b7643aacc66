/*
 * test_retell.c - the retell plugin in the SDK test kit, against the
 * loopback fake Retell (fake_retell.py) with the official retell-sdk as
 * the signature oracle. Run under retell_harness.sh:
 *
 *   retell_harness.sh test_retell <retell.so>
 *
 * The test stands in for the core ("core" service: call.event,
 * call.credentials, call.recording) and asserts on what the plugin
 * sends Retell (the fake logs every request) and the core.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <callixo/testkit.h>
#include <callixo/telephony.h>

#include "retell.h"

static const char *plugin_path;
static const char *fake_url, *fake_key, *acct_key;

/* ---- the core stand-in ---- */

static struct {
	pthread_mutex_t mu;
	json_t *events;     /* call.event data, in arrival order */
	json_t *recordings; /* call.recording data + "size", "riff" */
	json_t *creds;      /* cx_call_id -> api_key */
	json_t *seen;       /* event_id -> true */
	int fail_events;    /* answer CX_EIO to this many call.event */
	int cred_asks;
} core;

static cx_err
core_fn(void *arg, const cx_msg *req, json_t **reply)
{
	(void) arg;
	cx_err e = CX_OK;
	pthread_mutex_lock(&core.mu);
	if (strcmp(req->type, CX_SVC_CALL_EVENT) == 0) {
		if (core.fail_events > 0) {
			core.fail_events--;
			e = CX_EIO;
		} else {
			const char *id = json_string_value(
			    json_object_get(req->data, "event_id"));
			bool dup = json_object_get(core.seen, id) != NULL;
			json_object_set_new(core.seen, id, json_true());
			json_array_append(core.events, (json_t *) req->data);
			*reply = json_pack("{s:b}", "duplicate", dup);
		}
	} else if (strcmp(req->type, CX_SVC_CALL_CREDENTIALS) == 0) {
		core.cred_asks++;
		const char *k = json_string_value(json_object_get(core.creds,
		    json_string_value(json_object_get(req->data, "call_id"))));
		*reply = k ? json_pack("{s:{s:s}}", "credentials", "api_key", k) :
		             json_object();
	} else if (strcmp(req->type, CX_SVC_CALL_RECORDING) == 0) {
		json_t *r = json_deep_copy(req->data);
		const char *p = json_string_value(json_object_get(r, "path"));
		FILE *f = p ? fopen(p, "rb") : NULL;
		char head[4] = {0};
		struct stat st;
		if (f != NULL && fread(head, 1, 4, f) == 4 &&
		    fstat(fileno(f), &st) == 0) {
			json_object_set_new(r, "size", json_integer(st.st_size));
			json_object_set_new(r, "riff",
			    json_boolean(memcmp(head, "RIFF", 4) == 0));
		}
		if (f != NULL) {
			fclose(f);
		}
		json_array_append_new(core.recordings, r);
		*reply = json_pack("{s:s}", "recording", "blob_test");
	} else {
		e = CX_ENOTSUP;
	}
	pthread_mutex_unlock(&core.mu);
	return (e);
}

static void
core_reset(void)
{
	pthread_mutex_lock(&core.mu);
	json_array_clear(core.events);
	json_array_clear(core.recordings);
	json_object_clear(core.creds);
	json_object_clear(core.seen);
	core.fail_events = 0;
	core.cred_asks = 0;
	pthread_mutex_unlock(&core.mu);
}

static size_t
n_events(void)
{
	pthread_mutex_lock(&core.mu);
	size_t n = json_array_size(core.events);
	pthread_mutex_unlock(&core.mu);
	return (n);
}

static json_t *
event_at(size_t i)
{
	pthread_mutex_lock(&core.mu);
	json_t *e = json_deep_copy(json_array_get(core.events, i));
	pthread_mutex_unlock(&core.mu);
	return (e);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0) {
	}
}

/* Waits until the core has seen n recordings; returns a copy. */
static json_t *
wait_recordings(size_t n, int ms)
{
	for (int t = 0; t < ms; t += 20) {
		pthread_mutex_lock(&core.mu);
		if (json_array_size(core.recordings) >= n) {
			json_t *c = json_deep_copy(core.recordings);
			pthread_mutex_unlock(&core.mu);
			return (c);
		}
		pthread_mutex_unlock(&core.mu);
		sleep_ms(20);
	}
	pthread_mutex_lock(&core.mu);
	json_t *c = json_deep_copy(core.recordings);
	pthread_mutex_unlock(&core.mu);
	return (c);
}

/* ---- talking to the fake ---- */

typedef struct buf {
	char *p;
	size_t n;
} buf;

static size_t
on_data(char *d, size_t s, size_t m, void *arg)
{
	buf *b = arg;
	char *np = realloc(b->p, b->n + s * m + 1);
	assert_non_null(np);
	b->p = np;
	memcpy(b->p + b->n, d, s * m);
	b->n += s * m;
	b->p[b->n] = '\0';
	return (s * m);
}

static json_t *
fake(const char *method, const char *path, const char *body)
{
	char url[512];
	buf b = {0};
	snprintf(url, sizeof(url), "%s%s", fake_url, path);
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL,
	    "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	json_t *j = json_loads(b.p ? b.p : "{}", 0, NULL);
	free(b.p);
	assert_non_null(j);
	return (j);
}

static void
fake_mode(const char *json)
{
	json_decref(fake("POST", "/_fake/mode", json));
}

/* The last API request the fake saw. */
static json_t *
last_request(void)
{
	json_t *all = fake("GET", "/_fake/requests", NULL);
	json_t *r = json_incref(json_array_get(all, json_array_size(all) - 1));
	json_decref(all);
	assert_non_null(r);
	return (r);
}

/* ---- the official SDK as oracle ---- */

static char *
oracle(const char *mode, const char *key, const char *body, const char *sig,
    int *rc)
{
	char tmp[] = "/tmp/cxretell-body.XXXXXX", cmd[1024];
	int fd = mkstemp(tmp);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, body, strlen(body)), (ssize_t) strlen(body));
	close(fd);
	setenv("RETELL_ORACLE_KEY", key, 1);
	setenv("RETELL_ORACLE_SIG", sig ? sig : "", 1);
	snprintf(cmd, sizeof(cmd), "node '%s' %s < '%s'",
	    getenv("RETELL_ORACLE"), mode, tmp);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char out[256] = {0};
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	unlink(tmp);
	*rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return (strdup(out));
}

/* ---- the plugin ---- */

static cx_testkit *
kit(const char *extra)
{
	char yaml[1024];
	cx_testkit *tk;
	bool own_backoff = extra != NULL && strstr(extra, "recording_backoff");
	snprintf(yaml, sizeof(yaml), "api_key: %s\napi_base: %s\n"
	    "http_timeout: 1500ms\n%s"
	    "public_url: https://calls.example.com\n%s",
	    fake_key, fake_url, own_backoff ? "" : "recording_backoff: 50ms\n",
	    extra ? extra : "");
	core_reset();
	assert_int_equal(cx_testkit_new(&tk), CX_OK);
	assert_int_equal(cx_testkit_serve(tk, CX_SVC_CORE, core_fn, NULL),
	    CX_OK);
	if (cx_testkit_load(tk, plugin_path, yaml) != CX_OK) {
		fail_msg("load: %s", cx_testkit_error(tk));
	}
	assert_int_equal(cx_testkit_start(tk), CX_OK);
	fake_mode("{\"create\":\"ok\",\"recording_fail\":0,"
	    "\"recording_kind\":\"wav\"}");
	return (tk);
}

static cx_err
place(cx_testkit *tk, const char *cx_id, const char *creds, json_t **reply)
{
	char req[1024];
	snprintf(req, sizeof(req),
	    "{\"v\":1,\"call_id\":\"%s\",\"to\":\"+14155550123\","
	    "\"from\":\"+14155550100\",\"agent\":\"agent_7f3a\","
	    "\"record\":true,\"disclosure\":true,\"machine_detection\":true,"
	    "\"voicemail\":{\"action\":\"message\",\"message\":\"Call us\"},"
	    "\"variables\":{\"name\":\"Ada\",\"plan\":\"pro\",\"seats\":3},"
	    "\"analysis\":{\"summary\":true,\"fields\":[{\"name\":"
	    "\"interested\",\"type\":\"boolean\",\"description\":\"Wants a "
	    "demo\"}]}%s%s}",
	    cx_id, creds ? ",\"credentials\":" : "", creds ? creds : "");
	*reply = NULL;
	return (cx_testkit_request(tk, CX_SVC_CALL_PLACE, req, 5000, reply));
}

static int
deliver(cx_testkit *tk, const char *body, const char *sig)
{
	char hdr[160];
	const char *hdrs[] = {"Content-Type: application/json", hdr, NULL};
	int status = 0;
	char *rb = NULL;
	size_t rl = 0;
	snprintf(hdr, sizeof(hdr), "x-retell-signature: %s", sig);
	assert_int_equal(cx_testkit_http(tk, "POST", "/webhooks/retell",
	                     sig ? hdrs : hdrs + 2, body, strlen(body), &status,
	                     &rb, &rl),
	    CX_OK);
	free(rb);
	return (status);
}

/* A webhook as the fake (Retell) would post it: body and signature. */
static json_t *
webhook(const char *call_id, const char *event, const char *extra)
{
	char req[512];
	snprintf(req, sizeof(req), "{\"call_id\":\"%s\",\"event\":\"%s\"%s%s}",
	    call_id, event, extra ? "," : "", extra ? extra : "");
	return (fake("POST", "/_fake/webhook", req));
}

static int
send_event(cx_testkit *tk, const char *call_id, const char *event,
    const char *extra)
{
	json_t *w = webhook(call_id, event, extra);
	int st = deliver(tk, json_string_value(json_object_get(w, "body")),
	    json_string_value(json_object_get(w, "signature")));
	json_decref(w);
	return (st);
}

/* ---- tests ---- */

static void
test_place_wire(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit(NULL);
	json_t *rep;
	assert_int_equal(place(tk, "call_cx1", NULL, &rep), CX_OK);
	const char *pcid = json_string_value(json_object_get(rep,
	    "provider_call_id"));
	assert_non_null(pcid);
	assert_string_equal(json_string_value(json_object_get(rep, "status")),
	    "queued");
	json_t *r = last_request();
	assert_string_equal(json_string_value(json_object_get(r, "path")),
	    "/v2/create-phone-call");
	char auth[300];
	snprintf(auth, sizeof(auth), "Bearer %s", fake_key);
	assert_string_equal(json_string_value(json_object_get(r, "auth")), auth);
	assert_string_equal(json_string_value(json_object_get(r,
	                        "content_type")), "application/json");
	json_t *b = json_loads(json_string_value(json_object_get(r, "body")),
	    0, NULL);
	assert_string_equal(json_string_value(json_object_get(b,
	                        "from_number")), "+14155550100");
	assert_string_equal(json_string_value(json_object_get(b, "to_number")),
	    "+14155550123");
	assert_string_equal(json_string_value(json_object_get(b,
	                        "override_agent_id")), "agent_7f3a");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	                        b, "metadata"), "cx_call_id")), "call_cx1");
	json_t *dv = json_object_get(b, "retell_llm_dynamic_variables");
	assert_string_equal(json_string_value(json_object_get(dv, "name")),
	    "Ada");
	assert_string_equal(json_string_value(json_object_get(dv, "seats")),
	    "3");
	assert_string_equal(json_string_value(json_object_get(dv,
	                        "cx_recording_disclosure")), "true");
	json_t *ag = json_object_get(json_object_get(b, "agent_override"),
	    "agent");
	json_t *vo = json_object_get(json_object_get(ag, "voicemail_option"),
	    "action");
	assert_string_equal(json_string_value(json_object_get(vo, "type")),
	    "static_text");
	assert_string_equal(json_string_value(json_object_get(vo, "text")),
	    "Call us");
	json_t *pca = json_array_get(json_object_get(ag,
	    "post_call_analysis_data"), 0);
	assert_string_equal(json_string_value(json_object_get(pca, "type")),
	    "boolean");
	assert_string_equal(json_string_value(json_object_get(pca, "name")),
	    "interested");
	json_decref(b);
	json_decref(r);
	json_decref(rep);

	/* The account's vault key wins over the settings. */
	char creds[200];
	snprintf(creds, sizeof(creds), "{\"api_key\":\"%s\"}", acct_key);
	assert_int_equal(place(tk, "call_cx2", creds, &rep), CX_OK);
	json_decref(rep);
	r = last_request();
	snprintf(auth, sizeof(auth), "Bearer %s", acct_key);
	assert_string_equal(json_string_value(json_object_get(r, "auth")), auth);
	json_decref(r);
	/* A vault entry without an api_key never falls back to ours. */
	assert_int_equal(place(tk, "call_cx3", "{\"token\":\"x\"}", &rep),
	    CX_EINVAL);
	assert_non_null(strstr(json_string_value(json_object_get(rep,
	                           "message")), "api_key"));
	json_decref(rep);
	cx_testkit_free(tk);
}

static void
expect_place_error(cx_testkit *tk, const char *mode, cx_err want,
    const char *msg_part)
{
	char m[96];
	json_t *rep;
	snprintf(m, sizeof(m), "{\"create\":\"%s\",\"slow_ms\":2000}", mode);
	fake_mode(m);
	assert_int_equal(place(tk, "call_err", NULL, &rep), want);
	const char *msg = json_string_value(json_object_get(rep, "message"));
	if (msg_part != NULL) {
		assert_non_null(msg);
		if (strstr(msg, msg_part) == NULL) {
			fail_msg("message '%s' lacks '%s'", msg, msg_part);
		}
	}
	json_decref(rep);
}

static void
test_place_errors(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit(NULL);
	expect_place_error(tk, "400", CX_EINVAL, "to_number is invalid");
	expect_place_error(tk, "401", CX_EINVAL, "invalid api key");
	expect_place_error(tk, "402", CX_EINVAL, "Trial has ended");
	expect_place_error(tk, "422", CX_EINVAL, "Cannot find requested asset");
	expect_place_error(tk, "429", CX_EBUSY, "rate limited, please "
	    "throttle your requests. (retry after 2000 ms)");
	expect_place_error(tk, "500", CX_EIO, "500");
	expect_place_error(tk, "slow", CX_ETIMEDOUT, "may exist");
	/* Retell placed it all the same, after we gave up: the lookup the
	 * dialer runs before any retry finds it. */
	sleep_ms(800);
	json_t *l;
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_LOOKUP,
	                     "{\"v\":1,\"call_id\":\"call_err\",\"to\":"
	                     "\"+14155550123\",\"from\":\"+14155550100\","
	                     "\"since_ms\":1}", 5000, &l),
	    CX_OK);
	assert_true(json_is_true(json_object_get(l, "found")));
	json_decref(l);
	cx_testkit_free(tk);

	/* A wrong key is Retell's 401 from the real check, not a mode. */
	tk = kit("");
	assert_int_equal(cx_testkit_reconfigure(tk, "api_key: wrong\n"
	                     "api_base: http://127.0.0.1:1\n"), CX_OK);
	json_t *rep;
	assert_int_equal(place(tk, "call_x", NULL, &rep), CX_EIO);
	json_decref(rep);
	cx_testkit_free(tk);
	char y[400];
	snprintf(y, sizeof(y), "api_key: wrong\napi_base: %s\n", fake_url);
	assert_int_equal(cx_testkit_new(&tk), CX_OK);
	assert_int_equal(cx_testkit_load(tk, plugin_path, y), CX_OK);
	assert_int_equal(cx_testkit_start(tk), CX_OK);
	assert_int_equal(place(tk, "call_y", NULL, &rep), CX_EINVAL);
	assert_non_null(strstr(json_string_value(json_object_get(rep,
	                           "message")), "401"));
	json_decref(rep);
	cx_testkit_free(tk);
}

static void
test_lookup_hangup(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit(NULL);
	json_t *rep, *l;
	assert_int_equal(place(tk, "call_lk1", NULL, &rep), CX_OK);
	char pcid[128], q[400];
	snprintf(pcid, sizeof(pcid), "%s", json_string_value(json_object_get(
	    rep, "provider_call_id")));
	json_decref(rep);
	/* 120 other calls to the same number: the match is on page 1 (it is
	 * newest), then seed more so an older call needs paging. */
	json_decref(fake("POST", "/_fake/seed", "{\"n\":120,\"to_number\":"
	    "\"+14155550123\",\"from_number\":\"+14155550100\"}"));
	snprintf(q, sizeof(q), "{\"v\":1,\"call_id\":\"call_lk1\",\"to\":"
	    "\"+14155550123\",\"from\":\"+14155550100\",\"since_ms\":1}");
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_LOOKUP, q, 5000, &l),
	    CX_OK);
	assert_true(json_is_true(json_object_get(l, "found")));
	assert_string_equal(json_string_value(json_object_get(l,
	                        "provider_call_id")), pcid);
	assert_string_equal(json_string_value(json_object_get(l, "status")),
	    "queued");
	json_decref(l);
	json_t *r = last_request();
	assert_string_equal(json_string_value(json_object_get(r, "path")),
	    "/v3/list-calls");
	json_decref(r);
	/* Among the seeded ones, one that needs the pagination_key. */
	snprintf(q, sizeof(q), "{\"v\":1,\"call_id\":\"call_fill3\",\"to\":"
	    "\"+14155550123\",\"from\":\"+14155550100\",\"since_ms\":1}");
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_LOOKUP, q, 5000, &l),
	    CX_OK);
	assert_true(json_is_true(json_object_get(l, "found")));
	json_decref(l);
	/* Never placed. */
	snprintf(q, sizeof(q), "{\"v\":1,\"call_id\":\"call_never\",\"to\":"
	    "\"+14155550123\",\"from\":\"+14155550100\",\"since_ms\":1}");
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_LOOKUP, q, 5000, &l),
	    CX_OK);
	assert_true(json_is_false(json_object_get(l, "found")));
	json_decref(l);
	/* By Retell's id: get-call; an unknown id is 422 there. */
	snprintf(q, sizeof(q), "{\"v\":1,\"call_id\":\"call_lk1\","
	    "\"provider_call_id\":\"%s\"}", pcid);
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_LOOKUP, q, 5000, &l),
	    CX_OK);
	assert_true(json_is_true(json_object_get(l, "found")));
	json_decref(l);
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_LOOKUP,
	                     "{\"v\":1,\"call_id\":\"c\",\"provider_call_id\":"
	                     "\"call_0000\"}", 5000, &l),
	    CX_OK);
	assert_true(json_is_false(json_object_get(l, "found")));
	json_decref(l);
	/* Hang up: POST /v2/stop-call/{id}; Retell then reports
	 * manual_stopped, which maps to canceled. */
	snprintf(q, sizeof(q), "{\"v\":1,\"call_id\":\"call_lk1\","
	    "\"provider_call_id\":\"%s\"}", pcid);
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_HANGUP, q, 5000, &l),
	    CX_OK);
	json_decref(l);
	r = last_request();
	char path[200];
	snprintf(path, sizeof(path), "/v2/stop-call/%s", pcid);
	assert_string_equal(json_string_value(json_object_get(r, "path")), path);
	json_decref(r);
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_LOOKUP, q, 5000, &l),
	    CX_OK);
	assert_string_equal(json_string_value(json_object_get(l, "status")),
	    "canceled");
	json_decref(l);
	/* A path-changing id never reaches Retell. */
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_HANGUP,
	                     "{\"v\":1,\"provider_call_id\":\"../v2/x\"}", 5000,
	                     &l),
	    CX_EINVAL);
	json_decref(l);
	cx_testkit_free(tk);
}

static const char *
placed_id(cx_testkit *tk, const char *cx_id, const char *creds, char *out)
{
	json_t *rep;
	assert_int_equal(place(tk, cx_id, creds, &rep), CX_OK);
	strcpy(out, json_string_value(json_object_get(rep, "provider_call_id")));
	json_decref(rep);
	return (out);
}

static json_t *
event_of(const char *event_id)
{
	for (size_t i = 0; i < n_events(); i++) {
		json_t *e = event_at(i);
		if (strcmp(json_string_value(json_object_get(e, "event_id")),
		        event_id) == 0) {
			return (e);
		}
		json_decref(e);
	}
	fail_msg("no event %s", event_id);
	return (NULL);
}

static void
test_events(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit(NULL);
	char pcid[128], eid[200];
	placed_id(tk, "call_ev1", NULL, pcid);
	/* Out of order: analyzed, then ended, then started; and twice. */
	assert_int_equal(send_event(tk, pcid, "call_analyzed", NULL), 204);
	assert_int_equal(send_event(tk, pcid, "call_ended", NULL), 204);
	assert_int_equal(send_event(tk, pcid, "call_started", NULL), 204);
	assert_int_equal(send_event(tk, pcid, "call_ended", NULL), 204);
	assert_int_equal(n_events(), 4);

	snprintf(eid, sizeof(eid), "%s:call_started", pcid);
	json_t *e = event_of(eid);
	assert_int_equal(json_integer_value(json_object_get(e, "seq")), 1);
	assert_string_equal(json_string_value(json_object_get(e, "status")),
	    "in_progress");
	assert_string_equal(json_string_value(json_object_get(e, "call_id")),
	    "call_ev1");
	assert_string_equal(json_string_value(json_object_get(e, "provider")),
	    "retell");
	assert_true(json_integer_value(json_object_get(e, "answered_at")) > 0);
	json_decref(e);

	snprintf(eid, sizeof(eid), "%s:call_ended", pcid);
	e = event_of(eid);
	assert_int_equal(json_integer_value(json_object_get(e, "seq")), 2);
	assert_string_equal(json_string_value(json_object_get(e, "status")),
	    "completed");
	assert_string_equal(json_string_value(json_object_get(e, "outcome")),
	    "answered");
	assert_int_equal(json_integer_value(json_object_get(e, "duration_ms")),
	    61500);
	assert_int_equal(json_integer_value(json_object_get(e, "cost_micros")),
	    125000);
	assert_string_equal(json_string_value(json_object_get(e,
	                        "disconnection_reason")), "user_hangup");
	assert_true(json_is_true(json_object_get(e, "recording_pending")));
	json_t *u = json_object_get(json_object_get(e, "transcript"),
	    "utterances");
	assert_int_equal(json_array_size(u), 2);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(u, 0), "speaker")), "agent");
	assert_int_equal(json_integer_value(json_object_get(
	                     json_array_get(u, 0), "start_ms")), 500);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_array_get(u, 0), "end_ms")), 2450);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(u, 1), "speaker")), "user");
	assert_non_null(strstr(json_string_value(json_object_get(
	    json_object_get(e, "transcript"), "text")), "Agent: Hi Ada"));
	assert_true(json_is_object(json_object_get(e, "raw")));
	json_decref(e);

	snprintf(eid, sizeof(eid), "%s:call_analyzed", pcid);
	e = event_of(eid);
	assert_int_equal(json_integer_value(json_object_get(e, "seq")), 3);
	assert_string_equal(json_string_value(json_object_get(e, "summary")),
	    "Ada wants a demo on Monday.");
	assert_string_equal(json_string_value(json_object_get(e, "sentiment")),
	    "positive");
	assert_true(json_is_true(json_object_get(e, "success")));
	assert_true(json_is_false(json_object_get(e, "voicemail")));
	assert_true(json_is_true(json_object_get(json_object_get(e,
	    "analysis"), "interested")));
	json_decref(e);

	/* One recording for the call, whatever the number of deliveries:
	 * a WAV that existed in data_dir while the core read it, gone now. */
	json_t *recs = wait_recordings(1, 5000);
	assert_int_equal(json_array_size(recs), 1);
	json_t *r0 = json_array_get(recs, 0);
	assert_true(json_is_true(json_object_get(r0, "riff")));
	assert_true(json_integer_value(json_object_get(r0, "size")) > 8000);
	assert_string_equal(json_string_value(json_object_get(r0,
	                        "content_type")), "audio/wav");
	assert_string_equal(json_string_value(json_object_get(r0, "call_id")),
	    "call_ev1");
	assert_string_equal(json_string_value(json_object_get(r0,
	                        "provider_call_id")), pcid);
	assert_int_equal(json_integer_value(json_object_get(r0,
	                     "duration_ms")), 61500);
	assert_int_equal(access(json_string_value(json_object_get(r0, "path")),
	                     F_OK), -1);
	json_decref(recs);
	sleep_ms(300);
	recs = wait_recordings(2, 0);
	assert_int_equal(json_array_size(recs), 1);
	json_decref(recs);

	/* A call that never connected: no call_started, then ended. */
	placed_id(tk, "call_ev2", NULL, pcid);
	assert_int_equal(send_event(tk, pcid, "call_ended",
	                     "\"reason\":\"dial_no_answer\""), 204);
	snprintf(eid, sizeof(eid), "%s:call_ended", pcid);
	e = event_of(eid);
	assert_string_equal(json_string_value(json_object_get(e, "status")),
	    "no_answer");
	assert_string_equal(json_string_value(json_object_get(e, "outcome")),
	    "no_answer");
	assert_null(json_object_get(e, "recording_pending"));
	json_decref(e);
	placed_id(tk, "call_ev3", NULL, pcid);
	assert_int_equal(send_event(tk, pcid, "call_analyzed",
	                     "\"reason\":\"voicemail_reached\","
	                     "\"in_voicemail\":true"), 204);
	snprintf(eid, sizeof(eid), "%s:call_analyzed", pcid);
	e = event_of(eid);
	assert_string_equal(json_string_value(json_object_get(e, "outcome")),
	    "voicemail");
	json_decref(e);
	placed_id(tk, "call_ev4", NULL, pcid);
	assert_int_equal(send_event(tk, pcid, "call_ended",
	                     "\"reason\":\"dial_busy\""), 204);
	snprintf(eid, sizeof(eid), "%s:call_ended", pcid);
	e = event_of(eid);
	assert_string_equal(json_string_value(json_object_get(e, "status")),
	    "busy");
	json_decref(e);
	cx_testkit_free(tk);
}

static void
test_core_failure_and_recording_retry(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit(NULL);
	char pcid[128];
	placed_id(tk, "call_cf", NULL, pcid);
	fake_mode("{\"recording_fail\":2,\"recording_kind\":\"mp3\"}");
	pthread_mutex_lock(&core.mu);
	core.fail_events = 1;
	pthread_mutex_unlock(&core.mu);
	/* Not stored: 5xx so Retell retries; the retry is acknowledged. */
	json_t *w = webhook(pcid, "call_ended", NULL);
	const char *body = json_string_value(json_object_get(w, "body"));
	const char *sig = json_string_value(json_object_get(w, "signature"));
	assert_int_equal(deliver(tk, body, sig), 503);
	assert_int_equal(n_events(), 0);
	assert_int_equal(deliver(tk, body, sig), 204);
	assert_int_equal(n_events(), 1);
	json_decref(w);
	/* Two 503s from storage, then the file: retried with backoff. It
	 * is MPEG behind a .wav name and a generic type: the bytes say. */
	json_t *recs = wait_recordings(1, 5000);
	fake_mode("{\"recording_kind\":\"wav\"}");
	assert_int_equal(json_array_size(recs), 1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(recs, 0), "content_type")),
	    "audio/mpeg");
	assert_true(json_integer_value(json_object_get(json_array_get(recs, 0),
	    "size")) > 16000);
	json_decref(recs);
	cx_testkit_free(tk);
}

static void
test_signatures(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit(NULL);
	char pcid[128], sig[96];
	int rc;
	placed_id(tk, "call_sig", NULL, pcid);
	json_t *w = webhook(pcid, "call_started", NULL);
	const char *body = json_string_value(json_object_get(w, "body"));
	const char *fsig = json_string_value(json_object_get(w, "signature"));

	/* The fake signs as Retell does: the official SDK agrees. */
	free(oracle("verify", fake_key, body, fsig, &rc));
	assert_int_equal(rc, 0);
	free(oracle("verify", acct_key, body, fsig, &rc));
	assert_int_equal(rc, 1);
	/* Our own signer (used by the fuzz corpus) agrees with the SDK. */
	retell_sig_make(fake_key, (const uint8_t *) body, strlen(body),
	    (uint64_t) time(NULL) * 1000, sig);
	free(oracle("verify", fake_key, body, sig, &rc));
	assert_int_equal(rc, 0);

	/* Rejected, never processed. */
	assert_int_equal(deliver(tk, body, NULL), 401);
	assert_int_equal(deliver(tk, body, "v=123,d=zz"), 401);
	assert_int_equal(deliver(tk, body, "sha256=abc"), 401);
	char *tampered = strdup(body);
	char *p = strstr(tampered, "ongoing");
	assert_non_null(p);
	memcpy(p, "ended  ", 7);
	assert_int_equal(deliver(tk, tampered, fsig), 401);
	free(tampered);
	json_decref(w);
	w = webhook(pcid, "call_started", "\"key\":\"not-the-key\"");
	assert_int_equal(deliver(tk, json_string_value(json_object_get(w,
	                                 "body")),
	                     json_string_value(json_object_get(w, "signature"))),
	    401);
	json_decref(w);
	char ts[64];
	snprintf(ts, sizeof(ts), "\"ts_ms\":%lld",
	    (long long) time(NULL) * 1000 - 6 * 60 * 1000);
	w = webhook(pcid, "call_started", ts);
	assert_int_equal(deliver(tk, json_string_value(json_object_get(w,
	                                 "body")),
	                     json_string_value(json_object_get(w, "signature"))),
	    401);
	json_decref(w);
	snprintf(ts, sizeof(ts), "\"ts_ms\":%lld",
	    (long long) time(NULL) * 1000 + 6 * 60 * 1000);
	w = webhook(pcid, "call_started", ts);
	assert_int_equal(deliver(tk, json_string_value(json_object_get(w,
	                                 "body")),
	                     json_string_value(json_object_get(w, "signature"))),
	    401);
	json_decref(w);
	assert_int_equal(n_events(), 0);

	/* Signed by the official SDK: accepted. */
	w = webhook(pcid, "call_started", NULL);
	body = json_string_value(json_object_get(w, "body"));
	char *osig = oracle("sign", fake_key, body, NULL, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(deliver(tk, body, osig), 204);
	assert_int_equal(n_events(), 1);
	/* Upper-case key letters and hex, as the SDK's regex allows. */
	for (char *q = osig; *q; q++) {
		*q = (char) (*q >= 'a' && *q <= 'f' ? *q - 32 : *q);
	}
	osig[0] = 'V';
	assert_int_equal(deliver(tk, body, osig), 204);
	/* Forwarded again: the core answers duplicate by event_id. */
	assert_int_equal(n_events(), 2);
	/* Leading zeros in v: the SDK hashes Number(v), so do we. */
	char zsig[128];
	snprintf(zsig, sizeof(zsig), "v=00%s", osig + 2);
	free(oracle("verify", fake_key, body, zsig, &rc));
	assert_int_equal(rc, 0);
	assert_int_equal(deliver(tk, body, zsig), 204);
	assert_int_equal(n_events(), 3);
	free(osig);
	json_decref(w);

	/* Signed, but not JSON / not an event: 400 naming the problem. */
	const char *bad[] = {"{\"event\": \"call_ended\", \"call\": ",
	    "{\"event\":\"call_ended\",\"call\":{}}"};
	const char *why[] = {"not JSON", "call_id"};
	for (int i = 0; i < 2; i++) {
		char *s = oracle("sign", fake_key, bad[i], NULL, &rc);
		char hdr[160];
		const char *hdrs[] = {hdr, NULL};
		int status;
		char *rb = NULL;
		size_t rl;
		snprintf(hdr, sizeof(hdr), "x-retell-signature: %s", s);
		assert_int_equal(cx_testkit_http(tk, "POST", "/webhooks/retell",
		                     hdrs, bad[i], strlen(bad[i]), &status, &rb,
		                     &rl),
		    CX_OK);
		assert_int_equal(status, 400);
		if (strstr(rb, why[i]) == NULL) {
			fail_msg("400 body '%s' lacks '%s'", rb, why[i]);
		}
		free(rb);
		free(s);
	}
	assert_int_equal(n_events(), 3);
	cx_testkit_free(tk);
}

/* A call placed with an account's vault key is signed with that key;
 * the plugin asks the core which, by metadata.cx_call_id. */
static void
test_vault_key_webhooks(void **unused)
{
	(void) unused;
	cx_testkit *tk = kit(NULL);
	char pcid[128], creds[200], k[200];
	snprintf(creds, sizeof(creds), "{\"api_key\":\"%s\"}", acct_key);
	placed_id(tk, "call_vault", creds, pcid);
	pthread_mutex_lock(&core.mu);
	json_object_set_new(core.creds, "call_vault", json_string(acct_key));
	pthread_mutex_unlock(&core.mu);
	snprintf(k, sizeof(k), "\"key\":\"%s\"", acct_key);
	assert_int_equal(send_event(tk, pcid, "call_started", k), 204);
	/* The platform key does not sign this account's calls. */
	assert_int_equal(send_event(tk, pcid, "call_ended", NULL), 401);
	assert_int_equal(n_events(), 1);
	pthread_mutex_lock(&core.mu);
	assert_true(core.cred_asks >= 2);
	pthread_mutex_unlock(&core.mu);
	cx_testkit_free(tk);
}

/* The tk's data directory: the only cxtk.* under our own TMPDIR. */
static void
kit_dir(const char *tmpdir, char *out, size_t cap)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	out[0] = '\0';
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "cxtk.", 5) == 0) {
			snprintf(out, cap, "%s/%s/plugins/retell", tmpdir,
			    e->d_name);
		}
	}
	closedir(d);
	assert_true(out[0] != '\0');
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *b = calloc(1, 1 << 20);
	assert_non_null(b);
	size_t n = fread(b, 1, (1 << 20) - 1, f);
	b[n] = '\0';
	fclose(f);
	return (b);
}

/* A recording that could not be fetched before a restart is fetched
 * after it: the pending list lives in data_dir. And record:false means
 * no recording at all. */
static void
test_recording_survives_restart(void **unused)
{
	(void) unused;
	char tmpl[] = "/tmp/cxretell-tk.XXXXXX", dir[600], file[700];
	const char *old = getenv("TMPDIR");
	char *saved = old ? strdup(old) : NULL;
	assert_non_null(mkdtemp(tmpl));
	setenv("TMPDIR", tmpl, 1);
	cx_testkit *tk = kit("recording_backoff: 10s\n");
	kit_dir(tmpl, dir, sizeof(dir));
	char pcid[128];
	placed_id(tk, "call_rs", NULL, pcid);
	fake_mode("{\"recording_fail\":1000}");
	assert_int_equal(send_event(tk, pcid, "call_ended", NULL), 204);
	/* Durable before the 204: the job is on disk now. */
	snprintf(file, sizeof(file), "%s/recordings.json", dir);
	char *pending = slurp(file);
	assert_non_null(strstr(pending, pcid));
	json_t *recs = wait_recordings(1, 300);
	assert_int_equal(json_array_size(recs), 0);
	json_decref(recs);
	cx_testkit_free(tk);
	rmdir(tmpl);

	/* A new daemon with that data directory. */
	assert_non_null(mkdtemp(strcpy(tmpl, "/tmp/cxretell-tk.XXXXXX")));
	setenv("TMPDIR", tmpl, 1);
	core_reset();
	assert_int_equal(cx_testkit_new(&tk), CX_OK);
	assert_int_equal(cx_testkit_serve(tk, CX_SVC_CORE, core_fn, NULL),
	    CX_OK);
	kit_dir(tmpl, dir, sizeof(dir));
	char cmd[1400];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(file, sizeof(file), "%s/recordings.json", dir);
	FILE *f = fopen(file, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(pending, 1, strlen(pending), f),
	    strlen(pending));
	fclose(f);
	free(pending);
	/* A download the crash cut short. */
	char partial[800];
	snprintf(partial, sizeof(partial), "%s/rec-AbC123", dir);
	f = fopen(partial, "wb");
	assert_non_null(f);
	fputs("RIFF half a recording", f);
	fclose(f);
	fake_mode("{\"recording_fail\":0}");
	char y[600];
	snprintf(y, sizeof(y), "api_key: %s\napi_base: %s\n", fake_key,
	    fake_url);
	assert_int_equal(cx_testkit_load(tk, plugin_path, y), CX_OK);
	assert_int_equal(cx_testkit_start(tk), CX_OK);
	recs = wait_recordings(1, 5000);
	assert_int_equal(json_array_size(recs), 1);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(recs, 0), "provider_call_id")),
	    pcid);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(recs, 0), "call_id")), "call_rs");
	json_decref(recs);
	assert_int_equal(access(partial, F_OK), -1);
	/* Done: the signed URL is no longer kept. */
	char *done = NULL;
	for (int t = 0; t < 100; t++) {
		free(done);
		done = slurp(file);
		if (strstr(done, "\"done\":true") != NULL) {
			break;
		}
		sleep_ms(20);
	}
	assert_non_null(strstr(done, "\"done\":true"));
	assert_non_null(strstr(done, pcid));
	assert_null(strstr(done, "/recordings/"));
	free(done);
	/* Marked done: a late call_analyzed does not fetch it again. */
	assert_int_equal(send_event(tk, pcid, "call_analyzed", NULL), 204);
	sleep_ms(300);
	recs = wait_recordings(2, 0);
	assert_int_equal(json_array_size(recs), 1);
	json_decref(recs);

	/* record:false travels in Retell's metadata and comes back. */
	json_t *rep;
	assert_int_equal(cx_testkit_request(tk, CX_SVC_CALL_PLACE,
	                     "{\"v\":1,\"call_id\":\"call_norec\",\"to\":"
	                     "\"+14155550123\",\"from\":\"+14155550100\","
	                     "\"record\":false}", 5000, &rep),
	    CX_OK);
	snprintf(pcid, sizeof(pcid), "%s", json_string_value(json_object_get(
	    rep, "provider_call_id")));
	json_decref(rep);
	size_t before = n_events();
	assert_int_equal(send_event(tk, pcid, "call_ended", NULL), 204);
	json_t *e = event_at(before);
	assert_null(json_object_get(e, "recording_pending"));
	json_decref(e);
	sleep_ms(300);
	recs = wait_recordings(2, 0);
	assert_int_equal(json_array_size(recs), 1);
	json_decref(recs);
	cx_testkit_free(tk);
	rmdir(tmpl);
	if (saved != NULL) {
		setenv("TMPDIR", saved, 1);
		free(saved);
	} else {
		unsetenv("TMPDIR");
	}
}

int
main(int argc, char **argv)
{
	if (argc < 2 || !(fake_url = getenv("RETELL_FAKE_URL")) ||
	    !(fake_key = getenv("RETELL_FAKE_KEY")) ||
	    !(acct_key = getenv("RETELL_FAKE_ACCOUNT_KEY")) ||
	    !getenv("RETELL_ORACLE")) {
		fprintf(stderr, "usage: retell_harness.sh test_retell "
		                "<retell.so>\n");
		return (2);
	}
	plugin_path = argv[1];
	pthread_mutex_init(&core.mu, NULL);
	core.events = json_array();
	core.recordings = json_array();
	core.creds = json_object();
	core.seen = json_object();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_place_wire),
	    cmocka_unit_test(test_place_errors),
	    cmocka_unit_test(test_lookup_hangup),
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_core_failure_and_recording_retry),
	    cmocka_unit_test(test_signatures),
	    cmocka_unit_test(test_vault_key_webhooks),
	    cmocka_unit_test(test_recording_survives_restart),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	json_decref(core.events);
	json_decref(core.recordings);
	json_decref(core.creds);
	json_decref(core.seen);
	curl_global_cleanup();
	return (rc);
}
