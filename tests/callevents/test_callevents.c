/*
 * test_callevents.c - provider events, recordings, transcription and
 * the finishing of calls, through a real in-process core (rig.c) and a
 * telephony plugin that talks to the core through its own cx_host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httprange.h"
#include "rig.h"

#define DELIVERIES "SELECT COUNT(*) FROM webhook_deliveries WHERE call_id = $1"

static long long
deliveries(rig *r, const char *call, const char *type)
{
	char sql[200];
	snprintf(sql, sizeof(sql), "%s AND event_type = '%s'", DELIVERIES,
	    type);
	return (rig_count(r, sql, call));
}

/* ---- provider events ---- */

static void
test_duplicate(void **state)
{
	(void) state;
	rig *r = rig_new(NULL);
	char *call = rig_call(r, NULL, "PC1");
	json_t *reply = NULL;
	assert_int_equal(rig_send(r, "call.event", rig_event("e1", call, 1,
	                     "ringing"), &reply), CX_OK);
	assert_false(json_is_true(json_object_get(reply, "duplicate")));
	json_decref(reply);
	json_t *again = rig_event("e1", call, 5, "in_progress");
	assert_int_equal(rig_send(r, "call.event", again, &reply), CX_OK);
	assert_true(json_is_true(json_object_get(reply, "duplicate")));
	json_decref(reply);
	json_t *row = rig_get_call(r, call);
	assert_string_equal(S(row, "status"), "ringing");
	assert_int_equal(I(row, "seq"), 1);
	json_decref(row);
	assert_int_equal(rig_count(r, "SELECT COUNT(*) FROM provider_events "
	                              "WHERE call_id = $1", call), 1);
	free(call);
	rig_free(r);
}

static void
test_out_of_order(void **state)
{
	(void) state;
	rig *r = rig_new(NULL);
	char *call = rig_call(r, NULL, NULL);
	json_t *done = rig_event("e3", call, 3, "completed");
	json_object_set_new(done, "provider_call_id", json_string("PC2"));
	json_object_set_new(done, "answered_at", json_integer(1000));
	json_object_set_new(done, "ended_at", json_integer(61000));
	json_object_set_new(done, "cost_micros", json_integer(12000));
	json_object_set_new(done, "currency", json_string("USD"));
	assert_int_equal(rig_send(r, "call.event", done, NULL), CX_OK);
	/* The late ringing brings started_at but no status change. */
	json_t *ring = rig_event("e1", call, 1, "ringing");
	json_object_set_new(ring, "started_at", json_integer(500));
	json_object_set_new(ring, "cost_micros", json_integer(1));
	assert_int_equal(rig_send(r, "call.event", ring, NULL), CX_OK);
	assert_int_equal(rig_send(r, "call.event", rig_event("e2", call, 2,
	                     "in_progress"), NULL), CX_OK);
	json_t *row = rig_get_call(r, call);
	assert_string_equal(S(row, "status"), "completed");
	assert_string_equal(S(row, "outcome"), "answered");
	assert_string_equal(S(row, "provider_call_id"), "PC2");
	assert_int_equal(I(row, "seq"), 3);
	assert_int_equal(I(row, "started_at"), 500);
	assert_int_equal(I(row, "duration_ms"), 60000);
	assert_int_equal(I(row, "cost_micros"), 12000);
	json_decref(row);
	/* call.started once, from the completed event. */
	assert_int_equal(deliveries(r, call, "call.started"), 1);
	free(call);
	rig_free(r);
}

static void
test_unknown_call_later(void **state)
{
	(void) state;
	rig *r = rig_new(NULL);
	json_t *ev = json_pack("{s:i, s:s, s:s, s:s, s:i, s:s}", "v", 1,
	    "provider", "testtel", "event_id", "late-1", "provider_call_id",
	    "PC9", "seq", 2, "status", "in_progress");
	json_t *reply = NULL;
	assert_int_equal(rig_send(r, "call.event", ev, &reply), CX_OK);
	json_decref(reply);
	assert_int_equal(rig_count(r, "SELECT COUNT(*) FROM provider_events "
	                              "WHERE event_id = $1 AND processed_at "
	                              "IS NULL", "late-1"), 1);
	char *call = rig_call(r, NULL, "PC9");
	cxi_callevents_sweep(r->cl.events);
	json_t *row = rig_get_call(r, call);
	assert_string_equal(S(row, "status"), "in_progress");
	assert_false(json_is_null(json_object_get(row, "answered_at")));
	json_decref(row);
	assert_int_equal(rig_count(r, "SELECT COUNT(*) FROM provider_events "
	                              "WHERE event_id = $1 AND processed_at "
	                              "IS NOT NULL AND call_id IS NOT NULL",
	                     "late-1"), 1);
	free(call);
	rig_free(r);
}

