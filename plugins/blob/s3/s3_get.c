/*
 * s3_get.c - the reader, remove and remove_prefix.
 *
 * Reading streams with ranged GETs of part_size bytes (Range: bytes=a-b)
 * rather than one long GET paused under a curl callback: each chunk is an
 * ordinary request that retries on its own, memory stays at one chunk,
 * and a slow consumer holds no connection open. HEAD gives the size and
 * the ETag at open; every chunk carries If-Match with that ETag, so an
 * object replaced mid-read fails (412) instead of mixing two versions.
 *
 * remove_prefix lists with ListObjectsV2 and deletes key by key. The
 * batch DeleteObjects call would save requests but needs a Content-MD5
 * (or checksum) header that curl does not produce for us, and a per-key
 * DELETE gives a precise error per key.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "s3xml.h"

struct cx_blob_reader {
	s3 *s;
	char key[S3_KEY_MAX + 1];
	char etag[128];
	uint64_t size; /* whole object */
	uint64_t off;  /* next byte to fetch */
	s3_buf chunk;  /* the current chunk, handed out from pos */
	size_t pos;
};

cx_err
s3_get_open(void *state, const char *key, cx_blob_reader **r,
    uint64_t *size)
{
	s3 *s = state;
	*r = NULL;
	cx_blob_reader *nr = calloc(1, sizeof(*nr));
	if (nr == NULL) {
		return (CX_ENOMEM);
	}
	nr->s = s;
	cx_err e = s3_full_key(s, key, nr->key, sizeof(nr->key));
	if (e != CX_OK) {
		free(nr);
		return (e);
	}
	/* A missing key is an everyday answer, not a storage failure: no
	 * error line for it. */
	s3_req q = {.op = "head", .method = "HEAD", .key = nr->key};
	e = s3_request(s, &q, true);
	if (e == CX_OK && !q.has_length) {
		/* Without a size, an object would read as empty: refuse. */
		s->host->log(s->host, CX_LOG_ERROR, "s3: head of '%s': no "
		    "Content-Length in the answer", nr->key);
		e = CX_EIO;
	}
	if (e == CX_OK) {
		nr->size = q.length;
		snprintf(nr->etag, sizeof(nr->etag), "%s", q.etag);
	}
	s3_req_free(&q);
	if (e != CX_OK) {
		free(nr);
		return (e);
	}
	if (size != NULL) {
		*size = nr->size;
	}
	*r = nr;
	return (CX_OK);
}

static cx_err
fetch_chunk(cx_blob_reader *r)
{
	uint64_t n = r->size - r->off;
	n = n < r->s->part_size ? n : r->s->part_size;
	char range[64];
	snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, r->off,
	    r->off + n - 1);
	s3_req q = {.op = "get", .method = "GET", .key = r->key,
	    .range = range, .if_match = r->etag[0] ? r->etag : NULL,
	    .resp_limit = n > 65536 ? (size_t) n : 65536};
	free(r->chunk.data);
	r->chunk = (s3_buf){0};
	r->pos = 0;
	cx_err e = s3_request(r->s, &q, false);
	/* The limit leaves room for an error document even when the range
	 * is tiny, so a 503 or 404 keeps its status. 206 is the answer to
	 * a range; a 200 carries the whole object, which is right only for
	 * a first chunk that is the whole object. */
	if (e == CX_OK && (q.resp.len != n ||
	                      (q.status != 206 && !(q.status == 200 &&
	                                                r->off == 0 &&
	                                                n == r->size)))) {
		r->s->host->log(r->s->host, CX_LOG_ERROR, "s3: get of '%s': "
		    "asked for %s, got HTTP %ld with %zu bytes", r->key, range,
		    q.status, q.resp.len);
		e = CX_EIO;
	}
	if (e != CX_OK) {
		s3_req_free(&q);
		return (e);
	}
	r->chunk = q.resp;
	r->off += n;
	return (CX_OK);
}

cx_err
s3_get_read(cx_blob_reader *r, void *buf, size_t cap, size_t *got)
{
	*got = 0;
	if (r->pos == r->chunk.len) {
		if (r->off >= r->size) {
			return (CX_OK);
		}
		cx_err e = fetch_chunk(r);
		if (e != CX_OK) {
			return (e);
		}
	}
	size_t n = r->chunk.len - r->pos;
	n = n < cap ? n : cap;
	memcpy(buf, r->chunk.data + r->pos, n);
	r->pos += n;
	*got = n;
	return (CX_OK);
}

