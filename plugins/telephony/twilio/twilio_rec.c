/*
 * twilio_rec.c - recordings waiting to be fetched from Twilio.
 *
 * The recording webhook only queues work: a download can take minutes
 * and must never hold an HTTP worker. The queue is a journal in the
 * plugin's data_dir (recordings.json, JSON lines, see twilio_journal.h):
 * every change is one synced appended line, so a restart resumes where
 * it stopped. One worker thread takes due entries:
 *   download  GET {RecordingUrl}.wav|.mp3 (Basic auth) into data_dir,
 *             hand the file to the core (call.recording), remove it;
 *   delete    (delete_recordings) DELETE the recording at Twilio.
 * Failures retry with exponential backoff up to max_attempts.
 *
 * During a reload the old and the new instance of the plugin run side by
 * side on the same data_dir, so the file (not memory) is the truth:
 * every change happens under an flock on recordings.lock after reading
 * the lines the other instance appended since (or the whole file after
 * its compaction), and an entry being worked on carries a lease so that
 * only one worker fetches it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sys/file.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "twilio.h"
#include "twilio_journal.h"

#define TWILIO_REC_DONE_KEEP 512
/* How often an idle worker looks at the file for entries another
 * instance added. */
#define TWILIO_REC_POLL_MS 1000

struct twilio_rec {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, running;
	int lock_fd;         /* flock()ed around every read-modify-write */
	twilio_journal *jr;  /* the file and its index (as last synced) */
	char path[PATH_MAX];
};

typedef enum { REC_RETRY, REC_NEXT, REC_DONE } rec_result;

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static const char *
str(const json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

static bool
flock_ex(int fd)
{
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			return (false);
		}
	}
	return (true);
}

/* Caller holds mu: takes the file lock and catches up with what other
 * instances appended (a few lines, not the whole file). */
static cx_err
file_lock(twilio *t)
{
	twilio_rec *r = t->rec;
	char err[256];
	if (!flock_ex(r->lock_fd)) {
		return (CX_EIO);
	}
	cx_err e = twilio_jr_sync(r->jr, err, sizeof(err));
	if (err[0] != '\0') {
		t->host->log(t->host, e == CX_OK ? CX_LOG_WARN : CX_LOG_ERROR,
		    "twilio: recording queue: %s", err);
	}
	if (e != CX_OK) {
		flock(r->lock_fd, LOCK_UN);
	}
	return (e);
}

static void
file_unlock(twilio *t)
{
	flock(t->rec->lock_fd, LOCK_UN);
}

static void
log_io(twilio *t, cx_err e)
{
	if (e != CX_OK) {
		t->host->log(t->host, CX_LOG_ERROR, "twilio: cannot write the "
		    "recording queue %s: %s", t->rec->path, cx_strerror(e));
	}
}

cx_err
twilio_rec_add(twilio *t, const twilio_form *f, const char *call_id)
{
	twilio_rec *r = t->rec;
	const char *re = twilio_form_get(f, "RecordingSid");
	int64_t dur = 0;
	const char *ds = twilio_form_get(f, "RecordingDuration");
	if (r == NULL) {
		return (CX_ECLOSED);
	}
	if (ds != NULL) {
		dur = strtoll(ds, NULL, 10);
		dur = dur > 0 && dur < 1000000000 ? dur * 1000 : 0;
	}
	json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:I}",
	    "recording_sid", re, "call_sid", twilio_form_get(f, "CallSid"),
	    "account_sid", twilio_form_get(f, "AccountSid") ?
	        twilio_form_get(f, "AccountSid") : "",
	    "url", twilio_form_get(f, "RecordingUrl"), "stage", "download",
	    "duration_ms", (json_int_t) dur, "attempts", 0, "next_ms",
	    (json_int_t) now_ms());
	if (e == NULL) {
		return (CX_ENOMEM);
	}
	if (call_id != NULL) {
		json_object_set_new(e, "call_id", json_string(call_id));
	}
	pthread_mutex_lock(&r->mu);
	cx_err rv = file_lock(t);
	if (rv == CX_OK) {
		if (!twilio_jr_known(r->jr, re)) {
			rv = twilio_jr_put(r->jr, e);
			log_io(t, rv);
			pthread_cond_broadcast(&r->cv);
		}
		file_unlock(t);
	}
	pthread_mutex_unlock(&r->mu);
	json_decref(e);
	return (rv);
}

static void
media_url(const twilio *t, const json_t *e, twilio_buf *b)
{
	const char *u = str(e, "url");
	size_t bl = strlen(t->api_base);
	/* Credentials go only to the API we are configured for. */
	if (u != NULL && strncmp(u, t->api_base, bl) == 0 && u[bl] == '/') {
		twilio_buf_str(b, u);
	} else {
		twilio_buf_str(b, t->api_base);
		twilio_buf_str(b, "/2010-04-01/Accounts/");
		twilio_buf_str(b, str(e, "account_sid"));
		twilio_buf_str(b, "/Recordings/");
		twilio_buf_str(b, str(e, "recording_sid"));
	}
}

