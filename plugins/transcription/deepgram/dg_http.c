/*
 * dg_http.c - one POST {api_base}/v1/listen with the recording as the
 * body, read from disk as curl sends it.
 *
 * Recordings can be hundreds of megabytes and several transcriptions run
 * at once, so the file is never held in memory: curl pulls it through a
 * read callback, with the size known up front (Content-Length, no chunked
 * encoding, which some proxies refuse for large uploads). There is no
 * retry here: the core owns retries and backoff for the whole job.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "dg.h"

typedef struct dg_src {
	int fd;
	uint64_t size, off;
	int err; /* errno of a failed read, or -1 when the file shrank */
} dg_src;

typedef struct dg_sink {
	dg_resp *r;
	size_t cap;
	bool too_big;
} dg_sink;

static size_t
on_read(char *buf, size_t size, size_t nitems, void *arg)
{
	dg_src *s = arg;
	size_t want = size * nitems;
	if (want > s->size - s->off) {
		want = (size_t) (s->size - s->off);
	}
	if (want == 0) {
		return (0);
	}
	ssize_t n;
	do {
		n = pread(s->fd, buf, want, (off_t) s->off);
	} while (n < 0 && errno == EINTR);
	if (n <= 0) {
		/* A short file would leave the server waiting for bytes we
		 * promised in Content-Length: abort instead. */
		s->err = n < 0 ? errno : -1;
		return (CURL_READFUNC_ABORT);
	}
	s->off += (uint64_t) n;
	return ((size_t) n);
}

/* curl rewinds the body when a server answers before the upload ends
 * on a connection it wants to reuse, or on a 100-continue mishap. */
static int
on_seek(void *arg, curl_off_t offset, int origin)
{
	dg_src *s = arg;
	if (origin != SEEK_SET || offset < 0 || (uint64_t) offset > s->size) {
		return (CURL_SEEKFUNC_CANTSEEK);
	}
	s->off = (uint64_t) offset;
	return (CURL_SEEKFUNC_OK);
}

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	dg_sink *k = arg;
	dg_resp *r = k->r;
	size_t n = size * nmemb;
	if (n > DG_RESP_LIMIT - r->len) {
		k->too_big = true;
		return (0);
	}
	if (r->len + n + 1 > k->cap) {
		size_t nc = k->cap ? k->cap : 16384;
		while (nc < r->len + n + 1) {
			nc *= 2;
		}
		char *nb = realloc(r->body, nc);
		if (nb == NULL) {
			return (0);
		}
		r->body = nb;
		k->cap = nc;
	}
	memcpy(r->body + r->len, ptr, n);
	r->len += n;
	r->body[r->len] = '\0';
	return (n);
}

static int
add_param(char *url, size_t cap, size_t *o, CURL *c, const char *k,
    const char *v)
{
	char *ev = curl_easy_escape(c, v, 0);
	if (ev == NULL) {
		return (-1);
	}
	int n = snprintf(url + *o, cap - *o, "%s%s=%s",
	    url[*o - 1] == '?' ? "" : "&", k, ev);
	curl_free(ev);
	if (n < 0 || (size_t) n >= cap - *o) {
		return (-1);
	}
	*o += (size_t) n;
	return (0);
}

/* The documented options, booleans spelled true/false. Options the
 * operator turned off are left out rather than sent as false, so the
 * request is what the docs' examples show. */
static int
build_url(CURL *c, const dg_conf *cf, const dg_job *j, char *url,
    size_t cap)
{
	int n = snprintf(url, cap, "%s/v1/listen?", cf->api_base);
	if (n < 0 || (size_t) n >= cap) {
		return (-1);
	}
	size_t o = (size_t) n;
	int rc = add_param(url, cap, &o, c, "model", cf->model);
	if (rc == 0 && cf->smart_format) {
		rc = add_param(url, cap, &o, c, "smart_format", "true");
	}
	if (rc == 0 && cf->punctuate) {
		rc = add_param(url, cap, &o, c, "punctuate", "true");
	}
	if (rc == 0 && cf->diarize) {
		rc = add_param(url, cap, &o, c, "diarize", "true");
	}
	if (rc == 0 && cf->utterances) {
		rc = add_param(url, cap, &o, c, "utterances", "true");
	}
	if (rc == 0 && j->summarize) {
		rc = add_param(url, cap, &o, c, "summarize", "v2");
	}
	if (rc == 0 && cf->mip_opt_out) {
		rc = add_param(url, cap, &o, c, "mip_opt_out", "true");
	}
	if (rc == 0 && j->language != NULL) {
		rc = add_param(url, cap, &o, c, "language", j->language);
	}
	return (rc);
}

static cx_err
open_recording(const dg_conf *cf, const dg_job *j, dg_src *src, char *msg,
    size_t msglen)
{
	struct stat st;
	src->fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (src->fd < 0) {
		snprintf(msg, msglen, "cannot open the recording: %s",
		    strerror(errno));
		return (CX_EIO);
	}
	if (fstat(src->fd, &st) != 0) {
		snprintf(msg, msglen, "cannot stat the recording: %s",
		    strerror(errno));
		return (CX_EIO);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(msg, msglen, "the recording is not a regular file");
		return (CX_EINVAL);
	}
	if (st.st_size == 0) {
		snprintf(msg, msglen, "the recording is empty");
		return (CX_EINVAL);
	}
	if ((int64_t) st.st_size > cf->max_bytes) {
		snprintf(msg, msglen, "the recording has %" PRId64 " bytes, more "
		    "than max_bytes (%" PRId64 ")", (int64_t) st.st_size,
		    cf->max_bytes);
		return (CX_EINVAL);
	}
	src->size = (uint64_t) st.st_size;
	return (CX_OK);
}

