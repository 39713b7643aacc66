/*
 * test_twilio_hooks.c - the Twilio plugin's webhooks in the SDK test kit.
 * Run by twilio_harness.sh:
 *
 *   twilio_harness.sh test_twilio_hooks <twilio.so>
 *
 * The fake Twilio signs the callbacks of each call it creates; the npm
 * `twilio` package's validateRequest must accept them, and signatures
 * made by its getExpectedTwilioSignature must pass the plugin. Callbacks
 * arrive out of order and twice, tampered or forged; the recording is
 * downloaded, handed to the core and deleted at Twilio, with retries
 * that survive a restart.
 */
#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include <callixo/telephony.h>

#include "twilio_rig.h"

static const char *
jstr(const json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

/* One callback parameter of a fake outbox entry. */
static const char *
param_of(const json_t *entry, const char *name)
{
	size_t k;
	const json_t *kv;
	json_array_foreach(json_object_get(entry, "params"), k, kv) {
		if (strcmp(json_string_value(json_array_get(kv, 0)), name) ==
		    0) {
			return (json_string_value(json_array_get(kv, 1)));
		}
	}
	return (NULL);
}

typedef struct hook_fx {
	rig_core core;
	char *yaml;
	cx_testkit *tk;
} hook_fx;

static int
setup(void **st)
{
	hook_fx *fx = calloc(1, sizeof(*fx));
	rig_core_init(&fx->core);
	fx->yaml = rig_yaml("delete_recordings: true\n");
	fx->tk = rig_kit(fx->yaml, &fx->core);
	*st = fx;
	return (0);
}

static int
teardown(void **st)
{
	hook_fx *fx = *st;
	cx_testkit_free(fx->tk);
	rig_core_free(&fx->core);
	free(fx->yaml);
	free(fx);
	return (0);
}

/* Places a call with `outcome` at the fake; returns its CallSid. */
static char *
call_with(hook_fx *fx, const char *call_id, const char *outcome,
    const char *extra)
{
	char ctl[128], data[1024];
	snprintf(ctl, sizeof(ctl), "{\"outcome\":\"%s\"}", outcome);
	json_decref(rig_fake("POST", "/_test/next", ctl));
	snprintf(data, sizeof(data), "{\"v\":1, \"call_id\":\"%s\", \"to\":"
	    "\"+15551230002\", \"from\":\"+15005550006\", \"agent\":"
	    "\"https://agent.example.test/twiml\"%s%s}", call_id,
	    extra ? ", " : "", extra ? extra : "");
	json_t *r = NULL;
	cx_err rv = cx_testkit_request(fx->tk, CX_SVC_CALL_PLACE, data, 5000,
	    &r);
	if (rv != CX_OK) {
		fail_msg("place: %s", cx_strerror(rv));
	}
	char *sid = strdup(jstr(r, "provider_call_id"));
	json_decref(r);
	return (sid);
}

static const json_t *
status_event(const json_t *evs, const char *cx_status)
{
	size_t i;
	const json_t *e;
	json_array_foreach(evs, i, e) {
		if (jstr(e, "status") && strcmp(jstr(e, "status"), cx_status) ==
		    0) {
			return (e);
		}
	}
	return (NULL);
}

static void
full_call(void **st)
{
	hook_fx *fx = *st;
	char *sid = call_with(fx, "call_f1", "completed", "\"record\":true, "
	    "\"machine_detection\":true");
	json_t *box = rig_outbox_for(sid);
	assert_int_equal(json_array_size(box), 5); /* 4 status + recording */
	size_t i;
	json_t *e;
	/* The official SDK accepts every signature the fake made. */
	json_array_foreach(box, i, e) {
		assert_true(rig_oracle_valid(e, rig_env("TWILIO_TOKEN1")));
	}
	/* Out of order: completed first, then answered, initiated,
	 * ringing; then the whole set again (Twilio retries). */
	static const size_t order[] = {3, 1, 0, 2, 3, 2, 1, 0};
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		assert_int_equal(rig_deliver_entry(fx->tk, json_array_get(box,
		                     order[i])),
		    200);
	}
	json_t *evs = rig_events_for(&fx->core, sid);
	assert_int_equal(json_array_size(evs), 8);
	/* Replays carry the same event_id, so the core stores them once. */
	assert_string_equal(jstr(json_array_get(evs, 0), "event_id"),
	    jstr(json_array_get(evs, 4), "event_id"));
	json_t *ids = json_object();
	json_array_foreach(evs, i, e) {
		json_object_set_new(ids, jstr(e, "event_id"), json_true());
		assert_string_equal(jstr(e, "provider"), "twilio");
		assert_string_equal(jstr(e, "call_id"), "call_f1");
		assert_int_equal(json_integer_value(json_object_get(e, "v")), 1);
		assert_non_null(json_object_get(e, "raw"));
		assert_true(json_is_integer(json_object_get(e, "at_ms")));
	}
	assert_int_equal(json_object_size(ids), 4);
	json_decref(ids);
	const json_t *q = status_event(evs, CX_CALL_QUEUED);
	const json_t *ring = status_event(evs, CX_CALL_RINGING);
	const json_t *ans = status_event(evs, CX_CALL_IN_PROGRESS);
	const json_t *done = status_event(evs, CX_CALL_COMPLETED);
	assert_non_null(q);
	assert_non_null(ring);
	assert_non_null(ans);
	assert_non_null(done);
	/* seq is Twilio's SequenceNumber: the core orders by it. */
	assert_int_equal(json_integer_value(json_object_get(q, "seq")), 0);
	assert_int_equal(json_integer_value(json_object_get(ring, "seq")), 1);
	assert_int_equal(json_integer_value(json_object_get(ans, "seq")), 2);
	assert_int_equal(json_integer_value(json_object_get(done, "seq")), 3);
	assert_string_equal(jstr(done, "outcome"), CX_OUTCOME_ANSWERED);
	assert_int_equal(json_integer_value(json_object_get(done,
	    "duration_ms")), 42000);
	assert_true(json_is_true(json_object_get(done, "recording_pending")));
	assert_true(json_is_false(json_object_get(done, "voicemail")));
	char want_id[128];
	snprintf(want_id, sizeof(want_id), "%s:completed:3", sid);
	assert_string_equal(jstr(done, "event_id"), want_id);
	json_decref(evs);

	/* The recording: stored as an event, then fetched in the
	 * background, handed over, removed here and at Twilio. */
	json_t *rec = json_array_get(box, 4);
	assert_string_equal(jstr(rec, "kind"), "recording");
	assert_int_equal(rig_deliver_entry(fx->tk, rec), 200);
	json_t *got = rig_wait_recording(&fx->core, sid, 10000);
	assert_non_null(got);
	assert_string_equal(jstr(got, "content_type"), "audio/wav");
	assert_string_equal(jstr(got, "call_id"), "call_f1");
	assert_string_equal(jstr(got, "provider"), "twilio");
	assert_int_equal(json_integer_value(json_object_get(got,
	    "duration_ms")), 41000);
	json_t *file = json_object_get(got, "file");
	assert_true(json_is_true(json_object_get(file, "exists")));
	assert_true(json_is_true(json_object_get(file, "same_as_twilio")));
	const char *path = jstr(got, "path");
	bool gone = false, deleted = false;
	for (int w = 0; w < 250 && !(gone && deleted); w++) {
		gone = access(path, F_OK) != 0;
		json_t *fs = rig_fake("GET", "/_test/state", NULL);
		const char *re = param_of(rec, "RecordingSid");
		deleted = json_is_true(json_object_get(json_object_get(
		    json_object_get(fs, "recordings"), re), "deleted"));
		json_decref(fs);
		rig_sleep_ms(20);
	}
	assert_true(gone);
	assert_true(deleted);
	/* The queue lives in data_dir, beside the (removed) file. */
	char *dir = strdup(path);
	char qpath[1024];
	snprintf(qpath, sizeof(qpath), "%s/recordings.json", dirname(dir));
	assert_int_equal(access(qpath, F_OK), 0);
	free(dir);
	/* A redelivered recording callback fetches nothing twice. */
	assert_int_equal(rig_deliver_entry(fx->tk, rec), 200);
	rig_sleep_ms(300);
	pthread_mutex_lock(&fx->core.mu);
	assert_int_equal(json_array_size(fx->core.recordings), 1);
	pthread_mutex_unlock(&fx->core.mu);
	json_decref(got);
	json_decref(box);
	free(sid);
}

