/*
 * fs_tree.c - the fs blob plugin's directory work: key checks, creating
 * and pruning directories, recursive removal and the sweep of temporary
 * files left by a crash.
 *
 * Recursion works on directory descriptors (openat, unlinkat) and never
 * follows a symbolic link, so a link planted in the store cannot make a
 * removal reach outside it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs_int.h"

bool
fs_key_ok(const char *key, bool prefix)
{
	size_t n = key != NULL ? strlen(key) : 0;
	if (n == 0 || n > FS_KEY_MAX) {
		return (false);
	}
	bool seg_start = true;
	for (size_t i = 0; i < n; i++) {
		char c = key[i];
		if (c == '/') {
			if (seg_start) {
				return (false); /* leading '/' or "//" */
			}
			seg_start = true;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		        c == '-')) {
			return (false);
		}
		/* Rules out ".", ".." and names of temporary files. */
		if (seg_start && c == '.') {
			return (false);
		}
		seg_start = false;
	}
	return (!seg_start || prefix);
}

cx_err
fs_err(const fs_plugin *fs, const char *key, const char *op, int err)
{
	cx_err code;
	const char *what = "";
	switch (err) {
	case ENOENT:
		code = CX_ENOENT;
		break;
	case EACCES:
	case EPERM:
	case EROFS:
		code = CX_EDENIED;
		break;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		code = CX_EBUSY;
		what = " (storage full)";
		break;
	case ENOTDIR:
	case EISDIR:
	case ENAMETOOLONG:
		/* "a/b" exists as an object and "a/b/c" is written, or the
		 * reverse: the key cannot exist beside the other. */
		code = CX_EINVAL;
		what = " (key clashes with another object's path)";
		break;
	default:
		code = CX_EIO;
		break;
	}
	fs->host->log(fs->host, code == CX_ENOENT ? CX_LOG_DEBUG : CX_LOG_ERROR,
	    "blob %s: %s failed: %s%s", key, op, strerror(err), what);
	return (code);
}

int
fs_mkdirs(const fs_plugin *fs, const char *key)
{
	char path[FS_PATH_MAX];
	size_t bl = strlen(fs->base);
	snprintf(path, sizeof(path), "%s/%s", fs->base, key);
	for (char *p = path + bl + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			return (errno);
		}
		*p = '/';
	}
	return (0);
}

void
fs_prune(const fs_plugin *fs, const char *key)
{
	char path[FS_PATH_MAX];
	size_t bl = strlen(fs->base);
	snprintf(path, sizeof(path), "%s/%s", fs->base, key);
	char *slash;
	/* rmdir fails on a non-empty directory, which ends the climb. */
	while ((slash = strrchr(path, '/')) != NULL && (size_t) (slash - path) > bl) {
		*slash = '\0';
		if (rmdir(path) != 0) {
			break;
		}
	}
}

/* Removes `name` in dirfd, recursively if it is a directory. Keeps going
 * after an error and returns the first one. */
static int
rm_tree(int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		return (errno == ENOENT ? 0 : errno);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) {
			return (errno);
		}
		return (0);
	}
	int fd = openat(dirfd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		return (errno == ENOENT ? 0 : errno);
	}
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		int e = errno;
		close(fd);
		return (e);
	}
	int first = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		int rv = rm_tree(fd, e->d_name);
		if (first == 0) {
			first = rv;
		}
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT &&
	    first == 0) {
		first = errno;
	}
	return (first);
}

int
fs_remove_prefix(const fs_plugin *fs, const char *prefix)
{
	char dir[FS_PATH_MAX];
	const char *slash = strrchr(prefix, '/');
	const char *part = slash != NULL ? slash + 1 : prefix;
	size_t dl = slash != NULL ? (size_t) (slash - prefix) : 0;
	snprintf(dir, sizeof(dir), "%s/%.*s", fs->base, (int) dl, prefix);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		return (errno == ENOENT || errno == ENOTDIR ? 0 : errno);
	}
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		int e = errno;
		close(fd);
		return (e);
	}
	int first = 0;
	size_t pl = strlen(part);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		/* "acct/" takes the whole directory, temporary files too;
		 * "acct/rec/ab" only names starting with "ab". */
		if (strncmp(e->d_name, part, pl) == 0) {
			int rv = rm_tree(fd, e->d_name);
			if (first == 0) {
				first = rv;
			}
		}
	}
	closedir(d);
	if (pl == 0 && dl > 0 && first == 0) {
		if (rmdir(dir) != 0 && errno != ENOENT && errno != ENOTEMPTY) {
			first = errno;
		}
		char key[FS_KEY_MAX + 1];
		snprintf(key, sizeof(key), "%.*s", (int) dl, prefix);
		fs_prune(fs, key);
	}
	return (first);
}

/* Walks dirfd, removing stale temporary files; counts them in *n. */
static void
sweep_dir(const fs_plugin *fs, int dirfd, time_t cutoff, size_t *n,
    int depth)
{
	DIR *d = fdopendir(dirfd);
	if (d == NULL) {
		close(dirfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			continue;
		}
		if (S_ISDIR(st.st_mode) && depth < FS_KEY_MAX / 2) {
			int sub = openat(dirfd, e->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				sweep_dir(fs, sub, cutoff, n, depth + 1);
			}
		} else if (S_ISREG(st.st_mode) &&
		    strncmp(e->d_name, FS_TMP_PREFIX,
		        strlen(FS_TMP_PREFIX)) == 0 &&
		    st.st_mtime <= cutoff) {
			/* Judged by mtime: a long write still in progress (a
			 * live recording) touches its file all the time. */
			if (unlinkat(dirfd, e->d_name, 0) == 0) {
				(*n)++;
			} else {
				fs->host->log(fs->host, CX_LOG_WARN,
				    "cannot remove stale temporary file %s: %s",
				    e->d_name, strerror(errno));
			}
		}
	}
	closedir(d);
}

size_t
fs_sweep(const fs_plugin *fs)
{
	size_t n = 0;
	int fd = open(fs->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		return (0);
	}
	sweep_dir(fs, fd, time(NULL) - (time_t) (fs->stale_ms / 1000), &n, 0);
	return (n);
}
