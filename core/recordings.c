/*
 * recordings.c - call.recording: a telephony plugin hands over a file
 * in its own data dir, the core streams it through blobcrypt into the
 * blob store under "<account>/recordings/<call_id>" and records it on
 * the call. Also the reader the API streams recordings back with.
 *
 * The plugin names a path, so the path is the attack surface: it must
 * resolve (symlinks followed, then re-checked) inside that plugin's
 * data dir, be a regular file, and start like the audio type it claims.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "callevents_int.h"
#include "log.h"

struct cxi_callrec {
	cxi_manager *mgr;
	cxi_db db;
	bool db_held, blob_held;
	cxi_keystore ks;
	cxi_blobcrypt *bc;
	cxi_bc_reader *r;
};

/* Holds both drivers and builds the encryption context over them. */
static cx_err
rec_ctx(cxi_calling *cl, cxi_callrec *r, char *why, size_t whylen)
{
	const cx_blob_ops *ops;
	void *bstate;
	r->mgr = cl->mgr;
	if (!(r->db_held = cxi_manager_db_hold(cl->mgr, &r->db)) ||
	    !(r->blob_held = cxi_manager_blob_hold(cl->mgr, &ops, &bstate))) {
		snprintf(why, whylen, "no %s driver runs",
		    r->db_held ? "blob" : "storage");
		return (CX_ECLOSED);
	}
	r->ks = (cxi_keystore) {cxi_account_key_get, cxi_account_key_put,
	    cxi_account_key_del, &r->db};
	return (cxi_blobcrypt_new(&r->bc, cl->master_key, cl->master_key_id,
	    &r->ks, ops, bstate, why, whylen));
}

static void
rec_ctx_done(cxi_callrec *r)
{
	if (r->r != NULL) {
		cxi_blobcrypt_get_close(r->r);
	}
	cxi_blobcrypt_free(r->bc);
	if (r->blob_held) {
		cxi_manager_unhold(r->mgr);
	}
	if (r->db_held) {
		cxi_manager_unhold(r->mgr);
	}
}

cx_err
cxi_callrec_open(cxi_calling *cl, const char *key, cxi_callrec **out,
    char *why, size_t whylen)
{
	cxi_callrec *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return (CX_ENOMEM);
	}
	cx_err rv = rec_ctx(cl, r, why, whylen);
	if (rv == CX_OK) {
		rv = cxi_blobcrypt_get_open(r->bc, key, &r->r, why, whylen);
	}
	if (rv != CX_OK) {
		rec_ctx_done(r);
		free(r);
		return (rv);
	}
	*out = r;
	return (CX_OK);
}

cx_err
cxi_callrec_read(cxi_callrec *r, void *buf, size_t cap, size_t *got,
    char *why, size_t whylen)
{
	return (cxi_blobcrypt_read(r->r, buf, cap, got, why, whylen));
}

void
cxi_callrec_close(cxi_callrec *r)
{
	if (r != NULL) {
		rec_ctx_done(r);
		free(r);
	}
}

/* ---- call.recording ---- */

static const char *const audio_types[] = {"audio/wav", "audio/x-wav",
    "audio/mpeg", NULL};

/* The first bytes look like the claimed type: RIFF....WAVE, or an MP3
 * (ID3 tag or an MPEG audio frame sync). */
static bool
magic_ok(int fd, const char *ctype)
{
	unsigned char h[12];
	ssize_t n = pread(fd, h, sizeof(h), 0);
	if (strstr(ctype, "wav") != NULL) {
		return (n == 12 && memcmp(h, "RIFF", 4) == 0 &&
		    memcmp(h + 8, "WAVE", 4) == 0);
	}
	return (n >= 3 && (memcmp(h, "ID3", 3) == 0 ||
	    (h[0] == 0xFF && (h[1] & 0xE0) == 0xE0)));
}

typedef struct fd_src {
	int fd;
	int64_t total;
} fd_src;

