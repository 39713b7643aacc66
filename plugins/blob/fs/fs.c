/*
 * fs - a blob plugin that keeps objects as files in a local directory.
 *
 * Key "a/rec/1" is the file <dir>/a/rec/1. The bytes it receives are
 * already encrypted by the core; this plugin only makes them durable and
 * atomic. A write goes to a temporary file ".tmp.<random>" in the final
 * directory (created 0600, exclusively), is fsynced, renamed over the
 * final name and the directory fsynced: a reader sees the old object or
 * the new one whole, and a crash leaves only a temporary file, which the
 * next start removes once it is older than stale_tmp_age.
 *
 * Errors: ENOENT -> CX_ENOENT; EACCES, EPERM, EROFS -> CX_EDENIED;
 * ENOSPC, EDQUOT, EFBIG -> CX_EBUSY ("storage full"); a key that clashes
 * with another object's path -> CX_EINVAL; anything else CX_EIO. Each
 * failure logs one line with the key and the errno text.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_int.h"

struct cx_blob_writer {
	fs_plugin *fs;
	int fd;
	char tmp[FS_PATH_MAX];
	char path[FS_PATH_MAX];
	char key[FS_KEY_MAX + 1];
};

struct cx_blob_reader {
	fs_plugin *fs;
	int fd;
	char key[FS_KEY_MAX + 1];
};

static const cx_setting fs_settings[] = {
    CX_SETTING_STR("dir", 0, NULL,
        "Directory holding the objects: absolute, or relative to the "
        "plugin's data directory (default <data_dir>/blobs)"),
    CX_SETTING_BOOL("fsync", CX_SET_RELOADABLE, "true",
        "fsync each object and its directory at commit (durable across "
        "power loss; slower)"),
    CX_SETTING_DURATION("stale_tmp_age", 0, "10m", 0, 0,
        "At start, temporary files of interrupted writes that have not "
        "been modified for this long are removed"),
    CX_SETTINGS_END,
};

static cx_err
key_check(const fs_plugin *fs, const char *key, bool prefix)
{
	if (fs_key_ok(key, prefix)) {
		return (CX_OK);
	}
	fs->host->log(fs->host, CX_LOG_WARN,
	    "rejected blob %s '%.64s': keys are [A-Za-z0-9._/-], segments "
	    "non-empty and not starting with '.', at most %d bytes",
	    prefix ? "prefix" : "key", key != NULL ? key : "(null)",
	    FS_KEY_MAX);
	return (CX_EINVAL);
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return (errno);
		}
		p += n;
		len -= (size_t) n;
	}
	return (0);
}

static cx_err
fs_put_begin(void *state, const char *key, cx_blob_writer **out)
{
	fs_plugin *fs = state;
	*out = NULL;
	cx_err rv = key_check(fs, key, false);
	if (rv != CX_OK) {
		return (rv);
	}
	cx_blob_writer *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return (CX_ENOMEM);
	}
	w->fs = fs;
	w->fd = -1;
	snprintf(w->key, sizeof(w->key), "%s", key);
	snprintf(w->path, sizeof(w->path), "%s/%s", fs->base, key);
	size_t dl = (size_t) (strrchr(w->path, '/') - w->path);
	int err = 0;
	/* A concurrent remove may prune the directory between mkdir and
	 * open: try again a few times. */
	for (int attempt = 0; attempt < 3 && w->fd < 0; attempt++) {
		uint64_t rnd;
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			err = errno;
			break;
		}
		snprintf(w->tmp, sizeof(w->tmp), "%.*s/%s%016llx", (int) dl,
		    w->path, FS_TMP_PREFIX, (unsigned long long) rnd);
		if ((err = fs_mkdirs(fs, key)) != 0) {
			break;
		}
		w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
		err = w->fd < 0 ? errno : 0;
		if (err != 0 && err != ENOENT && err != EEXIST) {
			break;
		}
	}
	if (w->fd < 0) {
		free(w);
		return (fs_err(fs, key, "create", err != 0 ? err : EIO));
	}
	*out = w;
	return (CX_OK);
}

