/*
 * sbx_journal.c - what the sandbox remembers of its calls, so that a
 * lookup still answers after a restart (the dialer reconciles timed-out
 * places with it) and calls cut off by a restart can be finished.
 *
 * <data_dir>/journal.jsonl holds one JSON record a line; a call's newest
 * line wins. At open it is read, finished calls older than the maximum
 * age are dropped, and it is rewritten with one line per call (via a
 * temporary file and rename, so a crash leaves the old or the new one).
 * Not thread safe: the simulation's lock covers it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sbx.h"

struct sbx_journal {
	char *path;
	FILE *f;
	sbx_record *recs;
	size_t n, cap;
	json_t *by_pcid; /* pcid -> index */
	json_t *by_call; /* call_id -> index of its newest record */
	size_t lines;    /* lines in the file */
};

/* Rewrite the file once it holds this many lines per call (and a floor),
 * so a long run does not grow it without bound. */
#define SBX_COMPACT_RATIO 4
#define SBX_COMPACT_MIN 4096

static bool
copy_str(char *dst, size_t cap, const json_t *v)
{
	const char *s = json_string_value(v);
	if (s == NULL || strlen(s) >= cap) {
		return (false);
	}
	memcpy(dst, s, strlen(s) + 1);
	return (true);
}

bool
sbx_journal_parse(const char *line, size_t len, sbx_record *r)
{
	json_error_t e;
	json_t *o = json_loadb(line, len, 0, &e);
	memset(r, 0, sizeof(*r));
	bool ok = json_is_object(o) &&
	    copy_str(r->call_id, sizeof(r->call_id), json_object_get(o, "call_id")) &&
	    copy_str(r->pcid, sizeof(r->pcid), json_object_get(o, "pcid")) &&
	    copy_str(r->to, sizeof(r->to), json_object_get(o, "to")) &&
	    copy_str(r->from, sizeof(r->from), json_object_get(o, "from")) &&
	    r->pcid[0] != '\0' && r->call_id[0] != '\0';
	int st = ok ? sbx_status_parse(json_string_value(
	                  json_object_get(o, "status"))) : -1;
	const json_t *oc = json_object_get(o, "outcome");
	int out = json_is_string(oc) ? sbx_outcome_parse(json_string_value(oc)) :
	                               -1;
	const json_t *seq = json_object_get(o, "seq");
	const json_t *acked = json_object_get(o, "acked");
	ok = ok && st >= 0 && (json_is_null(oc) || oc == NULL || out >= 0) &&
	    json_is_integer(seq) && json_is_integer(acked) &&
	    json_integer_value(seq) >= 0 && json_integer_value(seq) < INT32_MAX &&
	    json_integer_value(acked) >= 0 &&
	    json_integer_value(acked) <= json_integer_value(seq);
	if (ok) {
		r->status = (int8_t) st;
		r->outcome = (int8_t) out;
		r->seq = (int32_t) json_integer_value(seq);
		r->acked = (int32_t) json_integer_value(acked);
		r->created_ms = json_integer_value(json_object_get(o, "created"));
		r->updated_ms = json_integer_value(json_object_get(o, "updated"));
	}
	json_decref(o);
	return (ok);
}

static int
write_line(FILE *f, const sbx_record *r)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s?, s:i, "
	                      "s:i}", "call_id", r->call_id, "pcid", r->pcid,
	    "to", r->to, "from", r->from, "created", (json_int_t) r->created_ms,
	    "updated", (json_int_t) r->updated_ms, "status",
	    sbx_status_names[r->status], "outcome",
	    r->outcome >= 0 ? sbx_outcome_names[r->outcome] : NULL, "seq",
	    (int) r->seq, "acked", (int) r->acked);
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (s == NULL) {
		return (ENOMEM);
	}
	int rv = fprintf(f, "%s\n", s) < 0 || fflush(f) != 0 ? EIO : 0;
	free(s);
	return (rv);
}

static cx_err
put_mem(sbx_journal *j, const sbx_record *r, size_t *idx)
{
	json_t *have = json_object_get(j->by_pcid, r->pcid);
	size_t i;
	if (have != NULL) {
		i = (size_t) json_integer_value(have);
		j->recs[i] = *r;
	} else {
		if (j->n == j->cap) {
			size_t cap = j->cap ? j->cap * 2 : 256;
			sbx_record *n = realloc(j->recs, cap * sizeof(*n));
			if (n == NULL) {
				return (CX_ENOMEM);
			}
			j->recs = n;
			j->cap = cap;
		}
		i = j->n++;
		j->recs[i] = *r;
		if (json_object_set_new(j->by_pcid, r->pcid,
		        json_integer((json_int_t) i)) != 0) {
			j->n--;
			return (CX_ENOMEM);
		}
	}
	json_t *c = json_object_get(j->by_call, r->call_id);
	if (c == NULL ||
	    j->recs[json_integer_value(c)].created_ms <= r->created_ms) {
		json_object_set_new(j->by_call, r->call_id,
		    json_integer((json_int_t) i));
	}
	if (idx != NULL) {
		*idx = i;
	}
	return (CX_OK);
}

static void
reset(sbx_journal *j)
{
	j->n = 0;
	json_object_clear(j->by_pcid);
	json_object_clear(j->by_call);
}

