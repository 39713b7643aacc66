/*
 * s3_put.c - the writer.
 *
 * Bytes collect in one buffer of part_size. An object that never grows
 * past one part goes up as a single PUT at commit. A larger one becomes a
 * multipart upload: CreateMultipartUpload when the first part is full
 * and more data follows, UploadPart for each full part, the remainder as
 * the last part and CompleteMultipartUpload at commit. Either way S3
 * shows the object only when the PUT or the Complete succeeds, which is
 * the contract's "visible at commit, whole". Memory stays at one part.
 *
 * put_commit always frees the writer, like put_abort: on failure it
 * aborts the multipart upload first, so the caller has nothing left to
 * clean up (and must not call put_abort after it).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "s3xml.h"

/* S3 allows part numbers 1..10000. */
#define S3_MAX_PARTS 10000

struct cx_blob_writer {
	s3 *s;
	char key[S3_KEY_MAX + 1];
	char *buf;
	size_t len;
	bool multipart;
	char upload_id[1024];
	char upload_id_enc[3 * 1024];
	char **etags;
	size_t n_parts, cap_parts;
	cx_err failed; /* sticky: the first error of the upload */
};

cx_err
s3_put_begin(void *state, const char *key, cx_blob_writer **w)
{
	s3 *s = state;
	*w = NULL;
	cx_blob_writer *nw = calloc(1, sizeof(*nw));
	if (nw == NULL) {
		return (CX_ENOMEM);
	}
	nw->s = s;
	cx_err e = s3_full_key(s, key, nw->key, sizeof(nw->key));
	if (e != CX_OK) {
		free(nw);
		return (e);
	}
	/* One part of memory per writer, taken up front so that a writer
	 * that started fine never fails later for lack of memory. */
	nw->buf = malloc(s->part_size);
	if (nw->buf == NULL) {
		free(nw);
		return (CX_ENOMEM);
	}
	*w = nw;
	return (CX_OK);
}

static cx_err
create_upload(cx_blob_writer *w)
{
	s3_req r = {.op = "create multipart upload", .method = "POST",
	    .key = w->key, .query = "uploads="};
	cx_err e = s3_request(w->s, &r, false);
	if (e == CX_OK) {
		int f = s3xml_find(r.resp.data ? r.resp.data : "", r.resp.len,
		    "UploadId", w->upload_id, sizeof(w->upload_id));
		if (f != 1 || w->upload_id[0] == '\0' ||
		    s3_uri_encode(w->upload_id, false, w->upload_id_enc,
		        sizeof(w->upload_id_enc)) < 0) {
			w->s->host->log(w->s->host, CX_LOG_ERROR, "s3: create "
			    "multipart upload of '%s': no usable UploadId in "
			    "the answer", w->key);
			e = CX_EIO;
		} else {
			w->multipart = true;
		}
	}
	s3_req_free(&r);
	return (e);
}

static cx_err
upload_part(cx_blob_writer *w)
{
	if (w->n_parts >= S3_MAX_PARTS) {
		w->s->host->log(w->s->host, CX_LOG_ERROR, "s3: '%s' needs more "
		    "than %d parts; raise part_size", w->key, S3_MAX_PARTS);
		return (CX_EIO);
	}
	if (w->n_parts == w->cap_parts) {
		size_t nc = w->cap_parts ? w->cap_parts * 2 : 16;
		char **ne = realloc(w->etags, nc * sizeof(*ne));
		if (ne == NULL) {
			return (CX_ENOMEM);
		}
		w->etags = ne;
		w->cap_parts = nc;
	}
	char query[3 * 1024 + 64];
	snprintf(query, sizeof(query), "partNumber=%zu&uploadId=%s",
	    w->n_parts + 1, w->upload_id_enc);
	s3_req r = {.op = "upload part", .method = "PUT", .key = w->key,
	    .query = query, .body = w->buf, .body_len = w->len};
	cx_err e = s3_request(w->s, &r, false);
	if (e == CX_OK && r.etag[0] == '\0') {
		w->s->host->log(w->s->host, CX_LOG_ERROR, "s3: upload part %zu "
		    "of '%s': no ETag in the answer", w->n_parts + 1, w->key);
		e = CX_EIO;
	}
	if (e == CX_OK) {
		w->etags[w->n_parts] = strdup(r.etag);
		if (w->etags[w->n_parts] == NULL) {
			e = CX_ENOMEM;
		} else {
			w->n_parts++;
			w->len = 0;
			w->s->host->metric_add(w->s->host, "s3_parts_total", 1);
		}
	}
	s3_req_free(&r);
	return (e);
}