static void
recording_mp3(void **st)
{
	(void) st;
	rig_core core;
	rig_core_init(&core);
	char *y = rig_yaml("recording_format: mp3\n");
	/* call_with only needs the kit; the core stand-in is `core`. */
	hook_fx fx = {.yaml = y, .tk = rig_kit(y, &core)};
	char *sid = call_with(&fx, "call_m1", "completed", "\"record\":true");
	json_t *box = rig_outbox_for(sid);
	json_t *rec = json_array_get(box, json_array_size(box) - 1);
	assert_string_equal(jstr(rec, "kind"), "recording");
	assert_int_equal(rig_deliver_entry(fx.tk, rec), 200);
	json_t *got = rig_wait_recording(&core, sid, 10000);
	assert_non_null(got);
	assert_string_equal(jstr(got, "content_type"), "audio/mpeg");
	json_t *fs = rig_fake("GET", "/_test/state", NULL);
	json_t *r = json_object_get(json_object_get(fs, "recordings"),
	    param_of(rec, "RecordingSid"));
	assert_string_equal(json_string_value(json_array_get(json_object_get(r,
	    "formats"), 0)), ".mp3");
	/* delete_recordings is off: Twilio keeps its copy. */
	assert_true(json_is_false(json_object_get(r, "deleted")));
	json_decref(fs);
	json_decref(got);
	json_decref(box);
	free(sid);
	cx_testkit_free(fx.tk);
	free(y);
	rig_core_free(&core);
}

