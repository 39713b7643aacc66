/*
 * s3_fake.c - see s3_fake.h. One connection at a time, closed after each
 * answer: the plugin opens a fresh connection per attempt anyway.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "s3_fake.h"

#define FAKE_MAX 64

struct fake_srv {
	int lfd;
	int port;
	pthread_t th;
	pthread_mutex_t mu;
	bool stop;
	fake_resp script[FAKE_MAX];
	size_t n_script, next;
	fake_req reqs[FAKE_MAX];
	size_t n_reqs;
	fake_req location; /* the last GetBucketLocation */
};

static const char *
reason(int status)
{
	switch (status) {
	case 200: return ("OK");
	case 204: return ("No Content");
	case 206: return ("Partial Content");
	case 400: return ("Bad Request");
	case 403: return ("Forbidden");
	case 404: return ("Not Found");
	case 429: return ("Too Many Requests");
	case 500: return ("Internal Server Error");
	case 503: return ("Service Unavailable");
	default: return ("Whatever");
	}
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0) {
			return;
		}
		p += w;
		n -= (size_t) w;
	}
}

static void
serve_one(fake_srv *f, int fd)
{
	fake_req *rq = calloc(1, sizeof(*rq));
	char *buf = calloc(1, 16384);
	size_t len = 0;
	char *end = NULL;
	if (rq == NULL || buf == NULL) {
		goto out;
	}
	while (len < 16383 && (end = strstr(buf, "\r\n\r\n")) == NULL) {
		ssize_t n = read(fd, buf + len, 16383 - len);
		if (n <= 0) {
			goto out;
		}
		len += (size_t) n;
	}
	if (end == NULL ||
	    sscanf(buf, "%15s %2047s", rq->method, rq->target) != 2) {
		goto out;
	}
	char *hs = strstr(buf, "\r\n") + 2;
	snprintf(rq->headers, sizeof(rq->headers), "%.*s", (int) (end + 2 - hs),
	    hs);
	char cl[32];
	size_t want = fake_header(rq, "content-length", cl, sizeof(cl)) == 0 ?
	    strtoul(cl, NULL, 10) : 0;
	char ex[32];
	if (fake_header(rq, "expect", ex, sizeof(ex)) == 0 &&
	    strcasecmp(ex, "100-continue") == 0) {
		write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	}
	size_t have = len - (size_t) (end + 4 - buf);
	/* Keep the start of the body (the Complete XML) for checks. */
	size_t kept = have < sizeof(rq->body) - 1 ? have : sizeof(rq->body) - 1;
	memcpy(rq->body, end + 4, kept);
	while (have < want) {
		ssize_t n = read(fd, buf, 16384);
		if (n <= 0) {
			break;
		}
		size_t room = sizeof(rq->body) - 1 - kept;
		size_t c = (size_t) n < room ? (size_t) n : room;
		memcpy(rq->body + kept, buf, c);
		kept += c;
		have += (size_t) n;
	}
	rq->body_len = have;

	fake_resp resp = {.status = 200};
	const char *loc = "<LocationConstraint xmlns=\"http://s3.amazonaws.com"
	                  "/doc/2006-03-01/\">eu-central-1</LocationConstraint>";
	if (strcmp(rq->method, "GET") == 0 && strstr(rq->target, "?location=")) {
		resp.body = loc;
		pthread_mutex_lock(&f->mu);
		f->location = *rq;
		pthread_mutex_unlock(&f->mu);
	} else {
		pthread_mutex_lock(&f->mu);
		if (f->next < f->n_script) {
			resp = f->script[f->next++];
		}
		if (f->n_reqs < FAKE_MAX) {
			f->reqs[f->n_reqs++] = *rq;
		}
		pthread_mutex_unlock(&f->mu);
	}
	char head[1024];
	size_t blen = resp.body ? strlen(resp.body) : 0;
	int hl = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n%s\r\n", resp.status,
	    reason(resp.status), blen, resp.headers ? resp.headers : "");
	write_all(fd, head, (size_t) hl);
	if (strcmp(rq->method, "HEAD") != 0 && blen > 0) {
		write_all(fd, resp.body, blen);
	}
