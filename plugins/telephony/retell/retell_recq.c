/*
 * retell_recq.c - the recording jobs' index and journal (see
 * retell_recq.h for the file format).
 *
 * The webhook path only appends one line and fdatasyncs it: a lookup is
 * a hash probe and the worker's next job is the top of a heap, so the
 * cost of an enqueue does not grow with the number of jobs listed (the
 * earlier whole-file rewrite on every enqueue did).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "retell_recq.h"

/* Takes j into the index and the heap its state says. */
static bool
jobs_take(rt_jobs *s, rt_job *j)
{
	if (!rt_index_add(s, j)) {
		return (false);
	}
	if (!rt_heap_push(j->done ? &s->done : &s->pend, j)) {
		rt_index_del(s, j);
		return (false);
	}
	return (true);
}

static void
jobs_drop(rt_jobs *s, rt_job *j)
{
	rt_heap_del(j->done ? &s->done : &s->pend, j);
	rt_index_del(s, j);
	rt_job_free(j);
}

/* ---- journal lines ---- */

/* The job as one line. With its URL, that goes last so that blanking
 * [*url_at, *url_at + *url_len) with spaces leaves valid JSON. */
static char *
job_line(const rt_job *j, bool with_url, size_t *url_at, size_t *url_len)
{
	json_t *o = json_pack("{s:s, s:s, s:I, s:i, s:I, s:b}", "call_id",
	    j->call_id, "cx_call_id", j->cx_call_id, "duration_ms",
	    (json_int_t) j->duration_ms, "attempts", j->attempts, "next_ms",
	    (json_int_t) j->next_ms, "done", j->done);
	if (o != NULL && j->done &&
	    (json_object_set_new(o, "done_ms", json_integer(j->done_ms)) != 0 ||
	        (j->failed &&
	            json_object_set_new(o, "failed", json_true()) != 0))) {
		json_decref(o);
		o = NULL;
	}
	char *head = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	json_t *u = with_url && j->url ? json_string(j->url) : NULL;
	char *url = u ? json_dumps(u, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(u);
	if (head == NULL || (with_url && j->url && url == NULL)) {
		free(head);
		free(url);
		return (NULL);
	}
	size_t hl = strlen(head) - 1; /* without its '}' */
	size_t ul = url ? strlen(",\"url\":") + strlen(url) : 0;
	char *line = malloc(hl + ul + 3);
	if (line != NULL) {
		memcpy(line, head, hl);
		if (url != NULL) {
			snprintf(line + hl, ul + 1, ",\"url\":%s", url);
		}
		memcpy(line + hl + ul, "}\n", 3);
	}
	*url_at = hl;
	*url_len = ul;
	free(head);
	free(url);
	return (line);
}

static bool
write_all(int fd, const char *p, size_t len, off_t at)
{
	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, at);
		if (w <= 0) {
			if (w < 0 && errno == EINTR) {
				continue;
			}
			return (false);
		}
		p += w;
		len -= (size_t) w;
		at += w;
	}
	return (true);
}

/* Appends j's state; with_url records where its URL went. */
static cx_err
append(rt_jobs *s, rt_job *j, bool with_url)
{
	if ((s->broken || s->fd < 0) && rt_jobs_compact(s) != CX_OK) {
		return (CX_EIO);
	}
	size_t at, ulen;
	char *line = job_line(j, with_url, &at, &ulen);
	if (line == NULL) {
		return (CX_ENOMEM);
	}
	size_t len = strlen(line);
	bool ok = write_all(s->fd, line, len, s->size) && fdatasync(s->fd) == 0;
	free(line);
	if (!ok) {
		s->host->log(s->host, CX_LOG_ERROR, "retell: cannot append to "
		    "%s: %s", s->path, strerror(errno));
		/* A part of the line may be there: cut it, or rewrite the
		 * whole file before the next append. */
		s->broken = ftruncate(s->fd, s->size) != 0;
		return (CX_EIO);
	}
	if (with_url && ulen > 0) {
		j->url_at = s->size + (off_t) at;
		j->url_len = ulen;
	}
	s->size += (off_t) len;
	s->lines++;
	if (s->lines > RT_COMPACT_FACTOR * s->n + RT_COMPACT_SLACK) {
		(void) rt_jobs_compact(s); /* logged; appends go on */
	}
	return (CX_OK);
}

