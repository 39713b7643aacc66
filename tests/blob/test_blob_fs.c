/*
 * test_blob_fs.c - the fs blob plugin, loaded through the real loader,
 * host table, bus and settings validation, alone and under blobcrypt:
 * round trips, damage on disk, shredding, crashes, hostile keys,
 * permissions and a full disk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blobtest.h"

typedef struct fx {
	char root[64];
	char base[128];
	fs_rig rig;
	mem_keys *keys;
	cxi_keystore ks;
	cxi_blobcrypt *bc;
} fx;

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	uint8_t master[32] = {7};
	char why[256];
	snprintf(f->root, sizeof(f->root), "/tmp/cxblobXXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->base, sizeof(f->base), "%s/plugins/fs/blobs", f->root);
	assert_int_equal(fs_rig_open(&f->rig, f->root, NULL), CX_OK);
	f->keys = mem_keys_new();
	mem_keys_store(f->keys, &f->ks);
	assert_int_equal(cxi_blobcrypt_new(&f->bc, master, "k1", &f->ks,
	                     f->rig.ops, f->rig.state, why, sizeof(why)),
	    CX_OK);
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	fx *f = *state;
	char cmd[128];
	cxi_blobcrypt_free(f->bc);
	fs_rig_close(&f->rig);
	mem_keys_free(f->keys);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return (0);
}

static void
bc_put(fx *f, const char *key, const uint8_t *data, size_t len)
{
	cxi_bc_writer *w;
	char why[256];
	assert_int_equal(cxi_blobcrypt_put_begin(f->bc, key, &w, why,
	                     sizeof(why)),
	    CX_OK);
	assert_int_equal(cxi_blobcrypt_write(w, data, len, why, sizeof(why)),
	    CX_OK);
	assert_int_equal(cxi_blobcrypt_commit(w, why, sizeof(why)), CX_OK);
}

/* Reads key and compares with data (when not NULL); returns the error. */
static cx_err
bc_check(fx *f, const char *key, const uint8_t *data, size_t len, char *why)
{
	cxi_bc_reader *r;
	uint8_t buf[10000];
	size_t got, total = 0;
	cx_err rv = cxi_blobcrypt_get_open(f->bc, key, &r, why, 256);
	if (rv != CX_OK) {
		return (rv);
	}
	while ((rv = cxi_blobcrypt_read(r, buf, sizeof(buf), &got, why, 256)) ==
	        CX_OK &&
	    got > 0) {
		assert_true(total + got <= len);
		assert_memory_equal(buf, data + total, got);
		total += got;
	}
	cxi_blobcrypt_get_close(r);
	if (rv == CX_OK) {
		assert_int_equal(total, len);
	}
	return (rv);
}

