/*
 * dg_rig.c - the fake Deepgram as a child process, and test audio.
 */
#include <math.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "dg_rig.h"

extern char **environ;

int
dg_fake_start(dg_fake *f, const char *python, const char *script,
    const char *key)
{
	int in[2], out[2];
	*f = (dg_fake){.pid = -1, .stdin_fd = -1};
	if (pipe(in) != 0) {
		return (-1);
	}
	if (pipe(out) != 0) {
		close(in[0]);
		close(in[1]);
		return (-1);
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addclose(&fa, in[1]);
	posix_spawn_file_actions_addclose(&fa, out[0]);
	char *argv[] = {(char *) python, (char *) script, (char *) key, NULL};
	int rc = posix_spawn(&f->pid, python, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	if (rc != 0) {
		f->pid = -1;
		close(in[1]);
		close(out[0]);
		return (-1);
	}
	f->stdin_fd = in[1];
	FILE *o = fdopen(out[0], "r");
	char line[64] = "";
	if (o == NULL) {
		close(out[0]);
		dg_fake_stop(f);
		return (-1);
	}
	rc = fgets(line, sizeof(line), o) != NULL &&
	        sscanf(line, "PORT %d", &f->port) == 1 ?
	    0 :
	    -1;
	fclose(o);
	if (rc != 0) {
		dg_fake_stop(f);
	}
	return (rc);
}

void
dg_fake_stop(dg_fake *f)
{
	if (f->stdin_fd >= 0) {
		close(f->stdin_fd);
		f->stdin_fd = -1;
	}
	if (f->pid > 0) {
		int st;
		waitpid(f->pid, &st, 0);
		f->pid = -1;
	}
}

typedef struct dg_buf {
	char *p;
	size_t len;
} dg_buf;

static size_t
collect(char *p, size_t sz, size_t n, void *arg)
{
	dg_buf *b = arg;
	char *nb = realloc(b->p, b->len + sz * n + 1);
	if (nb == NULL) {
		return (0);
	}
	memcpy(nb + b->len, p, sz * n);
	b->len += sz * n;
	nb[b->len] = '\0';
	b->p = nb;
	return (sz * n);
}

json_t *
dg_fake_last(const dg_fake *f)
{
	char url[128];
	dg_buf b = {0};
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/__fake/last", f->port);
	CURL *c = curl_easy_init();
	if (c == NULL) {
		return (NULL);
	}
	CURLcode rc = curl_easy_setopt(c, CURLOPT_URL, url);
	if (rc == CURLE_OK) {
		rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	}
	if (rc == CURLE_OK) {
		rc = curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	}
	if (rc == CURLE_OK) {
		rc = curl_easy_perform(c);
	}
	curl_easy_cleanup(c);
	json_t *j = rc == CURLE_OK && b.p ? json_loads(b.p, 0, NULL) : NULL;
	free(b.p);
	return (j);
}

static int
put(FILE *f, const void *p, size_t n)
{
	return (fwrite(p, 1, n, f) == n ? 0 : -1);
}

int
dg_write_wav(const char *path, int seconds, int rate)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL) {
		return (-1);
	}
	uint32_t n = (uint32_t) (seconds * rate), data = n * 2;
	uint32_t riff = 36 + data, fmt = 16, byte_rate = (uint32_t) rate * 2;
	uint32_t r = (uint32_t) rate;
	uint16_t pcm = 1, ch = 1, align = 2, bits = 16;
	int rc = put(f, "RIFF", 4) | put(f, &riff, 4) | put(f, "WAVEfmt ", 8) |
	    put(f, &fmt, 4) | put(f, &pcm, 2) | put(f, &ch, 2) | put(f, &r, 4) |
	    put(f, &byte_rate, 4) | put(f, &align, 2) | put(f, &bits, 2) |
	    put(f, "data", 4) | put(f, &data, 4);
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		int16_t s = (int16_t) (6000 * sin(2 * M_PI * 440.0 * i / rate) +
		    (i * 7919u % 97));
		rc = put(f, &s, 2);
	}
	return (fclose(f) == 0 ? rc : -1);
}

int
dg_sha256_hex(const char *path, char out[65])
{
	unsigned char buf[65536], md[32];
	unsigned int mdlen = 0;
	FILE *f = fopen(path, "rb");
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = f != NULL && ctx != NULL &&
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	size_t n;
	while (ok && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		ok = EVP_DigestUpdate(ctx, buf, n) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	if (f != NULL) {
		fclose(f);
	}
	for (unsigned i = 0; ok && i < 32; i++) {
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	}
	return (ok ? 0 : -1);
}