static void
test_forged_provider(void **state)
{
	(void) state;
	rig *r = rig_new(NULL);
	char *call = rig_call(r, NULL, "PC3");
	json_t *ev = rig_event("f1", call, 1, "completed");
	json_object_set_new(ev, "provider", json_string("twilio"));
	json_t *reply = NULL;
	assert_int_equal(rig_send(r, "call.event", ev, &reply), CX_EDENIED);
	json_decref(reply);
	/* Not a telephony plugin either. */
	ev = rig_event("f2", call, 1, "completed");
	json_object_set_new(ev, "provider", json_string("sqlite"));
	assert_int_equal(rig_send(r, "call.event", ev, NULL), CX_EDENIED);
	assert_int_equal(rig_count(r, "SELECT COUNT(*) FROM provider_events "
	                              "WHERE $1 = $1", "x"), 0);
	json_t *row = rig_get_call(r, call);
	assert_string_equal(S(row, "status"), "queued");
	json_decref(row);
	free(call);
	rig_free(r);
}

static void
test_bad_fields(void **state)
{
	(void) state;
	static const struct {
		const char *key, *json, *named;
	} cases[] = {
	    {"status", "\"ringingx\"", "status"},
	    {"seq", "\"1\"", "seq"},
	    {"seq", "-1", "seq"},
	    {"outcome", "\"answered\"", "outcome"},
	    {"foo", "1", "foo"},
	    {"currency", "\"usd\"", "currency"},
	    {"duration_ms", "1.5", "duration_ms"},
	    {"sentiment", "\"happy\"", "sentiment"},
	    {"success", "\"yes\"", "success"},
	    {"call_id", "\"abc\"", "call_id"},
	    {"v", "2", "v"},
	    {"transcript", "{\"text\":\"x\",\"utterances\":[{\"text\":\"a\","
	                   "\"start_ms\":-1}]}", "utterances[0].start_ms"},
	    {"transcript", "{\"utterances\":[]}", "transcript.text"},
	    {"analysis", "[1]", "analysis"},
	    {"event_id", "\"has space\"", "event_id"},
	};
	rig *r = rig_new(NULL);
	char *call = rig_call(r, NULL, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *ev = rig_event("b1", call, 1, "ringing");
		json_object_set_new(ev, cases[i].key, json_loads(cases[i].json,
		    JSON_DECODE_ANY, NULL));
		json_t *reply = NULL;
		assert_int_equal(rig_send(r, "call.event", ev, &reply),
		    CX_EINVAL);
		const char *m = S(reply, "message");
		if (m == NULL || strstr(m, cases[i].named) == NULL) {
			fail_msg("case %zu: message \"%s\" does not name %s",
			    i, m ? m : "(none)", cases[i].named);
		}
		json_decref(reply);
	}
	json_t *ev = rig_event("b2", call, 1, "ringing");
	json_object_del(ev, "event_id");
	json_t *reply = NULL;
	assert_int_equal(rig_send(r, "call.event", ev, &reply), CX_EINVAL);
	assert_non_null(strstr(S(reply, "message"), "event_id"));
	json_decref(reply);
	assert_int_equal(rig_count(r, "SELECT COUNT(*) FROM provider_events "
	                              "WHERE $1 = $1", "x"), 0);
	free(call);
	rig_free(r);
}

/* Many events of one call at once, as a provider's burst of callbacks
 * lands on several bus workers: each is stored once, and the call ends
 * where the highest seq puts it. */
typedef struct burst {
	rig *r;
	const char *call;
	int first;
} burst;