static cx_err
fd_read(void *arg, void *buf, size_t cap, size_t *got)
{
	fd_src *s = arg;
	ssize_t n = read(s->fd, buf, cap);
	if (n < 0) {
		return (CX_EIO);
	}
	s->total += n;
	if (s->total > CXI_RECORDING_MAX_BYTES) {
		return (CX_EINVAL);
	}
	*got = (size_t) n;
	return (CX_OK);
}

/* Opens the plugin's file: inside its data dir, regular, right type. */
static cx_err
open_inside(const char *dir, const char *path, const char *ctype, int *fd,
    char *why, size_t whylen)
{
	char rdir[PATH_MAX], rpath[PATH_MAX];
	struct stat st;
	if (realpath(dir, rdir) == NULL) {
		snprintf(why, whylen, "the plugin has no data dir");
		return (CX_EDENIED);
	}
	if (realpath(path, rpath) == NULL) {
		snprintf(why, whylen, "the recording file does not exist");
		return (CX_ENOENT);
	}
	size_t n = strlen(rdir);
	if (strncmp(rpath, rdir, n) != 0 || rpath[n] != '/') {
		snprintf(why, whylen, "the recording is not inside the "
		    "plugin's data dir");
		return (CX_EDENIED);
	}
	*fd = open(rpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0 || fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (*fd >= 0) {
			close(*fd);
		}
		*fd = -1;
		snprintf(why, whylen, "the recording is not a readable "
		    "regular file");
		return (CX_EDENIED);
	}
	/* A directory on the way may have been swapped for a symlink
	 * between realpath and open: check what was really opened. */
	char fdp[64], real[PATH_MAX];
	snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", *fd);
	ssize_t rl = readlink(fdp, real, sizeof(real) - 1);
	if (rl <= 0 || (size_t) rl <= n || strncmp(real, rdir, n) != 0 ||
	    real[n] != '/') {
		close(*fd);
		*fd = -1;
		snprintf(why, whylen, "the recording is not inside the "
		    "plugin's data dir");
		return (CX_EDENIED);
	}
	if (st.st_size > CXI_RECORDING_MAX_BYTES || !magic_ok(*fd, ctype)) {
		close(*fd);
		*fd = -1;
		snprintf(why, whylen, st.st_size > CXI_RECORDING_MAX_BYTES ?
		    "the recording is too large" :
		    "the file is not %s audio", ctype);
		return (CX_EINVAL);
	}
	return (CX_OK);
}

typedef struct rec_job {
	cxi_callevents *ev;
	const char *call;
	const char *key;
	const char *ctype;
	int64_t bytes;
	ce_after after;
	char why[256];
} rec_job;

static cx_err
rec_tx(cxi_dbc *c, void *arg)
{
	rec_job *j = arg;
	json_t *row = NULL;
	json_decref(j->after.publish);
	ce_after_init(&j->after);
	cx_err rv = cxi_repo_get_c(c, &cxi_ent_call, NULL, j->call, &row);
	if (rv != CX_OK) {
		return (rv);
	}
	json_t *sys = json_pack("{s:s, s:s, s:I}", "recording_key", j->key,
	    "recording_type", j->ctype, "recording_bytes",
	    (json_int_t) j->bytes);
	j->after.transcribe = true;
	rv = sys == NULL ? CX_ENOMEM :
	    ce_update_c(j->ev, c, row, sys, &j->after, j->why,
	        sizeof(j->why));
	json_decref(row);
	return (rv);
}

