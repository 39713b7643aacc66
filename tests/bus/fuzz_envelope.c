/*
 * fuzz_envelope.c - fuzz target for cxi_env_decode.
 *
 * Whatever decodes must also view, re-encode and decode to an equal
 * envelope: the decoder may not accept something the rest of the bus
 * cannot handle.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	json_t *env, *again;
	cx_msg m;
	char *buf;
	size_t len;

	why[0] = '\0';
	env = cxi_env_decode(data, size, why, sizeof(why));
	if (env == NULL) {
		/* Every rejection says why. */
		if (why[0] == '\0') {
			abort();
		}
		return (0);
	}
	if (cxi_env_view(env, &m) != 0 || m.type == NULL || m.data == NULL ||
	    strlen(m.type) == 0) {
		abort();
	}
	if (cxi_env_encode(env, &buf, &len) != 0) {
		abort();
	}
	again = cxi_env_decode(buf, len, why, sizeof(why));
	if (again == NULL || !json_equal(env, again)) {
		abort();
	}
	json_decref(again);
	free(buf);
	json_decref(env);
	return (0);
}
