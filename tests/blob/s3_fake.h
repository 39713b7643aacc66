/*
 * s3_fake.h - a scripted loopback HTTP server for the wire tests, and an
 * independent SigV4 verifier (libsodium's SHA-256 and HMAC) to check the
 * signatures libcurl computes: s3rver does not verify SigV4.
 */
#ifndef S3_FAKE_H
#define S3_FAKE_H

#include <stddef.h>

typedef struct fake_req {
	char method[16];
	char target[2048]; /* path?query as sent */
	char headers[8192]; /* raw header block, "\r\n"-separated */
	size_t body_len;
	char body[2048];    /* start of the body, as text */
} fake_req;

typedef struct fake_resp {
	int status;
	const char *body;    /* NULL: empty */
	const char *headers; /* extra lines, each ending "\r\n", or NULL */
} fake_resp;

typedef struct fake_srv fake_srv;

/* Starts the server. GET ?location= always answers eu-central-1 and is
 * not recorded; every other request takes the next scripted answer (200
 * with an empty body once the script is used up) and is recorded. */
fake_srv *fake_start(void);
int fake_port(const fake_srv *f);
/* Replaces the script and forgets recorded requests. */
void fake_script(fake_srv *f, const fake_resp *r, size_t n);
size_t fake_count(fake_srv *f);
/* Copy of recorded request i. */
int fake_get(fake_srv *f, size_t i, fake_req *out);
/* Copy of the last GetBucketLocation request (the residency check). */
int fake_location(fake_srv *f, fake_req *out);
void fake_stop(fake_srv *f);

/* The value of header `name` (case-insensitive) in r, or 0 if absent. */
int fake_header(const fake_req *r, const char *name, char *out, size_t cap);
/* Recomputes the request's SigV4 signature with `secret`, canonicalizing
 * the query the way AWS does; 0 if it matches the Authorization header,
 * else -1 with the reason. */
int fake_sigv4_check(const fake_req *r, const char *secret, char *why,
    size_t wl);

#endif