cx_err
rt_jobs_compact(rt_jobs *s)
{
	char tmp[1100];
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0;
	off_t size = 0;
	/* Written in heap order, which is fine: one line per job. */
	rt_heap *hs[2] = {&s->pend, &s->done};
	for (int k = 0; ok && k < 2; k++) {
		for (size_t i = 0; ok && i < hs[k]->n; i++) {
			rt_job *j = hs[k]->a[i];
			size_t at, ulen;
			char *line = job_line(j, true, &at, &ulen);
			size_t len = line ? strlen(line) : 0;
			ok = line != NULL && write_all(fd, line, len, size);
			free(line);
			/* Recorded now, kept only if the rename happens:
			 * until then the old file is the journal, and no
			 * scrub happens while we hold the lock. */
			j->url_at = size + (off_t) at;
			j->url_len = ulen;
			size += (off_t) len;
		}
	}
	ok = ok && fsync(fd) == 0 && rename(tmp, s->path) == 0;
	if (!ok) {
		s->host->log(s->host, CX_LOG_ERROR, "retell: cannot rewrite "
		    "%s: %s", s->path, strerror(errno));
		if (fd >= 0) {
			close(fd);
		}
		unlink(tmp);
		/* The offsets now point into nothing: forget them (the URLs
		 * then wait for the next compaction to go). */
		for (int k = 0; k < 2; k++) {
			for (size_t i = 0; i < hs[k]->n; i++) {
				hs[k]->a[i]->url_len = 0;
			}
		}
		return (CX_EIO);
	}
	/* The rename itself is durable once the directory is synced. */
	char dir[1100];
	snprintf(dir, sizeof(dir), "%s", s->path);
	char *slash = strrchr(dir, '/');
	if (slash != NULL) {
		*slash = '\0';
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void) fsync(dfd); /* best effort: the data is synced */
			close(dfd);
		}
	}
	if (s->fd >= 0) {
		close(s->fd);
	}
	s->fd = fd;
	s->size = size;
	s->lines = s->n;
	s->broken = false;
	return (CX_OK);
}

/* Blanks the URL of j in the journal (not synced: the caller's next
 * append is). */
static void
scrub(rt_jobs *s, rt_job *j)
{
	if (j->url_len == 0 || s->broken || s->fd < 0) {
		return;
	}
	char *sp = malloc(j->url_len);
	if (sp != NULL) {
		memset(sp, ' ', j->url_len);
		if (!write_all(s->fd, sp, j->url_len, j->url_at)) {
			s->host->log(s->host, CX_LOG_WARN, "retell: cannot "
			    "blank a recording URL in %s: %s", s->path,
			    strerror(errno));
		}
		free(sp);
	}
	j->url_len = 0;
}

/* ---- the state changes ---- */

cx_err
rt_jobs_add(rt_jobs *s, const char *call_id, const char *cx_call_id,
    const char *url, int64_t duration_ms, int64_t now)
{
	if (rt_jobs_find(s, call_id) != NULL) {
		return (CX_EEXIST);
	}
	rt_job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		return (CX_ENOMEM);
	}
	j->call_id = strdup(call_id);
	j->cx_call_id = strdup(cx_call_id);
	j->url = strdup(url);
	j->duration_ms = duration_ms;
	j->next_ms = now;
	j->seq = s->seq++;
	if (j->call_id == NULL || j->cx_call_id == NULL || j->url == NULL ||
	    !jobs_take(s, j)) {
		rt_job_free(j);
		return (CX_ENOMEM);
	}
	cx_err e = append(s, j, true);
	if (e != CX_OK) {
		jobs_drop(s, j);
	}
	return (e);
}

rt_job *
rt_jobs_due(rt_jobs *s, int64_t now, int64_t *next)
{
	if (s->pend.n == 0) {
		return (NULL);
	}
	rt_job *j = s->pend.a[0];
	if (j->next_ms <= now) {
		return (j);
	}
	*next = j->next_ms < *next ? j->next_ms : *next;
	return (NULL);
}