static void *
burst_run(void *arg)
{
	burst *b = arg;
	static const char *const st[] = {"ringing", "in_progress"};
	for (int i = b->first; i < 40; i += 4) {
		char eid[32];
		snprintf(eid, sizeof(eid), "burst-%d", i);
		json_t *ev = rig_event(eid, b->call, i, i == 39 ? "completed" :
		    st[i % 2]);
		if (rig_send(b->r, "call.event", ev, NULL) != CX_OK) {
			return ((void *) 1);
		}
	}
	return (NULL);
}

static void
test_concurrent(void **state)
{
	(void) state;
	rig *r = rig_new(NULL);
	char *call = rig_call(r, NULL, NULL);
	pthread_t t[4];
	burst b[4];
	for (int i = 0; i < 4; i++) {
		b[i] = (burst) {r, call, i};
		assert_int_equal(pthread_create(&t[i], NULL, burst_run, &b[i]),
		    0);
	}
	for (int i = 0; i < 4; i++) {
		void *rv;
		assert_int_equal(pthread_join(t[i], &rv), 0);
		assert_null(rv);
	}
	json_t *row = rig_get_call(r, call);
	assert_string_equal(S(row, "status"), "completed");
	assert_int_equal(I(row, "seq"), 39);
	json_decref(row);
	assert_int_equal(rig_count(r, "SELECT COUNT(*) FROM provider_events "
	                              "WHERE call_id = $1 AND processed_at IS "
	                              "NOT NULL", call), 40);
	assert_int_equal(deliveries(r, call, "call.started"), 1);
	assert_int_equal(deliveries(r, call, "call.completed"), 1);
	free(call);
	rig_free(r);
}

/* ---- recordings ---- */

static json_t *
rec_req(const char *call, const char *path, const char *ctype)
{
	return (json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", 1, "provider",
	    "testtel", "call_id", call, "path", path, "content_type", ctype));
}

static void
test_recording_refused(void **state)
{
	(void) state;
	rig *r = rig_new(NULL);
	char *call = rig_call(r, NULL, NULL);
	char out[256], in[300], link[300], dots[400];
	snprintf(out, sizeof(out), "%s/outside.wav", r->dir);
	rig_wav(out, 1000);
	assert_int_equal(rig_send(r, "call.recording", rec_req(call, out,
	                     "audio/wav"), NULL), CX_EDENIED);
	snprintf(dots, sizeof(dots), "%s/../../outside.wav", r->teldir);
	assert_int_equal(rig_send(r, "call.recording", rec_req(call, dots,
	                     "audio/wav"), NULL), CX_EDENIED);
	snprintf(link, sizeof(link), "%s/link.wav", r->teldir);
	assert_int_equal(symlink(out, link), 0);
	assert_int_equal(rig_send(r, "call.recording", rec_req(call, link,
	                     "audio/wav"), NULL), CX_EDENIED);
	/* Inside, but not what it claims to be, or a refused type. */
	snprintf(in, sizeof(in), "%s/page.wav", r->teldir);
	FILE *f = fopen(in, "w");
	fputs("<html>not audio</html>", f);
	fclose(f);
	assert_int_equal(rig_send(r, "call.recording", rec_req(call, in,
	                     "audio/wav"), NULL), CX_EINVAL);
	assert_int_equal(rig_send(r, "call.recording", rec_req(call, in,
	                     "audio/ogg"), NULL), CX_EINVAL);
	json_t *row = rig_get_call(r, call);
	assert_true(json_is_null(json_object_get(row, "recording_key")));
	json_decref(row);
	free(call);
	rig_free(r);
}

/* Does any file under dir contain needle? */
static bool
tree_contains(const char *dir, const uint8_t *needle, size_t n)
{
	char cmd[600];
	char hex[4 * 64 + 1] = "";
	for (size_t i = 0; i < n && i < 64; i++) {
		snprintf(hex + 4 * i, 5, "\\x%02x", needle[i]);
	}
	snprintf(cmd, sizeof(cmd), "grep -rqaP '%s' '%s'", hex, dir);
	return (system(cmd) == 0);
}

