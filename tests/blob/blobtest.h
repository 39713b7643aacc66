/*
 * blobtest.h - shared pieces of the blob tests: an in-memory blob store
 * and keystore (so blobcrypt can be tested, and fuzzed, without a disk),
 * and a rig that loads the real fs plugin through the real core.
 */
#ifndef BLOBTEST_H
#define BLOBTEST_H

#include <stddef.h>
#include <stdint.h>
#include <callixo/blob.h>

#include "blobcrypt.h"
#include "bus.h"
#include "host.h"
#include "loader.h"

/* ---- in-memory blob store ---- */
typedef struct fake_store fake_store;
extern const cx_blob_ops fake_ops;
fake_store *fake_new(void);
void fake_free(fake_store *s);
/* Raw access for tampering: get returns a borrowed pointer or NULL. */
uint8_t *fake_raw(fake_store *s, const char *key, size_t *len);
/* Replaces (or creates) an object with a copy of data. */
void fake_set(fake_store *s, const char *key, const void *data, size_t len);
size_t fake_count(fake_store *s);

/* ---- in-memory keystore ---- */
typedef struct mem_keys mem_keys;
mem_keys *mem_keys_new(void);
void mem_keys_free(mem_keys *k);
/* Fills a cxi_keystore backed by k. */
void mem_keys_store(mem_keys *k, cxi_keystore *out);
/* Copies account from's wrapped key (and key id) over account to's. */
int mem_keys_copy(mem_keys *k, const char *from, const char *to);
size_t mem_keys_count(mem_keys *k);

/* ---- the fs plugin in a real core ---- */
typedef struct fs_rig {
	char ns[32];
	cxi_bus *bus;
	cxi_bus_client *client;
	cxi_hostctx *hc;
	cxi_module *mod;
	const cx_plugin *desc;
	void *state;
	const cx_blob_ops *ops;
	json_t *settings;
} fs_rig;

/* Loads build/plugins/fs.so with data_dir <root>/plugins/fs and the
 * given YAML settings block (NULL: none), runs init and start. Returns
 * the init/validation error, CX_OK on success. */
cx_err fs_rig_open(fs_rig *r, const char *root, const char *yaml);
/* stop, fini, and free everything; the files stay. */
void fs_rig_close(fs_rig *r);

/* Deterministic pseudo-random bytes (xorshift) for test data. */
void fill_pattern(uint8_t *buf, size_t len, uint64_t *seed);

#endif
