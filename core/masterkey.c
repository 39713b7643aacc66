/*
 * masterkey.c - load or create the master key.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobcrypt.h"
#include "log.h"
#include "masterkey.h"

static int
from_hex(const char *hex, uint8_t key[CXI_MASTER_KEY_BYTES])
{
	size_t n = 0;
	return (sodium_hex2bin(key, CXI_MASTER_KEY_BYTES, hex, strlen(hex),
	            "\n", &n, NULL) == 0 && n == CXI_MASTER_KEY_BYTES ? 0 : -1);
}

static int
read_file(const char *path, uint8_t key[CXI_MASTER_KEY_BYTES], char *why,
    size_t whylen)
{
	char hex[130] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		return (errno == ENOENT ? 1 :
		        (snprintf(why, whylen, "cannot read %s: %s", path,
		             strerror(errno)),
		            -1));
	}
	struct stat st;
	ssize_t n = fstat(fd, &st) == 0 ? read(fd, hex, sizeof(hex) - 1) : -1;
	close(fd);
	if (n < 0) {
		snprintf(why, whylen, "cannot read %s", path);
		return (-1);
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(why, whylen, "%s is readable by others (mode %03o); "
		    "chmod 600 it", path, st.st_mode & 0777);
		return (-1);
	}
	hex[n] = '\0';
	int rv = from_hex(hex, key);
	sodium_memzero(hex, sizeof(hex));
	if (rv != 0) {
		snprintf(why, whylen, "%s does not hold a 64-hex-character key",
		    path);
	}
	return (rv);
}

static int
create_file(const char *path, uint8_t key[CXI_MASTER_KEY_BYTES], char *why,
    size_t whylen)
{
	char hex[2 * CXI_MASTER_KEY_BYTES + 2];
	randombytes_buf(key, CXI_MASTER_KEY_BYTES);
	sodium_bin2hex(hex, sizeof(hex) - 1, key, CXI_MASTER_KEY_BYTES);
	size_t len = strlen(hex);
	hex[len++] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rv = -1;
	if (fd >= 0 && write(fd, hex, len) == (ssize_t) len &&
	    fsync(fd) == 0) {
		rv = 0;
	}
	if (fd >= 0 && close(fd) != 0) {
		rv = -1;
	}
	sodium_memzero(hex, sizeof(hex));
	if (rv != 0) {
		snprintf(why, whylen, "cannot create %s: %s", path,
		    strerror(errno));
		unlink(path);
		return (-1);
	}
	cxi_warn("core", "generated a new master key in %s: back it up; "
	    "without it every stored recording is unreadable", path);
	return (0);
}

int
cxi_master_key_load(const cxi_config *cfg, uint8_t key[CXI_MASTER_KEY_BYTES],
    char id[9], char *why, size_t whylen)
{
	if (sodium_init() < 0) {
		snprintf(why, whylen, "libsodium failed to initialise");
		return (-1);
	}
	int rv;
	if (cfg->master_key != NULL) {
		rv = from_hex(cfg->master_key, key);
		if (rv != 0) {
			snprintf(why, whylen, "storage.master_key is not 64 "
			                      "hexadecimal characters");
		}
	} else {
		char path[4096];
		snprintf(path, sizeof(path), "%s/master.key", cfg->data_dir);
		rv = read_file(path, key, why, whylen);
		if (rv == 1) {
			rv = create_file(path, key, why, whylen);
		}
	}
	if (rv != 0) {
		return (-1);
	}
	/* The same id blob objects and wrapped keys carry. */
	cxi_blobcrypt_key_id(key, id);
	return (0);
}
