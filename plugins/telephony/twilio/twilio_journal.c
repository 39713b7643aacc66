/*
 * twilio_journal.c - see twilio_journal.h.
 *
 * Why a journal: the queue used to be one JSON document rewritten and
 * fsynced (and re-read) on every change, under the queue mutex, so each
 * recording callback cost O(queue) in I/O while the webhook waited; in
 * a media outage the queue grows and ingest fell quadratically. Now a
 * change costs one appended line, and lookups go through a hash index.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "twilio_journal.h"

typedef struct jr_due {
	int64_t at;
	char *sid;
} jr_due;

struct twilio_journal {
	char path[PATH_MAX];
	int fd;
	dev_t dev;
	ino_t ino;
	off_t off;      /* bytes replayed (always at a line end) */
	size_t lines;   /* lines in the file */
	size_t keep;    /* finished keys remembered */
	json_t *jobs;   /* sid -> pending job */
	json_t *done;   /* sid -> true */
	json_t *order;  /* finished sids, oldest first */
	jr_due *heap;   /* min-heap on due time; stale items skipped */
	size_t hn, hcap;
};

static int64_t
due_of(const json_t *job)
{
	int64_t at = json_integer_value(json_object_get(job, "next_ms"));
	int64_t l = json_integer_value(json_object_get(job, "lease_until"));
	return (l > at ? l : at);
}

static void
heap_swap(jr_due *h, size_t a, size_t b)
{
	jr_due x = h[a];
	h[a] = h[b];
	h[b] = x;
}

static bool
heap_push(twilio_journal *j, int64_t at, const char *sid)
{
	if (j->hn == j->hcap) {
		size_t n = j->hcap ? j->hcap * 2 : 64;
		jr_due *h = realloc(j->heap, n * sizeof(*h));
		if (h == NULL) {
			return (false);
		}
		j->heap = h;
		j->hcap = n;
	}
	char *s = strdup(sid);
	if (s == NULL) {
		return (false);
	}
	size_t i = j->hn++;
	j->heap[i] = (jr_due) {at, s};
	while (i > 0 && j->heap[(i - 1) / 2].at > j->heap[i].at) {
		heap_swap(j->heap, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return (true);
}

static void
heap_pop(twilio_journal *j)
{
	free(j->heap[0].sid);
	j->heap[0] = j->heap[--j->hn];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < j->hn && j->heap[l].at < j->heap[m].at) {
			m = l;
		}
		if (r < j->hn && j->heap[r].at < j->heap[m].at) {
			m = r;
		}
		if (m == i) {
			break;
		}
		heap_swap(j->heap, i, m);
		i = m;
	}
}

static void
heap_clear(twilio_journal *j)
{
	for (size_t i = 0; i < j->hn; i++) {
		free(j->heap[i].sid);
	}
	j->hn = 0;
}

/* Rebuilds the heap from the pending jobs (drops stale items). */
static bool
heap_rebuild(twilio_journal *j)
{
	const char *k;
	json_t *v;
	heap_clear(j);
	json_object_foreach(j->jobs, k, v) {
		if (!heap_push(j, due_of(v), k)) {
			return (false);
		}
	}
	return (true);
}

static bool
mark_done(twilio_journal *j, const char *sid)
{
	json_object_del(j->jobs, sid);
	if (json_object_get(j->done, sid) != NULL) {
		return (true);
	}
	if (json_object_set_new(j->done, sid, json_true()) != 0 ||
	    json_array_append_new(j->order, json_string(sid)) != 0) {
		return (false);
	}
	/* Pruning: only the newest `keep` finished keys are remembered. */
	while (json_array_size(j->order) > j->keep) {
		json_object_del(j->done,
		    json_string_value(json_array_get(j->order, 0)));
		json_array_remove(j->order, 0);
	}
	return (true);
}

static bool
put_job(twilio_journal *j, json_t *job)
{
	const char *sid = json_string_value(json_object_get(job,
	    "recording_sid"));
	if (sid == NULL || sid[0] == '\0') {
		return (false);
	}
	if (json_object_get(j->done, sid) != NULL) {
		/* Newest line wins: the key is pending again. */
		size_t i;
		json_t *e;
		json_array_foreach(j->order, i, e) {
			if (strcmp(json_string_value(e), sid) == 0) {
				json_array_remove(j->order, i);
				break;
			}
		}
		json_object_del(j->done, sid);
	}
	return (json_object_set(j->jobs, sid, job) == 0 &&
	    heap_push(j, due_of(job), sid));
}