static void
outcomes(void **st)
{
	hook_fx *fx = *st;
	static const char *const cases[][3] = {
	    {"machine", CX_CALL_COMPLETED, CX_OUTCOME_VOICEMAIL},
	    {"busy", CX_CALL_BUSY, CX_OUTCOME_BUSY},
	    {"no-answer", CX_CALL_NO_ANSWER, CX_OUTCOME_NO_ANSWER},
	    {"failed", CX_CALL_FAILED, CX_OUTCOME_FAILED},
	    {"canceled", CX_CALL_CANCELED, CX_OUTCOME_CANCELED},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char *sid = call_with(fx, "call_o1", cases[c][0],
		    "\"machine_detection\":true");
		json_t *box = rig_outbox_for(sid);
		size_t i;
		json_t *e;
		json_array_foreach(box, i, e) {
			assert_int_equal(rig_deliver_entry(fx->tk, e), 200);
		}
		json_t *evs = rig_events_for(&fx->core, sid);
		const json_t *fin = status_event(evs, cases[c][1]);
		if (fin == NULL) {
			fail_msg("%s: no %s event", cases[c][0], cases[c][1]);
		}
		assert_string_equal(jstr(fin, "outcome"), cases[c][2]);
		if (c == 0) {
			assert_true(json_is_true(json_object_get(fin,
			    "voicemail")));
		}
		json_decref(evs);
		json_decref(box);
		free(sid);
	}
}