/* Reads the old file; a torn last line (crash mid-write) is skipped. */
static cx_err
load(sbx_journal *j, size_t *bad)
{
	FILE *f = fopen(j->path, "r");
	if (f == NULL) {
		return (errno == ENOENT ? CX_OK : CX_EIO);
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	cx_err rv = CX_OK;
	while (rv == CX_OK && (len = getline(&line, &cap, f)) > 0) {
		sbx_record r;
		if (sbx_journal_parse(line, (size_t) len, &r)) {
			rv = put_mem(j, &r, NULL);
		} else {
			(*bad)++;
		}
	}
	free(line);
	fclose(f);
	return (rv);
}

/* Writes one line per call to a temporary file and renames it over the
 * journal. Record indices do not change. */
static cx_err
rewrite(sbx_journal *j)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL) {
		return (CX_EIO);
	}
	int err = 0;
	for (size_t i = 0; err == 0 && i < j->n; i++) {
		err = write_line(f, &j->recs[i]);
	}
	if (err == 0 && fsync(fileno(f)) != 0) {
		err = errno;
	}
	if (fclose(f) != 0 && err == 0) {
		err = errno;
	}
	if (err != 0 || rename(tmp, j->path) != 0) {
		unlink(tmp);
		return (CX_EIO);
	}
	j->lines = j->n;
	return (CX_OK);
}

/* Drops finished calls older than max_age (only at open: live calls hold
 * record indices afterwards). */
static cx_err
prune(sbx_journal *j, int64_t now_ms, int64_t max_age_ms)
{
	sbx_record *old = j->recs;
	size_t n = j->n;
	j->recs = NULL;
	j->cap = 0;
	reset(j);
	cx_err rv = CX_OK;
	for (size_t i = 0; rv == CX_OK && i < n; i++) {
		const sbx_record *r = &old[i];
		bool done = !sbx_status_live((sbx_status) r->status) &&
		    r->acked == r->seq;
		if (!done || r->updated_ms >= now_ms - max_age_ms) {
			rv = put_mem(j, r, NULL);
		}
	}
	free(old);
	return (rv);
}

cx_err
sbx_journal_open(const char *dir, int64_t now_ms, int64_t max_age_ms,
    sbx_journal **out, char *err, size_t errlen)
{
	sbx_journal *j = calloc(1, sizeof(*j));
	if (j == NULL || asprintf(&j->path, "%s/journal.jsonl", dir) < 0) {
		free(j);
		return (CX_ENOMEM);
	}
	j->by_pcid = json_object();
	j->by_call = json_object();
	size_t bad = 0;
	cx_err rv = j->by_pcid == NULL || j->by_call == NULL ? CX_ENOMEM :
	                                                      load(j, &bad);
	if (rv == CX_OK && (rv = prune(j, now_ms, max_age_ms)) == CX_OK) {
		rv = rewrite(j);
	}
	if (rv == CX_OK && (j->f = fopen(j->path, "a")) == NULL) {
		rv = CX_EIO;
	}
	if (rv != CX_OK) {
		snprintf(err, errlen, "journal %s: %s", j->path,
		    rv == CX_EIO ? strerror(errno) : cx_strerror(rv));
		sbx_journal_close(j);
		return (rv);
	}
	if (bad > 0) {
		snprintf(err, errlen, "journal: skipped %zu unreadable lines",
		    bad);
	}
	*out = j;
	return (CX_OK);
}

void
sbx_journal_close(sbx_journal *j)
{
	if (j == NULL) {
		return;
	}
	if (j->f != NULL) {
		fclose(j->f);
	}
	json_decref(j->by_pcid);
	json_decref(j->by_call);
	free(j->recs);
	free(j->path);
	free(j);
}

cx_err
sbx_journal_put(sbx_journal *j, const sbx_record *r, size_t *idx)
{
	cx_err rv = put_mem(j, r, idx);
	if (rv != CX_OK) {
		return (rv);
	}
	if (j->f == NULL && (j->f = fopen(j->path, "a")) == NULL) {
		return (CX_EIO);
	}
	if (write_line(j->f, r) != 0) {
		return (CX_EIO);
	}
	j->lines++;
	if (j->lines > SBX_COMPACT_MIN && j->lines > SBX_COMPACT_RATIO * j->n) {
		/* If the rewrite fails the old file stays, complete, and
		 * appending goes on there. */
		fclose(j->f);
		(void) rewrite(j);
		j->f = fopen(j->path, "a");
	}
	return (CX_OK);
}

size_t
sbx_journal_count(const sbx_journal *j)
{
	return (j->n);
}

sbx_record *
sbx_journal_at(sbx_journal *j, size_t idx)
{
	return (idx < j->n ? &j->recs[idx] : NULL);
}

sbx_record *
sbx_journal_by_pcid(sbx_journal *j, const char *pcid)
{
	json_t *v = pcid != NULL ? json_object_get(j->by_pcid, pcid) : NULL;
	return (v != NULL ? &j->recs[json_integer_value(v)] : NULL);
}

sbx_record *
sbx_journal_by_call(sbx_journal *j, const char *call_id)
{
	json_t *v = call_id != NULL ? json_object_get(j->by_call, call_id) :
	                              NULL;
	return (v != NULL ? &j->recs[json_integer_value(v)] : NULL);
}

sbx_record *
sbx_journal_find(sbx_journal *j, const char *to, const char *from,
    int64_t since_ms)
{
	/* Records are kept in placing order; a little slack covers clocks
	 * that stepped back. */
	for (size_t i = j->n; i > 0; i--) {
		sbx_record *r = &j->recs[i - 1];
		if (r->created_ms < since_ms - 60000) {
			break;
		}
		if (r->created_ms >= since_ms && strcmp(r->to, to) == 0 &&
		    (from == NULL || strcmp(r->from, from) == 0)) {
			return (r);
		}
	}
	return (NULL);
}
