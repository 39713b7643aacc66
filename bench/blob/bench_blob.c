/*
 * bench_blob.c - write and read speed of a large object through the fs
 * blob plugin, raw and under blobcrypt, next to cp and cat of the same
 * file on the same filesystem, in one run.
 *
 * Writes read their input from a source file that is hot in the page
 * cache, as cp does. Before every read the file is synced and dropped
 * from the page cache (posix_fadvise), so reads come from the device.
 * Each figure is the best of `runs`. The plugin is loaded through the
 * real loader and host table.
 *   bench_blob <plugin.so> <dir> [MB] [runs]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "blobcrypt.h"
#include "bus.h"
#include "config.h"
#include "host.h"
#include "loader.h"

#define BUF (256 * 1024)

typedef struct bench {
	const char *dir;
	char src[4096];
	size_t bytes;
	int runs;
	const cx_plugin *desc;
	void *state;
	const cx_blob_ops *ops;
	cxi_blobcrypt *bc;
	uint8_t *buf;
} bench;

static void
die(const char *what)
{
	fprintf(stderr, "bench_blob: %s\n", what);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double) ts.tv_sec + (double) ts.tv_nsec / 1e9);
}

/* Syncs path and drops it from the page cache, so the next read is cold. */
static void
drop_cache(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0 || fdatasync(fd) != 0 ||
	    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) {
		die("cannot drop a file from the page cache");
	}
	close(fd);
}

static void
run(const char *cmd)
{
	if (system(cmd) != 0) {
		die(cmd);
	}
}

static double
t_cp(bench *b, bool sync)
{
	char cmd[9000];
	snprintf(cmd, sizeof(cmd), "cp %s %s/cp.out", b->src, b->dir);
	if (sync) {
		/* coreutils sync FILE: fsync of that file alone. */
		size_t n = strlen(cmd);
		snprintf(cmd + n, sizeof(cmd) - n, " && sync %s/cp.out", b->dir);
	}
	double t = now();
	run(cmd);
	return (now() - t);
}

static double
t_cat(bench *b)
{
	char cmd[9000], path[4200];
	snprintf(path, sizeof(path), "%s/cp.out", b->dir);
	drop_cache(path);
	snprintf(cmd, sizeof(cmd), "cat %s > /dev/null", path);
	double t = now();
	run(cmd);
	return (now() - t);
}

/* Streams the source file into the store, raw or encrypted. */
static double
t_write(bench *b, bool crypt)
{
	char why[256];
	cx_blob_writer *pw = NULL;
	cxi_bc_writer *cw = NULL;
	int fd = open(b->src, O_RDONLY);
	if (fd < 0) {
		die("cannot open the source");
	}
	double t = now();
	cx_err rv = crypt ? cxi_blobcrypt_put_begin(b->bc, "acct/rec/big", &cw,
	                        why, sizeof(why)) :
	                    b->ops->put_begin(b->state, "raw/rec/big", &pw);
	ssize_t n;
	while (rv == CX_OK && (n = read(fd, b->buf, BUF)) > 0) {
		rv = crypt ? cxi_blobcrypt_write(cw, b->buf, (size_t) n, why,
		                 sizeof(why)) :
		             b->ops->put_write(pw, b->buf, (size_t) n);
	}
	if (rv == CX_OK) {
		rv = crypt ? cxi_blobcrypt_commit(cw, why, sizeof(why)) :
		             b->ops->put_commit(pw);
	}
	double el = now() - t;
	close(fd);
	if (rv != CX_OK) {
		die("write failed");
	}
	return (el);
}