static void
test_recording_roundtrip(void **state)
{
	(void) state;
	rig *r = rig_new(NULL);
	char *call = rig_call(r, NULL, NULL);
	char path[300], blobs[300];
	snprintf(path, sizeof(path), "%s/rec.wav", r->teldir);
	long size = rig_wav(path, 200 * 1000);
	uint8_t *wav = malloc((size_t) size);
	FILE *f = fopen(path, "rb");
	assert_int_equal(fread(wav, 1, (size_t) size, f), (size_t) size);
	fclose(f);
	json_t *reply = NULL;
	assert_int_equal(rig_send(r, "call.recording", rec_req(call, path,
	                     "audio/wav"), &reply), CX_OK);
	char key[200];
	snprintf(key, sizeof(key), "%s/recordings/%s", r->account, call);
	assert_string_equal(S(reply, "recording"), key);
	json_decref(reply);
	json_t *row = rig_get_call(r, call);
	assert_string_equal(S(row, "recording_key"), key);
	assert_string_equal(S(row, "recording_type"), "audio/wav");
	assert_int_equal(I(row, "recording_bytes"), size);
	json_decref(row);
	/* Encrypted at rest: neither the header nor a run of the audio is
	 * anywhere in the blob store. */
	snprintf(blobs, sizeof(blobs), "%s/plugins/fs", r->dir);
	assert_false(tree_contains(blobs, wav, 12));
	assert_false(tree_contains(blobs, wav + 5000, 32));
	/* And reads back whole. */
	char why[256] = "";
	cxi_callrec *rec = NULL;
	assert_int_equal(cxi_callrec_open(&r->cl, key, &rec, why,
	                     sizeof(why)), CX_OK);
	uint8_t *back = malloc((size_t) size + 1);
	size_t have = 0, got = 1;
	while (got > 0) {
		assert_int_equal(cxi_callrec_read(rec, back + have,
		                     (size_t) size + 1 - have, &got, why,
		                     sizeof(why)), CX_OK);
		have += got;
		assert_true(have <= (size_t) size);
	}
	cxi_callrec_close(rec);
	assert_int_equal(have, (size_t) size);
	assert_memory_equal(back, wav, (size_t) size);
	free(back);
	free(wav);
	free(call);
	rig_free(r);
}

static void
test_range_parse(void **state)
{
	(void) state;
	int64_t a = -1, b = -1;
	assert_int_equal(cxi_http_range(NULL, 100, &a, &b), 0);
	assert_int_equal(cxi_http_range("bytes=0-9", 100, &a, &b), 1);
	assert_true(a == 0 && b == 9);
	assert_int_equal(cxi_http_range("bytes=90-", 100, &a, &b), 1);
	assert_true(a == 90 && b == 99);
	assert_int_equal(cxi_http_range("bytes=-10", 100, &a, &b), 1);
	assert_true(a == 90 && b == 99);
	assert_int_equal(cxi_http_range("bytes=-1000", 100, &a, &b), 1);
	assert_true(a == 0 && b == 99);
	assert_int_equal(cxi_http_range("bytes=50-1000", 100, &a, &b), 1);
	assert_true(a == 50 && b == 99);
	assert_int_equal(cxi_http_range("bytes=100-", 100, &a, &b), -1);
	assert_int_equal(cxi_http_range("bytes=-0", 100, &a, &b), -1);
	assert_int_equal(cxi_http_range("bytes=5-1", 100, &a, &b), 0);
	assert_int_equal(cxi_http_range("bytes=0-1,5-6", 100, &a, &b), 0);
	assert_int_equal(cxi_http_range("items=0-1", 100, &a, &b), 0);
	assert_int_equal(cxi_http_range("bytes=9999999999999999999-", 100,
	                     &a, &b), 0);
}

/* ---- finishing ---- */

static void
send_completed(rig *r, const char *call, const char *eid, int seq,
    bool with_artifacts)
{
	json_t *ev = rig_event(eid, call, seq, "completed");
	if (with_artifacts) {
		json_object_set_new(ev, "transcript", json_pack("{s:s, s:[{s:s,"
		    " s:s, s:i, s:i}]}", "text", "agent: hi", "utterances",
		    "speaker", "agent", "text", "hi", "start_ms", 0, "end_ms",
		    400));
		json_object_set_new(ev, "summary", json_string("said hi"));
		json_object_set_new(ev, "sentiment", json_string("positive"));
		json_object_set_new(ev, "analysis", json_pack("{s:b}",
		    "interested", 1));
	}
	assert_int_equal(rig_send(r, "call.event", ev, NULL), CX_OK);
}

