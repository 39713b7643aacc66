/*
 * fake_core.c - see fake_core.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <callixo/telephony.h>

#include "fake_core.h"

void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0) {
	}
}

void
fake_init(fake_core *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->events = json_array();
	f->attempts = json_array();
	f->recs = json_array();
	f->seen = json_object();
}

void
fake_free(fake_core *f)
{
	json_decref(f->events);
	json_decref(f->attempts);
	json_decref(f->recs);
	json_decref(f->seen);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
}

static uint32_t
le32(const unsigned char *p)
{
	return ((uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
	    (uint32_t) p[3] << 24);
}

static uint16_t
le16(const unsigned char *p)
{
	return ((uint16_t) (p[0] | p[1] << 8));
}

json_t *
wav_inspect(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL) {
		return (json_pack("{s:b, s:s}", "ok", 0, "why", "cannot open"));
	}
	fseek(fp, 0, SEEK_END);
	long size = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	unsigned char *b = malloc(size > 0 ? (size_t) size : 1);
	size_t got = b != NULL ? fread(b, 1, (size_t) size, fp) : 0;
	fclose(fp);
	json_t *r;
	if (b == NULL || size < 44 || got != (size_t) size ||
	    memcmp(b, "RIFF", 4) != 0 || memcmp(b + 8, "WAVE", 4) != 0 ||
	    memcmp(b + 12, "fmt ", 4) != 0 || memcmp(b + 36, "data", 4) != 0) {
		free(b);
		return (json_pack("{s:b, s:s}", "ok", 0, "why", "not RIFF/WAVE"));
	}
	uint32_t data = le32(b + 40);
	double sum = 0;
	size_t n = data / 2;
	for (size_t i = 0; i < n && 44 + 2 * i + 1 < (size_t) size; i++) {
		double v = (int16_t) le16(b + 44 + 2 * i) / 32768.0;
		sum += v * v;
	}
	bool ok = le32(b + 4) == (uint32_t) size - 8 && le32(b + 16) == 16 &&
	    44 + data == (uint32_t) size;
	r = json_pack("{s:b, s:i, s:i, s:i, s:i, s:i, s:I, s:I, s:f}", "ok", ok,
	    "format", le16(b + 20), "channels", le16(b + 22), "rate",
	    (int) le32(b + 24), "byte_rate", (int) le32(b + 28), "bits",
	    le16(b + 34), "data_bytes", (json_int_t) data, "file_bytes",
	    (json_int_t) size, "rms", n ? sqrt(sum / (double) n) : 0.0);
	free(b);
	return (r);
}

cx_err
fake_serve(void *arg, const cx_msg *req, json_t **reply)
{
	fake_core *f = arg;
	pthread_mutex_lock(&f->mu);
	const char *eid = json_string_value(json_object_get(req->data,
	    "event_id"));
	if (strcmp(req->type, CX_SVC_CALL_EVENT) == 0) {
		json_array_append_new(f->attempts, json_string(eid ? eid : ""));
	}
	if (f->fail_first > 0) {
		f->fail_first--;
		f->failed++;
		pthread_mutex_unlock(&f->mu);
		*reply = json_pack("{s:s}", "message", "database is locked");
		return (CX_EIO);
	}
	cx_err rv = CX_OK;
	if (strcmp(req->type, CX_SVC_CALL_EVENT) == 0) {
		bool dup = eid != NULL && json_object_get(f->seen, eid) != NULL;
		if (!dup) {
			json_object_set_new(f->seen, eid ? eid : "", json_true());
			json_array_append_new(f->events, json_deep_copy(req->data));
		}
		*reply = json_pack("{s:b}", "duplicate", dup);
	} else if (strcmp(req->type, CX_SVC_CALL_RECORDING) == 0) {
		/* Read it now: the plugin deletes it once we answer. */
		const char *path = json_string_value(json_object_get(req->data,
		    "path"));
		json_t *c = json_deep_copy(req->data);
		json_object_set_new(c, "wav", path ? wav_inspect(path) :
		                                     json_null());
		json_array_append_new(f->recs, c);
		*reply = json_pack("{s:s}", "recording", "blob_test");
	} else {
		*reply = json_pack("{s:s}", "message", "unknown request type");
		rv = CX_ENOENT;
	}
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return (rv);
}

