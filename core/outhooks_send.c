/*
 * outhooks_send.c - one webhook POST with libcurl (outhooks.h).
 *
 * The body goes out exactly as stored (CURLOPT_POSTFIELDS with its
 * size, no re-encoding), redirects are not followed (a 3xx is a failed
 * attempt: following it would let an endpoint bounce us to an internal
 * address), certificates are verified, proxies from the environment are
 * ignored, and the address of every connection is checked against the
 * SSRF rules just before connect(), after DNS, so a name that resolves
 * differently now than at registration gains nothing.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "outhooks.h"

/* A receiver may answer with anything; we read at most this much. */
#define RESP_MAX (64 * 1024)

typedef struct post_ctx {
	const cxi_outhooks_conf *cf;
	bool blocked;
	char addr[INET6_ADDRSTRLEN];
	size_t got;
} post_ctx;

static curl_socket_t
open_checked(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	post_ctx *p = arg;
	if (purpose != CURLSOCKTYPE_IPCXN ||
	    !cxi_outhooks_addr_ok(&a->addr, p->cf->allow_private)) {
		p->blocked = true;
		const void *src = a->family == AF_INET6 ?
		    (const void *) &((struct sockaddr_in6 *) &a->addr)->sin6_addr :
		    (const void *) &((struct sockaddr_in *) &a->addr)->sin_addr;
		if (inet_ntop(a->family, src, p->addr, sizeof(p->addr)) ==
		    NULL) {
			snprintf(p->addr, sizeof(p->addr), "?");
		}
		return (CURL_SOCKET_BAD);
	}
	return (socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol));
}

static size_t
discard(char *ptr, size_t size, size_t n, void *arg)
{
	(void) ptr;
	post_ctx *p = arg;
	p->got += size * n;
	/* Returning less than given aborts the transfer. */
	return (p->got > RESP_MAX ? 0 : size * n);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
describe(CURLcode rc, const post_ctx *p, const char *ebuf, char *out,
    size_t outlen)
{
	const char *kind;
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		kind = "timeout";
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		kind = "dns";
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		kind = "tls";
		break;
	case CURLE_COULDNT_CONNECT:
		kind = "connect";
		break;
	default:
		kind = "http";
	}
	if (p->blocked) {
		snprintf(out, outlen, "blocked: %s is a loopback, private or "
		    "link-local address", p->addr);
	} else {
		snprintf(out, outlen, "%s: %s", kind,
		    ebuf[0] != '\0' ? ebuf : curl_easy_strerror(rc));
	}
}

void
cxi_outhooks_post(const cxi_outhooks_conf *cf, const char *url,
    const char *const *headers, const char *body, size_t len,
    cxi_outhooks_result *res)
{
	post_ctx p = {.cf = cf};
	char ebuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hl = NULL;
	memset(res, 0, sizeof(*res));
	int64_t t0 = mono_ms();
	CURL *e = curl_easy_init();
	bool ok = e != NULL;
	for (size_t i = 0; ok && headers[i] != NULL; i++) {
		struct curl_slist *n = curl_slist_append(hl, headers[i]);
		ok = n != NULL;
		hl = ok ? n : hl;
	}
	/* No "Expect: 100-continue" round trip for larger bodies. */
	struct curl_slist *n = ok ? curl_slist_append(hl, "Expect:") : NULL;
	ok = n != NULL;
	hl = ok ? n : hl;
	const char *protos = cf->allow_http ? "http,https" : "https";
	ok = ok && curl_easy_setopt(e, CURLOPT_URL, url) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protos) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_PROXY, "") == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) cf->timeout_ms) ==
	        CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_POST, 1L) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	        (curl_off_t) len) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_checked) ==
	        CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &p) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, &p) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ebuf) == CURLE_OK;
	if (!ok) {
		snprintf(res->error, sizeof(res->error), "internal: cannot "
		    "set up the request");
	} else {
		CURLcode rc = curl_easy_perform(e);
		long code = 0;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
		if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && code > 0)) {
			/* An over-long answer still carried its status. */
			res->status = code;
		} else {
			describe(rc, &p, ebuf, res->error, sizeof(res->error));
		}
	}
	res->duration_ms = mono_ms() - t0;
	curl_slist_free_all(hl);
	curl_easy_cleanup(e);
}
