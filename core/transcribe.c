/*
 * transcribe.c - the transcription worker: answered calls with a
 * recording and no transcript are sent to the first running
 * transcription plugin (callixo/transcription.h).
 *
 * The work list is a query, not a queue in memory, so calls that were
 * waiting when the daemon stopped are picked up after a restart. The
 * plaintext copy the plugin reads lives in <data_dir>/run (0700), is
 * created 0600 and is removed as soon as the plugin has answered. Only
 * the retry backoff is kept in memory: after a restart a failing call
 * simply starts its tries over.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "callevents_int.h"
#include "log.h"

#define LOOK_MS 5000

static ce_backoff *
backoff_of(cxi_callevents *ev, const char *call, bool make)
{
	ce_backoff *free_slot = NULL, *oldest = &ev->back[0];
	for (size_t i = 0; i < CE_BACKOFF_SLOTS; i++) {
		ce_backoff *b = &ev->back[i];
		if (strcmp(b->call, call) == 0) {
			return (b);
		}
		if (b->call[0] == '\0' && free_slot == NULL) {
			free_slot = b;
		}
		if (b->next_ms < oldest->next_ms) {
			oldest = b;
		}
	}
	if (!make) {
		return (NULL);
	}
	ce_backoff *b = free_slot != NULL ? free_slot : oldest;
	snprintf(b->call, sizeof(b->call), "%s", call);
	b->tries = 0;
	b->next_ms = 0;
	return (b);
}

/* Decrypts the recording into a new 0600 file under <data_dir>/run. */
static cx_err
plain_copy(cxi_callevents *ev, const char *key, char *path, size_t plen,
    char *why, size_t whylen)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/run", ev->cl->data_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(why, whylen, "cannot create the run dir: %s",
		    strerror(errno));
		return (CX_EIO);
	}
	snprintf(path, plen, "%s/transcribe-XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0) {
		snprintf(why, whylen, "cannot create a temp file: %s",
		    strerror(errno));
		return (CX_EIO);
	}
	cxi_callrec *r = NULL;
	cx_err rv = cxi_callrec_open(ev->cl, key, &r, why, whylen);
	size_t cap = 64 * 1024, got = 1;
	char *buf = malloc(cap);
	if (buf == NULL && rv == CX_OK) {
		rv = CX_ENOMEM;
	}
	while (rv == CX_OK && got > 0) {
		rv = cxi_callrec_read(r, buf, cap, &got, why, whylen);
		for (size_t off = 0; rv == CX_OK && off < got;) {
			ssize_t n = write(fd, buf + off, got - off);
			if (n < 0 && errno != EINTR) {
				snprintf(why, whylen, "write: %s",
				    strerror(errno));
				rv = CX_EIO;
			}
			off += n > 0 ? (size_t) n : 0;
		}
	}
	free(buf);
	cxi_callrec_close(r);
	if (close(fd) != 0 && rv == CX_OK) {
		rv = CX_EIO;
	}
	if (rv != CX_OK) {
		unlink(path);
	}
	return (rv);
}

/* The plugin's answer, checked like a provider's call.event transcript. */
static cx_err
check_reply(const json_t *rep, char *why, size_t whylen)
{
	const json_t *t = json_object_get(rep, "transcript");
	const json_t *s = json_object_get(rep, "summary");
	json_t *probe = json_pack("{s:i, s:s, s:s, s:s, s:i, s:s, s:O}", "v",
	    1, "provider", "x", "event_id", "x", "call_id", "call_x", "seq", 0,
	    "status", "completed", "transcript", t != NULL ? t : json_null());
	if (probe != NULL && json_is_string(s)) {
		json_object_set(probe, "summary", (json_t *) s);
	}
	cx_err rv = probe == NULL ? CX_ENOMEM :
	    cxi_callevent_validate(probe, why, whylen);
	json_decref(probe);
	if (rv == CX_OK && s != NULL && !json_is_null(s) &&
	    !json_is_string(s)) {
		snprintf(why, whylen, "summary must be a string or null");
		rv = CX_EINVAL;
	}
	return (rv);
}

typedef struct tr_job {
	cxi_callevents *ev;
	const char *call;
	json_t *sys;
	ce_after after;
	char why[256];
} tr_job;