static rec_result
hand_over(twilio *t, const json_t *e, const char *path)
{
	json_t *req = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I}", "v",
	    CX_TELEPHONY_VERSION, "provider", t->host->name, "provider_call_id",
	    str(e, "call_sid"), "path", path, "content_type",
	    t->mp3 ? "audio/mpeg" : "audio/wav", "duration_ms",
	    json_integer_value(json_object_get(e, "duration_ms")));
	json_t *rep = NULL;
	if (req == NULL) {
		return (REC_RETRY);
	}
	if (str(e, "call_id") != NULL) {
		json_object_set_new(req, "call_id", json_string(str(e,
		    "call_id")));
	}
	cx_err rv = t->host->call(t->host, CX_SVC_CORE, CX_SVC_CALL_RECORDING,
	    NULL, req, 120000, &rep);
	if (rv != CX_OK) {
		t->host->log(t->host, CX_LOG_ERROR, "twilio: core refused "
		    "recording %s: %s %s", str(e, "recording_sid"),
		    cx_strerror(rv), rep && str(rep, "message") ?
		        str(rep, "message") : "");
	}
	json_decref(rep);
	return (rv == CX_OK ? REC_NEXT : REC_RETRY);
}

static rec_result
download(twilio *t, const json_t *e, const twilio_creds *c)
{
	const char *ext = t->mp3 ? "mp3" : "wav";
	char part[PATH_MAX], path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/rec-%s.%s", t->host->data_dir,
	    str(e, "recording_sid"), ext);
	snprintf(part, sizeof(part), "%s.part", path);
	twilio_buf url = {0};
	media_url(t, e, &url);
	twilio_buf_str(&url, ".");
	twilio_buf_str(&url, ext);
	FILE *fp = url.oom ? NULL : fopen(part, "wbe");
	if (fp == NULL) {
		twilio_buf_free(&url);
		return (REC_RETRY);
	}
	twilio_resp r;
	long to = t->http_timeout_ms * 30 > 600000 ? 600000 :
	                                             t->http_timeout_ms * 30;
	cx_err rv = twilio_http(t, c, "GET", url.s, NULL, to, fp, &r);
	twilio_buf_free(&url);
	bool ok = fclose(fp) == 0 && rv == CX_OK && r.status == 200;
	if (!ok) {
		t->host->log(t->host, CX_LOG_WARN, "twilio: download of "
		    "recording %s failed (HTTP %ld, %s)", str(e,
		    "recording_sid"), r.status, cx_strerror(rv));
		unlink(part);
		twilio_resp_free(&r);
		return (REC_RETRY);
	}
	twilio_resp_free(&r);
	if (rename(part, path) != 0) {
		unlink(part);
		return (REC_RETRY);
	}
	rec_result res = hand_over(t, e, path);
	/* The core has its encrypted copy (or will get a fresh download on
	 * the retry): ours goes either way. */
	unlink(path);
	if (res == REC_NEXT && !t->delete_recordings) {
		res = REC_DONE;
	}
	return (res);
}

static rec_result
delete_remote(twilio *t, const json_t *e, const twilio_creds *c)
{
	twilio_buf url = {0};
	media_url(t, e, &url);
	twilio_buf_str(&url, ".json");
	twilio_resp r = {0};
	cx_err rv = url.oom ? CX_ENOMEM :
	    twilio_http(t, c, "DELETE", url.s, NULL, t->http_timeout_ms, NULL,
	        &r);
	twilio_buf_free(&url);
	/* 404: already gone, which is what we wanted. */
	bool ok = rv == CX_OK && (r.status == 204 || r.status == 200 ||
	                             r.status == 404);
	if (!ok) {
		t->host->log(t->host, CX_LOG_WARN, "twilio: delete of recording "
		    "%s failed (HTTP %ld, %s)", str(e, "recording_sid"),
		    r.status, cx_strerror(rv));
	}
	twilio_resp_free(&r);
	return (ok ? REC_DONE : REC_RETRY);
}

static rec_result
process(twilio *t, const json_t *e)
{
	twilio_creds c;
	if (twilio_creds_for_call(t, str(e, "call_id"), &c) != CX_OK) {
		twilio_creds_wipe(&c);
		return (REC_RETRY);
	}
	rec_result res = strcmp(str(e, "stage"), "delete") == 0 ?
	    delete_remote(t, e, &c) :
	    download(t, e, &c);
	twilio_creds_wipe(&c);
	return (res);
}

