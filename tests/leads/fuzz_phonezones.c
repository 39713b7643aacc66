/*
 * fuzz_phonezones.c - fuzz target for the phone-zone table loader.
 *
 * The table is a file an operator edits: any bytes must load or give a
 * "name:line: reason" error, never crash. A table that loads must answer
 * lookups of every prefix it was given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phonezone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cxi_phonezones *z = NULL;
	char why[512] = "";
	if (size > 256 * 1024) {
		return (0);
	}
	cx_err rv = cxi_phonezones_parse("fuzz.tsv", (const char *) data, size,
	    &z, why, sizeof(why));
	if (rv != CX_OK) {
		if (z != NULL || strncmp(why, "fuzz.tsv", 8) != 0) {
			abort();
		}
		return (0);
	}
	/* Every "+digits" at a line start must resolve to some zone. */
	for (size_t i = 0; i < size; i++) {
		if (data[i] != '+' || (i > 0 && data[i - 1] != '\n')) {
			continue;
		}
		char num[20];
		size_t n = 0;
		num[n++] = '+';
		for (size_t k = i + 1; k < size && n < 16 && data[k] >= '0' &&
		     data[k] <= '9'; k++) {
			num[n++] = (char) data[k];
		}
		num[n] = '\0';
		const char *zone = cxi_phonezones_lookup(z, num);
		if (n > 1 && num[1] != '0' && zone == NULL) {
			abort();
		}
		if (zone != NULL && !cxi_tz_exists(zone)) {
			abort();
		}
	}
	cxi_phonezones_free(z);
	return (0);
}
