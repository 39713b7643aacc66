/*
 * masterkey.h - the master key that wraps every per-account blob key.
 *
 * It comes from storage.master_key (64 hex characters; usually
 * ${ENV} or master_key_file), or else from <data_dir>/master.key, which
 * is generated on first start with mode 0600. Losing it makes every blob
 * unreadable, by design; the daemon says so when it creates one.
 */
#ifndef CXI_MASTERKEY_H
#define CXI_MASTERKEY_H

#include <stdint.h>
#include "config.h"

#define CXI_MASTER_KEY_BYTES 32

/* Fills key and a short public id (8 hex chars of its BLAKE2b hash, the
 * id blobcrypt records, for telling wrapped keys of different master
 * keys apart). Returns 0, or
 * -1 with why (never containing key material). */
int cxi_master_key_load(const cxi_config *cfg,
    uint8_t key[CXI_MASTER_KEY_BYTES], char id[9], char *why,
    size_t whylen);

#endif
