/*
 * leads_jobs.c - the leads runtime and its CSV import worker (leads.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "leads.h"
#include "log.h"
#include "repo.h"

/* Read size of a job file (a stop is noticed between two reads), and
 * how often a running job's counts are written back. */
#define CHUNK (64 * 1024)
#define PROGRESS_MS 1000
/* A queued job whose file is not there yet: the upload is being
 * renamed. Past this age the file is taken as lost. */
#define SPOOL_GRACE_MS 60000
#define IDLE_WAIT_S 5

struct cxi_leads {
	cxi_manager *mgr;
	cxi_phonezones *zones;
	char country[3];
	size_t import_max, sync_max;
	char *dir;
	pthread_t thr;
	bool thr_started;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	bool stop, kick;
};

typedef struct job_run {
	cxi_leads *l;
	const char *id;
	cxi_db db;
	int64_t last_ms;
} job_run;

const cxi_phonezones *
cxi_leads_zones(const cxi_leads *l)
{
	return (l->zones);
}

const char *
cxi_leads_default_country(const cxi_leads *l)
{
	return (l->country);
}

size_t
cxi_leads_import_max(const cxi_leads *l)
{
	return (l->import_max);
}

size_t
cxi_leads_sync_max(const cxi_leads *l)
{
	return (l->sync_max);
}

static bool
stopping(cxi_leads *l)
{
	pthread_mutex_lock(&l->mtx);
	bool s = l->stop;
	pthread_mutex_unlock(&l->mtx);
	return (s);
}

static void
job_path(const cxi_leads *l, const char *id, char *out, size_t len)
{
	snprintf(out, len, "%s/%s.csv", l->dir, id);
}

/* Writes core-owned columns of a job; a failure is logged only (the
 * import itself goes on). */
static void
job_set(cxi_leads *l, const char *id, json_t *sys)
{
	cxi_db db;
	if (sys == NULL || !cxi_manager_db_hold(l->mgr, &db)) {
		json_decref(sys);
		cxi_warn("leads", "import %s: cannot update the job", id);
		return;
	}
	cx_err rv = cxi_repo_set(&db, &cxi_ent_import_job, NULL, id, sys);
	cxi_manager_unhold(l->mgr);
	if (rv != CX_OK) {
		cxi_warn("leads", "import %s: cannot update the job: %s", id,
		    cx_strerror(rv));
	}
}

static json_t *
counts_json(const cxi_csv_counts *c, int64_t now)
{
	return (json_pack("{s:I, s:I, s:I, s:I, s:I}", "rows_total",
	    (json_int_t) c->rows_total, "imported", (json_int_t) c->imported,
	    "skipped", (json_int_t) c->skipped, "invalid",
	    (json_int_t) c->invalid, "updated_at", (json_int_t) now));
}

/* Runs inside the feed, with the database held: the same connection
 * pool, a fresh statement. */
static void
job_progress(void *arg, const cxi_csv_counts *c)
{
	job_run *r = arg;
	int64_t now = cxi_repo_now_ms();
	if (now - r->last_ms < PROGRESS_MS) {
		return;
	}
	r->last_ms = now;
	json_t *sys = counts_json(c, now);
	if (sys != NULL && cxi_repo_set(&r->db, &cxi_ent_import_job, NULL,
	                       r->id, sys) != CX_OK) {
		cxi_warn("leads", "import %s: cannot record progress", r->id);
	}
}