static cx_err
fs_put_write(cx_blob_writer *w, const void *buf, size_t len)
{
	int err = write_all(w->fd, buf, len);
	return (err != 0 ? fs_err(w->fs, w->key, "write", err) : CX_OK);
}

static void
fs_put_abort(cx_blob_writer *w)
{
	if (w->fd >= 0) {
		close(w->fd);
	}
	unlink(w->tmp);
	free(w);
}

static int
fsync_dir(const char *path)
{
	char dir[FS_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		return (errno);
	}
	int err = fsync(fd) != 0 ? errno : 0;
	close(fd);
	return (err);
}

static cx_err
fs_put_commit(cx_blob_writer *w)
{
	fs_plugin *fs = w->fs;
	bool sync = atomic_load(&fs->fsync);
	const char *op = "fsync";
	int err = sync && fsync(w->fd) != 0 ? errno : 0;
	if (err == 0) {
		op = "close";
		/* close reports deferred write errors (NFS, quota). */
		err = close(w->fd) != 0 ? errno : 0;
		w->fd = -1;
	}
	if (err == 0) {
		op = "rename";
		err = rename(w->tmp, w->path) != 0 ? errno : 0;
	}
	if (err != 0) {
		cx_err rv = fs_err(fs, w->key, op, err);
		fs_put_abort(w);
		return (rv);
	}
	/* The rename is durable only once the directory is. */
	if (sync && (err = fsync_dir(w->path)) != 0) {
		cx_err rv = fs_err(fs, w->key, "fsync of the directory", err);
		free(w);
		return (rv);
	}
	free(w);
	return (CX_OK);
}

static cx_err
fs_get_open(void *state, const char *key, cx_blob_reader **out,
    uint64_t *size)
{
	fs_plugin *fs = state;
	char path[FS_PATH_MAX];
	struct stat st;
	*out = NULL;
	cx_err rv = key_check(fs, key, false);
	if (rv != CX_OK) {
		return (rv);
	}
	snprintf(path, sizeof(path), "%s/%s", fs->base, key);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		return (fs_err(fs, key, "open", errno == ENOTDIR ? ENOENT : errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		/* A directory is a key prefix, not an object. */
		int err = fstat(fd, &st) != 0 ? errno : ENOENT;
		close(fd);
		return (fs_err(fs, key, "open", err));
	}
	cx_blob_reader *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		close(fd);
		return (CX_ENOMEM);
	}
	r->fs = fs;
	r->fd = fd;
	snprintf(r->key, sizeof(r->key), "%s", key);
	if (size != NULL) {
		*size = (uint64_t) st.st_size;
	}
	*out = r;
	return (CX_OK);
}

static cx_err
fs_get_read(cx_blob_reader *r, void *buf, size_t cap, size_t *got)
{
	ssize_t n;
	do {
		n = read(r->fd, buf, cap);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		*got = 0;
		return (fs_err(r->fs, r->key, "read", errno));
	}
	*got = (size_t) n;
	return (CX_OK);
}

static void
fs_get_close(cx_blob_reader *r)
{
	close(r->fd);
	free(r);
}

static cx_err
fs_remove(void *state, const char *key)
{
	fs_plugin *fs = state;
	char path[FS_PATH_MAX];
	cx_err rv = key_check(fs, key, false);
	if (rv != CX_OK) {
		return (rv);
	}
	snprintf(path, sizeof(path), "%s/%s", fs->base, key);
	if (unlink(path) != 0) {
		int err = errno == EISDIR || errno == ENOTDIR ? ENOENT : errno;
		return (fs_err(fs, key, "remove", err));
	}
	fs_prune(fs, key);
	return (CX_OK);
}

