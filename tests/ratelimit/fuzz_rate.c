/*
 * fuzz_rate.c - the "N/unit" rate parser sees operator text (limits).
 * Whatever it accepts must be a usable bucket: positive capacity, a
 * window within a day, and refill arithmetic that stays finite.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL) {
		return (0);
	}
	memcpy(s, data, size);
	s[size] = '\0';
	rl_rate r;
	char why[128];
	if (rl_rate_parse(s, &r, why, sizeof(why))) {
		if (r.capacity < 1 || r.period_ms < 1000 ||
		    r.period_ms > 24LL * 3600 * 1000) {
			abort();
		}
		int64_t w = rl_wait_ms(0.0, &r);
		double t = rl_refill(0.0, 0, r.period_ms, &r);
		if (w < 1 || w > r.period_ms || t != (double) r.capacity) {
			abort();
		}
	}
	free(s);
	return (0);
}