/* The body with one param's value replaced, same signature. */
static char *
tamper(const json_t *entry, const char *name, const char *value)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	size_t i;
	const json_t *kv;
	CURL *h = curl_easy_init();
	json_array_foreach(json_object_get(entry, "params"), i, kv) {
		const char *k = json_string_value(json_array_get(kv, 0));
		const char *v = json_string_value(json_array_get(kv, 1));
		char *ek = curl_easy_escape(h, k, 0);
		char *ev = curl_easy_escape(h, strcmp(k, name) == 0 ? value : v,
		    0);
		fprintf(m, "%s%s=%s", i ? "&" : "", ek, ev);
		curl_free(ek);
		curl_free(ev);
	}
	curl_easy_cleanup(h);
	fclose(m);
	return (out);
}

static void
forged(void **st)
{
	hook_fx *fx = *st;
	char *sid = call_with(fx, "call_x1", "completed", "\"record\":true");
	json_t *box = rig_outbox_for(sid);
	json_t *done = json_array_get(box, 3);
	const char *url = jstr(done, "url");
	const char *sig = jstr(done, "signature");
	char *bad = tamper(done, "CallDuration", "4200");
	char *body = NULL;
	assert_int_equal(rig_deliver(fx->tk, url, bad, sig, &body), 403);
	assert_non_null(strstr(body, "X-Twilio-Signature"));
	free(body);
	free(bad);
	/* A value emptied (Twilio signs empty values too). */
	bad = tamper(done, "ToCity", "Paris");
	assert_int_equal(rig_deliver(fx->tk, url, bad, sig, NULL), 403);
	free(bad);
	/* Missing and empty header. */
	assert_int_equal(rig_deliver(fx->tk, url, jstr(done, "body"), NULL,
	                     NULL),
	    403);
	assert_int_equal(rig_deliver(fx->tk, url, jstr(done, "body"), "",
	                     NULL),
	    403);
	/* The same signed body sent for another call (query changed). */
	char other[512];
	snprintf(other, sizeof(other), "%s/webhooks/twilio/status?cx_call="
	    "call_x2", RIG_PUBLIC_URL);
	assert_int_equal(rig_deliver(fx->tk, other, jstr(done, "body"), sig,
	                     NULL),
	    403);
	/* A status body replayed at the recording route. */
	snprintf(other, sizeof(other), "%s/webhooks/twilio/recording?cx_call="
	    "call_x1", RIG_PUBLIC_URL);
	assert_int_equal(rig_deliver(fx->tk, other, jstr(done, "body"), sig,
	                     NULL),
	    403);
	/* Signed by the oracle with the wrong token. */
	json_t *p = json_object();
	size_t i;
	json_t *kv;
	json_array_foreach(json_object_get(done, "params"), i, kv) {
		json_object_set(p, json_string_value(json_array_get(kv, 0)),
		    json_array_get(kv, 1));
	}
	json_t *r = rig_oracle(json_pack("{s:s, s:s, s:s, s:o}", "op", "sign",
	    "token", "not-the-token", "url", url, "params", p));
	assert_int_equal(rig_deliver(fx->tk, url, jstr(done, "body"),
	                     jstr(r, "signature"), NULL),
	    403);
	json_decref(r);
	json_t *evs = rig_events_for(&fx->core, sid);
	assert_int_equal(json_array_size(evs), 0); /* none processed */
	json_decref(evs);
	/* And the genuine one still passes. */
	assert_int_equal(rig_deliver(fx->tk, url, jstr(done, "body"), sig,
	                     NULL),
	    200);
	json_decref(box);
	free(sid);
}

/* Signs `params` for `url` with the SDK, delivers `body`, returns the
 * status. `sign_url` may differ from the delivered URL (port forms). */
static int
oracle_signed(hook_fx *fx, const char *sign_url, const char *url,
    json_t *params, const char *body)
{
	json_t *r = rig_oracle(json_pack("{s:s, s:s, s:s, s:o}", "op", "sign",
	    "token", rig_env("TWILIO_TOKEN1"), "url", sign_url, "params",
	    params));
	int status = rig_deliver(fx->tk, url, body, jstr(r, "signature"),
	    NULL);
	json_decref(r);
	return (status);
}

