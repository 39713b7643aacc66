/*
 * fuzz_s3xml.c - the S3 answer extractor against arbitrary bytes. The
 * input is not NUL-terminated (a copy of exactly `size` bytes), so ASan
 * catches any read past the end. Every tag the plugin asks for is tried,
 * with a small and a large output buffer, and the escape routine is run
 * on whatever text comes out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = {"UploadId", "ETag", "Key",
	    "IsTruncated", "NextContinuationToken", "LocationConstraint",
	    "Code", "Message", "Error"};
	char *xml = malloc(size ? size : 1);
	if (xml == NULL) {
		return (0);
	}
	memcpy(xml, data, size);
	for (size_t t = 0; t < sizeof(tags) / sizeof(tags[0]); t++) {
		char small[8], big[1024], esc[64];
		size_t pos = 0;
		int guard = 0;
		while (s3xml_next(xml, size, tags[t], &pos, big, sizeof(big)) ==
		        1 && guard++ < 10000) {
			if (strlen(big) >= sizeof(big)) {
				abort();
			}
			(void) s3xml_escape(big, esc, sizeof(esc));
		}
		if (s3xml_find(xml, size, tags[t], small, sizeof(small)) == 1 &&
		    strlen(small) >= sizeof(small)) {
			abort();
		}
	}
	free(xml);
	return (0);
}