out:
	free(rq);
	free(buf);
	close(fd);
}

static void *
fake_main(void *arg)
{
	fake_srv *f = arg;
	for (;;) {
		pthread_mutex_lock(&f->mu);
		bool stop = f->stop;
		pthread_mutex_unlock(&f->mu);
		if (stop) {
			return (NULL);
		}
		struct pollfd p = {.fd = f->lfd, .events = POLLIN};
		if (poll(&p, 1, 50) == 1) {
			int fd = accept(f->lfd, NULL, NULL);
			if (fd >= 0) {
				serve_one(f, fd);
			}
		}
	}
}

fake_srv *
fake_start(void)
{
	fake_srv *f = calloc(1, sizeof(*f));
	if (f == NULL) {
		return (NULL);
	}
	struct sockaddr_in a = {.sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *) &a, sizeof(a)) != 0 ||
	    listen(f->lfd, 16) != 0 ||
	    getsockname(f->lfd, (struct sockaddr *) &a, &al) != 0) {
		if (f->lfd >= 0) {
			close(f->lfd);
		}
		free(f);
		return (NULL);
	}
	f->port = ntohs(a.sin_port);
	pthread_mutex_init(&f->mu, NULL);
	if (pthread_create(&f->th, NULL, fake_main, f) != 0) {
		close(f->lfd);
		free(f);
		return (NULL);
	}
	return (f);
}

int
fake_port(const fake_srv *f)
{
	return (f->port);
}

void
fake_script(fake_srv *f, const fake_resp *r, size_t n)
{
	pthread_mutex_lock(&f->mu);
	f->n_script = n < FAKE_MAX ? n : FAKE_MAX;
	memcpy(f->script, r, f->n_script * sizeof(*r));
	f->next = 0;
	f->n_reqs = 0;
	pthread_mutex_unlock(&f->mu);
}

size_t
fake_count(fake_srv *f)
{
	pthread_mutex_lock(&f->mu);
	size_t n = f->n_reqs;
	pthread_mutex_unlock(&f->mu);
	return (n);
}

int
fake_get(fake_srv *f, size_t i, fake_req *out)
{
	pthread_mutex_lock(&f->mu);
	int rv = i < f->n_reqs ? 0 : -1;
	if (rv == 0) {
		*out = f->reqs[i];
	}
	pthread_mutex_unlock(&f->mu);
	return (rv);
}

int
fake_location(fake_srv *f, fake_req *out)
{
	pthread_mutex_lock(&f->mu);
	*out = f->location;
	pthread_mutex_unlock(&f->mu);
	return (out->method[0] != '\0' ? 0 : -1);
}

void
fake_stop(fake_srv *f)
{
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->th, NULL);
	close(f->lfd);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

int
fake_header(const fake_req *r, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	for (const char *p = r->headers; *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t ll = eol ? (size_t) (eol - p) : strlen(p);
		if (ll > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1;
			while (*v == ' ') {
				v++;
			}
			snprintf(out, cap, "%.*s", (int) (p + ll - v), v);
			return (0);
		}
		p += ll + (eol ? 2 : 0);
	}
	return (-1);
}

static void
hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		sprintf(out + 2 * i, "%02x", in[i]);
	}
}

static void
hmac(const unsigned char *key, size_t kl, const char *msg,
    unsigned char out[32])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, kl);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *) msg,
	    strlen(msg));
	crypto_auth_hmacsha256_final(&st, out);
}

static int
cmp_str(const void *a, const void *b)
{
	return (strcmp(*(char *const *) a, *(char *const *) b));
}

/* AWS's canonical query: every parameter as k=v (v may be empty),
 * sorted. Refuses anything not already percent-encoded as SigV4 wants,
 * since curl 7.88 signs the query exactly as the plugin wrote it. */