void
s3_get_close(cx_blob_reader *r)
{
	if (r == NULL) {
		return;
	}
	free(r->chunk.data);
	free(r);
}

static cx_err
delete_key(s3 *s, const char *full)
{
	s3_req q = {.op = "delete", .method = "DELETE", .key = full};
	cx_err e = s3_request(s, &q, false);
	s3_req_free(&q);
	return (e);
}

/* S3 answers 204 whether or not the key existed, so removing a missing
 * key succeeds: remove is idempotent, and a HEAD first would only add a
 * request and a race. */
cx_err
s3_remove(void *state, const char *key)
{
	s3 *s = state;
	char full[S3_KEY_MAX + 1];
	cx_err e = s3_full_key(s, key, full, sizeof(full));
	return (e == CX_OK ? delete_key(s, full) : e);
}

/* Deletes every listed key of one ListObjectsV2 page. Keys come from the
 * network: each must be a key we could have written, under the prefix
 * asked for, before it goes back into a URL. */
static cx_err
delete_page(s3 *s, const s3_buf *page, const char *full)
{
	char key[S3_KEY_MAX + 1];
	size_t pos = 0, fl = strlen(full);
	int f;
	while ((f = s3xml_next(page->data, page->len, "Key", &pos, key,
	            sizeof(key))) == 1) {
		if (strncmp(key, full, fl) != 0 || !s3_key_ok(key, false)) {
			s->host->log(s->host, CX_LOG_WARN, "s3: remove_prefix: "
			    "skipping a listed key outside '%s'", full);
			continue;
		}
		cx_err e = delete_key(s, key);
		if (e != CX_OK && e != CX_ENOENT) {
			return (e);
		}
	}
	if (f < 0) {
		s->host->log(s->host, CX_LOG_ERROR, "s3: remove_prefix '%s': "
		    "malformed listing", full);
		return (CX_EIO);
	}
	return (CX_OK);
}

cx_err
s3_remove_prefix(void *state, const char *prefix)
{
	s3 *s = state;
	char full[S3_KEY_MAX + 1], efull[3 * S3_KEY_MAX + 1];
	char token[1024] = "", etoken[3 * 1024 + 1] = "";
	char query[8192], trunc[16];
	/* An empty prefix would empty the whole bucket (or our whole key
	 * space): refused, so a caller's bug cannot do that. */
	cx_err e = s3_full_key(s, prefix, full, sizeof(full));
	if (e != CX_OK) {
		return (e);
	}
	if (s3_uri_encode(full, false, efull, sizeof(efull)) < 0) {
		return (CX_EINVAL);
	}
	for (;;) {
		/* Parameters in sorted order: curl 7.88 signs the query as
		 * written, and SigV4 wants it sorted. */
		if (token[0] != '\0') {
			snprintf(query, sizeof(query), "continuation-token=%s&"
			    "list-type=2&prefix=%s", etoken, efull);
		} else {
			snprintf(query, sizeof(query), "list-type=2&prefix=%s",
			    efull);
		}
		s3_req q = {.op = "list", .method = "GET", .query = query,
		    .resp_limit = 8u << 20};
		e = s3_request(s, &q, false);
		if (e == CX_OK) {
			e = delete_page(s, &q.resp, full);
		}
		bool more = false;
		if (e == CX_OK && s3xml_find(q.resp.data, q.resp.len,
		                      "IsTruncated", trunc, sizeof(trunc)) == 1 &&
		    strcmp(trunc, "true") == 0) {
			more = true;
			if (s3xml_find(q.resp.data, q.resp.len,
			        "NextContinuationToken", token,
			        sizeof(token)) != 1 || token[0] == '\0' ||
			    s3_uri_encode(token, false, etoken,
			        sizeof(etoken)) < 0) {
				s->host->log(s->host, CX_LOG_ERROR, "s3: "
				    "remove_prefix '%s': truncated listing "
				    "without a usable continuation token", full);
				e = CX_EIO;
			}
		}
		s3_req_free(&q);
		if (e != CX_OK || !more) {
			return (e);
		}
	}
}