/* Caller holds mu. */
static void
settle(twilio *t, const char *sid, rec_result res)
{
	twilio_rec *r = t->rec;
	if (file_lock(t) != CX_OK) {
		return; /* the lease runs out and the entry is tried again */
	}
	const json_t *cur = twilio_jr_get(r->jr, sid);
	if (cur == NULL) {
		file_unlock(t);
		return;
	}
	/* Changed on a copy: the journal's job changes only once the
	 * line describing its new state is on disk. */
	json_t *e = json_deep_copy(cur);
	if (e == NULL) {
		file_unlock(t);
		return;
	}
	json_object_del(e, "lease_until");
	json_int_t n = json_integer_value(json_object_get(e, "attempts")) + 1;
	cx_err rv;
	if (res == REC_DONE) {
		rv = twilio_jr_done(r->jr, sid);
		t->host->metric_add(t->host, "recordings_total", 1);
	} else if (res == REC_NEXT) {
		json_object_set_new(e, "stage", json_string("delete"));
		json_object_set_new(e, "attempts", json_integer(0));
		rv = twilio_jr_put(r->jr, e);
	} else if (n >= t->max_attempts) {
		t->host->log(t->host, CX_LOG_ERROR, "twilio: giving up on "
		    "recording %s (%s) after %lld attempts", sid,
		    str(e, "stage"), (long long) n);
		t->host->metric_add(t->host, "recordings_failed_total", 1);
		rv = twilio_jr_drop(r->jr, sid);
	} else {
		int sh = n > 16 ? 16 : (int) n - 1;
		int64_t d = (int64_t) t->retry_backoff_ms << sh;
		d = d > 3600000 ? 3600000 : d;
		json_object_set_new(e, "attempts", json_integer(n));
		json_object_set_new(e, "next_ms", json_integer(now_ms() + d));
		rv = twilio_jr_put(r->jr, e);
	}
	log_io(t, rv);
	json_decref(e);
	file_unlock(t);
}

/* Caller holds mu. Leases the due entry (if any) and returns a copy;
 * *next gets when to look again. */
static json_t *
take_due(twilio *t, int64_t *next)
{
	twilio_rec *r = t->rec;
	int64_t now = now_ms();
	*next = now + TWILIO_REC_POLL_MS;
	if (file_lock(t) != CX_OK) {
		return (NULL);
	}
	json_t *due = twilio_jr_due(r->jr, now, next);
	json_t *copy = due != NULL ? json_deep_copy(due) : NULL;
	if (copy != NULL) {
		/* Longer than any download may take: a lease left by a
		 * crashed worker only delays the retry. */
		int64_t lease = now + 2 * (t->http_timeout_ms * 30 + 60000);
		json_object_set_new(copy, "lease_until", json_integer(lease));
		cx_err rv = twilio_jr_put(r->jr, copy);
		log_io(t, rv);
		if (rv != CX_OK) {
			json_decref(copy);
			copy = NULL;
		}
	}
	file_unlock(t);
	return (copy);
}

static void *
worker(void *arg)
{
	twilio *t = arg;
	twilio_rec *r = t->rec;
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		int64_t next;
		json_t *copy = take_due(t, &next);
		if (copy == NULL) {
			struct timespec ts;
			ts.tv_sec = (time_t) (next / 1000);
			ts.tv_nsec = (long) (next % 1000) * 1000000;
			pthread_cond_timedwait(&r->cv, &r->mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&r->mu);
		rec_result res = process(t, copy);
		pthread_mutex_lock(&r->mu);
		settle(t, str(copy, "recording_sid"), res);
		json_decref(copy);
	}
	pthread_mutex_unlock(&r->mu);
	return (NULL);
}

cx_err
twilio_rec_start(twilio *t)
{
	twilio_rec *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return (CX_ENOMEM);
	}
	t->rec = r;
	r->lock_fd = -1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	snprintf(r->path, sizeof(r->path), "%s/recordings.json",
	    t->host->data_dir);
	char lpath[PATH_MAX + 8];
	snprintf(lpath, sizeof(lpath), "%s/recordings.lock",
	    t->host->data_dir);
	r->lock_fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (r->lock_fd < 0) {
		t->host->log(t->host, CX_LOG_ERROR, "twilio: cannot open %s: "
		    "%s", lpath, strerror(errno));
		return (CX_EIO);
	}
	if (!flock_ex(r->lock_fd)) {
		return (CX_EIO);
	}
	char err[256];
	cx_err e = twilio_jr_open(r->path, TWILIO_REC_DONE_KEEP, &r->jr, err,
	    sizeof(err));
	flock(r->lock_fd, LOCK_UN);
	if (err[0] != '\0') {
		t->host->log(t->host, e == CX_OK ? CX_LOG_WARN : CX_LOG_ERROR,
		    "twilio: recording queue: %s", err);
	}
	if (e != CX_OK) {
		/* Refuse to start rather than overwrite and lose them. */
		return (e);
	}
	if (twilio_jr_pending(r->jr) > 0) {
		t->host->log(t->host, CX_LOG_INFO, "twilio: resuming %zu "
		    "recording(s) from %s", twilio_jr_pending(r->jr), r->path);
	}
	if (pthread_create(&r->th, NULL, worker, t) != 0) {
		return (CX_EIO);
	}
	r->running = true;
	return (CX_OK);
}

void
twilio_rec_halt(twilio *t)
{
	twilio_rec *r = t->rec;
	if (r == NULL || !r->running) {
		return;
	}
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->th, NULL);
	r->running = false;
}

void
twilio_rec_stop(twilio *t)
{
	twilio_rec *r = t->rec;
	if (r == NULL) {
		return;
	}
	twilio_rec_halt(t);
	if (r->lock_fd >= 0) {
		close(r->lock_fd);
	}
	twilio_jr_close(r->jr);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r);
	t->rec = NULL;
}