static void
test_finish_with_artifacts(void **state)
{
	(void) state;
	rig *r = rig_new(NULL);
	char *cmp = rig_campaign(r, "{\"record\":true}");
	char *call = rig_call(r, cmp, NULL);
	assert_int_equal(rig_send(r, "call.event", rig_event("a1", call, 1,
	                     "in_progress"), NULL), CX_OK);
	send_completed(r, call, "a2", 2, true);
	/* Waiting for the recording only. */
	json_t *row = rig_get_call(r, call);
	assert_true(json_is_null(json_object_get(row, "completed_sent_at")));
	assert_false(json_is_null(json_object_get(row, "artifacts_due_at")));
	json_decref(row);
	assert_int_equal(deliveries(r, call, "call.completed"), 0);
	char path[300];
	snprintf(path, sizeof(path), "%s/r.wav", r->teldir);
	rig_wav(path, 5000);
	assert_int_equal(rig_send(r, "call.recording", rec_req(call, path,
	                     "audio/x-wav"), NULL), CX_OK);
	row = rig_get_call(r, call);
	assert_false(json_is_null(json_object_get(row, "completed_sent_at")));
	json_decref(row);
	/* Replays and sweeps change nothing. */
	send_completed(r, call, "a2", 2, true);
	send_completed(r, call, "a3", 3, true);
	cxi_callevents_sweep(r->cl.events);
	assert_int_equal(deliveries(r, call, "call.started"), 1);
	assert_int_equal(deliveries(r, call, "call.analyzed"), 1);
	assert_int_equal(deliveries(r, call, "call.completed"), 1);
	/* The completed payload carries everything. */
	cxi_dbc c;
	cx_db_rows *rows = NULL;
	cx_db_value p[] = {CX_DB_V_TEXT(call)};
	assert_int_equal(cxi_db_acquire(&r->db, 1000, &c), CX_OK);
	assert_int_equal(cxi_db_exec(&c, "SELECT payload FROM "
	                                 "webhook_deliveries WHERE call_id = "
	                                 "$1 AND event_type = 'call.completed'",
	                     p, 1, &rows, NULL), CX_OK);
	json_t *pl = json_loads(cxi_db_text(&c, rows, 0, 0), 0, NULL);
	cxi_db_rows_free(&c, rows);
	cxi_db_release(&c);
	json_t *d = json_object_get(pl, "data");
	assert_string_equal(S(json_object_get(d, "transcript"), "text"),
	    "agent: hi");
	assert_string_equal(S(d, "summary"), "said hi");
	assert_non_null(strstr(S(d, "recording_url"), call));
	assert_string_equal(S(d, "status"), "completed");
	json_decref(pl);
	free(cmp);
	free(call);
	rig_free(r);
}

static void
test_finish_deadline(void **state)
{
	(void) state;
	rig *r = rig_new(NULL);
	char *cmp = rig_campaign(r, "{\"record\":true, \"artifacts_wait_s\":1}");
	char *call = rig_call(r, cmp, NULL);
	send_completed(r, call, "d1", 4, false);
	cxi_callevents_sweep(r->cl.events);
	assert_int_equal(deliveries(r, call, "call.completed"), 0);
	usleep(1100 * 1000);
	cxi_callevents_sweep(r->cl.events);
	cxi_callevents_sweep(r->cl.events);
	assert_int_equal(deliveries(r, call, "call.completed"), 1);
	/* A call that never connected finishes at once, also when its
	 * terminal status came from elsewhere (the dialer). */
	char *busy = rig_call(r, cmp, NULL);
	json_t *ev = rig_event("d2", busy, 1, "busy");
	assert_int_equal(rig_send(r, "call.event", ev, NULL), CX_OK);
	assert_int_equal(deliveries(r, busy, "call.completed"), 1);
	assert_int_equal(deliveries(r, busy, "call.started"), 0);
	char *failed = rig_call(r, cmp, NULL);
	cx_db_value p[] = {CX_DB_V_TEXT(failed)};
	cxi_dbc c;
	assert_int_equal(cxi_db_acquire(&r->db, 1000, &c), CX_OK);
	assert_int_equal(cxi_db_exec(&c, "UPDATE calls SET status = 'failed', "
	                                 "outcome = 'failed' WHERE id = $1",
	                     p, 1, NULL, NULL), CX_OK);
	cxi_db_release(&c);
	cxi_callevents_sweep(r->cl.events);
	assert_int_equal(deliveries(r, failed, "call.completed"), 1);
	free(failed);
	free(busy);
	free(cmp);
	free(call);
	rig_free(r);
}