/* Streams one job's file through the importer. */
static void
job_run_one(cxi_leads *l, const json_t *job)
{
	const char *id = json_string_value(json_object_get(job, "id"));
	const char *acc = json_string_value(json_object_get(job,
	    "account_id"));
	const char *cmp = json_string_value(json_object_get(job,
	    "campaign_id"));
	const char *dc = json_string_value(json_object_get(job,
	    "default_country"));
	char path[1024], fatal[600] = "";
	job_path(l, id, path, sizeof(path));

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		json_int_t created = json_integer_value(json_object_get(job,
		    "created_at"));
		if (errno == ENOENT &&
		    cxi_repo_now_ms() - created < SPOOL_GRACE_MS) {
			return; /* still being renamed into place */
		}
		job_set(l, id, json_pack("{s:s, s:s, s:I}", "state", "failed",
		    "error", "the uploaded file is missing", "finished_at",
		    (json_int_t) cxi_repo_now_ms()));
		return;
	}
	job_set(l, id, json_pack("{s:s, s:I}", "state", "running",
	    "updated_at", (json_int_t) cxi_repo_now_ms()));
	cxi_info("leads", "import %s started", id);

	job_run r = {l, id, {0}, 0};
	cxi_csv_dbsink sink = {&r.db, acc, cmp, 0};
	cxi_csv_opts o = {.default_region = dc != NULL ? dc : l->country,
	    .zones = l->zones, .sink = cxi_csvimp_db_sink, .sink_arg = &sink,
	    .progress = job_progress, .progress_arg = &r};
	cxi_csvimp *im = cxi_csvimp_new(&o);
	char *buf = malloc(CHUNK);
	cx_err rv = im != NULL && buf != NULL ? CX_OK : CX_ENOMEM;
	while (rv == CX_OK) {
		ssize_t n = read(fd, buf, CHUNK);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			snprintf(fatal, sizeof(fatal), "reading the upload: %s",
			    strerror(errno));
			rv = CX_EIO;
			break;
		}
		if (stopping(l)) {
			snprintf(fatal, sizeof(fatal), "interrupted: the daemon "
			    "stopped (rows imported so far stay; upload the "
			    "file again to import the rest)");
			rv = CX_ECLOSED;
			break;
		}
		if (!cxi_manager_db_hold(l->mgr, &r.db)) {
			snprintf(fatal, sizeof(fatal), "storage is not running");
			rv = CX_ECLOSED;
			break;
		}
		rv = n == 0 ? cxi_csvimp_finish(im) :
		    cxi_csvimp_feed(im, buf, (size_t) n);
		cxi_manager_unhold(l->mgr);
		if (n == 0) {
			break;
		}
	}
	close(fd);
	free(buf);
	if (rv != CX_OK && fatal[0] == '\0') {
		snprintf(fatal, sizeof(fatal), "%s", im != NULL &&
		    cxi_csvimp_fatal(im) != NULL ? cxi_csvimp_fatal(im) :
		    cx_strerror(rv));
	}
	int64_t now = cxi_repo_now_ms();
	json_t *sys = im != NULL ? counts_json(cxi_csvimp_counts(im), now) :
	    json_object();
	if (sys != NULL) {
		json_object_set_new(sys, "state", json_string(rv == CX_OK ?
		    "done" : "failed"));
		json_object_set_new(sys, "error", fatal[0] ? json_string(fatal) :
		    json_null());
		json_object_set_new(sys, "finished_at", json_integer(now));
		if (im != NULL) {
			json_object_set(sys, "errors", cxi_csvimp_errors(im));
		}
	}
	job_set(l, id, sys);
	if (im != NULL) {
		const cxi_csv_counts *c = cxi_csvimp_counts(im);
		cxi_info("leads", "import %s %s: %lld rows, %lld imported, "
		    "%lld skipped, %lld invalid", id, rv == CX_OK ? "done" :
		    "failed", (long long) c->rows_total,
		    (long long) c->imported, (long long) c->skipped,
		    (long long) c->invalid);
	}
	cxi_csvimp_free(im);
	if (unlink(path) != 0) {
		cxi_warn("leads", "import %s: cannot remove %s: %s", id, path,
		    strerror(errno));
	}
}

/* Jobs in `state`, oldest first (unscoped: the worker serves everyone). */
static json_t *
jobs_in(cxi_leads *l, const char *state)
{
	cxi_db db;
	json_t *page = NULL, *f = json_pack("{s:s}", "state", state);
	if (f == NULL || !cxi_manager_db_hold(l->mgr, &db)) {
		json_decref(f);
		return (NULL);
	}
	cx_err rv = cxi_repo_list(&db, &cxi_ent_import_job, NULL, f, NULL, 20,
	    &page, NULL, 0);
	cxi_manager_unhold(l->mgr);
	json_decref(f);
	if (rv != CX_OK) {
		return (NULL);
	}
	json_t *items = json_incref(json_object_get(page, "items"));
	json_decref(page);
	return (items);
}

/* At start: a job left running was interrupted. */
static void
recover(cxi_leads *l)
{
	json_t *items = jobs_in(l, "running");
	size_t i;
	json_t *j;
	json_array_foreach (items, i, j) {
		const char *id = json_string_value(json_object_get(j, "id"));
		char path[1024];
		job_path(l, id, path, sizeof(path));
		job_set(l, id, json_pack("{s:s, s:s, s:I}", "state", "failed",
		    "error", "interrupted: the daemon stopped during the "
		    "import (rows imported so far stay; upload the file again "
		    "to import the rest)", "finished_at",
		    (json_int_t) cxi_repo_now_ms()));
		(void) unlink(path);
	}
	json_decref(items);
}

static void *
worker(void *arg)
{
	cxi_leads *l = arg;
	bool recovered = false;
	while (!stopping(l)) {
		if (!recovered && cxi_manager_db_hold(l->mgr, &(cxi_db){0})) {
			cxi_manager_unhold(l->mgr);
			recover(l);
			recovered = true;
		}
		json_t *items = recovered ? jobs_in(l, "queued") : NULL;
		size_t i;
		json_t *j;
		json_array_foreach (items, i, j) {
			if (stopping(l)) {
				break;
			}
			job_run_one(l, j);
		}
		bool busy = json_array_size(items) > 0;
		json_decref(items);
		pthread_mutex_lock(&l->mtx);
		if (!l->stop && !l->kick && !busy) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += IDLE_WAIT_S;
			pthread_cond_timedwait(&l->cv, &l->mtx, &ts);
		}
		l->kick = false;
		pthread_mutex_unlock(&l->mtx);
		if (busy && !stopping(l)) {
			/* Jobs waiting for their file: do not spin. */
			struct timespec d = {0, 200 * 1000 * 1000};
			nanosleep(&d, NULL);
		}
	}
	return (NULL);
}