cx_err
rt_jobs_retry(rt_jobs *s, rt_job *j, int64_t next_ms)
{
	j->next_ms = next_ms;
	rt_heap_fix(&s->pend, j->hidx);
	return (append(s, j, false));
}

cx_err
rt_jobs_finish(rt_jobs *s, rt_job *j, bool failed, int64_t now)
{
	/* Blanked before the done line goes in: whoever reads the file
	 * never sees a done job next to its URL. A crash between the two
	 * leaves a pending job without a URL, read back as done. */
	scrub(s, j);
	rt_heap_del(&s->pend, j);
	j->done = true;
	j->failed = failed;
	j->done_ms = now;
	free(j->url);
	j->url = NULL;
	if (!rt_heap_push(&s->done, j)) {
		/* Cannot even list it: forget it rather than fetch again. */
		rt_index_del(s, j);
		rt_job_free(j);
		return (CX_ENOMEM);
	}
	return (append(s, j, false));
}

void
rt_jobs_prune(rt_jobs *s, int64_t now, int64_t keep_ms)
{
	while (s->done.n > 0 && now - s->done.a[0]->done_ms > keep_ms) {
		jobs_drop(s, s->done.a[0]);
	}
}

size_t
rt_jobs_pending(const rt_jobs *s)
{
	return (s->pend.n);
}

void
rt_jobs_close(rt_jobs *s)
{
	for (size_t i = 0; i < s->pend.n; i++) {
		rt_job_free(s->pend.a[i]);
	}
	for (size_t i = 0; i < s->done.n; i++) {
		rt_job_free(s->done.a[i]);
	}
	free(s->pend.a);
	free(s->done.a);
	free(s->buckets);
	if (s->fd >= 0) {
		close(s->fd);
	}
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/* ---- reading the journal back ---- */

static int64_t
jint(const json_t *o, const char *k, int64_t dflt)
{
	json_t *v = json_object_get(o, k);
	return (json_is_integer(v) ? (int64_t) json_integer_value(v) : dflt);
}

/* Applies one line's state: 1 taken, 0 not a job, -1 out of memory. */
static int
replay_one(rt_jobs *s, const json_t *o)
{
	const char *id = json_string_value(json_object_get(o, "call_id"));
	const char *cx = json_string_value(json_object_get(o, "cx_call_id"));
	const char *url = json_string_value(json_object_get(o, "url"));
	if (!json_is_object(o) || id == NULL || id[0] == '\0') {
		return (0);
	}
	rt_job *j = rt_jobs_find(s, id);
	bool fresh = j == NULL;
	if (fresh) {
		if ((j = calloc(1, sizeof(*j))) == NULL ||
		    (j->call_id = strdup(id)) == NULL) {
			free(j);
			return (-1);
		}
		j->seq = s->seq++;
	} else {
		rt_heap_del(j->done ? &s->done : &s->pend, j);
	}
	if (cx != NULL || j->cx_call_id == NULL) {
		char *c = strdup(cx ? cx : "");
		if (c == NULL) {
			goto nomem;
		}
		free(j->cx_call_id);
		j->cx_call_id = c;
	}
	if (url != NULL) {
		char *u = strdup(url);
		if (u == NULL) {
			goto nomem;
		}
		free(j->url);
		j->url = u;
	}
	j->duration_ms = jint(o, "duration_ms", j->duration_ms);
	j->attempts = (int) jint(o, "attempts", j->attempts);
	j->next_ms = jint(o, "next_ms", j->next_ms);
	j->done = json_is_true(json_object_get(o, "done"));
	j->done_ms = jint(o, "done_ms", j->done_ms);
	j->failed = json_is_true(json_object_get(o, "failed"));
	if (j->done) {
		free(j->url);
		j->url = NULL;
	}
	if (fresh ? jobs_take(s, j) : rt_heap_push(j->done ? &s->done : &s->pend, j)) {
		return (1);
	}
nomem:
	/* Out of both heaps here; a fresh job is not indexed either. */
	if (!fresh) {
		rt_index_del(s, j);
	}
	rt_job_free(j);
	return (-1);
}

/* A line: one job's state, or the whole list as the plugin wrote it
 * before the journal ({"v":1,"items":[...]}). */
static int
replay(rt_jobs *s, const json_t *o)
{
	json_t *items = json_object_get(o, "items");
	if (!json_is_array(items)) {
		return (replay_one(s, o));
	}
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it) {
		if (replay_one(s, it) < 0) {
			return (-1);
		}
	}
	return (1);
}

