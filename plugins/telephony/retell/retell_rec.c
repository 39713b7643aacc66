/*
 * retell_rec.c - recordings, fetched off the webhook path.
 *
 * Retell's recording URLs may be signed and expire after 24 h, so each
 * call's recording is fetched soon after call_ended: the webhook handler
 * only records the job in <data_dir>/recordings.json (written to a temp
 * file, fsynced, renamed) before it acknowledges, and one worker thread
 * downloads into a temp file in data_dir, hands it to the core
 * (call.recording), and removes the file. A failure is retried with
 * doubling backoff up to rec_max_attempts. Finished jobs stay listed for
 * a week so a late call_analyzed or a retried delivery does not fetch
 * the same recording twice. The list survives restarts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "retell.h"

#define RT_DONE_KEEP_MS (7LL * 24 * 3600 * 1000)
#define RT_BACKOFF_CAP_MS (10LL * 60 * 1000)
#define RT_DOWNLOAD_TIMEOUT_MS (10L * 60 * 1000)
#define RT_CORE_REC_TIMEOUT_MS 120000

struct rt_rec {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool running;
	atomic_bool stopping; /* also aborts a download in progress */
	json_t *items; /* array of jobs, see job_new() */
	char path[1024];
};

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static int64_t
jint(const json_t *o, const char *k)
{
	return ((int64_t) json_integer_value(json_object_get(o, k)));
}

static const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return (s ? s : "");
}

/* Writes the list; the caller holds mu. */
static cx_err
save(retell *r)
{
	rt_rec *q = r->rec;
	char tmp[1100];
	json_t *doc = json_pack("{s:i, s:O}", "v", 1, "items", q->items);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (text == NULL) {
		return (CX_ENOMEM);
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", q->path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(text), off = 0;
	bool ok = fd >= 0;
	while (ok && off < len) {
		ssize_t w = write(fd, text + off, len - off);
		ok = w > 0;
		off += ok ? (size_t) w : 0;
	}
	ok = ok && fsync(fd) == 0;
	if (fd >= 0 && close(fd) != 0) {
		ok = false;
	}
	free(text);
	if (!ok || rename(tmp, q->path) != 0) {
		r->host->log(r->host, CX_LOG_ERROR, "retell: cannot write %s: %s",
		    q->path, strerror(errno));
		unlink(tmp);
		return (CX_EIO);
	}
	return (CX_OK);
}

/* A download cut short by a crash leaves rec-XXXXXX behind: call audio
 * does not stay on disk unaccounted for. The job is still listed and
 * fetches it again. */
static void
sweep_temp(retell *r)
{
	DIR *d = opendir(r->host->data_dir);
	struct dirent *e;
	char path[1100];
	int n = 0;
	if (d == NULL) {
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "rec-", 4) == 0 &&
		    strlen(e->d_name) == 10) {
			snprintf(path, sizeof(path), "%s/%s", r->host->data_dir,
			    e->d_name);
			n += unlink(path) == 0;
		}
	}
	closedir(d);
	if (n > 0) {
		r->host->log(r->host, CX_LOG_INFO, "retell: removed %d partial "
		    "recording download(s)", n);
	}
}

cx_err
retell_rec_open(retell *r)
{
	rt_rec *q = calloc(1, sizeof(*q));
	if (q == NULL) {
		return (CX_ENOMEM);
	}
	if (pthread_mutex_init(&q->mu, NULL) != 0) {
		free(q);
		return (CX_ENOMEM);
	}
	if (pthread_cond_init(&q->cv, NULL) != 0) {
		pthread_mutex_destroy(&q->mu);
		free(q);
		return (CX_ENOMEM);
	}
	r->rec = q;
	sweep_temp(r);
	snprintf(q->path, sizeof(q->path), "%s/recordings.json",
	    r->host->data_dir);
	json_error_t je;
	json_t *doc = json_load_file(q->path, 0, &je);
	if (doc == NULL && access(q->path, F_OK) == 0) {
		/* Unreadable: keep it for the operator, start afresh. */
		char bad[1100];
		snprintf(bad, sizeof(bad), "%s.corrupt", q->path);
		r->host->log(r->host, CX_LOG_ERROR, "retell: %s is unreadable "
		    "(%s); moved to %s", q->path, je.text, bad);
		if (rename(q->path, bad) != 0) {
			return (CX_EIO);
		}
	}
	json_t *items = json_object_get(doc, "items");
	q->items = json_is_array(items) ? json_incref(items) : json_array();
	json_decref(doc);
	size_t pending = 0, i;
	json_t *it;
	json_array_foreach(q->items, i, it) {
		pending += json_is_true(json_object_get(it, "done")) ? 0 : 1;
	}
	if (pending > 0) {
		r->host->log(r->host, CX_LOG_INFO, "retell: %zu recording(s) "
		    "pending from before the restart", pending);
	}
	return (q->items ? CX_OK : CX_ENOMEM);
}