/* Applies one parsed line; false when it is not a line we know. */
static bool
apply(twilio_journal *j, json_t *l)
{
	const char *op = json_string_value(json_object_get(l, "op"));
	const char *sid = json_string_value(json_object_get(l, "sid"));
	if (op == NULL && json_is_array(json_object_get(l, "pending"))) {
		/* A whole-document snapshot (the format before the journal). */
		json_object_clear(j->jobs);
		json_object_clear(j->done);
		json_array_clear(j->order);
		heap_clear(j);
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(l, "done"), i, e) {
			if (json_is_string(e) &&
			    !mark_done(j, json_string_value(e))) {
				return (false);
			}
		}
		json_array_foreach(json_object_get(l, "pending"), i, e) {
			if (!json_is_object(e) || !put_job(j, e)) {
				return (false);
			}
		}
		return (true);
	}
	if (op == NULL) {
		return (false);
	}
	if (strcmp(op, "put") == 0) {
		json_t *job = json_object_get(l, "job");
		return (json_is_object(job) && put_job(j, job));
	}
	if (sid == NULL) {
		return (false);
	}
	if (strcmp(op, "done") == 0) {
		return (mark_done(j, sid));
	}
	if (strcmp(op, "drop") == 0) {
		json_object_del(j->jobs, sid);
		return (true);
	}
	return (false);
}

static void
reset(twilio_journal *j)
{
	json_object_clear(j->jobs);
	json_object_clear(j->done);
	json_array_clear(j->order);
	heap_clear(j);
	j->off = 0;
	j->lines = 0;
}

/* (Re)opens the file at path, empty state. */
static cx_err
reopen(twilio_journal *j, char *err, size_t errlen)
{
	struct stat st;
	if (j->fd >= 0) {
		close(j->fd);
	}
	reset(j);
	j->fd = open(j->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (j->fd < 0 || fstat(j->fd, &st) != 0) {
		snprintf(err, errlen, "cannot open %s: %s", j->path,
		    strerror(errno));
		return (CX_EIO);
	}
	j->dev = st.st_dev;
	j->ino = st.st_ino;
	return (CX_OK);
}

static bool
write_all(int fd, const char *s, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, s + off, len - off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return (false);
		}
		off += (size_t) n;
	}
	return (true);
}

/* Replays the bytes from j->off to the end. A last line without its
 * newline is a torn append (we hold the exclusive lock, so nobody is
 * writing it): it is cut off so the next append starts a clean line. */
static cx_err
replay(twilio_journal *j, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(j->fd, &st) != 0) {
		snprintf(err, errlen, "stat %s: %s", j->path, strerror(errno));
		return (CX_EIO);
	}
	if (st.st_size <= j->off) {
		return (CX_OK);
	}
	size_t len = (size_t) (st.st_size - j->off), got = 0;
	char *buf = malloc(len + 1);
	if (buf == NULL) {
		return (CX_ENOMEM);
	}
	while (got < len) {
		ssize_t n = pread(j->fd, buf + got, len - got,
		    j->off + (off_t) got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			snprintf(err, errlen, "read %s: %s", j->path,
			    n < 0 ? strerror(errno) : "short read");
			free(buf);
			return (CX_EIO);
		}
		got += (size_t) n;
	}
	buf[len] = '\0';
	size_t pos = 0, bad = 0;
	char *nl;
	while ((nl = memchr(buf + pos, '\n', len - pos)) != NULL) {
		*nl = '\0';
		json_t *l = json_loads(buf + pos, 0, NULL);
		if (l == NULL || !apply(j, l)) {
			bad++;
		}
		json_decref(l);
		j->lines++;
		pos = (size_t) (nl - buf) + 1;
	}
	j->off += (off_t) pos;
	json_t *tail = pos < len ? json_loads(buf + pos, 0, NULL) : NULL;
	free(buf);
	if (tail != NULL) {
		/* A complete document without a newline: the format before
		 * the journal (written by json_dump). It gets its newline. */
		bool ok = apply(j, tail) && write_all(j->fd, "\n", 1);
		json_decref(tail);
		if (!ok) {
			snprintf(err, errlen, "cannot read the document in %s",
			    j->path);
			return (CX_EIO);
		}
		j->off = (off_t) st.st_size + 1;
		j->lines++;
	} else if (pos < len && ftruncate(j->fd, j->off) != 0) {
		snprintf(err, errlen, "cannot cut the torn last line of %s: "
		    "%s", j->path, strerror(errno));
		return (CX_EIO);
	}
	if (bad > 0) {
		/* Only a damaged disk writes a bad line in the middle: the
		 * rest of the journal is still worth more than refusing. */
		snprintf(err, errlen, "%zu unreadable line(s) in %s skipped",
		    bad, j->path);
	}
	return (CX_OK);
}