static void
test_round_trip(void **state)
{
	fx *f = *state;
	const size_t sizes[] = {0, 1, 65535, 65536, 65537, 5 * 1000 * 1000};
	uint8_t *data = malloc(sizes[5]);
	uint64_t seed = 1;
	char key[64], why[256], path[256];
	struct stat st;
	for (size_t i = 0; i < 6; i++) {
		fill_pattern(data, sizes[i], &seed);
		snprintf(key, sizeof(key), "acct/rec/%zu", sizes[i]);
		bc_put(f, key, data, sizes[i]);
		assert_int_equal(bc_check(f, key, data, sizes[i], why), CX_OK);
		snprintf(path, sizeof(path), "%s/%s", f->base, key);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	/* Rewriting replaces the object whole. */
	bc_put(f, "acct/rec/1", data, 10);
	assert_int_equal(bc_check(f, "acct/rec/1", data, 10, why), CX_OK);
	free(data);
}

static void
test_damage_on_disk(void **state)
{
	fx *f = *state;
	size_t len = 200000;
	uint8_t *data = malloc(len);
	uint64_t seed = 2;
	char why[256], p1[256], p2[256], tmp[256];
	fill_pattern(data, len, &seed);
	bc_put(f, "a/rec/x", data, len);
	bc_put(f, "a/rec/y", data, len);
	snprintf(p1, sizeof(p1), "%s/a/rec/x", f->base);
	snprintf(p2, sizeof(p2), "%s/a/rec/y", f->base);
	/* Swapping two objects' files. */
	snprintf(tmp, sizeof(tmp), "%s/a/rec/z", f->base);
	assert_int_equal(rename(p1, tmp), 0);
	assert_int_equal(rename(p2, p1), 0);
	assert_int_equal(rename(tmp, p2), 0);
	assert_int_equal(bc_check(f, "a/rec/x", data, len, why),
	    CXI_BLOB_ECORRUPT);
	assert_string_equal(why,
	    "blob a/rec/x is corrupt or truncated (authentication failed)");
	/* One flipped byte in the middle. */
	bc_put(f, "a/rec/x", data, len);
	int fd = open(p1, O_RDWR);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, 100000), 1);
	b ^= 0x20;
	assert_int_equal(pwrite(fd, &b, 1, 100000), 1);
	close(fd);
	assert_int_equal(bc_check(f, "a/rec/x", data, len, why),
	    CXI_BLOB_ECORRUPT);
	/* Truncated. */
	bc_put(f, "a/rec/x", data, len);
	assert_int_equal(truncate(p1, 150000), 0);
	assert_int_equal(bc_check(f, "a/rec/x", data, len, why),
	    CXI_BLOB_ECORRUPT);
	assert_non_null(strstr(why, "truncated"));
	free(data);
}

static void
test_shred(void **state)
{
	fx *f = *state;
	uint8_t data[5000] = {1, 2, 3};
	char why[256], path[256], backup[256];
	bc_put(f, "gone/rec/1", data, sizeof(data));
	bc_put(f, "gone/mail/2", data, sizeof(data));
	bc_put(f, "kept/rec/1", data, sizeof(data));
	snprintf(path, sizeof(path), "%s/gone/rec/1", f->base);
	snprintf(backup, sizeof(backup), "%s/backup", f->root);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "cp %s %s", path, backup);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(cxi_blobcrypt_shred(f->bc, "gone", why, sizeof(why)),
	    CX_OK);
	snprintf(path, sizeof(path), "%s/gone", f->base);
	struct stat st;
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(bc_check(f, "gone/rec/1", data, sizeof(data), why),
	    CX_ENOENT);
	/* The backup copy restored: unreadable, and says why. */
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/gone/rec && cp %s %s/gone/rec/1",
	    f->base, backup, f->base);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(bc_check(f, "gone/rec/1", data, sizeof(data), why),
	    CXI_BLOB_EKEYGONE);
	assert_non_null(strstr(why, "key of account gone was destroyed"));
	assert_int_equal(bc_check(f, "kept/rec/1", data, sizeof(data), why),
	    CX_OK);
}

static size_t
count_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *e;
	if (d == NULL) {
		return (0);
	}
	while ((e = readdir(d)) != NULL) {
		n += strncmp(e->d_name, ".tmp.", 5) == 0;
	}
	closedir(d);
	return (n);
}