static json_t *
find(rt_rec *q, const char *call_id)
{
	size_t i;
	json_t *it;
	json_array_foreach(q->items, i, it) {
		if (strcmp(jstr(it, "call_id"), call_id) == 0) {
			return (it);
		}
	}
	return (NULL);
}

cx_err
retell_rec_enqueue(retell *r, const char *call_id, const char *cx_call_id,
    const char *url, int64_t duration_ms)
{
	rt_rec *q = r->rec;
	cx_err e = CX_OK;
	pthread_mutex_lock(&q->mu);
	if (find(q, call_id) == NULL) {
		json_t *job = json_pack("{s:s, s:s, s:s, s:I, s:i, s:I, s:b}",
		    "call_id", call_id, "cx_call_id", cx_call_id, "url", url,
		    "duration_ms", (json_int_t) duration_ms, "attempts", 0,
		    "next_ms", (json_int_t) 0, "done", 0);
		if (job == NULL || json_array_append_new(q->items, job) != 0) {
			e = CX_ENOMEM;
		} else if ((e = save(r)) != CX_OK) {
			json_array_remove(q->items, json_array_size(q->items) - 1);
		}
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return (e);
}

void
retell_rec_kick(retell *r)
{
	pthread_mutex_lock(&r->rec->mu);
	pthread_cond_signal(&r->rec->cv);
	pthread_mutex_unlock(&r->rec->mu);
}

/* What the file is, by its first bytes: storage in front of Retell
 * may label audio application/octet-stream, and the core checks the
 * magic against the type we name. */
static const char *
sniff(int fd)
{
	unsigned char h[12];
	ssize_t n = pread(fd, h, sizeof(h), 0);
	if (n == 12 && memcmp(h, "RIFF", 4) == 0 &&
	    memcmp(h + 8, "WAVE", 4) == 0) {
		return ("audio/wav");
	}
	if (n >= 3 && (memcmp(h, "ID3", 3) == 0 ||
	        (h[0] == 0xFF && (h[1] & 0xE0) == 0xE0))) {
		return ("audio/mpeg");
	}
	return (NULL);
}

static const char *
content_type(const char *ctype, const char *url)
{
	if (strncasecmp(ctype, "audio/mpeg", 10) == 0) {
		return ("audio/mpeg");
	}
	if (strncasecmp(ctype, "audio/", 6) == 0 && strstr(ctype, "wav")) {
		return ("audio/wav");
	}
	/* Storage often says application/octet-stream: go by the name. */
	const char *q = strchr(url, '?');
	size_t n = q ? (size_t) (q - url) : strlen(url);
	if (n >= 4 && strncasecmp(url + n - 4, ".mp3", 4) == 0) {
		return ("audio/mpeg");
	}
	return ("audio/wav");
}

/* One attempt at one job (copied out of the list: no lock held). */
static cx_err
fetch(retell *r, const json_t *job)
{
	char path[1100], ctype[128];
	long status;
	snprintf(path, sizeof(path), "%s/rec-XXXXXX", r->host->data_dir);
	int fd = mkstemp(path);
	if (fd < 0) {
		r->host->log(r->host, CX_LOG_ERROR, "retell: cannot create a "
		    "temp file in %s: %s", r->host->data_dir, strerror(errno));
		return (CX_EIO);
	}
	cx_err e = retell_http_download(jstr(job, "url"), fd,
	    RT_DOWNLOAD_TIMEOUT_MS, &r->rec->stopping, &status, ctype, sizeof(ctype));
	if (fsync(fd) != 0 && e == CX_OK) {
		e = CX_EIO;
	}
	const char *sniffed = e == CX_OK ? sniff(fd) : NULL;
	close(fd);
	if (e != CX_OK) {
		r->host->log(r->host, CX_LOG_WARN, "retell: recording of %s: "
		    "download failed (HTTP %ld, %s)", jstr(job, "call_id"),
		    status, cx_strerror(e));
		unlink(path);
		return (e);
	}
	json_t *msg = json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", 1,
	    "provider", r->host->name, "provider_call_id", jstr(job, "call_id"),
	    "path", path, "content_type", sniffed ? sniffed :
	    content_type(ctype, jstr(job, "url")));
	if (msg == NULL) {
		unlink(path);
		return (CX_ENOMEM);
	}
	if (jstr(job, "cx_call_id")[0] != '\0') {
		json_object_set_new(msg, "call_id",
		    json_string(jstr(job, "cx_call_id")));
	}
	if (jint(job, "duration_ms") > 0) {
		json_object_set_new(msg, "duration_ms",
		    json_integer(jint(job, "duration_ms")));
	}
	json_t *rep = NULL;
	e = r->host->call(r->host, CX_SVC_CORE, CX_SVC_CALL_RECORDING, NULL,
	    msg, RT_CORE_REC_TIMEOUT_MS, &rep);
	json_decref(rep);
	/* Whatever the core said, the file goes: a retry downloads again
	 * rather than leave audio lying in data_dir. */
	unlink(path);
	if (e != CX_OK) {
		r->host->log(r->host, CX_LOG_WARN, "retell: core did not take "
		    "the recording of %s: %s", jstr(job, "call_id"),
		    cx_strerror(e));
	}
	return (e);
}