cx_err
twilio_jr_sync(twilio_journal *j, char *err, size_t errlen)
{
	struct stat st;
	err[0] = '\0';
	if (stat(j->path, &st) != 0 || st.st_dev != j->dev ||
	    st.st_ino != j->ino || st.st_size < j->off) {
		/* Another instance compacted (renamed a new file in). */
		cx_err e = reopen(j, err, errlen);
		if (e != CX_OK) {
			return (e);
		}
	}
	return (replay(j, err, errlen));
}

/* Appends one line and syncs it; on failure the file is cut back so no
 * half line stays in front of the next append. */
static cx_err
append(twilio_journal *j, json_t *line)
{
	char *s = json_dumps(line, JSON_COMPACT);
	json_decref(line);
	if (s == NULL) {
		return (CX_ENOMEM);
	}
	size_t len = strlen(s);
	s[len] = '\n'; /* json_dumps' NUL becomes the newline */
	bool ok = write_all(j->fd, s, len + 1) && fdatasync(j->fd) == 0;
	free(s);
	if (!ok) {
		int keep = errno;
		(void) ftruncate(j->fd, j->off);
		errno = keep;
		return (CX_EIO);
	}
	j->off += (off_t) len + 1;
	j->lines++;
	return (CX_OK);
}

static size_t
live(const twilio_journal *j)
{
	return (json_object_size(j->jobs) + json_array_size(j->order));
}

/* After a change: compacts when the file grew too long. A failed
 * compaction leaves the (valid) long file in place. */
static cx_err
grown(twilio_journal *j)
{
	if (j->lines > 4 * live(j) + 1024) {
		char err[256];
		(void) twilio_jr_compact(j, err, sizeof(err));
	}
	if (j->hn > 4 * json_object_size(j->jobs) + 1024 && !heap_rebuild(j)) {
		return (CX_ENOMEM);
	}
	return (CX_OK);
}

cx_err
twilio_jr_put(twilio_journal *j, json_t *job)
{
	json_t *l = json_pack("{s:s, s:O}", "op", "put", "job", job);
	if (l == NULL) {
		return (CX_ENOMEM);
	}
	cx_err e = append(j, l);
	if (e == CX_OK) {
		e = put_job(j, job) ? grown(j) : CX_ENOMEM;
	}
	return (e);
}

static cx_err
op_sid(twilio_journal *j, const char *op, const char *sid)
{
	json_t *l = json_pack("{s:s, s:s}", "op", op, "sid", sid);
	if (l == NULL) {
		return (CX_ENOMEM);
	}
	json_incref(l);
	cx_err e = append(j, l);
	if (e == CX_OK) {
		e = apply(j, l) ? grown(j) : CX_ENOMEM;
	}
	json_decref(l);
	return (e);
}

cx_err
twilio_jr_done(twilio_journal *j, const char *sid)
{
	return (op_sid(j, "done", sid));
}

cx_err
twilio_jr_drop(twilio_journal *j, const char *sid)
{
	return (op_sid(j, "drop", sid));
}

json_t *
twilio_jr_get(const twilio_journal *j, const char *sid)
{
	return (json_object_get(j->jobs, sid));
}

bool
twilio_jr_known(const twilio_journal *j, const char *sid)
{
	return (json_object_get(j->jobs, sid) != NULL ||
	    json_object_get(j->done, sid) != NULL);
}

size_t
twilio_jr_pending(const twilio_journal *j)
{
	return (json_object_size(j->jobs));
}