static void
sdk_signatures(void **st)
{
	hook_fx *fx = *st;
	/* Special characters in the query (percent-encoded, as Twilio
	 * requests it; the test kit's HTTP client would decode non-ASCII
	 * and unreserved escapes, so those are in the parameters), and in names and
	 * values, an
	 * empty value, a repeated name, names that sort differently in
	 * UTF-16 and code point order. */
	const char *url = RIG_PUBLIC_URL "/webhooks/twilio/status?cx_call="
	                                 "call_s1&note=a%20b%27c%2B%26";
	json_t *params = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
	                           " s:[s,s]}",
	    "AccountSid", rig_env("TWILIO_SID1"), "CallSid",
	    "CA0000000000000000000000000000abcd", "CallStatus", "ringing",
	    "SequenceNumber", "1", "Caller", "+1 (555) & <co> = 100%",
	    "\xef\xbc\xa1name", "fullwidth", "\xf0\x9f\x98\x80", "emoji",
	    "ToCity", "", "Tag", "b", "a");
	const char *body = "AccountSid=" "%s" "&CallSid=CA0000000000000000000"
	                   "000000000abcd&CallStatus=ringing&SequenceNumber=1&"
	                   "Caller=%%2B1+%%28555%%29+%%26+%%3Cco%%3E+%%3D+100"
	                   "%%25&%%EF%%BC%%A1name=fullwidth&%%F0%%9F%%98%%80="
	                   "emoji&ToCity=&Tag=b&Tag=a";
	char b[1024];
	snprintf(b, sizeof(b), body, rig_env("TWILIO_SID1"));
	assert_int_equal(oracle_signed(fx, url, url, json_deep_copy(params), b),
	    200);
	/* Twilio may sign with the default port; the SDK accepts it. */
	const char *with_port = "https://hooks.example.test:443/webhooks/"
	                        "twilio/status?cx_call=call_s1&note=a%20b%27c"
	                        "%2B%26";
	assert_int_equal(oracle_signed(fx, with_port, url,
	                     json_deep_copy(params), b),
	    200);
	/* One value changed in the body: refused. */
	char b2[1024];
	snprintf(b2, sizeof(b2), "%s", b);
	char *t = strstr(b2, "Tag=a");
	t[4] = 'c';
	assert_int_equal(oracle_signed(fx, url, url, json_deep_copy(params),
	                     b2),
	    403);
	/* The query re-encoded ('%27' vs "'"): a different URL string. */
	const char *reenc = RIG_PUBLIC_URL "/webhooks/twilio/status?cx_call="
	                                   "call_s1&note=a%20b'c%2B%26";
	assert_int_equal(oracle_signed(fx, reenc, url, params, b), 403);
	json_t *evs = rig_events_for(&fx->core,
	    "CA0000000000000000000000000000abcd");
	assert_int_equal(json_array_size(evs), 2);
	assert_string_equal(jstr(json_array_get(evs, 0), "call_id"),
	    "call_s1");
	json_t *raw = json_object_get(json_array_get(evs, 0), "raw");
	assert_string_equal(jstr(raw, "Caller"), "+1 (555) & <co> = 100%");
	assert_int_equal(json_array_size(json_object_get(raw, "Tag")), 2);
	json_decref(evs);
}