/* ---- transcription ---- */

static void
test_transcription(void **state)
{
	(void) state;
	rig *r = rig_new("{\"fail_first\":0, \"refuse\":false}");
	char *cmp = rig_campaign(r, "{\"record\":true}");
	char *call = rig_call(r, cmp, NULL);
	send_completed(r, call, "t1", 3, false);
	char path[300], seen[300];
	snprintf(path, sizeof(path), "%s/r.wav", r->teldir);
	long size = rig_wav(path, 30000);
	assert_int_equal(rig_send(r, "call.recording", rec_req(call, path,
	                     "audio/wav"), NULL), CX_OK);
	/* Not complete yet: the transcript is on its way. */
	assert_true(rig_wait_col(r, call, "transcript", 10000));
	json_t *row = rig_get_call(r, call);
	char want[64];
	snprintf(want, sizeof(want), "heard %ld bytes", size);
	assert_string_equal(S(row, "transcript"), want);
	assert_string_equal(S(row, "summary"), "a short call");
	assert_string_equal(S(row, "transcript_source"),
	    "transcription:testtr");
	assert_int_equal(json_array_size(json_object_get(row, "utterances")),
	    1);
	assert_false(json_is_null(json_object_get(row, "completed_sent_at")));
	json_decref(row);
	assert_int_equal(deliveries(r, call, "call.completed"), 1);
	assert_int_equal(deliveries(r, call, "call.analyzed"), 1);
	/* The plaintext copy was private, was WAV, and is gone. */
	snprintf(seen, sizeof(seen), "%s/plugins/testtr/seen.json", r->dir);
	json_t *s = json_load_file(seen, 0, NULL);
	assert_non_null(s);
	assert_int_equal(I(s, "mode"), 0600);
	assert_int_equal(I(s, "size"), size);
	assert_string_equal(S(s, "head"), "RIFF");
	assert_int_not_equal(access(S(s, "path"), F_OK), 0);
	json_decref(s);
	free(cmp);
	free(call);
	rig_free(r);
}

static void
test_transcription_refused(void **state)
{
	(void) state;
	rig *r = rig_new("{\"fail_first\":0, \"refuse\":true}");
	char *cmp = rig_campaign(r, "{\"record\":true}");
	char *call = rig_call(r, cmp, NULL);
	send_completed(r, call, "t1", 3, false);
	char path[300];
	snprintf(path, sizeof(path), "%s/r.wav", r->teldir);
	rig_wav(path, 3000);
	assert_int_equal(rig_send(r, "call.recording", rec_req(call, path,
	                     "audio/wav"), NULL), CX_OK);
	assert_true(rig_wait_col(r, call, "error", 10000));
	json_t *row = rig_get_call(r, call);
	assert_non_null(strstr(S(row, "error"), "unsupported audio"));
	assert_true(json_is_null(json_object_get(row, "transcript")));
	/* Given up on: call.completed goes out with what there is. */
	assert_false(json_is_null(json_object_get(row, "completed_sent_at")));
	json_decref(row);
	assert_int_equal(deliveries(r, call, "call.completed"), 1);
	free(cmp);
	free(call);
	rig_free(r);
}