size_t
twilio_jr_lines(const twilio_journal *j)
{
	return (j->lines);
}

json_t *
twilio_jr_due(twilio_journal *j, int64_t now, int64_t *next)
{
	while (j->hn > 0) {
		jr_due *top = &j->heap[0];
		json_t *job = json_object_get(j->jobs, top->sid);
		if (job == NULL || due_of(job) != top->at) {
			heap_pop(j); /* stale: the job moved on or is gone */
			continue;
		}
		if (top->at <= now) {
			return (job);
		}
		if (top->at < *next) {
			*next = top->at;
		}
		return (NULL);
	}
	return (NULL);
}

static bool
snap_line(FILE *f, json_t *l)
{
	bool ok = l != NULL && json_dumpf(l, f, JSON_COMPACT) == 0 &&
	    fputc('\n', f) != EOF;
	json_decref(l);
	return (ok);
}

cx_err
twilio_jr_compact(twilio_journal *j, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	bool ok = f != NULL;
	size_t i, n = 0;
	json_t *e;
	const char *k;
	/* Finished keys first, oldest first, so replay prunes the same. */
	json_array_foreach(j->order, i, e) {
		ok = ok && snap_line(f, json_pack("{s:s, s:O}", "op", "done",
		    "sid", e));
		n++;
	}
	json_object_foreach(j->jobs, k, e) {
		ok = ok && snap_line(f, json_pack("{s:s, s:O}", "op", "put",
		    "job", e));
		n++;
	}
	ok = ok && fflush(f) == 0 && fsync(fd) == 0;
	if (f != NULL) {
		ok = fclose(f) == 0 && ok;
	} else if (fd >= 0) {
		close(fd);
	}
	ok = ok && rename(tmp, j->path) == 0;
	if (!ok) {
		snprintf(err, errlen, "cannot compact %s: %s", j->path,
		    strerror(errno));
		unlink(tmp);
		return (CX_EIO);
	}
	/* The rename itself must survive a crash. */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", j->path);
	char *slash = strrchr(dir, '/');
	if (slash != NULL) {
		*slash = '\0';
		int dfd = open(slash == dir ? "/" : dir,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void) fsync(dfd);
			close(dfd);
		}
	}
	struct stat st;
	int nfd = open(j->path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (nfd < 0 || fstat(nfd, &st) != 0) {
		snprintf(err, errlen, "cannot reopen %s: %s", j->path,
		    strerror(errno));
		if (nfd >= 0) {
			close(nfd);
		}
		return (CX_EIO);
	}
	close(j->fd);
	j->fd = nfd;
	j->dev = st.st_dev;
	j->ino = st.st_ino;
	j->off = st.st_size;
	j->lines = n;
	return (heap_rebuild(j) ? CX_OK : CX_ENOMEM);
}

cx_err
twilio_jr_open(const char *path, size_t done_keep, twilio_journal **out,
    char *err, size_t errlen)
{
	twilio_journal *j = calloc(1, sizeof(*j));
	*out = NULL;
	err[0] = '\0';
	if (j == NULL) {
		return (CX_ENOMEM);
	}
	j->fd = -1;
	j->keep = done_keep;
	j->jobs = json_object();
	j->done = json_object();
	j->order = json_array();
	snprintf(j->path, sizeof(j->path), "%s", path);
	cx_err e = j->jobs && j->done && j->order ? CX_OK : CX_ENOMEM;
	if (e == CX_OK) {
		e = reopen(j, err, errlen);
	}
	if (e == CX_OK) {
		e = replay(j, err, errlen);
	}
	if (e == CX_OK) {
		char cerr[256];
		e = twilio_jr_compact(j, cerr, sizeof(cerr));
		if (e != CX_OK && err[0] == '\0') {
			snprintf(err, errlen, "%s", cerr);
		}
	}
	if (e != CX_OK) {
		twilio_jr_close(j);
		return (e);
	}
	*out = j;
	return (CX_OK);
}

void
twilio_jr_close(twilio_journal *j)
{
	if (j == NULL) {
		return;
	}
	if (j->fd >= 0) {
		close(j->fd);
	}
	heap_clear(j);
	free(j->heap);
	json_decref(j->jobs);
	json_decref(j->done);
	json_decref(j->order);
	free(j);
}