static cx_err
store_tx(cxi_dbc *c, void *arg)
{
	tr_job *j = arg;
	json_t *row = NULL;
	json_decref(j->after.publish);
	ce_after_init(&j->after);
	cx_err rv = cxi_repo_get_c(c, &cxi_ent_call, NULL, j->call, &row);
	if (rv == CX_OK && json_is_null(json_object_get(row, "transcript"))) {
		json_t *sys = json_deep_copy(j->sys);
		/* A summary the provider already gave stays. */
		if (sys != NULL && !json_is_null(json_object_get(row,
		                       "summary"))) {
			json_object_del(sys, "summary");
		}
		rv = sys == NULL ? CX_ENOMEM :
		    ce_update_c(j->ev, c, row, sys, &j->after, j->why,
		        sizeof(j->why));
	}
	json_decref(row);
	return (rv == CX_ENOENT ? CX_OK : rv);
}

static void
store(cxi_callevents *ev, const char *call, json_t *sys)
{
	cxi_db db;
	tr_job j = {.ev = ev, .call = call, .sys = sys};
	cx_db_error err;
	if (!cxi_manager_db_hold(ev->mgr, &db)) {
		return;
	}
	pthread_mutex_lock(&ev->apply);
	cx_err rv = cxi_db_tx(&db, 5, store_tx, &j, &err);
	pthread_mutex_unlock(&ev->apply);
	cxi_manager_unhold(ev->mgr);
	if (rv != CX_OK) {
		cxi_warn("calls", "call %s: transcript not stored: %s", call,
		    j.why[0] ? j.why : err.message);
		json_decref(j.after.publish);
		return;
	}
	ce_after_flush(ev, &j.after);
}

/* The account's own key for the transcription provider (the vault
 * entry named after the plugin instance, "default"), if it has one:
 * the platform's key in the plugin settings serves the others. */
static void
add_credentials(cxi_callevents *ev, const char *plugin, const char *acct,
    json_t *req)
{
	cxi_db db;
	json_t *fields = NULL;
	if (acct == NULL || ev->cl == NULL || ev->cl->api == NULL ||
	    !cxi_manager_db_hold(ev->mgr, &db)) {
		return;
	}
	if (cxi_api_vault_credentials(ev->cl->api, &db, acct, plugin, NULL,
	        &fields) == CX_OK) {
		json_object_set_new(req, "credentials", fields);
	}
	cxi_manager_unhold(ev->mgr);
}

/* One call: copy, ask, store or schedule the next try. */
static void
transcribe_one(cxi_callevents *ev, const char *plugin, const json_t *call)
{
	const char *id = json_string_value(json_object_get(call, "id"));
	const char *key = json_string_value(json_object_get(call,
	    "recording_key"));
	const char *ctype = json_string_value(json_object_get(call,
	    "recording_type"));
	char path[4200], why[256] = "";
	json_t *reply = NULL;
	cx_err rv = plain_copy(ev, key, path, sizeof(path), why, sizeof(why));
	if (rv == CX_OK) {
		json_t *req = json_pack("{s:i, s:s, s:s, s:s}", "v", 1,
		    "call_id", id, "path", path, "content_type",
		    ctype != NULL ? ctype : "audio/wav");
		if (req != NULL) {
			add_credentials(ev, plugin, json_string_value(
			    json_object_get(call, "account_id")), req);
		}
		rv = cxi_manager_call(ev->mgr, plugin, CX_SVC_TRANSCRIBE,
		    json_string_value(json_object_get(call, "account_id")),
		    req, CX_TRANSCRIBE_TIMEOUT_MS, &reply);
		unlink(path);
		const char *m = json_string_value(json_object_get(reply,
		    "message"));
		if (rv != CX_OK && m != NULL) {
			snprintf(why, sizeof(why), "%s", m);
		} else if (rv == CX_OK) {
			rv = check_reply(reply, why, sizeof(why));
		}
	} else if (rv == CXI_BLOB_ECORRUPT || rv == CXI_BLOB_EKEYGONE) {
		rv = CX_EINVAL; /* the recording can never be read: give up */
	}
	pthread_mutex_lock(&ev->mu);
	ce_backoff *b = backoff_of(ev, id, true);
	int tries = ++b->tries;
	b->next_ms = cxi_repo_now_ms() + (CE_TRANSCRIBE_BACKOFF_MS <<
	    (tries < 10 ? tries - 1 : 9));
	pthread_mutex_unlock(&ev->mu);
	json_t *sys = NULL;
	char src[160];
	if (rv == CX_OK) {
		const json_t *t = json_object_get(reply, "transcript");
		const json_t *u = json_object_get(t, "utterances");
		const json_t *s = json_object_get(reply, "summary");
		snprintf(src, sizeof(src), "transcription:%.48s", plugin);
		sys = json_pack("{s:O, s:o, s:s, s:n}", "transcript",
		    json_object_get(t, "text"), "utterances",
		    json_is_array(u) ? json_incref((json_t *) u) :
		                       json_array(),
		    "transcript_source", src, "error");
		if (sys != NULL && json_is_string(s)) {
			json_object_set(sys, "summary", (json_t *) s);
		}
		cxi_info("calls", "call %s: transcript from %s", id, plugin);
	} else if (rv == CX_EINVAL || tries >= CE_TRANSCRIBE_TRIES) {
		char err[400];
		snprintf(err, sizeof(err), "transcription: %s%s",
		    rv == CX_EINVAL ? "" : "gave up after retries: ",
		    why[0] ? why : cx_strerror(rv));
		sys = json_pack("{s:s}", "error", err);
		cxi_warn("calls", "call %s: %s", id, err);
	} else {
		cxi_info("calls", "call %s: transcription try %d failed (%s), "
		    "retrying later", id, tries, why[0] ? why :
		    cx_strerror(rv));
	}
	json_decref(reply);
	if (sys != NULL) {
		store(ev, id, sys);
		json_decref(sys);
	}
}

