/*
 * s3_http.c - one S3 request: URL, headers, SigV4 by libcurl, bounded
 * response, retries with backoff and jitter, and the mapping of the final
 * outcome to cx_err with one log line.
 *
 * Each attempt uses a fresh easy handle: attempts are few and large
 * (parts of megabytes), so connection reuse buys little, and a fresh
 * handle can never carry state from a failed attempt into the next.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>

#include "s3.h"
#include "s3xml.h"

#define S3_RESP_DEFAULT_LIMIT (1u << 20)
#define S3_BACKOFF_CAP_MS 20000L

cx_err
s3_http_global_init(s3 *s)
{
	/* curl_global_init is reference counted since 7.84 and thread safe
	 * with a thread-safe TLS backend; calling it per instance keeps the
	 * plugin free of globals of its own. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		s->host->log(s->host, CX_LOG_ERROR, "curl_global_init failed");
		return (CX_EIO);
	}
	s->curl_inited = true;
	return (CX_OK);
}

void
s3_http_global_fini(s3 *s)
{
	if (s->curl_inited) {
		curl_global_cleanup();
		s->curl_inited = false;
	}
}

int
s3_uri_encode(const char *in, bool keep_slash, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *) in; *p; p++) {
		bool plain = isalnum(*p) || *p == '-' || *p == '_' ||
		    *p == '.' || *p == '~' || (keep_slash && *p == '/');
		size_t need = plain ? 1 : 3;
		if (cap - o <= need) {
			return (-1);
		}
		if (plain) {
			out[o++] = (char) *p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (cap == 0) {
		return (-1);
	}
	out[o] = '\0';
	return ((int) o);
}

/* Keys reach S3 as URL paths and signed canonical URIs: keeping them to
 * the contract's character set means no encoding ambiguity between curl,
 * the signer and the server. */
bool
s3_key_ok(const char *k, bool allow_empty)
{
	if (k == NULL || (k[0] == '\0' && !allow_empty) || k[0] == '/' ||
	    strstr(k, "..") != NULL || strstr(k, "//") != NULL) {
		return (false);
	}
	for (const char *p = k; *p; p++) {
		if (!isalnum((unsigned char) *p) && *p != '.' && *p != '_' &&
		    *p != '/' && *p != '-') {
			return (false);
		}
	}
	return (true);
}

cx_err
s3_full_key(const s3 *s, const char *key, char *out, size_t cap)
{
	if (!s3_key_ok(key, false)) {
		return (CX_EINVAL);
	}
	int n = snprintf(out, cap, "%s%s", s->prefix, key);
	return (n > 0 && (size_t) n < cap && n <= S3_KEY_MAX ? CX_OK :
	                                                       CX_EINVAL);
}

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	s3_buf *b = arg;
	size_t n = size * nmemb;
	if (n > b->limit - b->len) {
		return (0); /* too large: curl fails with CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->len + n + 1) {
			nc *= 2;
		}
		/* Never more than the limit allows: a ranged GET of one part
		 * must cost one part of memory, not two. */
		if (nc > b->limit + 1) {
			nc = b->limit + 1;
		}
		char *nd = realloc(b->data, nc);
		if (nd == NULL) {
			return (0);
		}
		b->data = nd;
		b->cap = nc;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return (n);
}

static size_t
on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	s3_req *r = arg;
	size_t n = size * nmemb;
	char line[256];
	if (n >= sizeof(line)) {
		return (n);
	}
	memcpy(line, ptr, n);
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	char *colon = strchr(line, ':');
	if (colon == NULL) {
		return (n);
	}
	*colon = '\0';
	char *v = colon + 1;
	while (*v == ' ' || *v == '\t') {
		v++;
	}
	if (strcasecmp(line, "etag") == 0) {
		snprintf(r->etag, sizeof(r->etag), "%s", v);
	} else if (strcasecmp(line, "content-range") == 0) {
		const char *slash = strrchr(v, '/');
		if (slash != NULL && slash[1] != '*') {
			r->total = strtoull(slash + 1, NULL, 10);
		}
	} else if (strcasecmp(line, "content-length") == 0) {
		char *endp;
		r->length = strtoull(v, &endp, 10);
		r->has_length = endp != v && *endp == '\0';
	}
	return (n);
}

typedef struct s3_src {
	const char *start, *p;
	size_t len, left;
} s3_src;

static size_t
on_read(char *buf, size_t size, size_t nitems, void *arg)
{
	s3_src *src = arg;
	size_t n = size * nitems;
	n = n < src->left ? n : src->left;
	memcpy(buf, src->p, n);
	src->p += n;
	src->left -= n;
	return (n);
}

/* Lets curl rewind the body within an attempt (it must, for instance,
 * when a server answers early while the body is still being sent and
 * the connection is reused). */
