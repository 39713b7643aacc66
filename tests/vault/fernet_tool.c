/*
 * fernet_tool.c - core/fernet on the command line, for the interop test
 * with Python (python_roundtrip.sh). Messages and IVs are hex so that
 * any bytes survive argv; keys are a comma-separated list, newest first
 * (MultiFernet order; a single key is a list of one).
 *
 *   fernet_tool encrypt KEYS NOW MSGHEX [IVHEX]   -> token
 *   fernet_tool decrypt KEYS TOKEN [TTL NOW]      -> MSGHEX (exit 1: why)
 *   fernet_tool rotate KEYS TOKEN [IVHEX]         -> token
 *   fernet_tool timestamp KEY TOKEN               -> seconds
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fernet.h"

#define MAX_KEYS 8

static int
usage(void)
{
	fprintf(stderr, "usage: fernet_tool encrypt KEYS NOW MSGHEX [IVHEX] | "
	                "decrypt KEYS TOKEN [TTL NOW] | rotate KEYS TOKEN "
	                "[IVHEX] | timestamp KEY TOKEN\n");
	return (2);
}

static size_t
parse_keys(const char *list, cxi_fernet_key *keys)
{
	size_t n = 0;
	char why[256];
	while (*list != '\0' && n < MAX_KEYS) {
		size_t len = strcspn(list, ",");
		if (cxi_fernet_key_parse(list, len, &keys[n], why, sizeof(why)) !=
		    CX_OK) {
			fprintf(stderr, "fernet_tool: %s\n", why);
			exit(2);
		}
		n++;
		list += len;
		list += *list == ',';
	}
	if (n == 0) {
		fprintf(stderr, "fernet_tool: no key\n");
		exit(2);
	}
	return (n);
}

/* Hex to bytes; *out is malloc'ed (at least 1 byte). */
static size_t
unhex(const char *hex, uint8_t **out)
{
	size_t len, n = strlen(hex);
	*out = malloc(n / 2 + 1);
	if (*out == NULL || sodium_hex2bin(*out, n / 2 + 1, hex, n, NULL, &len,
	                        NULL) != 0) {
		fprintf(stderr, "fernet_tool: bad hex\n");
		exit(2);
	}
	return (len);
}

static int
print_hex(const uint8_t *b, size_t len)
{
	char *hex = malloc(len * 2 + 1);
	if (hex == NULL) {
		return (1);
	}
	sodium_bin2hex(hex, len * 2 + 1, b, len);
	printf("%s\n", hex);
	free(hex);
	return (0);
}

static const uint8_t *
iv_arg(int argc, char **argv, int at, uint8_t **iv)
{
	*iv = NULL;
	if (argc <= at) {
		return (NULL);
	}
	if (unhex(argv[at], iv) != CXI_FERNET_IV_BYTES) {
		fprintf(stderr, "fernet_tool: the IV is 16 bytes\n");
		exit(2);
	}
	return (*iv);
}

int
main(int argc, char **argv)
{
	cxi_fernet_key keys[MAX_KEYS];
	char why[256] = "", *tok = NULL;
	uint8_t *msg = NULL, *iv = NULL;
	size_t len, n;
	cx_err rv;
	int ret = 0;
	if (argc < 4) {
		return (usage());
	}
	n = parse_keys(argv[2], keys);
	if (strcmp(argv[1], "encrypt") == 0 && argc >= 5) {
		len = unhex(argv[4], &msg);
		rv = cxi_multifernet_encrypt(keys, n, msg, len,
		    strtoll(argv[3], NULL, 10), iv_arg(argc, argv, 5, &iv), &tok);
		snprintf(why, sizeof(why), "%s", cx_strerror(rv));
	} else if (strcmp(argv[1], "decrypt") == 0) {
		int64_t ttl = argc >= 6 ? strtoll(argv[4], NULL, 10) : -1;
		int64_t now = argc >= 6 ? strtoll(argv[5], NULL, 10) : 0;
		rv = cxi_multifernet_decrypt(keys, n, argv[3], ttl, now, &msg,
		    &len, NULL, why, sizeof(why));
		if (rv == CX_OK) {
			ret = print_hex(msg, len);
		}
	} else if (strcmp(argv[1], "rotate") == 0) {
		rv = cxi_multifernet_rotate(keys, n, argv[3],
		    iv_arg(argc, argv, 4, &iv), &tok, why, sizeof(why));
	} else if (strcmp(argv[1], "timestamp") == 0) {
		uint64_t ts;
		rv = cxi_fernet_timestamp(&keys[0], argv[3], &ts, why,
		    sizeof(why));
		if (rv == CX_OK) {
			printf("%llu\n", (unsigned long long) ts);
		}
	} else {
		return (usage());
	}
	if (rv != CX_OK) {
		fprintf(stderr, "fernet_tool: %s\n", why);
		ret = 1;
	} else if (tok != NULL) {
		printf("%s\n", tok);
	}
	free(tok);
	free(msg);
	free(iv);
	for (size_t i = 0; i < n; i++) {
		cxi_fernet_key_wipe(&keys[i]);
	}
	return (ret);
}