static int
canon_query(const char *q, char *out, size_t cap, char *why, size_t wl)
{
	char tmp[2048], *parts[64], fixed[64][512];
	size_t n = 0;
	snprintf(tmp, sizeof(tmp), "%s", q);
	for (char *sv, *t = strtok_r(tmp, "&", &sv); t && n < 64;
	     t = strtok_r(NULL, "&", &sv)) {
		for (const char *c = t; *c; c++) {
			if (!isalnum((unsigned char) *c) && !strchr("-_.~=%", *c)) {
				snprintf(why, wl, "unencoded '%c' in query", *c);
				return (-1);
			}
		}
		snprintf(fixed[n], sizeof(fixed[n]), "%s%s", t,
		    strchr(t, '=') ? "" : "=");
		parts[n] = fixed[n];
		n++;
	}
	qsort(parts, n, sizeof(parts[0]), cmp_str);
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		o += (size_t) snprintf(out + o, cap - o, "%s%s", i ? "&" : "",
		    parts[i]);
	}
	return (0);
}

int
fake_sigv4_check(const fake_req *r, const char *secret, char *why,
    size_t wl)
{
	char auth[1024], date[32], cred[256], signed_h[256], sig[80];
	if (fake_header(r, "authorization", auth, sizeof(auth)) != 0 ||
	    fake_header(r, "x-amz-date", date, sizeof(date)) != 0) {
		snprintf(why, wl, "no Authorization or x-amz-date");
		return (-1);
	}
	if (sscanf(auth, "AWS4-HMAC-SHA256 Credential=%255[^,], "
	                 "SignedHeaders=%255[^,], Signature=%79s",
	        cred, signed_h, sig) != 3) {
		snprintf(why, wl, "unexpected Authorization: %.60s", auth);
		return (-1);
	}
	const char *scope = strchr(cred, '/');
	char path[2048], query[2048] = "", cq[2048];
	snprintf(path, sizeof(path), "%s", r->target);
	char *qm = strchr(path, '?');
	if (qm != NULL) {
		*qm = '\0';
		snprintf(query, sizeof(query), "%s", qm + 1);
	}
	if (scope == NULL || canon_query(query, cq, sizeof(cq), why, wl) != 0) {
		return (-1);
	}
	char payload[80];
	if (fake_header(r, "x-amz-content-sha256", payload, sizeof(payload))) {
		snprintf(why, wl, "no x-amz-content-sha256 header");
		return (-1);
	}
	/* Canonical request: method, path, query, headers, signed, hash. */
	char creq[8192], hl[sizeof(signed_h)];
	size_t o = (size_t) snprintf(creq, sizeof(creq), "%s\n%s\n%s\n",
	    r->method, path, cq);
	snprintf(hl, sizeof(hl), "%s", signed_h);
	for (char *sv, *h = strtok_r(hl, ";", &sv); h;
	     h = strtok_r(NULL, ";", &sv)) {
		char v[1024];
		if (fake_header(r, h, v, sizeof(v)) != 0) {
			snprintf(why, wl, "signed header %s not sent", h);
			return (-1);
		}
		o += (size_t) snprintf(creq + o, sizeof(creq) - o, "%s:%s\n", h, v);
	}
	snprintf(creq + o, sizeof(creq) - o, "\n%s\n%s", signed_h, payload);
	unsigned char d[32];
	char dh[65], sts[512];
	crypto_hash_sha256(d, (const unsigned char *) creq, strlen(creq));
	hex(d, 32, dh);
	snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", date,
	    scope + 1, dh);
	/* Key: HMAC chain over date, region, service, "aws4_request". */
	char k0[256], part[64];
	unsigned char k[32];
	snprintf(k0, sizeof(k0), "AWS4%s", secret);
	const char *s = scope + 1;
	unsigned char cur[32];
	size_t kl = strlen(k0);
	const unsigned char *key = (const unsigned char *) k0;
	for (int i = 0; i < 4; i++) {
		size_t pl = strcspn(s, "/");
		snprintf(part, sizeof(part), "%.*s", (int) pl, s);
		hmac(key, kl, part, cur);
		memcpy(k, cur, 32);
		key = k;
		kl = 32;
		s += pl + (s[pl] == '/');
	}
	hmac(k, 32, sts, cur);
	char mine[65];
	hex(cur, 32, mine);
	if (strcmp(mine, sig) != 0) {
		snprintf(why, wl, "signature mismatch for %s %s", r->method,
		    r->target);
		return (-1);
	}
	return (0);
}