/* The calls waiting for a transcript, oldest first. */
static json_t *
candidates(cxi_callevents *ev)
{
	cxi_db db;
	cxi_dbc c;
	cx_db_rows *rows = NULL;
	json_t *out = NULL;
	if (!cxi_manager_db_hold(ev->mgr, &db)) {
		return (NULL);
	}
	if (cxi_db_acquire(&db, 5000, &c) == CX_OK) {
		if (cxi_db_exec(&c, "SELECT id FROM calls WHERE outcome = "
		        "'answered' AND recording_key IS NOT NULL AND "
		        "transcript IS NULL AND (error IS NULL OR error NOT "
		        "LIKE 'transcription%') ORDER BY ended_at, id LIMIT 20",
		        NULL, 0, &rows, NULL) == CX_OK) {
			out = json_array();
			for (size_t i = 0; out != NULL &&
			     i < cxi_db_rows_count(&c, rows); i++) {
				json_t *row = NULL;
				const char *id = cxi_db_text(&c, rows, i, 0);
				if (id != NULL && cxi_repo_get_c(&c,
				                      &cxi_ent_call, NULL, id,
				                      &row) == CX_OK) {
					json_array_append_new(out, row);
				}
			}
			cxi_db_rows_free(&c, rows);
		}
		cxi_db_release(&c);
	}
	cxi_manager_unhold(ev->mgr);
	return (out);
}

static void
look(cxi_callevents *ev)
{
	char plugin[128];
	if (!cxi_manager_first_of_kind(ev->mgr, CX_KIND_TRANSCRIPTION, plugin,
	        sizeof(plugin))) {
		return;
	}
	json_t *list = candidates(ev);
	size_t i;
	json_t *call;
	json_array_foreach (list, i, call) {
		const char *id = json_string_value(json_object_get(call, "id"));
		pthread_mutex_lock(&ev->mu);
		ce_backoff *b = backoff_of(ev, id, false);
		bool wait = b != NULL && b->next_ms > cxi_repo_now_ms();
		bool stop = ev->stopping;
		pthread_mutex_unlock(&ev->mu);
		if (stop) {
			break;
		}
		if (!wait) {
			transcribe_one(ev, plugin, call);
		}
	}
	json_decref(list);
}

void *
ce_transcriber(void *arg)
{
	cxi_callevents *ev = arg;
	pthread_mutex_lock(&ev->mu);
	while (!ev->stopping) {
		if (!ev->tkicked) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += LOOK_MS / 1000;
			pthread_cond_timedwait(&ev->cv, &ev->mu, &ts);
		}
		if (ev->stopping) {
			break;
		}
		ev->tkicked = false;
		pthread_mutex_unlock(&ev->mu);
		look(ev);
		pthread_mutex_lock(&ev->mu);
	}
	pthread_mutex_unlock(&ev->mu);
	return (NULL);
}