static double
t_read(bench *b, bool crypt)
{
	char why[256], path[4200];
	cx_blob_reader *pr = NULL;
	cxi_bc_reader *cr = NULL;
	uint64_t size;
	size_t got = 0, total = 0;
	snprintf(path, sizeof(path), "%s/%s", b->dir,
	    crypt ? "blobs/acct/rec/big" : "blobs/raw/rec/big");
	drop_cache(path);
	double t = now();
	cx_err rv = crypt ? cxi_blobcrypt_get_open(b->bc, "acct/rec/big", &cr,
	                        why, sizeof(why)) :
	                    b->ops->get_open(b->state, "raw/rec/big", &pr, &size);
	do {
		total += got;
		rv = rv != CX_OK ? rv :
		    crypt        ? cxi_blobcrypt_read(cr, b->buf, BUF, &got, why,
		                       sizeof(why)) :
		                   b->ops->get_read(pr, b->buf, BUF, &got);
	} while (rv == CX_OK && got > 0);
	double el = now() - t;
	crypt ? cxi_blobcrypt_get_close(cr) : b->ops->get_close(pr);
	if (rv != CX_OK || total != b->bytes) {
		die("read failed");
	}
	return (el);
}

static void
set_fsync(bench *b, bool on)
{
	json_t *s = json_pack("{s:b}", "fsync", on);
	if (s == NULL || b->desc->reconfigure(b->state, s) != CX_OK) {
		die("reconfigure");
	}
	json_decref(s);
}

typedef double (*timed_fn)(bench *b, bool arg);

static double
best(bench *b, timed_fn fn, bool arg)
{
	double min = 1e9;
	for (int i = 0; i < b->runs; i++) {
		double t = fn(b, arg);
		min = t < min ? t : min;
	}
	return ((double) b->bytes / 1e6 / min);
}

static double
cat_fn(bench *b, bool unused)
{
	(void) unused;
	return (t_cat(b));
}

static void
row(const char *what, double mbs, double base)
{
	printf("| %s | %.0f | %.2f |\n", what, mbs, mbs / base);
}

static void
make_source(bench *b)
{
	uint64_t seed[4] = {1};
	snprintf(b->src, sizeof(b->src), "%s/source", b->dir);
	int fd = open(b->src, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		die("cannot create the source");
	}
	for (size_t done = 0; done < b->bytes; done += BUF) {
		size_t n = b->bytes - done < BUF ? b->bytes - done : BUF;
		randombytes_buf_deterministic(b->buf, n, (uint8_t *) seed);
		seed[1]++;
		if (write(fd, b->buf, n) != (ssize_t) n) {
			die("cannot write the source");
		}
	}
	close(fd);
}

/* The bench writes one account: a keystore of one slot is enough. */
typedef struct one_key {
	uint8_t w[128];
	size_t len;
	char kid[CXI_BLOB_KID_MAX + 1];
} one_key;

static cx_err
slot_get(void *arg, const char *account, uint8_t **wrapped, size_t *len,
    char *kid, size_t kidlen)
{
	one_key *k = arg;
	(void) account;
	if (k->len == 0) {
		return (CX_ENOENT);
	}
	if ((*wrapped = malloc(k->len)) == NULL) {
		return (CX_ENOMEM);
	}
	memcpy(*wrapped, k->w, k->len);
	*len = k->len;
	snprintf(kid, kidlen, "%s", k->kid);
	return (CX_OK);
}

static cx_err
slot_put(void *arg, const char *account, const uint8_t *wrapped, size_t len,
    const char *kid)
{
	one_key *k = arg;
	(void) account;
	if (len > sizeof(k->w)) {
		return (CX_EINVAL);
	}
	memcpy(k->w, wrapped, len);
	k->len = len;
	snprintf(k->kid, sizeof(k->kid), "%s", kid);
	return (CX_OK);
}

static cx_err
slot_del(void *arg, const char *account)
{
	(void) account;
	((one_key *) arg)->len = 0;
	return (CX_OK);
}