static cx_err
fs_remove_prefix_op(void *state, const char *prefix)
{
	fs_plugin *fs = state;
	cx_err rv = key_check(fs, prefix, true);
	if (rv != CX_OK) {
		return (rv);
	}
	int err = fs_remove_prefix(fs, prefix);
	return (err != 0 ? fs_err(fs, prefix, "remove_prefix", err) : CX_OK);
}

static cx_err
fs_validate(const json_t *s, char *err, size_t errlen)
{
	const char *dir = json_string_value(json_object_get(s, "dir"));
	if (dir != NULL && (dir[0] == '\0' || strlen(dir) >= FS_BASE_MAX / 2)) {
		snprintf(err, errlen, "'dir' must be a non-empty path shorter "
		                      "than %d bytes", FS_BASE_MAX / 2);
		return (CX_EINVAL);
	}
	return (CX_OK);
}

static int
mkdir_p(char *path)
{
	for (char *p = path + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		int rv = mkdir(path, 0700);
		*p = '/';
		if (rv != 0 && errno != EEXIST) {
			return (-1);
		}
	}
	return (mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0);
}

static cx_err
fs_init(void *state, const cx_host *h, const json_t *s)
{
	fs_plugin *fs = state;
	fs->host = h;
	const char *dir = json_string_value(json_object_get(s, "dir"));
	if (dir == NULL) {
		snprintf(fs->base, sizeof(fs->base), "%s/blobs", h->data_dir);
	} else if (dir[0] == '/') {
		snprintf(fs->base, sizeof(fs->base), "%s", dir);
	} else {
		snprintf(fs->base, sizeof(fs->base), "%s/%s", h->data_dir, dir);
	}
	size_t bl = strlen(fs->base);
	while (bl > 1 && fs->base[bl - 1] == '/') {
		fs->base[--bl] = '\0';
	}
	atomic_store(&fs->fsync, json_is_true(json_object_get(s, "fsync")));
	fs->stale_ms = json_integer_value(json_object_get(s, "stale_tmp_age"));
	struct stat st;
	int err = mkdir_p(fs->base) != 0 || stat(fs->base, &st) != 0 ? errno :
	    !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
	if (err != 0) {
		h->log(h, CX_LOG_ERROR, "cannot use blob directory %s: %s",
		    fs->base, strerror(err));
		return (err == EACCES || err == EPERM ? CX_EDENIED : CX_EIO);
	}
	return (CX_OK);
}

static cx_err
fs_start(void *state)
{
	fs_plugin *fs = state;
	size_t n = fs_sweep(fs);
	fs->host->log(fs->host, CX_LOG_INFO,
	    "storing blobs in %s (fsync %s); removed %zu stale temporary "
	    "file(s)", fs->base, atomic_load(&fs->fsync) ? "on" : "off", n);
	return (CX_OK);
}

static cx_err
fs_reconfigure(void *state, const json_t *s)
{
	fs_plugin *fs = state;
	atomic_store(&fs->fsync, json_is_true(json_object_get(s, "fsync")));
	return (CX_OK);
}

static const cx_blob_ops fs_ops = {
	.size = sizeof(cx_blob_ops),
	.put_begin = fs_put_begin,
	.put_write = fs_put_write,
	.put_commit = fs_put_commit,
	.put_abort = fs_put_abort,
	.get_open = fs_get_open,
	.get_read = fs_get_read,
	.get_close = fs_get_close,
	.remove = fs_remove,
	.remove_prefix = fs_remove_prefix_op,
};

CX_PLUGIN_DEFINE(.kind = CX_KIND_BLOB, .name = "fs", .version = "1.0.0",
    .summary = "Stores blob objects as files in a local directory",
    .settings = fs_settings, .state_size = sizeof(fs_plugin),
    .validate = fs_validate, .init = fs_init, .start = fs_start,
    .reconfigure = fs_reconfigure, .kind_ops = &fs_ops);
