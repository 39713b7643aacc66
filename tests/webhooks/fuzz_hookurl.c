/*
 * fuzz_hookurl.c - endpoint URLs are account input: the SSRF check
 * (cxi_outhooks_url_ok, libcurl's URL parser underneath) must take any
 * bytes without crashing, and never accept a URL under the strict rules
 * that it refuses under the permissive ones.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outhooks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const cxi_outhooks_conf strict = {.timeout_ms = 1000};
	static const cxi_outhooks_conf open = {.allow_private = true,
	    .allow_http = true, .timeout_ms = 1000};
	char why[200];
	char *s = malloc(size + 1);
	if (s == NULL) {
		return (0);
	}
	memcpy(s, data, size);
	s[size] = '\0';
	bool a = cxi_outhooks_url_ok(&strict, s, false, why, sizeof(why));
	bool b = cxi_outhooks_url_ok(&open, s, false, why, sizeof(why));
	if (a && !b) {
		abort();
	}
	free(s);
	return (0);
}