/* Sends the buffer as the next part, starting the upload if needed. */
static cx_err
flush_part(cx_blob_writer *w)
{
	cx_err e = w->multipart ? CX_OK : create_upload(w);
	return (e == CX_OK ? upload_part(w) : e);
}

cx_err
s3_put_write(cx_blob_writer *w, const void *buf, size_t len)
{
	if (w->failed != CX_OK) {
		return (w->failed);
	}
	const char *p = buf;
	while (len > 0) {
		/* A full buffer is sent only once more data arrives, so an
		 * object of exactly one part still goes up as one PUT. */
		if (w->len == w->s->part_size) {
			cx_err e = flush_part(w);
			if (e != CX_OK) {
				w->failed = e;
				return (e);
			}
		}
		size_t n = w->s->part_size - w->len;
		n = n < len ? n : len;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
	}
	return (CX_OK);
}

static cx_err
complete_upload(cx_blob_writer *w)
{
	/* <Part> with number and an escaped ETag is < 300 bytes each. */
	size_t cap = 128 + w->n_parts * 300;
	char *xml = malloc(cap);
	if (xml == NULL) {
		return (CX_ENOMEM);
	}
	size_t o = (size_t) snprintf(xml, cap, "<CompleteMultipartUpload "
	    "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (size_t i = 0; i < w->n_parts; i++) {
		char etag[200];
		if (s3xml_escape(w->etags[i], etag, sizeof(etag)) < 0) {
			free(xml);
			return (CX_EIO);
		}
		o += (size_t) snprintf(xml + o, cap - o, "<Part><PartNumber>%zu"
		    "</PartNumber><ETag>%s</ETag></Part>", i + 1, etag);
	}
	o += (size_t) snprintf(xml + o, cap - o, "</CompleteMultipartUpload>");
	char query[3 * 1024 + 16];
	snprintf(query, sizeof(query), "uploadId=%s", w->upload_id_enc);
	s3_req r = {.op = "complete multipart upload", .method = "POST",
	    .key = w->key, .query = query, .body = xml, .body_len = o};
	cx_err e = s3_request(w->s, &r, false);
	s3_req_free(&r);
	free(xml);
	return (e);
}

static void
abort_upload(cx_blob_writer *w)
{
	char query[3 * 1024 + 16];
	snprintf(query, sizeof(query), "uploadId=%s", w->upload_id_enc);
	s3_req r = {.op = "abort multipart upload", .method = "DELETE",
	    .key = w->key, .query = query};
	/* A 404 means S3 already dropped it: the goal is reached. */
	cx_err e = s3_request(w->s, &r, true);
	if (e != CX_OK && e != CX_ENOENT) {
		/* Parts stay billed until a bucket lifecycle rule
		 * (AbortIncompleteMultipartUpload) removes them. */
		w->s->host->log(w->s->host, CX_LOG_WARN, "s3: upload %s of "
		    "'%s' left behind; a lifecycle rule will have to remove "
		    "its parts", w->upload_id, w->key);
	}
	s3_req_free(&r);
}

static void
writer_free(cx_blob_writer *w)
{
	for (size_t i = 0; i < w->n_parts; i++) {
		free(w->etags[i]);
	}
	free(w->etags);
	free(w->buf);
	free(w);
}

cx_err
s3_put_commit(cx_blob_writer *w)
{
	cx_err e = w->failed;
	if (e == CX_OK && !w->multipart) {
		s3_req r = {.op = "put", .method = "PUT", .key = w->key,
		    .body = w->buf, .body_len = w->len};
		e = s3_request(w->s, &r, false);
		s3_req_free(&r);
	} else if (e == CX_OK) {
		/* The remainder is the last part; S3 lets it be short. */
		if (w->len > 0) {
			e = upload_part(w);
		}
		if (e == CX_OK) {
			e = complete_upload(w);
		}
	}
	if (e != CX_OK && w->multipart) {
		abort_upload(w);
	}
	writer_free(w);
	return (e);
}

void
s3_put_abort(cx_blob_writer *w)
{
	if (w == NULL) {
		return;
	}
	if (w->multipart) {
		abort_upload(w);
	}
	writer_free(w);
}
