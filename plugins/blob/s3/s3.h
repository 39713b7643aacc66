/*
 * s3.h - internals shared by the S3 blob plugin's files.
 *
 * s3_plugin.c  settings, init/fini, the data residency guard
 * s3_http.c    one signed request, retries, error mapping
 * s3_put.c     the writer: single PUT or multipart upload
 * s3_get.c     the reader (ranged GETs), remove, remove_prefix
 * s3xml.c      the small XML extractor (fuzzed)
 *
 * libcurl signs every request (CURLOPT_AWS_SIGV4); we never compute a
 * signature ourselves. Bodies are sent as UNSIGNED-PAYLOAD: curl 7.88
 * does not add x-amz-content-sha256 on its own, and S3 requires it.
 */
#ifndef S3_PLUGIN_H
#define S3_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <callixo/callixo.h>

typedef struct s3 {
	const cx_host *host;
	char *endpoint;   /* scheme://host[:port], no trailing '/' */
	char *bucket;
	char *region;
	char *access_key; /* secret: never logged */
	char *secret_key; /* secret: never logged */
	char *prefix;     /* "" or a key prefix */
	char **allowed;   /* allowed regions */
	size_t n_allowed;
	char sigv4[96];   /* "aws:amz:<region>:s3" */
	bool path_style;
	size_t part_size;
	int max_retries;
	long timeout_ms;
	long backoff_ms;  /* first retry delay; doubles, with jitter */
	bool curl_inited;
} s3;

/* A growable byte buffer with a hard cap, so a hostile server cannot
 * make us allocate without bound. */
typedef struct s3_buf {
	char *data;
	size_t len, cap, limit;
} s3_buf;

typedef struct s3_req {
	/* in */
	const char *op;     /* for logs: "put", "upload part", ... */
	const char *method; /* GET HEAD PUT POST DELETE */
	const char *key;    /* full object key (prefix applied), or NULL */
	const char *query;  /* canonical query string (sorted, k=v), or NULL */
	const void *body;   /* PUT/POST body */
	size_t body_len;
	const char *range;  /* "bytes=a-b", or NULL */
	const char *if_match; /* ETag the object must still have, or NULL */
	size_t resp_limit;  /* most body bytes accepted (0: 1 MiB) */
	/* out */
	long status;        /* final HTTP status, 0 on transport failure */
	s3_buf resp;        /* response body; free with s3_req_free */
	char etag[128];     /* ETag header, quotes kept */
	uint64_t total;     /* from Content-Range (.../total) */
	uint64_t length;    /* Content-Length */
	bool has_length;    /* a valid Content-Length was seen */
	int attempts;
} s3_req;

/* s3_http.c */
cx_err s3_http_global_init(s3 *s);
void s3_http_global_fini(s3 *s);
/* Runs the request with retries (5xx, 429, transport errors). Returns
 * CX_OK for a 2xx status (req->status tells which). Otherwise maps:
 * 404 CX_ENOENT, 403 CX_EDENIED, else CX_EIO, and logs the operation,
 * key, status and S3 error code unless quiet_404 and status is 404. */
cx_err s3_request(s3 *s, s3_req *req, bool quiet_404);
void s3_req_free(s3_req *req);
/* Percent-encodes per SigV4 (unreserved kept, '/' kept if keep_slash). */
int s3_uri_encode(const char *in, bool keep_slash, char *out, size_t cap);
/* A key of [A-Za-z0-9._/-], not starting with '/', without ".." or "//". */
bool s3_key_ok(const char *k, bool allow_empty);
/* Full key with the configured prefix; CX_EINVAL for a bad key. */
cx_err s3_full_key(const s3 *s, const char *key, char *out, size_t cap);

/* s3_put.c / s3_get.c: the cx_blob_ops entries. */
cx_err s3_put_begin(void *state, const char *key, cx_blob_writer **w);
cx_err s3_put_write(cx_blob_writer *w, const void *buf, size_t len);
cx_err s3_put_commit(cx_blob_writer *w);
void s3_put_abort(cx_blob_writer *w);
cx_err s3_get_open(void *state, const char *key, cx_blob_reader **r,
    uint64_t *size);
cx_err s3_get_read(cx_blob_reader *r, void *buf, size_t cap, size_t *got);
void s3_get_close(cx_blob_reader *r);
cx_err s3_remove(void *state, const char *key);
cx_err s3_remove_prefix(void *state, const char *prefix);

#define S3_KEY_MAX 1024

#endif
