/*
 * twilio_rig.c - see twilio_rig.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include <callixo/telephony.h>

#include "twilio_rig.h"

const char *rig_plugin;

const char *
rig_env(const char *name)
{
	const char *v = getenv(name);
	if (v == NULL || v[0] == '\0') {
		fail_msg("%s is not set: run under twilio_harness.sh", name);
	}
	return (v);
}

void
rig_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static const char *
jstr(const json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

/* ---- the core's handlers ---- */

static json_t *
read_file_info(const char *path, const char *ctype)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return (json_pack("{s:b}", "exists", 0));
	}
	char buf[262144];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	json_t *fake = rig_fake("GET", "/_test/state", NULL);
	const char *b64 = jstr(json_object_get(fake, "audio_b64"),
	    strcmp(ctype, "audio/mpeg") == 0 ? "mp3" : "wav");
	/* The fake serves one fixed body; compare with its base64. */
	char *mine = NULL;
	size_t ml = 0;
	FILE *m = open_memstream(&mine, &ml);
	static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	                         "qrstuvwxyz0123456789+/";
	for (size_t i = 0; m != NULL && i < n; i += 3) {
		uint32_t v = (uint32_t) (unsigned char) buf[i] << 16;
		if (i + 1 < n) {
			v |= (uint32_t) (unsigned char) buf[i + 1] << 8;
		}
		if (i + 2 < n) {
			v |= (unsigned char) buf[i + 2];
		}
		fputc(tb[(v >> 18) & 63], m);
		fputc(tb[(v >> 12) & 63], m);
		fputc(i + 1 < n ? tb[(v >> 6) & 63] : '=', m);
		fputc(i + 2 < n ? tb[v & 63] : '=', m);
	}
	if (m != NULL) {
		fclose(m);
	}
	bool same = mine != NULL && b64 != NULL && strcmp(mine, b64) == 0;
	free(mine);
	json_decref(fake);
	return (json_pack("{s:b, s:I, s:b}", "exists", 1, "bytes",
	    (json_int_t) n, "same_as_twilio", same));
}

static cx_err
core_fn(void *arg, const cx_msg *req, json_t **reply)
{
	rig_core *c = arg;
	cx_err rv = CX_OK;
	pthread_mutex_lock(&c->mu);
	if (strcmp(req->type, CX_SVC_CALL_EVENT) == 0) {
		const char *id = jstr(req->data, "event_id");
		if (c->fail_events > 0) {
			c->fail_events--;
			rv = CX_EIO;
		} else if (id == NULL || !json_is_integer(json_object_get(
		               req->data, "seq")) ||
		           jstr(req->data, "status") == NULL ||
		           jstr(req->data, "provider") == NULL) {
			/* What the core requires of every call.event. */
			rv = CX_EINVAL;
		} else {
			bool dup = json_object_get(c->ids, id) != NULL;
			json_array_append(c->events, (json_t *) req->data);
			if (!dup) {
				json_object_set(c->ids, id, (json_t *) req->data);
			}
			*reply = json_pack("{s:b}", "duplicate", dup);
		}
	} else if (strcmp(req->type, CX_SVC_CALL_RECORDING) == 0) {
		pthread_mutex_unlock(&c->mu);
		json_t *info = read_file_info(jstr(req->data, "path"),
		    jstr(req->data, "content_type"));
		pthread_mutex_lock(&c->mu);
		json_t *r = json_deep_copy(req->data);
		json_object_set_new(r, "file", info);
		json_array_append_new(c->recordings, r);
		*reply = json_pack("{s:s}", "recording", "blob_1");
	} else if (strcmp(req->type, CX_SVC_CALL_CREDENTIALS) == 0) {
		c->cred_asks++;
		json_t *cr = json_object_get(c->vault, jstr(req->data,
		    "call_id") ? jstr(req->data, "call_id") : "");
		*reply = cr ? json_pack("{s:O}", "credentials", cr) :
		              json_object();
	} else {
		rv = CX_ENOTSUP;
	}
	pthread_mutex_unlock(&c->mu);
	return (rv);
}

