/*
 * fuzz_route.c - path normalisation, query split and route matching.
 *
 * Input: "<request target>[\n<METHOD> <subpath>]". The target goes
 * through exactly what a /webhooks/ request goes through; the optional
 * second line is registered as a route first, so registration validation
 * and the subtree matcher are fuzzed too. Invariants abort(), which both
 * libFuzzer and the corpus replay (under ASan/UBSan) report.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c)) {                                               \
			fprintf(stderr, "invariant failed: %s\n", #c);    \
			abort();                                          \
		}                                                         \
	} while (0)

static cx_err
nop(void *arg, const cx_http_req *rq, cx_http_resp *rs)
{
	(void) arg;
	(void) rq;
	(void) rs;
	return (CX_OK);
}

static void
check_normal(const char *p)
{
	CHECK(p[0] == '/');
	CHECK(strstr(p, "//") == NULL);
	CHECK(strstr(p, "/../") == NULL && strstr(p, "/./") == NULL);
	size_t n = strlen(p);
	CHECK(!(n >= 3 && strcmp(p + n - 3, "/..") == 0));
	CHECK(!(n >= 2 && strcmp(p + n - 2, "/.") == 0));
	CHECK(strchr(p, '\\') == NULL);
	for (const char *s = p; *s != '\0'; s++) {
		CHECK((unsigned char) *s >= 0x20 && *s != 0x7f);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in, *reg, *method = NULL, *sub = NULL;
	char path[CXI_HTTP_MAX_PATH], plugin[72], allow[128];
	const char *query, *subpath;
	cxi_routes rt;
	cxi_route *r;
	cxi_http_stat *st;

	if (size > 8192 || (in = malloc(size + 1)) == NULL) {
		return (0);
	}
	memcpy(in, data, size);
	in[size] = '\0';
	if ((reg = strchr(in, '\n')) != NULL) {
		*reg++ = '\0';
		method = reg;
		if ((sub = strchr(reg, ' ')) != NULL) {
			*sub++ = '\0';
		}
	}

	if (cxi_routes_init(&rt) != CX_OK) {
		free(in);
		return (0);
	}
	CHECK(cxi_routes_add(&rt, "p", "POST", "/status", nop, NULL, NULL) ==
	    CX_OK);
	CHECK(cxi_routes_add(&rt, "p", "GET", "/events/", nop, NULL, NULL) ==
	    CX_OK);
	CHECK(cxi_routes_add(&rt, "p", "GET", "/", nop, NULL, NULL) == CX_OK);
	if (sub != NULL) {
		int rv = cxi_routes_add(&rt, "p", method, sub, nop, NULL, NULL);
		CHECK(rv == CX_OK || rv == CX_EINVAL || rv == CX_EEXIST);
		CHECK((rv == CX_EINVAL) ==
		    !cxi_routes_valid("p", method, sub));
		if (rv == CX_OK) {
			/* A registered subpath is its own normal form. */
			check_normal(sub);
		}
	}

	int st_code = cxi_http_path_split(in, path, sizeof(path), &query);
	CHECK(st_code == 0 || st_code == 400 || st_code == 414);
	if (st_code == 0) {
		check_normal(path);
		CHECK(strlen(path) < sizeof(path));
		CHECK(query[0] == '\0' ||
		    (query > in && query <= in + strlen(in) &&
		        query[-1] == '?'));
		if (cxi_http_webhook_split(path, plugin, sizeof(plugin),
		        &subpath)) {
			CHECK(cxi_http_name_ok(plugin));
			CHECK(subpath[0] == '/');
			cxi_match m = cxi_routes_match(&rt, plugin,
			    method != NULL ? method : "GET", subpath, &r, allow,
			    sizeof(allow), &st);
			CHECK(m == CXI_MATCH_FOUND || m == CXI_MATCH_NO_PATH ||
			    m == CXI_MATCH_NO_METHOD);
			if (m == CXI_MATCH_FOUND) {
				CHECK(r != NULL && strcmp(r->plugin, plugin) == 0);
				cxi_routes_release(&rt, r);
			} else {
				CHECK(r == NULL);
			}
			if (m == CXI_MATCH_NO_METHOD) {
				CHECK(allow[0] != '\0');
			}
		}
	}
	CHECK(cxi_routes_drop(&rt, "p") >= 3);
	cxi_routes_fini(&rt);
	free(in);
	return (0);
}
