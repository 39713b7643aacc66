/*
 * retell_recq.h - the recording jobs: an index in memory, a journal on
 * disk (retell_recq.c). Not thread-safe: retell_rec.c holds its mutex.
 *
 * The journal (<data_dir>/recordings.json) holds one JSON object per
 * line, each a job's whole state after a change; the newest line of a
 * call_id wins when it is read back. "url" is written only in the line
 * that brings it (the enqueue, or a compaction) and carried over by the
 * later ones; when a job ends, that URL is blanked in place (it is a
 * signed credential) before the done line is appended. Each append is
 * fdatasynced before it returns. The file is rewritten (temp file,
 * fsync, rename) at open and whenever it has grown to many more lines
 * than there are jobs.
 */
#ifndef RETELL_RECQ_H
#define RETELL_RECQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <callixo/callixo.h>

/* Compaction once lines > RT_COMPACT_FACTOR * jobs + RT_COMPACT_SLACK. */
#define RT_COMPACT_FACTOR 4
#define RT_COMPACT_SLACK 1024

typedef struct rt_job rt_job;
struct rt_job {
	char *call_id;    /* Retell's */
	char *cx_call_id; /* ours, "" when unknown */
	char *url;        /* NULL once done */
	int64_t duration_ms;
	int64_t next_ms; /* pending: when the next attempt is due */
	int64_t done_ms;
	int attempts;
	bool done, failed;
	/* private to retell_recq.c */
	uint64_t seq;   /* enqueue order: ties in the heaps */
	size_t hidx;    /* position in the pending or the done heap */
	rt_job *hnext;  /* hash chain */
	off_t url_at;   /* the journal bytes that hold the URL; */
	size_t url_len; /* url_len 0 when none */
};

typedef struct rt_heap {
	rt_job **a;
	size_t n, cap;
	bool by_done; /* key: done_ms (else next_ms) */
} rt_heap;

typedef struct rt_jobs {
	const cx_host *host;
	char path[1024];
	rt_job **buckets;
	size_t nbuckets, n;
	rt_heap pend, done;
	int fd;
	off_t size;    /* bytes of whole lines in the journal */
	size_t lines;  /* lines in the journal */
	bool broken;   /* the tail may be garbage: compact before appending */
	uint64_t seq;
} rt_jobs;

/* Reads the journal (creating it when missing), drops jobs done more
 * than keep_ms ago and compacts. A torn last line is skipped. */
cx_err rt_jobs_open(rt_jobs *s, const cx_host *host, const char *path,
    int64_t now, int64_t keep_ms);
void rt_jobs_close(rt_jobs *s);
rt_job *rt_jobs_find(const rt_jobs *s, const char *call_id);
/* Adds a pending job due at now, durably; CX_EEXIST when call_id is
 * already known (pending or done). */
cx_err rt_jobs_add(rt_jobs *s, const char *call_id, const char *cx_call_id,
    const char *url, int64_t duration_ms, int64_t now);
/* The pending job due first, or NULL when none is due at now (then
 * *next is when one will be, or left alone when none is pending). */
rt_job *rt_jobs_due(rt_jobs *s, int64_t now, int64_t *next);
/* Another attempt at next_ms (j->attempts already counted). */
cx_err rt_jobs_retry(rt_jobs *s, rt_job *j, int64_t next_ms);
/* The job is over: fetched, or given up when failed. */
cx_err rt_jobs_finish(rt_jobs *s, rt_job *j, bool failed, int64_t now);
/* Forgets jobs done more than keep_ms ago (they drop out of the
 * journal at its next compaction). */
void rt_jobs_prune(rt_jobs *s, int64_t now, int64_t keep_ms);
size_t rt_jobs_pending(const rt_jobs *s);
/* Rewrites the journal with one line per job. */
cx_err rt_jobs_compact(rt_jobs *s);

/* retell_recq_index.c, for retell_recq.c only */
bool rt_index_add(rt_jobs *s, rt_job *j);
void rt_index_del(rt_jobs *s, rt_job *j);
bool rt_heap_push(rt_heap *h, rt_job *j);
void rt_heap_del(rt_heap *h, rt_job *j);
void rt_heap_fix(rt_heap *h, size_t i); /* after h->a[i]'s key changed */
void rt_job_free(rt_job *j);

#endif