static int
on_seek(void *arg, curl_off_t offset, int origin)
{
	s3_src *src = arg;
	if (origin != SEEK_SET || offset < 0 ||
	    (uint64_t) offset > src->len) {
		return (CURL_SEEKFUNC_CANTSEEK);
	}
	src->p = src->start + offset;
	src->left = src->len - (size_t) offset;
	return (CURL_SEEKFUNC_OK);
}

static int
build_url(const s3 *s, const s3_req *r, char *url, size_t cap)
{
	char ekey[3 * S3_KEY_MAX + 1] = "";
	if (r->key != NULL &&
	    s3_uri_encode(r->key, true, ekey, sizeof(ekey)) < 0) {
		return (-1);
	}
	const char *q = r->query ? r->query : "";
	int n;
	if (s->path_style) {
		n = snprintf(url, cap, "%s/%s%s%s%s%s", s->endpoint,
		    s->bucket, r->key ? "/" : "", ekey, *q ? "?" : "", q);
	} else {
		const char *host = strstr(s->endpoint, "://");
		if (host == NULL) {
			return (-1);
		}
		n = snprintf(url, cap, "%.*s%s.%s/%s%s%s",
		    (int) (host + 3 - s->endpoint), s->endpoint, s->bucket,
		    host + 3, ekey, *q ? "?" : "", q);
	}
	return (n > 0 && (size_t) n < cap ? 0 : -1);
}

/* One attempt. Returns the curl result; r->status holds the HTTP code. */
static CURLcode
attempt(s3 *s, s3_req *r, const char *url)
{
	CURL *c = curl_easy_init();
	if (c == NULL) {
		return (CURLE_OUT_OF_MEMORY);
	}
	struct curl_slist *hdrs = NULL, *t;
	char range[96], ifm[160];
	s3_src src = {.start = r->body, .p = r->body, .len = r->body_len,
	    .left = r->body_len};
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	/* S3 wants the payload hash header on every SigV4 request; curl 7.88
	 * signs it (SignedHeaders includes it) and uses its value as the
	 * payload hash when it is present. */
	if ((t = curl_slist_append(hdrs, "x-amz-content-sha256: "
	                                 "UNSIGNED-PAYLOAD")) == NULL) {
		goto out;
	}
	hdrs = t;
	if (r->range != NULL) {
		snprintf(range, sizeof(range), "Range: %s", r->range);
		if ((t = curl_slist_append(hdrs, range)) == NULL) {
			goto out;
		}
		hdrs = t;
	}
	if (r->if_match != NULL) {
		snprintf(ifm, sizeof(ifm), "If-Match: %s", r->if_match);
		if ((t = curl_slist_append(hdrs, ifm)) == NULL) {
			goto out;
		}
		hdrs = t;
	}
	if (strcmp(r->method, "POST") == 0) {
		if ((t = curl_slist_append(hdrs, "Content-Type: "
		                                 "application/xml")) == NULL) {
			goto out;
		}
		hdrs = t;
	}
	rc = CURLE_OK;
#define SET(o, v) \
	do { \
		if (rc == CURLE_OK) \
			rc = curl_easy_setopt(c, o, v); \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TIMEOUT_MS, s->timeout_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms < 10000 ? s->timeout_ms :
	                                                       10000L);
	SET(CURLOPT_AWS_SIGV4, s->sigv4);
	SET(CURLOPT_USERNAME, s->access_key);
	SET(CURLOPT_PASSWORD, s->secret_key);
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, &r->resp);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, r);
	if (strcmp(r->method, "PUT") == 0) {
		SET(CURLOPT_UPLOAD, 1L);
		SET(CURLOPT_READFUNCTION, on_read);
		SET(CURLOPT_READDATA, &src);
		SET(CURLOPT_SEEKFUNCTION, on_seek);
		SET(CURLOPT_SEEKDATA, &src);
		SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t) r->body_len);
	} else if (strcmp(r->method, "POST") == 0) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDS, r->body ? (const char *) r->body : "");
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) r->body_len);
	} else if (strcmp(r->method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "DELETE") == 0) {
		SET(CURLOPT_CUSTOMREQUEST, "DELETE");
	}
#undef SET
	if (rc == CURLE_OK) {
		rc = curl_easy_perform(c);
	}
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	}
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return (rc);
}

static bool
retryable(CURLcode rc, long status)
{
	if (rc != CURLE_OK) {
		/* A response over our limit or a local failure will not get
		 * better by asking again; the network might. */
		switch (rc) {
		case CURLE_WRITE_ERROR:
		case CURLE_OUT_OF_MEMORY:
		case CURLE_URL_MALFORMAT:
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_UNKNOWN_OPTION:
		case CURLE_BAD_FUNCTION_ARGUMENT:
		case CURLE_NOT_BUILT_IN:
		case CURLE_PEER_FAILED_VERIFICATION:
			return (false);
		default:
			return (true);
		}
	}
	return (status >= 500 || status == 429);
}

