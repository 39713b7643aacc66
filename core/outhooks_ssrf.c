/*
 * outhooks_ssrf.c - which endpoint URLs and addresses customer webhooks
 * may reach (outhooks.h). An account chooses the URL, so without this
 * check it could make the daemon POST into the operator's own network
 * (cloud metadata at 169.254.169.254, an admin port on loopback...).
 *
 * The URL is parsed by libcurl's own parser, so what is checked here is
 * what curl will connect to. A host name is checked twice: when the URL
 * is registered (refusing names that point inside) and at connect time
 * on the very address curl is about to use (outhooks_send.c), which is
 * what defeats DNS rebinding.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "outhooks.h"

#define URL_MAX 2048

/* Loopback, "this network", private (RFC 1918), carrier-grade NAT,
 * link-local, IETF protocol assignments, benchmarking, multicast,
 * reserved and broadcast. */
static bool
v4_internal(uint32_t a)
{
	static const struct {
		uint32_t net, mask;
	} nets[] = {
	    {0x00000000u, 0xff000000u}, /* 0.0.0.0/8 */
	    {0x0a000000u, 0xff000000u}, /* 10.0.0.0/8 */
	    {0x64400000u, 0xffc00000u}, /* 100.64.0.0/10 */
	    {0x7f000000u, 0xff000000u}, /* 127.0.0.0/8 */
	    {0xa9fe0000u, 0xffff0000u}, /* 169.254.0.0/16 */
	    {0xac100000u, 0xfff00000u}, /* 172.16.0.0/12 */
	    {0xc0000000u, 0xffffff00u}, /* 192.0.0.0/24 */
	    {0xc0a80000u, 0xffff0000u}, /* 192.168.0.0/16 */
	    {0xc6120000u, 0xfffe0000u}, /* 198.18.0.0/15 */
	    {0xe0000000u, 0xe0000000u}, /* 224.0.0.0/3: multicast, reserved */
	};
	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
		if ((a & nets[i].mask) == nets[i].net) {
			return (true);
		}
	}
	return (false);
}

static bool
v6_internal(const unsigned char *b)
{
	static const unsigned char zero[16];
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff};
	static const unsigned char nat64[12] = {0x00, 0x64, 0xff, 0x9b};
	if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1)) {
		return (true); /* :: and ::1 */
	}
	if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0 ||
	    memcmp(b, zero, 12) == 0) {
		/* v4-mapped, the NAT64 prefix and v4-compatible addresses
		 * reach the embedded IPv4 address. */
		uint32_t a = (uint32_t) b[12] << 24 | (uint32_t) b[13] << 16 |
		    (uint32_t) b[14] << 8 | b[15];
		return (v4_internal(a));
	}
	if (b[0] == 0x20 && b[1] == 0x02) {
		/* 6to4 (2002::/16) tunnels to the IPv4 address after it. */
		uint32_t a = (uint32_t) b[2] << 24 | (uint32_t) b[3] << 16 |
		    (uint32_t) b[4] << 8 | b[5];
		return (v4_internal(a));
	}
	return ((b[0] & 0xfe) == 0xfc ||          /* fc00::/7 unique local */
	    (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* fe80::/10 */
	    (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) || /* fec0::/10 */
	    b[0] == 0xff ||                            /* multicast */
	    (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8));
}

bool
cxi_outhooks_addr_ok(const struct sockaddr *sa, bool allow_private)
{
	if (allow_private) {
		return (sa->sa_family == AF_INET || sa->sa_family == AF_INET6);
	}
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *) sa;
		return (!v4_internal(ntohl(s4->sin_addr.s_addr)));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *) sa;
		return (!v6_internal(s6->sin6_addr.s6_addr));
	}
	return (false);
}

/* "localhost", "x.localhost" (RFC 6761: always loopback) and names
 * without a dot, which resolve through search domains to whatever the
 * local network calls them. */
static bool
local_name(const char *h)
{
	size_t n = strlen(h);
	if (n > 0 && h[n - 1] == '.') {
		n--;
	}
	if (n == 9 && strncasecmp(h, "localhost", 9) == 0) {
		return (true);
	}
	if (n > 10 && strncasecmp(h + n - 10, ".localhost", 10) == 0) {
		return (true);
	}
	return (memchr(h, '.', n) == NULL);
}

/* The host as an address: 1 refused, 0 allowed, -1 not a literal. */
static int
literal_refused(const char *host)
{
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	char buf[64];
	size_t n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' &&
	    n - 2 < sizeof(buf)) {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		/* A zone id ("%eth0") only exists for link-local. */
		if (strchr(buf, '%') != NULL) {
			return (1);
		}
		if (inet_pton(AF_INET6, buf, &s6.sin6_addr) == 1) {
			return (!cxi_outhooks_addr_ok((struct sockaddr *) &s6,
			    false));
		}
		return (1);
	}
	if (inet_pton(AF_INET, host, &s4.sin_addr) == 1) {
		return (!cxi_outhooks_addr_ok((struct sockaddr *) &s4, false));
	}
	return (-1);
}

static bool
resolves_inside(const char *host)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	if (getaddrinfo(host, NULL, &hints, &res) != 0) {
		return (false);
	}
	bool inside = false;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		inside |= !cxi_outhooks_addr_ok(ai->ai_addr, false);
	}
	freeaddrinfo(res);
	return (inside);
}

static bool
check_parts(const cxi_outhooks_conf *cf, CURLU *u, bool resolve, char *why,
    size_t whylen)
{
	char *scheme = NULL, *host = NULL, *user = NULL, *zone = NULL;
	bool ok = false;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(why, whylen, "url must be an absolute http(s) URL");
	} else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		snprintf(why, whylen, "url must not hold a user name or "
		    "password");
	} else if (strcmp(scheme, "https") != 0 &&
	    !(strcmp(scheme, "http") == 0 && cf->allow_http)) {
		snprintf(why, whylen, "url must use https");
	} else if (cf->allow_private) {
		ok = true;
	} else if (curl_url_get(u, CURLUPART_ZONEID, &zone, 0) ==
	    CURLUE_OK) {
		/* Zone ids only exist for link-local addresses. */
		snprintf(why, whylen, "url must not point at a link-local "
		    "address");
	} else {
		int lit = literal_refused(host);
		if (lit < 0 && (host[0] == '\0' || local_name(host))) {
			snprintf(why, whylen, "url must name a public host "
			    "(a dotted DNS name or a public address)");
		} else if (lit > 0 || (lit < 0 && resolve &&
		                          resolves_inside(host))) {
			snprintf(why, whylen, "url must not point at a "
			    "loopback, private or link-local address");
		} else {
			ok = true;
		}
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(zone);
	return (ok);
}

bool
cxi_outhooks_url_ok(const cxi_outhooks_conf *cf, const char *url,
    bool resolve, char *why, size_t whylen)
{
	size_t n = strnlen(url, URL_MAX + 1);
	if (n == 0 || n > URL_MAX) {
		snprintf(why, whylen, "url must be 1 to %d bytes", URL_MAX);
		return (false);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char) url[i];
		if (ch <= 0x20 || ch >= 0x7f) {
			snprintf(why, whylen, "url must be printable ASCII "
			    "without spaces (percent-encode the rest)");
			return (false);
		}
	}
	CURLU *u = curl_url();
	if (u == NULL) {
		snprintf(why, whylen, "out of memory");
		return (false);
	}
	bool ok = false;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		snprintf(why, whylen, "url must be an absolute http(s) URL");
	} else {
		ok = check_parts(cf, u, resolve, why, whylen);
	}
	curl_url_cleanup(u);
	return (ok);
}
