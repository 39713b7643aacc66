/*
 * retell_rec.c - recordings, fetched off the webhook path.
 *
 * Retell's recording URLs may be signed and expire after 24 h, so each
 * call's recording is fetched soon after call_ended: the webhook handler
 * only appends the job to the journal <data_dir>/recordings.json
 * (retell_recq.c, fdatasynced) before it acknowledges, and one worker
 * thread downloads into a temp file in data_dir, hands it to the core
 * (call.recording), and removes the file. A failure is retried with
 * doubling backoff up to rec_max_attempts. Finished jobs stay listed for
 * a week so a late call_analyzed or a retried delivery does not fetch
 * the same recording twice. The list survives restarts (pending jobs
 * are due again at once then).
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
#include "retell_recq.h"

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
	rt_jobs jobs;
	bool jobs_open;
};

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
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
	char path[1100];
	snprintf(path, sizeof(path), "%s/recordings.json", r->host->data_dir);
	cx_err e = rt_jobs_open(&q->jobs, r->host, path, now_ms(),
	    RT_DONE_KEEP_MS);
	if (e != CX_OK) {
		return (e);
	}
	q->jobs_open = true;
	size_t pending = rt_jobs_pending(&q->jobs);
	if (pending > 0) {
		r->host->log(r->host, CX_LOG_INFO, "retell: %zu recording(s) "
		    "pending from before the restart", pending);
	}
	return (CX_OK);
}

cx_err
retell_rec_enqueue(retell *r, const char *call_id, const char *cx_call_id,
    const char *url, int64_t duration_ms)
{
	rt_rec *q = r->rec;
	pthread_mutex_lock(&q->mu);
	cx_err e = rt_jobs_add(&q->jobs, call_id, cx_call_id, url, duration_ms,
	    now_ms());
	if (e == CX_OK) {
		pthread_cond_signal(&q->cv);
	} else if (e == CX_EEXIST) {
		e = CX_OK; /* queued or done already */
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
fetch(retell *r, const rt_job *job)
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
	cx_err e = retell_http_download(job->url, fd,
	    RT_DOWNLOAD_TIMEOUT_MS, &r->rec->stopping, &status, ctype, sizeof(ctype));
	if (fsync(fd) != 0 && e == CX_OK) {
		e = CX_EIO;
	}
	const char *sniffed = e == CX_OK ? sniff(fd) : NULL;
	close(fd);
	if (e != CX_OK) {
		r->host->log(r->host, CX_LOG_WARN, "retell: recording of %s: "
		    "download failed (HTTP %ld, %s)", job->call_id,
		    status, cx_strerror(e));
		unlink(path);
		return (e);
	}
	json_t *msg = json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", 1,
	    "provider", r->host->name, "provider_call_id", job->call_id,
	    "path", path, "content_type", sniffed ? sniffed :
	    content_type(ctype, job->url));
	if (msg == NULL) {
		unlink(path);
		return (CX_ENOMEM);
	}
	if (job->cx_call_id[0] != '\0') {
		json_object_set_new(msg, "call_id",
		    json_string(job->cx_call_id));
	}
	if (job->duration_ms > 0) {
		json_object_set_new(msg, "duration_ms",
		    json_integer(job->duration_ms));
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
		    "the recording of %s: %s", job->call_id,
		    cx_strerror(e));
	}
	return (e);
}

/* What fetch() needs of a job, copied out under the lock. */
static bool
job_copy(const rt_job *j, rt_job *out)
{
	memset(out, 0, sizeof(*out));
	out->call_id = strdup(j->call_id);
	out->cx_call_id = strdup(j->cx_call_id);
	out->url = strdup(j->url ? j->url : "");
	out->duration_ms = j->duration_ms;
	return (out->call_id && out->cx_call_id && out->url);
}

static void
job_uncopy(rt_job *c)
{
	free(c->call_id);
	free(c->cx_call_id);
	free(c->url);
}

/* Records the outcome of one attempt at cur; the caller holds mu. */
static void
settle(retell *r, rt_job *cur, cx_err e, const rt_cfg *cfg)
{
	rt_jobs *s = &r->rec->jobs;
	int64_t now = now_ms();
	cur->attempts++;
	if (e == CX_OK || cur->attempts >= cfg->rec_max_attempts) {
		if (e != CX_OK) {
			r->host->log(r->host, CX_LOG_ERROR, "retell: recording "
			    "of %s given up after %d attempts", cur->call_id,
			    cur->attempts);
			r->host->metric_add(r->host,
			    "retell_recordings_failed_total", 1);
		} else {
			r->host->metric_add(r->host, "retell_recordings_total", 1);
		}
		/* Done drops the URL (a signed URL is a credential for a
		 * day): only the call id stays, for deduplication. */
		(void) rt_jobs_finish(s, cur, e != CX_OK, now); /* logged */
	} else {
		int64_t d = cfg->rec_backoff_ms;
		for (int k = 1; k < cur->attempts && d < RT_BACKOFF_CAP_MS; k++) {
			d *= 2;
		}
		d = d < RT_BACKOFF_CAP_MS ? d : RT_BACKOFF_CAP_MS;
		(void) rt_jobs_retry(s, cur, now + d); /* logged */
	}
	rt_jobs_prune(s, now, RT_DONE_KEEP_MS);
}

static void *
worker(void *arg)
{
	retell *r = arg;
	rt_rec *q = r->rec;
	pthread_mutex_lock(&q->mu);
	while (!q->stopping) {
		int64_t now = now_ms(), next = now + 60000;
		rt_job *due = rt_jobs_due(&q->jobs, now, &next);
		if (due == NULL) {
			struct timespec ts = {next / 1000, (next % 1000) * 1000000};
			pthread_cond_timedwait(&q->cv, &q->mu, &ts);
			continue;
		}
		rt_job job;
		if (!job_copy(due, &job)) {
			/* Out of memory: try again in a second. */
			job_uncopy(&job);
			struct timespec ts = {now / 1000 + 1, 0};
			pthread_cond_timedwait(&q->cv, &q->mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&q->mu);
		cx_err e = fetch(r, &job);
		rt_cfg cfg;
		retell_cfg_get(r, &cfg);
		explicit_bzero(cfg.api_key, sizeof(cfg.api_key));
		pthread_mutex_lock(&q->mu);
		/* Find it again: only this thread ends jobs, but look it
		 * up rather than trust a pointer across the unlock. */
		rt_job *cur = rt_jobs_find(&q->jobs, job.call_id);
		job_uncopy(&job);
		if (cur != NULL && !cur->done) {
			settle(r, cur, e, &cfg);
		}
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
	if (q->jobs_open) {
		rt_jobs_close(&q->jobs);
	}
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
	r->rec = NULL;
}
