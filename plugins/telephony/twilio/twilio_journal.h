/*
 * twilio_journal.h - the durable list of recording jobs as an
 * append-only JSON-lines file, with an in-memory index.
 *
 * One line per state change of one job (keyed by its recording_sid):
 *   {"op":"put","job":{...}}        the job is pending, in this state
 *   {"op":"done","sid":"RE..."}     handed over: remembered, not redone
 *   {"op":"drop","sid":"RE..."}     given up: forgotten
 * A whole-document line {"v":1,"pending":[...],"done":[...]} (the
 * format before the journal) is read as a snapshot replacing the state.
 * Replaying in order, the newest line of a key wins; a last line without
 * its newline is a torn append and is cut off. Each append is one
 * write() plus fdatasync(). The file is rewritten (temp file, fsync,
 * rename) at open and when it holds more than 4x as many lines as live
 * keys + 1024.
 *
 * Not thread-safe and not multi-process-safe by itself: the caller holds
 * its mutex and an exclusive flock (shared by every instance on the same
 * data_dir) around twilio_jr_sync and what follows it. Pure (no plugin
 * host): compiled into the unit tests.
 */
#ifndef TWILIO_JOURNAL_H
#define TWILIO_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <callixo/callixo.h>

typedef struct twilio_journal twilio_journal;

/* Opens or creates `path`, replays it and compacts it. `done_keep`:
 * how many finished keys to remember (oldest forgotten first). On
 * failure *j is NULL and err says why. Caller holds the flock. */
cx_err twilio_jr_open(const char *path, size_t done_keep,
    twilio_journal **j, char *err, size_t errlen);
void twilio_jr_close(twilio_journal *j);

/* Catches up with what other instances wrote since (appended lines, or
 * a compaction: full reload). Caller holds the flock. */
cx_err twilio_jr_sync(twilio_journal *j, char *err, size_t errlen);

/* The pending job of `sid` (borrowed), or NULL. */
json_t *twilio_jr_get(const twilio_journal *j, const char *sid);
/* Pending or finished (within done_keep). */
bool twilio_jr_known(const twilio_journal *j, const char *sid);
size_t twilio_jr_pending(const twilio_journal *j);
size_t twilio_jr_lines(const twilio_journal *j);

/* Durably records a new state of a pending job (`job` has
 * recording_sid; the journal takes its own reference), then applies it.
 * Nothing changes in memory when the write fails. */
cx_err twilio_jr_put(twilio_journal *j, json_t *job);
cx_err twilio_jr_done(twilio_journal *j, const char *sid);
cx_err twilio_jr_drop(twilio_journal *j, const char *sid);

/* The pending job with the earliest max(next_ms, lease_until) when that
 * is <= now (borrowed), else NULL; *next gets that earliest time when it
 * is before *next. O(log n) amortized. */
json_t *twilio_jr_due(twilio_journal *j, int64_t now, int64_t *next);

/* Rewrites the file with one line per live key. */
cx_err twilio_jr_compact(twilio_journal *j, char *err, size_t errlen);

#endif
