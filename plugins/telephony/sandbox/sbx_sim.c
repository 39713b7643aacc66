/*
 * sbx_sim.c - runs the simulated calls: a timeline per call, a scheduler
 * and a few delivery workers.
 *
 * A periodic host timer is the clock: each tick moves the calls whose
 * next step is due from a min-heap to a work queue. Workers deliver the
 * step to the core (call.event / call.recording by request, which the
 * core acknowledges once stored) and schedule the next one. The blocking
 * request runs on the plugin's own workers, never on the timer's thread,
 * which belongs to nng: a slow core must not stall nng's I/O. A call's
 * steps go out one at a time, in order; a delivery the core does not
 * acknowledge is retried with doubling backoff, like a provider retrying
 * a webhook, and the call's later steps wait for it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sbx_call.h"

/* The clock's resolution: 100 wake-ups a second, idle or not. */
#define SBX_TICK_MS 10

/* ---- heap ---- */

static void
hswap(sbx_sim *s, size_t a, size_t b)
{
	hent t = s->heap[a];
	s->heap[a] = s->heap[b];
	s->heap[b] = t;
}

static cx_err
hpush(sbx_sim *s, sbx_call *c, int64_t due)
{
	if (s->hn == s->hcap) {
		size_t cap = s->hcap ? s->hcap * 2 : 64;
		hent *n = realloc(s->heap, cap * sizeof(*n));
		if (n == NULL) {
			return (CX_ENOMEM);
		}
		s->heap = n;
		s->hcap = cap;
	}
	size_t i = s->hn++;
	s->heap[i] = (hent) {due, ++c->gen, c};
	c->heap_refs++;
	while (i > 0 && s->heap[(i - 1) / 2].due > s->heap[i].due) {
		hswap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return (CX_OK);
}

static hent
hpop(sbx_sim *s)
{
	hent top = s->heap[0];
	s->heap[0] = s->heap[--s->hn];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->hn && s->heap[l].due < s->heap[m].due) {
			m = l;
		}
		if (r < s->hn && s->heap[r].due < s->heap[m].due) {
			m = r;
		}
		if (m == i) {
			break;
		}
		hswap(s, i, m);
		i = m;
	}
	top.c->heap_refs--;
	return (top);
}

/* ---- calls ---- */

void
sbx_call_free(sbx_call *c)
{
	json_decref(c->script);
	free(c->account);
	free(c);
}

void
sbx_live_add(sbx_sim *s, sbx_call *c)
{
	c->lnext = s->live;
	if (s->live != NULL) {
		s->live->lprev = c;
	}
	s->live = c;
	s->nlive++;
}

/* The call has delivered its last step: forget it once nothing refers
 * to it any more. */
static void
finish(sbx_sim *s, sbx_call *c)
{
	c->done = true;
	if (c->lprev != NULL) {
		c->lprev->lnext = c->lnext;
	} else {
		s->live = c->lnext;
	}
	if (c->lnext != NULL) {
		c->lnext->lprev = c->lprev;
	}
	s->nlive--;
	if (c->heap_refs == 0) {
		sbx_call_free(c);
	}
}

static void
enqueue(sbx_sim *s, sbx_call *c)
{
	c->queued = true;
	c->qnext = NULL;
	if (s->qtail != NULL) {
		s->qtail->qnext = c;
	} else {
		s->qhead = c;
	}
	s->qtail = c;
	pthread_cond_signal(&s->cv);
}

void
sbx_schedule(sbx_sim *s, sbx_call *c, int64_t due)
{
	if (hpush(s, c, due) != CX_OK) {
		/* No memory for the heap: deliver now rather than never. */
		enqueue(s, c);
	}
}

static void
tick(void *arg)
{
	sbx_sim *s = arg;
	int64_t now = sbx_now_ms();
	pthread_mutex_lock(&s->mu);
	while (s->hn > 0 && s->heap[0].due <= now) {
		hent e = hpop(s);
		if (e.c->done) {
			if (e.c->heap_refs == 0) {
				sbx_call_free(e.c);
			}
		} else if (e.gen == e.c->gen && !e.c->busy && !e.c->queued) {
			enqueue(s, e.c);
		}
	}
	pthread_mutex_unlock(&s->mu);
}

/* ---- delivery ---- */

static void
journal_step(sbx_sim *s, sbx_call *c, bool acked)
{
	sbx_status st = c->steps[c->next].status;
	sbx_record *r = sbx_journal_at(s->j, c->rec);
	if (st == SBX_ST_RECORDING || r == NULL) {
		return;
	}
	sbx_record n = *r;
	int32_t seq = c->seq_base + c->next + 1;
	n.status = (int8_t) st;
	n.outcome = (int8_t) (sbx_status_live(st) ? -1 : (int) c->outcome);
	n.seq = seq > n.seq ? seq : n.seq;
	if (acked && seq > n.acked) {
		n.acked = seq;
	}
	n.updated_ms = sbx_now_ms();
	if (sbx_journal_put(s->j, &n, NULL) != CX_OK) {
		s->h->log(s->h, CX_LOG_WARN, "cannot append to the journal: "
		    "lookups after a restart may miss call %s", c->pcid);
	}
}