static void
amd_remembered(void **st)
{
	hook_fx *fx = *st;
	/* AnsweredBy only on the answered callback: the final one must
	 * still come out as voicemail. */
	const char *url = RIG_PUBLIC_URL "/webhooks/twilio/status?cx_call="
	                                 "call_a1";
	const char *sid = "CA00000000000000000000000000000aa1";
	char b[512];
	snprintf(b, sizeof(b), "AccountSid=%s&CallSid=%s&CallStatus="
	    "in-progress&SequenceNumber=2&AnsweredBy=machine_start",
	    rig_env("TWILIO_SID1"), sid);
	assert_int_equal(oracle_signed(fx, url, url, json_pack("{s:s, s:s, "
	    "s:s, s:s, s:s}", "AccountSid", rig_env("TWILIO_SID1"), "CallSid",
	    sid, "CallStatus", "in-progress", "SequenceNumber", "2",
	    "AnsweredBy", "machine_start"), b), 200);
	snprintf(b, sizeof(b), "AccountSid=%s&CallSid=%s&CallStatus="
	    "completed&SequenceNumber=3&CallDuration=20",
	    rig_env("TWILIO_SID1"), sid);
	assert_int_equal(oracle_signed(fx, url, url, json_pack("{s:s, s:s, "
	    "s:s, s:s, s:s}", "AccountSid", rig_env("TWILIO_SID1"), "CallSid",
	    sid, "CallStatus", "completed", "SequenceNumber", "3",
	    "CallDuration", "20"), b), 200);
	json_t *evs = rig_events_for(&fx->core, sid);
	const json_t *fin = status_event(evs, CX_CALL_COMPLETED);
	assert_non_null(fin);
	assert_string_equal(jstr(fin, "outcome"), CX_OUTCOME_VOICEMAIL);
	assert_true(json_is_true(json_object_get(fin, "voicemail")));
	json_decref(evs);
}

static void
bad_bodies(void **st)
{
	hook_fx *fx = *st;
	const char *url = RIG_PUBLIC_URL "/webhooks/twilio/status?cx_call=c";
	char *resp = NULL;
	assert_int_equal(rig_deliver(fx->tk, url, "A=%zz", "sig", &resp),
	    400);
	assert_non_null(strstr(resp, "percent-escape"));
	free(resp);
	/* Signed correctly, but no CallStatus: 400 naming it. */
	json_t *p = json_pack("{s:s, s:s}", "CallSid", "CA1", "AccountSid",
	    rig_env("TWILIO_SID1"));
	json_t *r = rig_oracle(json_pack("{s:s, s:s, s:s, s:o}", "op", "sign",
	    "token", rig_env("TWILIO_TOKEN1"), "url", url, "params", p));
	char body[256];
	snprintf(body, sizeof(body), "CallSid=CA1&AccountSid=%s",
	    rig_env("TWILIO_SID1"));
	assert_int_equal(rig_deliver(fx->tk, url, body, jstr(r, "signature"),
	                     &resp),
	    400);
	assert_non_null(strstr(resp, "CallStatus"));
	free(resp);
	json_decref(r);
	/* Not a form at all. */
	int status = 0;
	char *rb = NULL;
	size_t rl = 0;
	const char *hdrs[] = {"Content-Type: application/json",
	    "X-Twilio-Signature: x", NULL};
	assert_int_equal(cx_testkit_http(fx->tk, "POST",
	                     "/webhooks/twilio/status", hdrs, "{}", 2,
	                     &status, &rb, &rl),
	    CX_OK);
	assert_int_equal(status, 415);
	free(rb);
	pthread_mutex_lock(&fx->core.mu);
	assert_int_equal(json_array_size(fx->core.events), 0);
	pthread_mutex_unlock(&fx->core.mu);
}

static void
core_unavailable(void **st)
{
	hook_fx *fx = *st;
	char *sid = call_with(fx, "call_u1", "busy", NULL);
	json_t *box = rig_outbox_for(sid);
	json_t *e = json_array_get(box, json_array_size(box) - 1);
	fx->core.fail_events = 1;
	/* Not stored: Twilio must retry, so no 2xx. */
	assert_int_equal(rig_deliver_entry(fx->tk, e), 503);
	assert_int_equal(rig_deliver_entry(fx->tk, e), 200);
	json_t *evs = rig_events_for(&fx->core, sid);
	assert_int_equal(json_array_size(evs), 1);
	json_decref(evs);
	json_decref(box);
	free(sid);
}