int
main(int argc, char **argv)
{
	bench b = {0};
	char why[512];
	if (argc < 3) {
		die("usage: bench_blob <fs.so> <dir> [MB] [runs]");
	}
	b.dir = argv[2];
	b.bytes = (size_t) (argc > 3 ? atoi(argv[3]) : 200) * 1000 * 1000;
	b.runs = argc > 4 ? atoi(argv[4]) : 3;
	if (sodium_init() < 0 || (b.buf = malloc(BUF)) == NULL) {
		die("init");
	}
	cxi_log_setup(CX_LOG_WARN, CXI_LOG_LOGFMT);
	cxi_module *mod;
	if (cxi_module_open(argv[1], &mod, why, sizeof(why)) != 0) {
		die(why);
	}
	b.desc = cxi_module_desc(mod);
	b.ops = b.desc->kind_ops;
	cxi_errlist errs = {0};
	char yaml[4200];
	snprintf(yaml, sizeof(yaml), "dir: %s/blobs\n", b.dir);
	cxi_ynode *node = cxi_yaml_parse("bench", yaml, strlen(yaml), &errs);
	json_t *settings = cxi_settings_validate_desc("bench", node, 1, 1, "fs",
	    b.desc, NULL, &errs);
	cxi_ynode_free(node);
	cxi_bus *bus;
	cxi_bus_client *client;
	cxi_hostctx *hc;
	if (settings == NULL || cxi_bus_open(&bus, "benchblob", NULL) != 0 ||
	    cxi_bus_client_open(&client, "fs", "benchblob", NULL) != 0 ||
	    cxi_hostctx_new(&hc, "fs", b.dir, client, NULL) != 0 ||
	    (b.state = calloc(1, b.desc->state_size)) == NULL ||
	    b.desc->init(b.state, cxi_hostctx_table(hc), settings) != CX_OK) {
		die("cannot start the fs plugin");
	}
	uint8_t master[32];
	char kid[9];
	randombytes_buf(master, sizeof(master));
	cxi_blobcrypt_key_id(master, kid);
	one_key slot = {0};
	cxi_keystore ks = {.get = slot_get, .put = slot_put, .del = slot_del,
	    .arg = &slot};
	if (cxi_blobcrypt_new(&b.bc, master, kid, &ks, b.ops, b.state, why,
	        sizeof(why)) != CX_OK) {
		die(why);
	}
	make_source(&b);

	double cp = best(&b, t_cp, false), cps = best(&b, t_cp, true);
	set_fsync(&b, false);
	double w_raw = best(&b, t_write, false), w_bc = best(&b, t_write, true);
	set_fsync(&b, true);
	double w_raws = best(&b, t_write, false);
	double w_bcs = best(&b, t_write, true);
	double cat = best(&b, cat_fn, false);
	double r_raw = best(&b, t_read, false), r_bc = best(&b, t_read, true);

	printf("%zu MB object, best of %d, %s\n\n", b.bytes / 1000000, b.runs,
	    b.dir);
	printf("| write | MB/s | ratio to cp |\n|---|---:|---:|\n");
	row("cp", cp, cp);
	row("fs plugin, raw, fsync off", w_raw, cp);
	row("blobcrypt + fs, fsync off", w_bc, cp);
	printf("\n| durable write | MB/s | ratio to cp + sync |\n"
	       "|---|---:|---:|\n");
	row("cp + sync", cps, cps);
	row("fs plugin, raw, fsync on", w_raws, cps);
	row("blobcrypt + fs, fsync on", w_bcs, cps);
	printf("\n| read (cold cache) | MB/s | ratio to cat |\n"
	       "|---|---:|---:|\n");
	row("cat > /dev/null", cat, cat);
	row("fs plugin, raw", r_raw, cat);
	row("blobcrypt + fs", r_bc, cat);

	cxi_blobcrypt_free(b.bc);
	b.desc->fini != NULL ? b.desc->fini(b.state) : (void) 0;
	free(b.state);
	cxi_hostctx_free(hc);
	cxi_bus_client_close(client);
	cxi_bus_close(bus);
	json_decref(settings);
	cxi_module_close(mod);
	free(b.buf);
	return (0);
}
