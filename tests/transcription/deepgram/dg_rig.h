/*
 * dg_rig.h - what test_deepgram needs around the plugin: the loopback
 * fake Deepgram (fake_deepgram.py) as a child process, its record of the
 * last request, and audio files to send.
 */
#ifndef DG_RIG_H
#define DG_RIG_H

#include <sys/types.h>
#include <jansson.h>

typedef struct dg_fake {
	pid_t pid;
	int stdin_fd; /* the fake exits when this closes */
	int port;
} dg_fake;

/* Runs `python script key` and reads the port it listens on. */
int dg_fake_start(dg_fake *f, const char *python, const char *script,
    const char *key);
void dg_fake_stop(dg_fake *f);
/* What the fake saw in the last /v1/listen request (caller decrefs), or
 * NULL. */
json_t *dg_fake_last(const dg_fake *f);

/* A mono 16-bit PCM WAV of a tone with a little noise. */
int dg_write_wav(const char *path, int seconds, int rate);
/* Lowercase hex SHA-256 of a file. */
int dg_sha256_hex(const char *path, char out[65]);

#endif