/* Finds the call, stores the file, records it: *reply is set. */
static cx_err
store(cxi_callevents *ev, const json_t *d, int fd, json_t **reply)
{
	char why[256] = "", key[160];
	cxi_callrec r = {0};
	cxi_dbc c;
	json_t *call = NULL;
	cx_err rv = rec_ctx(ev->cl, &r, why, sizeof(why));
	if (rv == CX_OK && (rv = cxi_db_acquire(&r.db, 5000, &c)) == CX_OK) {
		rv = ce_find_call_c(&c, json_string_value(json_object_get(d,
		    "provider")), json_string_value(json_object_get(d,
		    "call_id")), json_string_value(json_object_get(d,
		    "provider_call_id")), &call);
		cxi_db_release(&c);
		if (rv != CX_OK) {
			snprintf(why, sizeof(why), rv == CX_ENOENT ?
			    "no such call (yet)" : "not a call of this "
			                           "provider");
		}
	}
	const char *id = json_string_value(json_object_get(call, "id"));
	const char *acct = json_string_value(json_object_get(call,
	    "account_id"));
	fd_src src = {fd, 0};
	if (rv == CX_OK) {
		snprintf(key, sizeof(key), "%s/recordings/%s", acct, id);
		rv = cxi_blobcrypt_put(r.bc, key, fd_read, &src, why,
		    sizeof(why));
	}
	rec_job j = {.ev = ev, .call = id, .key = key, .bytes = src.total,
	    .ctype = json_string_value(json_object_get(d, "content_type"))};
	if (rv == CX_OK) {
		cx_db_error err;
		pthread_mutex_lock(&ev->apply);
		rv = cxi_db_tx(&r.db, 5, rec_tx, &j, &err);
		pthread_mutex_unlock(&ev->apply);
		if (rv != CX_OK) {
			snprintf(why, sizeof(why), "%s", j.why[0] ? j.why :
			    err.message);
		}
	}
	rec_ctx_done(&r);
	if (rv != CX_OK) {
		cxi_warn("calls", "call.recording for %s not stored: %s",
		    id != NULL ? id : "an unknown call", why);
		json_decref(j.after.publish);
		json_decref(call);
		*reply = ce_msg(why);
		return (rv);
	}
	cxi_info("calls", "call %s: recording stored (%lld bytes)", id,
	    (long long) src.total);
	ce_after_flush(ev, &j.after);
	*reply = json_pack("{s:s}", "recording", key);
	json_decref(call);
	return (*reply != NULL ? CX_OK : CX_ENOMEM);
}

cx_err
ce_recording(void *arg, const cx_msg *req, json_t **reply)
{
	cxi_callevents *ev = arg;
	const json_t *d = req->data;
	char dir[PATH_MAX], why[256];
	const char *prov = json_string_value(json_object_get(d, "provider"));
	const char *path = json_string_value(json_object_get(d, "path"));
	const char *ctype = json_string_value(json_object_get(d,
	    "content_type"));
	const char *cid = json_string_value(json_object_get(d, "call_id"));
	const char *pcid = json_string_value(json_object_get(d,
	    "provider_call_id"));
	const json_t *dur = json_object_get(d, "duration_ms");
	const char *bad = !json_is_integer(json_object_get(d, "v")) ||
	        json_integer_value(json_object_get(d, "v")) != 1 ? "v" :
	    prov == NULL || strlen(prov) > 64 ? "provider" :
	    path == NULL || strlen(path) >= PATH_MAX ? "path" :
	    !ce_in(ctype, audio_types) ? "content_type" :
	    cid == NULL && pcid == NULL ? "call_id or provider_call_id" :
	    cid != NULL && strlen(cid) > 64 ? "call_id" :
	    pcid != NULL && strlen(pcid) > 128 ? "provider_call_id" :
	    dur != NULL && !json_is_integer(dur) ? "duration_ms" : NULL;
	if (bad != NULL) {
		snprintf(why, sizeof(why), "call.recording: %s is missing or "
		    "not valid%s", bad, strcmp(bad, "content_type") == 0 ?
		    " (audio/wav, audio/x-wav or audio/mpeg)" : "");
		*reply = ce_msg(why);
		return (CX_EINVAL);
	}
	if (!cxi_manager_running(ev->mgr, prov, CX_KIND_TELEPHONY, dir,
	        sizeof(dir))) {
		*reply = ce_msg("provider is not a running telephony plugin");
		return (CX_EDENIED);
	}
	int fd = -1;
	cx_err rv = open_inside(dir, path, ctype, &fd, why, sizeof(why));
	if (rv != CX_OK) {
		cxi_warn("calls", "call.recording from %s refused: %s", prov,
		    why);
		*reply = ce_msg(why);
		return (rv);
	}
	rv = store(ev, d, fd, reply);
	close(fd);
	return (rv);
}
