/*
 * driver.c - replays fuzz corpora without libFuzzer.
 *
 * Each fuzz target defines LLVMFuzzerTestOneInput. Built with
 * -Dfuzz=true (clang), libFuzzer drives it; in the normal build this main
 * feeds it every file named on the command line (or every file in a named
 * directory), so the corpus and every saved crash reproducer run as a
 * regression test under ASan and UBSan.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return (-1);
	}
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			uint8_t *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return (-1);
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		if (n == 0) {
			break;
		}
		len += n;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return (0);
}

static int
run_path(const char *path, int *count)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		perror(path);
		return (-1);
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return (run_file(path));
	}
	DIR *d = opendir(path);
	if (d == NULL) {
		perror(path);
		return (-1);
	}
	struct dirent *e;
	int rv = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.') {
			continue;
		}
		char sub[4096];
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (run_path(sub, count) != 0) {
			rv = -1;
		}
	}
	closedir(d);
	return (rv);
}

int
main(int argc, char **argv)
{
	int count = 0, rv = 0;
	for (int i = 1; i < argc; i++) {
		if (run_path(argv[i], &count) != 0) {
			rv = 1;
		}
	}
	if (count == 0) {
		fprintf(stderr, "no corpus inputs given\n");
		return (1);
	}
	printf("replayed %d inputs\n", count);
	return (rv);
}