/* A child starts a write and dies without commit or abort. */
static void
crash_mid_write(fx *f, const char *key)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		cx_blob_writer *w;
		uint8_t buf[100000] = {1};
		if (f->rig.ops->put_begin(f->rig.state, key, &w) != CX_OK ||
		    f->rig.ops->put_write(w, buf, sizeof(buf)) != CX_OK) {
			_exit(1);
		}
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
test_crash_and_restart(void **state)
{
	fx *f = *state;
	char dir[256], path[512];
	cx_blob_reader *r;
	uint64_t size;
	crash_mid_write(f, "c/rec/old");
	snprintf(dir, sizeof(dir), "%s/c/rec", f->base);
	assert_int_equal(count_tmp(dir), 1);
	assert_int_equal(f->rig.ops->get_open(f->rig.state, "c/rec/old", &r,
	                     &size),
	    CX_ENOENT);
	/* Make that one an hour old; a second crash stays recent. */
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, ".tmp.", 5) == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			struct timespec ts[2] = {{time(NULL) - 3600, 0},
			    {time(NULL) - 3600, 0}};
			assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
		}
	}
	closedir(d);
	crash_mid_write(f, "c/rec/new");
	assert_int_equal(count_tmp(dir), 2);
	fs_rig_close(&f->rig);
	assert_int_equal(fs_rig_open(&f->rig, f->root, NULL), CX_OK);
	assert_int_equal(count_tmp(dir), 1);
	assert_int_equal(f->rig.ops->get_open(f->rig.state, "c/rec/new", &r,
	                     &size),
	    CX_ENOENT);
	/* An aborted write leaves nothing either. */
	cx_blob_writer *w;
	assert_int_equal(f->rig.ops->put_begin(f->rig.state, "c/rec/ab", &w),
	    CX_OK);
	assert_int_equal(f->rig.ops->put_write(w, "x", 1), CX_OK);
	f->rig.ops->put_abort(w);
	assert_int_equal(count_tmp(dir), 1);
}

static void
test_keys(void **state)
{
	fx *f = *state;
	const cx_blob_ops *o = f->rig.ops;
	cx_blob_writer *w;
	cx_blob_reader *r;
	uint64_t size;
	char longkey[1100];
	memset(longkey, 'a', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	const char *bad[] = {"../etc/passwd", "a/../../b", "/etc/passwd",
	    "a//b", "a/./b", "a/.tmp.1234", "a/b/", "", "a\\b", "a b",
	    "a/b\n", "..", longkey};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(o->put_begin(f->rig.state, bad[i], &w),
		    CX_EINVAL);
		assert_int_equal(o->get_open(f->rig.state, bad[i], &r, &size),
		    CX_EINVAL);
		assert_int_equal(o->remove(f->rig.state, bad[i]), CX_EINVAL);
	}
	assert_int_equal(o->remove_prefix(f->rig.state, ""), CX_EINVAL);
	assert_int_equal(o->remove_prefix(f->rig.state, "../"), CX_EINVAL);
	assert_int_equal(o->remove_prefix(f->rig.state, "/"), CX_EINVAL);
	/* A prefix is a string prefix, not only a directory. */
	const char *keys[] = {"p/rec/ab1", "p/rec/ab2", "p/rec/b", "p/x/ab"};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(o->put_begin(f->rig.state, keys[i], &w), CX_OK);
		assert_int_equal(o->put_commit(w), CX_OK);
	}
	/* A directory is not an object. */
	assert_int_equal(o->get_open(f->rig.state, "p/rec", &r, &size),
	    CX_ENOENT);
	/* Nor can an object become a directory. */
	assert_int_equal(o->put_begin(f->rig.state, "p/rec/b/c", &w),
	    CX_EINVAL);
	assert_int_equal(o->remove_prefix(f->rig.state, "p/rec/ab"), CX_OK);
	assert_int_equal(o->get_open(f->rig.state, "p/rec/ab1", &r, &size),
	    CX_ENOENT);
	assert_int_equal(o->get_open(f->rig.state, "p/rec/b", &r, &size),
	    CX_OK);
	o->get_close(r);
	assert_int_equal(o->remove(f->rig.state, "p/rec/b"), CX_OK);
	assert_int_equal(o->remove(f->rig.state, "p/rec/b"), CX_ENOENT);
	assert_int_equal(o->remove_prefix(f->rig.state, "p/"), CX_OK);
	assert_int_equal(o->remove_prefix(f->rig.state, "nothing/"), CX_OK);
	char p[256];
	struct stat st;
	snprintf(p, sizeof(p), "%s/p", f->base);
	assert_int_equal(stat(p, &st), -1);
}