static void
advance(sbx_sim *s, sbx_call *c, bool ok, int64_t now)
{
	const char *what = sbx_status_names[c->steps[c->next].status];
	if (!ok) {
		c->attempts++;
		if (c->attempts <= s->cfg.event_retries) {
			int64_t d = s->cfg.retry_backoff;
			for (int i = 1; i < c->attempts &&
			     d < s->cfg.retry_backoff_max; i++) {
				d *= 2;
			}
			d = d < s->cfg.retry_backoff_max ? d :
			                                   s->cfg.retry_backoff_max;
			s->h->metric_add(s->h, "sandbox_event_retries_total", 1);
			sbx_schedule(s, c, now + d);
			return;
		}
		s->h->log(s->h, CX_LOG_ERROR, "call %s: %s not acknowledged "
		    "after %d deliveries; dropped", c->pcid, what, c->attempts);
		s->h->metric_add(s->h, "sandbox_events_dropped_total", 1);
	}
	if (c->steps[c->next].status == SBX_ST_RECORDING) {
		char path[4096];
		sbx_recording_path(s->recdir, c, path, sizeof(path));
		unlink(path);
	}
	c->attempts = 0;
	c->next++;
	if (c->next >= c->nsteps) {
		finish(s, c);
		return;
	}
	int64_t due = sbx_call_wall(c, c->next);
	sbx_schedule(s, c, due > now ? due : now);
}

static bool
deliver(sbx_sim *s, sbx_call *c, json_t *data, const char *type,
    const json_t *script, int64_t timeout)
{
	if (data == NULL) {
		return (false);
	}
	if (strcmp(type, CX_SVC_CALL_RECORDING) == 0) {
		char path[4096];
		sbx_recording_path(s->recdir, c, path, sizeof(path));
		int err = access(path, F_OK) == 0 ? 0 :
		    sbx_wav_write(path, script, c->talk_ms, c->cap_ms,
		        sbx_rng_for(c->seed, c->call_id, SBX_TAG_AUDIO).s);
		if (err != 0) {
			s->h->log(s->h, CX_LOG_ERROR, "call %s: cannot write the "
			    "recording: %s", c->pcid, strerror(err));
			json_decref(data);
			return (false);
		}
	}
	json_t *reply = NULL;
	cx_err rv = s->h->call(s->h, CX_SVC_CORE, type, c->account, data,
	    (int) timeout, &reply);
	if (rv != CX_OK) {
		const char *m = json_string_value(json_object_get(reply, "message"));
		s->h->log(s->h, CX_LOG_WARN, "call %s: the core did not take "
		    "%s: %s: %s", c->pcid, type, cx_strerror(rv),
		    m != NULL ? m : "-");
	}
	json_decref(reply);
	return (rv == CX_OK);
}

static void *
worker(void *arg)
{
	sbx_sim *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (s->qhead == NULL && !s->stopping) {
			pthread_cond_wait(&s->cv, &s->mu);
		}
		if (s->stopping) {
			break;
		}
		sbx_call *c = s->qhead;
		s->qhead = c->qnext;
		if (s->qhead == NULL) {
			s->qtail = NULL;
		}
		c->queued = false;
		c->busy = true;
		const char *type = NULL;
		json_t *data = sbx_event_build(s->h, c, s->recdir, &type);
		json_t *script = json_incref(c->script);
		int64_t timeout = s->cfg.event_timeout;
		journal_step(s, c, false);
		pthread_mutex_unlock(&s->mu);

		bool ok = deliver(s, c, data, type, script, timeout);
		json_decref(script);

		pthread_mutex_lock(&s->mu);
		c->busy = false;
		if (ok) {
			journal_step(s, c, true);
			s->h->metric_add(s->h, "sandbox_events_total", 1);
		}
		advance(s, c, ok, sbx_now_ms());
	}
	pthread_mutex_unlock(&s->mu);
	return (NULL);
}

/* ---- lifecycle ---- */

/* Recordings left by a previous run belong to calls that run cut off;
 * nothing will send them. */
static void
clean_recordings(sbx_sim *s)
{
	DIR *d = opendir(s->recdir);
	if (d == NULL) {
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "SBX", 3) == 0) {
			char path[4096 + 256];
			snprintf(path, sizeof(path), "%s/%s", s->recdir,
			    e->d_name);
			unlink(path);
		}
	}
	closedir(d);
}