static void
test_transcription_retry(void **state)
{
	(void) state;
	rig *r = rig_new("{\"fail_first\":1, \"refuse\":false}");
	char *call = rig_call(r, NULL, NULL);
	send_completed(r, call, "t1", 3, false);
	char path[300];
	snprintf(path, sizeof(path), "%s/r.wav", r->teldir);
	rig_wav(path, 3000);
	assert_int_equal(rig_send(r, "call.recording", rec_req(call, path,
	                     "audio/wav"), NULL), CX_OK);
	/* The first answer is EIO; the retry after the backoff succeeds. */
	assert_true(rig_wait_col(r, call, "transcript", 15000));
	json_t *row = rig_get_call(r, call);
	assert_true(json_is_null(json_object_get(row, "error")));
	json_decref(row);
	free(call);
	rig_free(r);
}

/* Work is found in the store, not in memory: a call that was waiting
 * when the runtime stopped is transcribed by the next one, and a
 * pending provider event is applied by the next one's sweeper. */
static void
test_restart(void **state)
{
	(void) state;
	rig *r = rig_new(NULL);
	char *call = rig_call(r, NULL, NULL);
	send_completed(r, call, "r1", 3, false);
	char path[300];
	snprintf(path, sizeof(path), "%s/r.wav", r->teldir);
	rig_wav(path, 3000);
	assert_int_equal(rig_send(r, "call.recording", rec_req(call, path,
	                     "audio/wav"), NULL), CX_OK);
	json_t *ev = json_pack("{s:i, s:s, s:s, s:s, s:i, s:s}", "v", 1,
	    "provider", "testtel", "event_id", "r-late", "provider_call_id",
	    "PC-R", "seq", 1, "status", "ringing");
	assert_int_equal(rig_send(r, "call.event", ev, NULL), CX_OK);
	json_t *row = rig_get_call(r, call);
	assert_true(json_is_null(json_object_get(row, "transcript")));
	json_decref(row);
	rig_restart(r, "{\"fail_first\":0, \"refuse\":false}");
	char *late = rig_call(r, NULL, "PC-R");
	assert_true(rig_wait_col(r, call, "transcript", 10000));
	assert_true(rig_wait_col(r, late, "started_at", 5000));
	row = rig_get_call(r, late);
	assert_string_equal(S(row, "status"), "ringing");
	json_decref(row);
	assert_int_equal(deliveries(r, call, "call.analyzed"), 1);
	free(late);
	free(call);
	rig_free(r);
}

static void
test_credentials(void **state)
{
	(void) state;
	rig *r = rig_new(NULL);
	char *call = rig_call(r, NULL, NULL);
	json_t *reply = NULL;
	assert_int_equal(rig_send(r, "call.credentials", json_pack("{s:i, s:s,"
	                     " s:s}", "v", 1, "provider", "testtel", "call_id",
	                     call), &reply), CX_OK);
	assert_int_equal(json_object_size(reply), 0); /* platform default */
	json_decref(reply);
	assert_int_equal(rig_send(r, "call.credentials", json_pack("{s:i, s:s,"
	                     " s:s}", "v", 1, "provider", "testtel", "call_id",
	                     "call_nope"), NULL), CX_ENOENT);
	free(call);
	rig_free(r);
}

int
main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s sqlite.so fs.so testtel.so "
		    "testtr.so\n", argv[0]);
		return (2);
	}
	rig_sqlite = argv[1];
	rig_fs = argv[2];
	rig_tel = argv[3];
	rig_tr = argv[4];
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duplicate),
	    cmocka_unit_test(test_out_of_order),
	    cmocka_unit_test(test_unknown_call_later),
	    cmocka_unit_test(test_forged_provider),
	    cmocka_unit_test(test_bad_fields),
	    cmocka_unit_test(test_concurrent),
	    cmocka_unit_test(test_recording_refused),
	    cmocka_unit_test(test_recording_roundtrip),
	    cmocka_unit_test(test_range_parse),
	    cmocka_unit_test(test_finish_with_artifacts),
	    cmocka_unit_test(test_finish_deadline),
	    cmocka_unit_test(test_transcription),
	    cmocka_unit_test(test_transcription_refused),
	    cmocka_unit_test(test_transcription_retry),
	    cmocka_unit_test(test_restart),
	    cmocka_unit_test(test_credentials),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