/* Runs fn in a child with stderr captured; returns the child's exit
 * status and the text it logged in out. */
static int
in_child(fx *f, int (*fn)(fx *), char *out, size_t outlen)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], 2);
		_exit(fn(f));
	}
	close(pfd[1]);
	size_t n = 0;
	ssize_t k;
	while (n + 1 < outlen && (k = read(pfd[0], out + n, outlen - n - 1)) > 0) {
		n += (size_t) k;
	}
	out[n] = '\0';
	close(pfd[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return (WEXITSTATUS(st));
}

static int
child_denied(fx *f)
{
	cx_blob_writer *w;
	/* Root ignores permission bits: drop to nobody first. */
	if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
		return (90);
	}
	return ((int) f->rig.ops->put_begin(f->rig.state, "d/rec/1", &w));
}

static void
test_permission_denied(void **state)
{
	fx *f = *state;
	char log[8192];
	if (geteuid() != 0) {
		assert_int_equal(chmod(f->base, 0500), 0);
	}
	int rv = in_child(f, child_denied, log, sizeof(log));
	chmod(f->base, 0700);
	assert_int_equal(rv, CX_EDENIED);
	assert_non_null(strstr(log, "d/rec/1"));
	assert_non_null(strstr(log, "Permission denied"));
}

static int
child_full(fx *f)
{
	struct rlimit rl = {.rlim_cur = 100000, .rlim_max = 100000};
	uint8_t buf[65536] = {0};
	cx_blob_writer *w;
	cx_err rv = CX_OK;
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0 ||
	    f->rig.ops->put_begin(f->rig.state, "full/rec/1", &w) != CX_OK) {
		return (91);
	}
	for (int i = 0; i < 4 && rv == CX_OK; i++) {
		rv = f->rig.ops->put_write(w, buf, sizeof(buf));
	}
	f->rig.ops->put_abort(w);
	return ((int) rv);
}

static void
test_disk_full(void **state)
{
	fx *f = *state;
	char log[8192], dir[256];
	cx_blob_reader *r;
	uint64_t size;
	assert_int_equal(in_child(f, child_full, log, sizeof(log)), CX_EBUSY);
	assert_non_null(strstr(log, "full/rec/1"));
	assert_non_null(strstr(log, "File too large"));
	assert_non_null(strstr(log, "storage full"));
	assert_int_equal(f->rig.ops->get_open(f->rig.state, "full/rec/1", &r,
	                     &size),
	    CX_ENOENT);
	snprintf(dir, sizeof(dir), "%s/full/rec", f->base);
	assert_int_equal(count_tmp(dir), 0);
}

static void
test_settings(void **state)
{
	fx *f = *state;
	fs_rig rig;
	char yaml[256], path[300];
	struct stat st;
	cx_blob_writer *w;
	snprintf(yaml, sizeof(yaml), "dir: %s/elsewhere/deep\nfsync: false\n",
	    f->root);
	assert_int_equal(fs_rig_open(&rig, f->root, yaml), CX_OK);
	assert_int_equal(rig.ops->put_begin(rig.state, "s/rec/1", &w), CX_OK);
	assert_int_equal(rig.ops->put_commit(w), CX_OK);
	snprintf(path, sizeof(path), "%s/elsewhere/deep/s/rec/1", f->root);
	assert_int_equal(stat(path, &st), 0);
	fs_rig_close(&rig);
	assert_int_equal(fs_rig_open(&rig, f->root, "fsync: maybe\n"),
	    CX_ECONFIG);
	assert_int_equal(fs_rig_open(&rig, f->root, "bogus: 1\n"), CX_ECONFIG);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_round_trip),
		T(test_damage_on_disk),
		T(test_shred),
		T(test_crash_and_restart),
		T(test_keys),
		T(test_permission_denied),
		T(test_disk_full),
		T(test_settings),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