cx_err
cxi_leads_spool(cxi_leads *l, const void *data, size_t len, char **tmp)
{
	unsigned char rnd[12];
	char hex[sizeof(rnd) * 2 + 1], path[1024];
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(path, sizeof(path), "%s/upload-%s.part", l->dir, hex);
	*tmp = NULL;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		cxi_warn("leads", "cannot create %s: %s", path,
		    strerror(errno));
		return (CX_EIO);
	}
	const char *p = data;
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			cxi_warn("leads", "cannot write %s: %s", path,
			    strerror(errno));
			close(fd);
			unlink(path);
			return (CX_EIO);
		}
		done += (size_t) n;
	}
	if (close(fd) != 0 || (*tmp = strdup(path)) == NULL) {
		unlink(path);
		return (CX_EIO);
	}
	return (CX_OK);
}

cx_err
cxi_leads_enqueue(cxi_leads *l, const char *tmp, const char *job_id)
{
	char path[1024];
	job_path(l, job_id, path, sizeof(path));
	if (rename(tmp, path) != 0) {
		cxi_warn("leads", "cannot rename %s: %s", tmp, strerror(errno));
		return (CX_EIO);
	}
	pthread_mutex_lock(&l->mtx);
	l->kick = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mtx);
	return (CX_OK);
}

static cx_err
load_zones(cxi_leads *l, const cxi_config *cfg, char *why, size_t whylen)
{
	const char *path = cfg->leads_phone_zones;
	if (path == NULL) {
		return (CX_OK);
	}
	if (cfg->leads_zones_default && access(path, R_OK) != 0) {
		cxi_warn("leads", "no phone zone table at %s; set "
		    "leads.phone_zones to derive lead time zones from numbers",
		    path);
		return (CX_OK);
	}
	cx_err rv = cxi_phonezones_load(path, &l->zones, why, whylen);
	if (rv == CX_OK) {
		cxi_info("leads", "%zu phone prefixes -> time zones loaded "
		    "from %s", cxi_phonezones_count(l->zones), path);
	}
	return (rv);
}

/* <data_dir>/imports, private to the daemon's user. */
static cx_err
make_dir(cxi_leads *l, const cxi_config *cfg, char *why, size_t whylen)
{
	size_t n = strlen(cfg->data_dir) + sizeof("/imports");
	if ((l->dir = malloc(n)) == NULL) {
		snprintf(why, whylen, "leads: out of memory");
		return (CX_ENOMEM);
	}
	snprintf(l->dir, n, "%s/imports", cfg->data_dir);
	if (mkdir(l->dir, 0700) != 0 && errno != EEXIST) {
		snprintf(why, whylen, "leads: cannot create %s: %s", l->dir,
		    strerror(errno));
		return (CX_EIO);
	}
	if (chmod(l->dir, 0700) != 0) {
		snprintf(why, whylen, "leads: cannot chmod %s: %s", l->dir,
		    strerror(errno));
		return (CX_EIO);
	}
	return (CX_OK);
}

cx_err
cxi_leads_start(cxi_leads **out, cxi_manager *mgr, const cxi_config *cfg,
    char *why, size_t whylen)
{
	cxi_leads *l = calloc(1, sizeof(*l));
	*out = NULL;
	if (l == NULL) {
		snprintf(why, whylen, "leads: out of memory");
		return (CX_ENOMEM);
	}
	l->mgr = mgr;
	memcpy(l->country, cfg->leads_default_country, sizeof(l->country));
	l->import_max = cfg->leads_import_max;
	l->sync_max = cfg->leads_import_sync_max;
	cx_err rv;
	if (pthread_mutex_init(&l->mtx, NULL) != 0) {
		free(l);
		snprintf(why, whylen, "leads: cannot create a mutex");
		return (CX_EINTERNAL);
	}
	if (pthread_cond_init(&l->cv, NULL) != 0) {
		pthread_mutex_destroy(&l->mtx);
		free(l);
		snprintf(why, whylen, "leads: cannot create a condition");
		return (CX_EINTERNAL);
	}
	if ((rv = load_zones(l, cfg, why, whylen)) != CX_OK ||
	    (rv = make_dir(l, cfg, why, whylen)) != CX_OK) {
		cxi_leads_stop(l);
		return (rv);
	}
	if (pthread_create(&l->thr, NULL, worker, l) != 0) {
		snprintf(why, whylen, "leads: cannot start the import worker");
		cxi_leads_stop(l);
		return (CX_EINTERNAL);
	}
	l->thr_started = true;
	*out = l;
	return (CX_OK);
}

void
cxi_leads_stop(cxi_leads *l)
{
	if (l == NULL) {
		return;
	}
	if (l->thr_started) {
		pthread_mutex_lock(&l->mtx);
		l->stop = true;
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mtx);
		pthread_join(l->thr, NULL);
	}
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mtx);
	cxi_phonezones_free(l->zones);
	free(l->dir);
	free(l);
}