static void
vault_account(void **st)
{
	hook_fx *fx = *st;
	char creds[256];
	snprintf(creds, sizeof(creds), "\"credentials\":{\"account_sid\":"
	    "\"%s\", \"auth_token\":\"%s\"}", rig_env("TWILIO_SID2"),
	    rig_env("TWILIO_TOKEN2"));
	char *sid = call_with(fx, "call_v1", "completed", creds);
	json_t *c = rig_last_create();
	assert_string_equal(jstr(c, "account"), rig_env("TWILIO_SID2"));
	json_decref(c);
	json_t *box = rig_outbox_for(sid);
	json_t *e = json_array_get(box, 0);
	assert_true(rig_oracle_valid(e, rig_env("TWILIO_TOKEN2")));
	/* The core has no vault entry for it yet: the platform token
	 * cannot verify another account's signature. */
	assert_int_equal(rig_deliver_entry(fx->tk, e), 403);
	pthread_mutex_lock(&fx->core.mu);
	json_object_set_new(fx->core.vault, "call_v1", json_pack("{s:s, s:s}",
	    "account_sid", rig_env("TWILIO_SID2"), "auth_token",
	    rig_env("TWILIO_TOKEN2")));
	int asked = fx->core.cred_asks;
	pthread_mutex_unlock(&fx->core.mu);
	assert_int_equal(rig_deliver_entry(fx->tk, e), 200);
	pthread_mutex_lock(&fx->core.mu);
	assert_true(fx->core.cred_asks > asked);
	pthread_mutex_unlock(&fx->core.mu);
	json_decref(box);
	free(sid);
}

static void
recording_retry_restart(void **st)
{
	hook_fx *fx = *st;
	char *sid = call_with(fx, "call_r1", "completed", "\"record\":true");
	json_t *box = rig_outbox_for(sid);
	json_t *rec = json_array_get(box, 4);
	/* Twilio fails every download for now. */
	json_decref(rig_fake("POST", "/_test/config",
	    "{\"recording_fail\":100000}"));
	assert_int_equal(rig_deliver_entry(fx->tk, rec), 200);
	rig_sleep_ms(400); /* a few attempts with backoff */
	/* A restart (settings changed) must not lose the queued work. */
	char *y2 = rig_yaml("delete_recordings: true\nmax_attempts: 30\n");
	assert_int_equal(cx_testkit_reconfigure(fx->tk, y2), CX_OK);
	free(y2);
	json_decref(rig_fake("POST", "/_test/config",
	    "{\"recording_fail\":0}"));
	json_t *got = rig_wait_recording(&fx->core, sid, 15000);
	assert_non_null(got);
	assert_true(json_is_true(json_object_get(json_object_get(got, "file"),
	    "same_as_twilio")));
	json_t *fs = rig_fake("GET", "/_test/state", NULL);
	const char *re = param_of(rec, "RecordingSid");
	/* Failed attempts happened before the handover. */
	assert_true(json_integer_value(json_object_get(json_object_get(
	    json_object_get(fs, "recordings"), re), "gets")) >= 2);
	json_decref(fs);
	json_decref(got);
	json_decref(box);
	free(sid);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s <twilio.so>\n", argv[0]);
		return (2);
	}
	rig_plugin = argv[1];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(full_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(outcomes, setup, teardown),
	    cmocka_unit_test(recording_mp3),
	    cmocka_unit_test_setup_teardown(forged, setup, teardown),
	    cmocka_unit_test_setup_teardown(sdk_signatures, setup, teardown),
	    cmocka_unit_test_setup_teardown(amd_remembered, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_bodies, setup, teardown),
	    cmocka_unit_test_setup_teardown(core_unavailable, setup, teardown),
	    cmocka_unit_test_setup_teardown(vault_account, setup, teardown),
	    cmocka_unit_test_setup_teardown(recording_retry_restart, setup,
	        teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return (rc);
}