static json_t *
events_of_locked(fake_core *f, const char *call_id)
{
	json_t *out = json_array();
	size_t i;
	json_t *e;
	json_array_foreach (f->events, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "call_id")),
		        call_id) == 0) {
			json_array_append(out, e);
		}
	}
	return (out);
}

json_t *
fake_events_of(fake_core *f, const char *call_id)
{
	pthread_mutex_lock(&f->mu);
	json_t *out = events_of_locked(f, call_id);
	pthread_mutex_unlock(&f->mu);
	return (out);
}

static json_t *
terminal_locked(fake_core *f, const char *call_id)
{
	json_t *evs = events_of_locked(f, call_id);
	json_t *t = NULL;
	size_t i;
	json_t *e;
	json_array_foreach (evs, i, e) {
		if (json_object_get(e, "outcome") != NULL) {
			t = json_incref(e);
		}
	}
	json_decref(evs);
	return (t);
}

json_t *
fake_terminal(fake_core *f, const char *call_id)
{
	pthread_mutex_lock(&f->mu);
	json_t *t = terminal_locked(f, call_id);
	pthread_mutex_unlock(&f->mu);
	return (t);
}

static json_t *
rec_locked(fake_core *f, const char *pcid)
{
	size_t i;
	json_t *r;
	json_array_foreach (f->recs, i, r) {
		if (strcmp(json_string_value(json_object_get(r,
		               "provider_call_id")), pcid) == 0) {
			return (r);
		}
	}
	return (NULL);
}

json_t *
fake_recording_of(fake_core *f, const char *pcid)
{
	pthread_mutex_lock(&f->mu);
	json_t *r = json_incref(rec_locked(f, pcid));
	pthread_mutex_unlock(&f->mu);
	return (r);
}

static bool
all_done_locked(fake_core *f, const json_t *ids)
{
	size_t i;
	json_t *id;
	json_array_foreach (ids, i, id) {
		json_t *t = terminal_locked(f, json_string_value(id));
		bool done = t != NULL &&
		    (!json_is_true(json_object_get(t, "recording_pending")) ||
		        rec_locked(f, json_string_value(json_object_get(t,
		                          "provider_call_id"))) != NULL);
		json_decref(t);
		if (!done) {
			return (false);
		}
	}
	return (true);
}

static bool
wait_until(fake_core *f, bool (*pred)(fake_core *, const void *),
    const void *arg, int timeout_ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&f->mu);
	bool ok;
	while (!(ok = pred(f, arg))) {
		if (pthread_cond_timedwait(&f->cv, &f->mu, &dl) != 0) {
			ok = pred(f, arg);
			break;
		}
	}
	pthread_mutex_unlock(&f->mu);
	return (ok);
}

static bool
pred_done(fake_core *f, const void *arg)
{
	return (all_done_locked(f, arg));
}

bool
fake_wait_done(fake_core *f, const json_t *ids, int timeout_ms)
{
	return (wait_until(f, pred_done, ids, timeout_ms));
}

struct want {
	const char *call_id, *status;
};

static bool
pred_event(fake_core *f, const void *arg)
{
	const struct want *w = arg;
	json_t *evs = events_of_locked(f, w->call_id);
	bool found = false;
	size_t i;
	json_t *e;
	json_array_foreach (evs, i, e) {
		found |= strcmp(json_string_value(json_object_get(e, "status")),
		             w->status) == 0;
	}
	json_decref(evs);
	return (found);
}

bool
fake_wait_event(fake_core *f, const char *call_id, const char *status,
    int timeout_ms)
{
	struct want w = {call_id, status};
	return (wait_until(f, pred_event, &w, timeout_ms));
}