void
rig_core_init(rig_core *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->events = json_array();
	c->ids = json_object();
	c->recordings = json_array();
	c->vault = json_object();
}

void
rig_core_free(rig_core *c)
{
	json_decref(c->events);
	json_decref(c->ids);
	json_decref(c->recordings);
	json_decref(c->vault);
	pthread_mutex_destroy(&c->mu);
}

char *
rig_yaml(const char *extra)
{
	char *y = NULL;
	if (asprintf(&y, "account_sid: %s\nauth_token: %s\napi_base: %s\n"
	                 "public_url: %s\nhttp_timeout: 1s\nretry_backoff: "
	                 "50ms\n%s",
	        rig_env("TWILIO_SID1"), rig_env("TWILIO_TOKEN1"),
	        rig_env("TWILIO_FAKE"), RIG_PUBLIC_URL, extra ? extra : "") <
	    0) {
		fail_msg("asprintf");
	}
	return (y);
}

cx_testkit *
rig_kit(const char *yaml, rig_core *core)
{
	cx_testkit *tk;
	assert_int_equal(cx_testkit_new(&tk), CX_OK);
	if (cx_testkit_load(tk, rig_plugin, yaml) != CX_OK) {
		fail_msg("load: %s", cx_testkit_error(tk));
	}
	assert_int_equal(cx_testkit_serve(tk, CX_SVC_CORE, core_fn, core),
	    CX_OK);
	assert_int_equal(cx_testkit_start(tk), CX_OK);
	return (tk);
}

/* ---- the fake Twilio ---- */

static size_t
collect(char *p, size_t sz, size_t n, void *arg)
{
	FILE *m = arg;
	return (fwrite(p, sz, n, m));
}

