/*
 * retell_http.c - one request to Retell over libcurl.
 *
 * No retries here: a create-phone-call that timed out may have placed
 * the call (Retell has no idempotency key), so whether to try again is
 * the dialer's decision, after a lookup. Each request uses a fresh easy
 * handle; calls are placed at a few per second at most.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "retell.h"

/* list-calls pages carry whole transcripts. */
#define RT_RESP_LIMIT (32u << 20)

typedef struct rt_buf {
	char *data;
	size_t len, cap;
} rt_buf;

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	rt_buf *b = arg;
	size_t n = size * nmemb;
	if (n > RT_RESP_LIMIT - b->len) {
		return (0); /* too large: the transfer fails */
	}
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->len + n + 1) {
			nc *= 2;
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

/* Retell's SDK honours retry-after-ms, then Retry-After in seconds (an
 * HTTP date there is rare enough to ignore). */
static size_t
on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	rt_resp *r = arg;
	size_t n = size * nmemb;
	char line[128], *end;
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
	const char *v = colon + 1 + strspn(colon + 1, " \t");
	long x = strtol(v, &end, 10);
	if (end == v || *end != '\0' || x < 0 || x > 86400000L) {
		return (n);
	}
	if (strcasecmp(line, "retry-after-ms") == 0) {
		r->retry_after_ms = x;
	} else if (strcasecmp(line, "retry-after") == 0 &&
	           r->retry_after_ms < 0 && x <= 86400) {
		r->retry_after_ms = x * 1000;
	}
	return (n);
}

void
rt_resp_free(rt_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

static cx_err
classify(CURLcode cc)
{
	if (cc == CURLE_OK) {
		return (CX_OK);
	}
	return (cc == CURLE_OPERATION_TIMEDOUT ? CX_ETIMEDOUT : CX_EIO);
}

cx_err
retell_http(const char *method, const char *url, const char *api_key,
    const char *json_body, long timeout_ms, rt_resp *out)
{
	char auth[RT_KEY_MAX + 32];
	rt_buf b = {0};
	struct curl_slist *hdrs = NULL, *t;
	CURL *c = curl_easy_init();

	memset(out, 0, sizeof(*out));
	out->retry_after_ms = -1;
	if (c == NULL) {
		return (CX_ENOMEM);
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key);
	const char *lines[] = {auth, "Accept: application/json",
	    json_body ? "Content-Type: application/json" : NULL};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (lines[i] == NULL) {
			continue;
		}
		if ((t = curl_slist_append(hdrs, lines[i])) == NULL) {
			curl_slist_free_all(hdrs);
			curl_easy_cleanup(c);
			explicit_bzero(auth, sizeof(auth));
			return (CX_ENOMEM);
		}
		hdrs = t;
	}
	explicit_bzero(auth, sizeof(auth));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    timeout_ms < 10000 ? timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
	if (json_body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
		    (long) strlen(json_body));
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	CURLcode cc = curl_easy_perform(c);
	out->curl_code = (int) cc;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK) {
		free(b.data);
		out->status = 0;
		return (classify(cc));
	}
	out->body = b.data ? b.data : strdup("");
	out->len = b.len;
	return (out->body ? CX_OK : CX_ENOMEM);
}

typedef struct rt_sink {
	int fd;
	bool failed;
	const atomic_bool *abort;
} rt_sink;

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	(void) dltotal, (void) dlnow, (void) ultotal, (void) ulnow;
	const rt_sink *s = arg;
	return (atomic_load(s->abort) ? 1 : 0);
}

static size_t
on_file(char *ptr, size_t size, size_t nmemb, void *arg)
{
	rt_sink *s = arg;
	size_t n = size * nmemb, off = 0;
	while (off < n) {
		ssize_t w = write(s->fd, ptr + off, n - off);
		if (w <= 0) {
			s->failed = true;
			return (0);
		}
		off += (size_t) w;
	}
	return (n);
}

cx_err
retell_http_download(const char *url, int fd, long timeout_ms,
    const atomic_bool *abort, long *status, char *ctype, size_t ctypelen)
{
	rt_sink s = {fd, false, abort};
	CURL *c = curl_easy_init();
	*status = 0;
	ctype[0] = '\0';
	if (c == NULL) {
		return (CX_ENOMEM);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* Recordings are served from storage behind redirects. */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_file);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	char *ct = NULL;
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL) {
		snprintf(ctype, ctypelen, "%s", ct);
	}
	curl_easy_cleanup(c);
	if (s.failed) {
		return (CX_EIO);
	}
	return (classify(cc));
}