/* Full jitter on an exponential ceiling: concurrent writers that failed
 * together do not retry together. */
static void
backoff(const s3 *s, int attempt_no)
{
	long ceil = s->backoff_ms;
	for (int i = 0; i < attempt_no && ceil < S3_BACKOFF_CAP_MS; i++) {
		ceil *= 2;
	}
	ceil = ceil < S3_BACKOFF_CAP_MS ? ceil : S3_BACKOFF_CAP_MS;
	uint32_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd)) {
		rnd = (uint32_t) time(NULL);
	}
	long ms = ceil / 2 + (ceil > 1 ? (long) (rnd % (uint32_t) (ceil / 2 + 1)) :
	                                 0);
	struct timespec ts = {.tv_sec = ms / 1000,
	    .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* Server text may contain anything; keep log lines printable. */
static void
printable(char *s)
{
	for (; *s; s++) {
		if (!isprint((unsigned char) *s)) {
			*s = '?';
		}
	}
}

static void
log_failure(s3 *s, const s3_req *r, CURLcode rc)
{
	char code[64] = "", msg[256] = "";
	if (r->resp.data != NULL) {
		if (s3xml_find(r->resp.data, r->resp.len, "Code", code,
		        sizeof(code)) != 1) {
			code[0] = '\0';
		}
		if (s3xml_find(r->resp.data, r->resp.len, "Message", msg,
		        sizeof(msg)) != 1) {
			msg[0] = '\0';
		}
		printable(code);
		printable(msg);
	}
	if (rc != CURLE_OK) {
		s->host->log(s->host, CX_LOG_ERROR, "s3: %s%s%s%s in bucket "
		    "%s failed after %d attempt(s): %s", r->op,
		    r->key ? " of '" : "", r->key ? r->key : "",
		    r->key ? "'" : "", s->bucket, r->attempts,
		    curl_easy_strerror(rc));
	} else {
		s->host->log(s->host, CX_LOG_ERROR, "s3: %s%s%s%s in bucket "
		    "%s failed after %d attempt(s): HTTP %ld %s%s%s", r->op,
		    r->key ? " of '" : "", r->key ? r->key : "",
		    r->key ? "'" : "", s->bucket, r->attempts, r->status,
		    code[0] ? code : "(no S3 error code)", msg[0] ? ": " : "",
		    msg);
	}
}

/* CompleteMultipartUpload may answer 200 and then report an error in
 * the body (the status line goes out before the work is done). */
static bool
error_in_body(const s3_req *r)
{
	char tmp[8];
	return (r->status == 200 && strcmp(r->method, "POST") == 0 &&
	    r->resp.data != NULL &&
	    s3xml_find(r->resp.data, r->resp.len, "Error", tmp, sizeof(tmp))
	        != 0);
}

cx_err
s3_request(s3 *s, s3_req *req, bool quiet_404)
{
	char url[8192];
	if (build_url(s, req, url, sizeof(url)) != 0) {
		s->host->log(s->host, CX_LOG_ERROR, "s3: %s: URL too long",
		    req->op);
		return (CX_EINVAL);
	}
	CURLcode rc = CURLE_OK;
	for (req->attempts = 0;;) {
		free(req->resp.data);
		req->resp = (s3_buf){.limit = req->resp_limit ?
		        req->resp_limit : S3_RESP_DEFAULT_LIMIT};
		req->status = 0;
		req->etag[0] = '\0';
		req->total = req->length = 0;
		req->has_length = false;
		rc = attempt(s, req, url);
		req->attempts++;
		if (rc == CURLE_OK && error_in_body(req)) {
			req->status = 500;
		}
		if (!retryable(rc, req->status) ||
		    req->attempts > s->max_retries) {
			break;
		}
		s->host->metric_add(s->host, "s3_retries_total", 1);
		s->host->log(s->host, CX_LOG_WARN, "s3: %s of '%s': %s, retry "
		    "%d of %d", req->op, req->key ? req->key : "",
		    rc != CURLE_OK ? curl_easy_strerror(rc) : "server busy",
		    req->attempts, s->max_retries);
		backoff(s, req->attempts - 1);
	}
	if (rc == CURLE_OK && req->status >= 200 && req->status < 300) {
		return (CX_OK);
	}
	if (rc == CURLE_OK && req->status == 404 && quiet_404) {
		return (CX_ENOENT);
	}
	s->host->metric_add(s->host, "s3_errors_total", 1);
	log_failure(s, req, rc);
	if (rc != CURLE_OK) {
		return (CX_EIO);
	}
	return (req->status == 404 ? CX_ENOENT :
	        req->status == 403 ? CX_EDENIED : CX_EIO);
}

void
s3_req_free(s3_req *req)
{
	free(req->resp.data);
	req->resp = (s3_buf){0};
}
