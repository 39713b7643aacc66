/*
 * fs_int.h - internals shared by the fs blob plugin's files.
 */
#ifndef FS_INT_H
#define FS_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <callixo/callixo.h>

#define FS_KEY_MAX 1024
#define FS_BASE_MAX 2048
#define FS_PATH_MAX (FS_BASE_MAX + FS_KEY_MAX + 64)
/* Temporary files of unfinished writes; keys never start a segment with
 * '.', so no object can be mistaken for one. */
#define FS_TMP_PREFIX ".tmp."

typedef struct fs_plugin {
	const cx_host *host;
	char base[FS_BASE_MAX];
	atomic_bool fsync;
	int64_t stale_ms;
} fs_plugin;

/* Checks a key ([A-Za-z0-9._/-], segments non-empty and not starting
 * with '.', no leading '/', at most FS_KEY_MAX). With prefix, the last
 * segment may be empty (a prefix ending in '/'). */
bool fs_key_ok(const char *key, bool prefix);

/* Maps errno to the blob contract's codes and logs one line naming the
 * key, the operation and the errno text. */
cx_err fs_err(const fs_plugin *fs, const char *key, const char *op, int err);

/* mkdir -p of the directories above `key` under the base; 0 or errno. */
int fs_mkdirs(const fs_plugin *fs, const char *key);
/* Removes empty directories above `key`, up to (not including) the base. */
void fs_prune(const fs_plugin *fs, const char *key);
/* Removes every object whose key starts with prefix; 0 or errno. */
int fs_remove_prefix(const fs_plugin *fs, const char *prefix);
/* Removes temporary files not modified for stale_ms; returns how many. */
size_t fs_sweep(const fs_plugin *fs);

#endif