static struct curl_slist *
headers(const dg_job *j)
{
	struct curl_slist *h = NULL, *t;
	char line[1024];
	const char *lines[3] = {line, NULL, "Accept: application/json"};
	char ct[160];
	snprintf(line, sizeof(line), "Authorization: Token %s", j->api_key);
	snprintf(ct, sizeof(ct), "Content-Type: %s", j->content_type);
	lines[1] = ct;
	for (size_t i = 0; i < 3; i++) {
		if ((t = curl_slist_append(h, lines[i])) == NULL) {
			break;
		}
		h = t;
	}
	explicit_bzero(line, sizeof(line));
	return (h);
}

/* The key sits in curl's header copy: wipe it before it is freed. */
static void
free_headers(struct curl_slist *h)
{
	for (struct curl_slist *t = h; t != NULL; t = t->next) {
		explicit_bzero(t->data, strlen(t->data));
	}
	curl_slist_free_all(h);
}

static cx_err
transport_err(const dg_conf *cf, CURLcode rc, const dg_src *src,
    const dg_sink *k, char *msg, size_t msglen)
{
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(msg, msglen, "no answer from Deepgram within %ld ms",
		    cf->timeout_ms);
		return (CX_ETIMEDOUT);
	}
	if (k->too_big) {
		snprintf(msg, msglen, "Deepgram's answer is larger than %u bytes",
		    DG_RESP_LIMIT);
		return (CX_EPROTO);
	}
	if (src->err != 0) {
		snprintf(msg, msglen, "reading the recording failed: %s",
		    src->err > 0 ? strerror(src->err) : "file shrank");
		return (CX_EIO);
	}
	if (rc == CURLE_OUT_OF_MEMORY || rc == CURLE_WRITE_ERROR) {
		snprintf(msg, msglen, "out of memory reading Deepgram's answer");
		return (CX_ENOMEM);
	}
	snprintf(msg, msglen, "request to Deepgram failed: %s",
	    curl_easy_strerror(rc));
	return (CX_EIO);
}

cx_err
dg_http_transcribe(const dg_conf *cf, const dg_job *j, dg_resp *r,
    char *msg, size_t msglen)
{
	*r = (dg_resp){0};
	dg_src src = {.fd = -1};
	dg_sink sink = {.r = r};
	char url[2048];
	struct curl_slist *hdrs = NULL;
	CURL *c = NULL;
	cx_err e = open_recording(cf, j, &src, msg, msglen);
	if (e != CX_OK) {
		goto out;
	}
	if ((c = curl_easy_init()) == NULL || (hdrs = headers(j)) == NULL) {
		snprintf(msg, msglen, "out of memory");
		e = CX_ENOMEM;
		goto out;
	}
	if (build_url(c, cf, j, url, sizeof(url)) != 0) {
		snprintf(msg, msglen, "request URL too long");
		e = CX_EINVAL;
		goto out;
	}
	CURLcode rc = CURLE_OK;
#define SET(o, v) \
	do { \
		if (rc == CURLE_OK) \
			rc = curl_easy_setopt(c, o, v); \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TIMEOUT_MS, cf->timeout_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, cf->timeout_ms < 10000 ? cf->timeout_ms :
	                                                        10000L);
	/* Deepgram answers only when the transcript is done: minutes of
	 * silence on the connection, which NAT boxes like to drop. */
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_USERAGENT, "callixo-deepgram/1.0");
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_READFUNCTION, on_read);
	SET(CURLOPT_READDATA, &src);
	SET(CURLOPT_SEEKFUNCTION, on_seek);
	SET(CURLOPT_SEEKDATA, &src);
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) src.size);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, &sink);
#undef SET
	if (rc == CURLE_OK) {
		rc = curl_easy_perform(c);
	}
	r->sent = src.off;
	if (rc != CURLE_OK) {
		e = transport_err(cf, rc, &src, &sink, msg, msglen);
		goto out;
	}
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status) !=
	        CURLE_OK ||
	    r->status == 0) {
		snprintf(msg, msglen, "no HTTP status from Deepgram");
		e = CX_EIO;
	}
out:
	free_headers(hdrs);
	if (c != NULL) {
		curl_easy_cleanup(c);
	}
	if (src.fd >= 0) {
		close(src.fd);
	}
	if (e != CX_OK) {
		dg_resp_free(r);
	}
	return (e);
}

void
dg_resp_free(dg_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

cx_err
dg_http_status_err(long status)
{
	switch (status) {
	case 400: /* bad options, unsupported or corrupt audio */
	case 413: /* file over Deepgram's limit */
	case 415:
	case 422:
		return (CX_EINVAL);
	case 401: /* bad key */
	case 402: /* out of credit */
	case 403: /* no access to the model or feature */
		return (CX_EDENIED);
	case 408:
		return (CX_ETIMEDOUT);
	case 429: /* over the project's concurrency limit */
		return (CX_EBUSY);
	default: /* 5xx, or a proxy's 404/502 in front of it */
		return (CX_EIO);
	}
}