static bool
blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strchr(" \t\r\n", p[i]) == NULL) {
			return (false);
		}
	}
	return (true);
}

/* Reads path into s: CX_OK, or CX_ENOMEM / CX_EIO. *bad counts lines
 * that are not jobs, *torn tells a cut-off last line. */
static cx_err
load(rt_jobs *s, size_t *bad, bool *torn)
{
	FILE *f = fopen(s->path, "rb");
	if (f == NULL) {
		return (errno == ENOENT ? CX_OK : CX_EIO);
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	cx_err e = CX_OK;
	while (e == CX_OK && (n = getline(&line, &cap, f)) > 0) {
		if (blank(line, (size_t) n)) {
			continue;
		}
		json_error_t je;
		json_t *o = json_loadb(line, (size_t) n, 0, &je);
		int r = o ? replay(s, o) : 0;
		json_decref(o);
		if (r < 0) {
			e = CX_ENOMEM;
		} else if (r == 0 && line[n - 1] != '\n') {
			*torn = true; /* only the last line lacks its '\n' */
		} else if (r == 0) {
			(*bad)++;
		}
	}
	if (e == CX_OK && ferror(f)) {
		e = CX_EIO;
	}
	free(line);
	fclose(f);
	return (e);
}

cx_err
rt_jobs_open(rt_jobs *s, const cx_host *host, const char *path, int64_t now,
    int64_t keep_ms)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->host = host;
	s->done.by_done = true;
	snprintf(s->path, sizeof(s->path), "%s", path);
	size_t bad = 0;
	bool torn = false;
	cx_err e = load(s, &bad, &torn);
	if (e != CX_OK) {
		host->log(host, CX_LOG_ERROR, "retell: cannot read %s: %s", path,
		    e == CX_EIO ? strerror(errno) : cx_strerror(e));
		rt_jobs_close(s);
		return (e);
	}
	if (torn) {
		host->log(host, CX_LOG_WARN, "retell: %s ends in a partly "
		    "written line (a crash while appending): skipped", path);
	}
	if (bad > 0) {
		/* Keep the damaged file for the operator; what could be
		 * read goes on. */
		char keep[1100];
		snprintf(keep, sizeof(keep), "%s.corrupt", path);
		host->log(host, CX_LOG_ERROR, "retell: %zu unreadable line(s) "
		    "in %s skipped; the file is kept as %s", bad, path, keep);
		if (rename(path, keep) != 0) {
			rt_jobs_close(s);
			return (CX_EIO);
		}
	}
	/* A pending job without its URL: the URL was blanked as the job
	 * ended and the crash came before the done line. */
	rt_job **all = malloc((s->pend.n + 1) * sizeof(*all));
	size_t n = 0;
	if (all == NULL) {
		rt_jobs_close(s);
		return (CX_ENOMEM);
	}
	/* The others are due now: a restart is a fresh chance (the
	 * outage may have been ours) and the URLs expire; the attempts
	 * already made still count towards giving up. */
	while (s->pend.n > 0) {
		all[n++] = s->pend.a[0];
		rt_heap_del(&s->pend, s->pend.a[0]);
	}
	for (size_t i = 0; i < n; i++) {
		rt_job *j = all[i];
		j->next_ms = j->next_ms < now ? j->next_ms : now;
		if (j->url == NULL) {
			j->done = true;
			j->done_ms = now;
		}
		if (!rt_heap_push(j->done ? &s->done : &s->pend, j)) {
			rt_index_del(s, j);
			rt_job_free(j);
		}
	}
	free(all);
	rt_jobs_prune(s, now, keep_ms);
	/* Compacting also drops a torn tail, so appends start clean. A
	 * failure is logged; the first append tries again. */
	(void) rt_jobs_compact(s);
	return (CX_OK);
}