json_t *
rig_fake(const char *method, const char *path, const char *json)
{
	char url[512];
	char *out = NULL;
	size_t ol = 0;
	snprintf(url, sizeof(url), "%s%s", rig_env("TWILIO_FAKE"), path);
	FILE *m = open_memstream(&out, &ol);
	CURL *h = curl_easy_init();
	struct curl_slist *hd = curl_slist_append(NULL,
	    "Content-Type: application/json");
	assert_non_null(m);
	assert_non_null(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (json != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, m);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	CURLcode cc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	curl_slist_free_all(hd);
	fclose(m);
	if (cc != CURLE_OK) {
		free(out);
		fail_msg("fake %s %s: %s", method, path, curl_easy_strerror(cc));
	}
	json_t *j = json_loads(out, 0, NULL);
	free(out);
	assert_non_null(j);
	return (j);
}

json_t *
rig_last_create(void)
{
	json_t *st = rig_fake("GET", "/_test/state", NULL);
	json_t *cr = json_object_get(st, "creates");
	assert_true(json_array_size(cr) > 0);
	json_t *last = json_array_get(cr, json_array_size(cr) - 1);
	json_t *out = json_pack("{s:O, s:O}", "account", json_object_get(last,
	    "account"), "params", json_object_get(last, "params"));
	json_decref(st);
	return (out);
}

json_t *
rig_values(const json_t *pairs, const char *name)
{
	json_t *out = json_array();
	size_t i;
	const json_t *kv;
	json_array_foreach(pairs, i, kv) {
		if (strcmp(json_string_value(json_array_get(kv, 0)), name) == 0) {
			json_array_append(out, json_array_get(kv, 1));
		}
	}
	return (out);
}

json_t *
rig_outbox_for(const char *call_sid)
{
	json_t *all = rig_fake("GET", "/_test/outbox", NULL);
	json_t *out = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(all, i, e) {
		if (strcmp(jstr(e, "call_sid"), call_sid) == 0) {
			json_array_append(out, e);
		}
	}
	json_decref(all);
	return (out);
}

/* ---- the oracle ---- */

json_t *
rig_oracle(json_t *req)
{
	const char *tmp = getenv("TMPDIR");
	char p2[512];
	snprintf(p2, sizeof(p2), "%s/cxtworacle.XXXXXX", tmp ? tmp : "/tmp");
	int fd = mkstemp(p2);
	assert_true(fd >= 0);
	assert_int_equal(json_dumpfd(req, fd, 0), 0);
	close(fd);
	json_decref(req);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s '%s'", rig_env("TWILIO_ORACLE"), p2);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	json_error_t je;
	json_t *out = json_loadf(f, JSON_DISABLE_EOF_CHECK, &je);
	int rc = pclose(f);
	unlink(p2);
	if (out == NULL || rc != 0) {
		fail_msg("oracle failed (rc %d): %s", rc, je.text);
	}
	return (out);
}

/* Twilio params as the SDK takes them: name -> value or [values]. */
static json_t *
sdk_params(const json_t *pairs)
{
	json_t *o = json_object();
	size_t i;
	const json_t *kv;
	json_array_foreach(pairs, i, kv) {
		const char *k = json_string_value(json_array_get(kv, 0));
		json_t *v = json_array_get(kv, 1);
		json_t *old = json_object_get(o, k);
		if (old == NULL) {
			json_object_set(o, k, v);
		} else if (json_is_array(old)) {
			json_array_append(old, v);
		} else {
			json_object_set_new(o, k, json_pack("[O,O]", old, v));
		}
	}
	return (o);
}

bool
rig_oracle_valid(const json_t *entry, const char *token)
{
	json_t *r = rig_oracle(json_pack("{s:s, s:s, s:s, s:s, s:o}", "op",
	    "validate", "token", token, "signature", jstr(entry, "signature"),
	    "url", jstr(entry, "url"), "params",
	    sdk_params(json_object_get(entry, "params"))));
	bool ok = json_is_true(json_object_get(r, "valid"));
	json_decref(r);
	return (ok);
}

/* ---- delivery ---- */

int
rig_deliver(cx_testkit *tk, const char *url, const char *body,
    const char *signature, char **resp_body)
{
	size_t pl = strlen(RIG_PUBLIC_URL);
	assert_int_equal(strncmp(url, RIG_PUBLIC_URL, pl), 0);
	char sigh[128];
	snprintf(sigh, sizeof(sigh), "X-Twilio-Signature: %s",
	    signature ? signature : "");
	const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
	    signature ? sigh : NULL, NULL};
	int status = 0;
	char *rb = NULL;
	size_t rl = 0;
	if (cx_testkit_http(tk, "POST", url + pl, hdrs, body, strlen(body),
	        &status, &rb, &rl) != CX_OK) {
		fail_msg("POST %s (signature %s): %s", url + pl,
		    signature ? signature : "-", cx_testkit_error(tk));
	}
	if (resp_body != NULL) {
		*resp_body = rb;
	} else {
		free(rb);
	}
	return (status);
}

int
rig_deliver_entry(cx_testkit *tk, const json_t *e)
{
	return (rig_deliver(tk, jstr(e, "url"), jstr(e, "body"),
	    jstr(e, "signature"), NULL));
}

json_t *
rig_events_for(rig_core *c, const char *call_sid)
{
	json_t *out = json_array();
	size_t i;
	json_t *e;
	pthread_mutex_lock(&c->mu);
	json_array_foreach(c->events, i, e) {
		if (strcmp(jstr(e, "provider_call_id"), call_sid) == 0) {
			json_array_append(out, e);
		}
	}
	pthread_mutex_unlock(&c->mu);
	return (out);
}

json_t *
rig_wait_recording(rig_core *c, const char *call_sid, int ms)
{
	for (int waited = 0; waited <= ms; waited += 20) {
		pthread_mutex_lock(&c->mu);
		size_t i;
		json_t *r, *found = NULL;
		json_array_foreach(c->recordings, i, r) {
			if (strcmp(jstr(r, "provider_call_id"), call_sid) == 0) {
				found = json_incref(r);
			}
		}
		pthread_mutex_unlock(&c->mu);
		if (found != NULL) {
			return (found);
		}
		rig_sleep_ms(20);
	}
	return (NULL);
}
