/*
 * callixo/blob.h - the blob contract: a store of large opaque objects.
 *
 * Recordings and other large artifacts go to the active blob plugin. The
 * plugin stores bytes under a key and nothing more: the core encrypts
 * every object before it reaches the plugin (libsodium secretstream,
 * under a per-account key wrapped by the master key), so a blob plugin,
 * and whoever hosts its bytes, only ever sees ciphertext. Keys are
 * "<account>/<kind>/<id>" of [A-Za-z0-9._/-], never starting with '/' and
 * without "..".
 *
 * Writes and reads stream in chunks, so a 200 MB recording never sits in
 * memory whole. A write becomes visible only at commit, whole; an
 * aborted or crashed write leaves nothing readable behind.
 * A blob plugin declares kind CX_KIND_BLOB and points `kind_ops` at a
 * cx_blob_ops. Calls come directly from the core, in process.
 */
#ifndef CALLIXO_BLOB_H
#define CALLIXO_BLOB_H

#include <stddef.h>
#include <stdint.h>
#include <callixo/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cx_blob_writer cx_blob_writer;
typedef struct cx_blob_reader cx_blob_reader;

/* Errors: CX_ENOENT no such key, CX_EIO storage failure (detail in the
 * log), CX_EDENIED permission, CX_EBUSY full (disk or quota),
 * CX_EINVAL bad key. */
typedef struct cx_blob_ops {
	uint32_t size; /* sizeof(cx_blob_ops) at build time */

	cx_err (*put_begin)(void *state, const char *key, cx_blob_writer **w);
	cx_err (*put_write)(cx_blob_writer *w, const void *buf, size_t len);
	/* Makes the object visible, atomically replacing an older one. */
	cx_err (*put_commit)(cx_blob_writer *w);
	/* Drops the unfinished object; always frees w. */
	void (*put_abort)(cx_blob_writer *w);

	cx_err (*get_open)(void *state, const char *key, cx_blob_reader **r,
	    uint64_t *size);
	/* Reads up to cap bytes; *got = 0 at the end. */
	cx_err (*get_read)(cx_blob_reader *r, void *buf, size_t cap,
	    size_t *got);
	void (*get_close)(cx_blob_reader *r);

	cx_err (*remove)(void *state, const char *key);
	/* Removes every object whose key starts with prefix. */
	cx_err (*remove_prefix)(void *state, const char *prefix);
} cx_blob_ops;

#ifdef __cplusplus
}
#endif
#endif