cx_err
sbx_sim_new(const cx_host *h, sbx_journal *j, const sbx_config *cfg,
    sbx_sim **out)
{
	sbx_sim *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return (CX_ENOMEM);
	}
	s->h = h;
	s->j = j;
	s->cfg = *cfg;
	s->place_rng = sbx_rng_for(cfg->seed, "place", 0);
	snprintf(s->recdir, sizeof(s->recdir), "%s/recordings", h->data_dir);
	if (mkdir(s->recdir, 0700) != 0 && errno != EEXIST) {
		h->log(h, CX_LOG_ERROR, "cannot create %s: %s", s->recdir,
		    strerror(errno));
		free(s);
		return (CX_EIO);
	}
	clean_recordings(s);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	*out = s;
	return (CX_OK);
}

void
sbx_sim_config(sbx_sim *s, const sbx_config *cfg)
{
	pthread_mutex_lock(&s->mu);
	bool reseed = cfg->seed != s->cfg.seed;
	s->cfg = *cfg;
	if (reseed) {
		s->place_rng = sbx_rng_for(cfg->seed, "place", 0);
	}
	pthread_mutex_unlock(&s->mu);
}

cx_err
sbx_sim_start(sbx_sim *s)
{
	s->threads = calloc((size_t) s->cfg.workers, sizeof(pthread_t));
	if (s->threads == NULL) {
		return (CX_ENOMEM);
	}
	for (int i = 0; i < s->cfg.workers; i++) {
		if (pthread_create(&s->threads[i], NULL, worker, s) != 0) {
			sbx_sim_stop(s);
			return (CX_ENOMEM);
		}
		s->nthreads++;
	}
	return (s->h->timer_add(s->h, SBX_TICK_MS, SBX_TICK_MS, tick, s,
	    &s->tick));
}

void
sbx_sim_stop(sbx_sim *s)
{
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->nthreads; i++) {
		pthread_join(s->threads[i], NULL);
	}
	s->nthreads = 0;
	free(s->threads);
	s->threads = NULL;
}

void
sbx_sim_free(sbx_sim *s)
{
	if (s == NULL) {
		return;
	}
	/* Calls still live stay live in the journal: the next start
	 * reports them (sbx_sim_recover). */
	while (s->live != NULL) {
		sbx_call *c = s->live;
		s->live = c->lnext;
		c->done = true;
		if (c->heap_refs == 0) {
			sbx_call_free(c);
		}
	}
	while (s->hn > 0) {
		hent e = hpop(s);
		if (e.c->heap_refs == 0) {
			sbx_call_free(e.c);
		}
	}
	free(s->heap);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- restart ---- */

void
sbx_sim_recover(sbx_sim *s)
{
	int64_t now = sbx_now_ms();
	size_t n = 0;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < sbx_journal_count(s->j); i++) {
		sbx_record *r = sbx_journal_at(s->j, i);
		bool live = sbx_status_live((sbx_status) r->status);
		if (!live && r->acked >= r->seq) {
			continue;
		}
		sbx_call *c = calloc(1, sizeof(*c));
		if (c == NULL) {
			break;
		}
		memcpy(c->call_id, r->call_id, sizeof(c->call_id));
		memcpy(c->pcid, r->pcid, sizeof(c->pcid));
		c->recovery = true;
		c->rec = i;
		c->speed = 1;
		c->nsteps = 1;
		c->seed = s->cfg.seed;
		if (live) {
			/* The simulation of this call died with the process:
			 * report it as a provider reports a dropped call. */
			c->steps[0] = (sbx_step) {SBX_ST_FAILED, 0};
			c->outcome = SBX_FAILED;
			c->reason = "sandbox_restarted";
			c->seq_base = r->seq;
			c->placed_wall = now;
		} else {
			/* Its last event may not have reached the core: send
			 * it again under the same event_id (the core ignores a
			 * duplicate), without the artifacts, which are gone. */
			c->steps[0] = (sbx_step) {(sbx_status) r->status, 0};
			c->outcome = r->outcome >= 0 ? (sbx_outcome) r->outcome :
			                               SBX_FAILED;
			c->reason = "sandbox_restarted";
			c->seq_base = r->seq - 1;
			c->placed_wall = r->updated_ms;
		}
		sbx_live_add(s, c);
		sbx_schedule(s, c, now);
		n++;
	}
	pthread_mutex_unlock(&s->mu);
	if (n > 0) {
		s->h->log(s->h, CX_LOG_WARN, "%zu calls were in flight at the "
		    "last stop: reporting them to the core as failed "
		    "(disconnection_reason sandbox_restarted)", n);
	}
}