static void
prune(rt_rec *q, int64_t now)
{
	for (size_t i = json_array_size(q->items); i-- > 0;) {
		json_t *it = json_array_get(q->items, i);
		if (json_is_true(json_object_get(it, "done")) &&
		    now - jint(it, "done_ms") > RT_DONE_KEEP_MS) {
			json_array_remove(q->items, i);
		}
	}
}

static void *
worker(void *arg)
{
	retell *r = arg;
	rt_rec *q = r->rec;
	pthread_mutex_lock(&q->mu);
	while (!q->stopping) {
		int64_t now = now_ms(), next = now + 60000;
		json_t *due = NULL;
		size_t i;
		json_t *it;
		json_array_foreach(q->items, i, it) {
			if (json_is_true(json_object_get(it, "done"))) {
				continue;
			}
			int64_t at = jint(it, "next_ms");
			if (at <= now) {
				due = it;
				break;
			}
			next = at < next ? at : next;
		}
		if (due == NULL) {
			struct timespec ts = {next / 1000, (next % 1000) * 1000000};
			pthread_cond_timedwait(&q->cv, &q->mu, &ts);
			continue;
		}
		json_t *job = json_deep_copy(due);
		pthread_mutex_unlock(&q->mu);
		cx_err e = job ? fetch(r, job) : CX_ENOMEM;
		rt_cfg cfg;
		retell_cfg_get(r, &cfg);
		explicit_bzero(cfg.api_key, sizeof(cfg.api_key));
		pthread_mutex_lock(&q->mu);
		/* Find it again: the list may have changed meanwhile. */
		json_t *cur = job ? find(q, jstr(job, "call_id")) : NULL;
		json_decref(job);
		if (cur == NULL) {
			continue;
		}
		int attempts = (int) jint(cur, "attempts") + 1;
		json_object_set_new(cur, "attempts", json_integer(attempts));
		now = now_ms();
		if (e == CX_OK || attempts >= cfg.rec_max_attempts) {
			if (e != CX_OK) {
				r->host->log(r->host, CX_LOG_ERROR, "retell: "
				    "recording of %s given up after %d attempts",
				    jstr(cur, "call_id"), attempts);
				json_object_set_new(cur, "failed", json_true());
				r->host->metric_add(r->host,
				    "retell_recordings_failed_total", 1);
			} else {
				r->host->metric_add(r->host,
				    "retell_recordings_total", 1);
			}
			json_object_set_new(cur, "done", json_true());
			json_object_set_new(cur, "done_ms", json_integer(now));
			/* A signed URL is a credential for a day: keep only
			 * the call id for deduplication. */
			json_object_del(cur, "url");
		} else {
			int64_t d = cfg.rec_backoff_ms;
			for (int k = 1; k < attempts && d < RT_BACKOFF_CAP_MS; k++) {
				d *= 2;
			}
			d = d < RT_BACKOFF_CAP_MS ? d : RT_BACKOFF_CAP_MS;
			json_object_set_new(cur, "next_ms", json_integer(now + d));
		}
		prune(q, now);
		(void) save(r); /* logged; the in-memory list goes on */
	}
	pthread_mutex_unlock(&q->mu);
	return (NULL);
}

cx_err
retell_rec_start(retell *r)
{
	rt_rec *q = r->rec;
	q->stopping = false;
	if (pthread_create(&q->thread, NULL, worker, r) != 0) {
		return (CX_ENOMEM);
	}
	q->running = true;
	return (CX_OK);
}

void
retell_rec_stop(retell *r)
{
	rt_rec *q = r->rec;
	if (q == NULL || !q->running) {
		return;
	}
	pthread_mutex_lock(&q->mu);
	q->stopping = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	q->running = false;
}

void
retell_rec_close(retell *r)
{
	rt_rec *q = r->rec;
	if (q == NULL) {
		return;
	}
	retell_rec_stop(r);
	json_decref(q->items);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
	r->rec = NULL;
}
