/*
 * sbx_wav.c - the recording of a simulated call: RIFF/WAVE, PCM, 8 kHz,
 * mono, 16-bit little endian (what telephony recordings are), as long as
 * the conversation up to a cap.
 *
 * The audio follows the script: while an utterance runs, a voiced sound
 * (a few harmonics of a gliding pitch, gated into syllables and words;
 * lower for the agent, higher for the callee), a 1 kHz beep before a
 * voicemail message, and faint line noise in between. It is not speech,
 * but it has speech's rhythm and turn-taking, and it is deterministic.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sbx.h"

#define RATE 8000
#define CHUNK 4096

typedef struct span {
	int64_t start, end; /* ms */
	double f0;
} span;

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) (v & 0xff);
	p[1] = (uint8_t) (v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t) (v & 0xffff));
	put16(p + 2, (uint16_t) (v >> 16));
}

static void
header(uint8_t h[44], uint32_t data_bytes)
{
	memcpy(h, "RIFF", 4);
	put32(h + 4, 36 + data_bytes);
	memcpy(h + 8, "WAVEfmt ", 8);
	put32(h + 16, 16);       /* fmt chunk size */
	put16(h + 20, 1);        /* PCM */
	put16(h + 22, 1);        /* mono */
	put32(h + 24, RATE);     /* sample rate */
	put32(h + 28, RATE * 2); /* byte rate */
	put16(h + 32, 2);        /* block align */
	put16(h + 34, 16);       /* bits per sample */
	memcpy(h + 36, "data", 4);
	put32(h + 40, data_bytes);
}

static double
voice(double t, double local, double f0)
{
	/* Words of ~380 ms with a short gap; syllables at ~4.5 Hz. */
	double w = fmod(local, 0.38);
	if (w > 0.31) {
		return (0.0);
	}
	double env = 0.5 * (1.0 - cos(2.0 * M_PI * 4.5 * local));
	double f = f0 * (1.0 + 0.08 * sin(2.0 * M_PI * 0.7 * t));
	double s = 0.0;
	for (int k = 1; k <= 6; k++) {
		s += sin(2.0 * M_PI * f * k * t) / (double) k;
	}
	return (0.35 * env * s);
}

static int
sample(const span *sp, size_t n, int64_t beep, int64_t i, sbx_rng *r)
{
	double t = (double) i / RATE;
	int64_t ms = i * 1000 / RATE;
	/* Line noise, about -50 dBFS. */
	double v = ((double) (sbx_rng_next(r) >> 11) / 9007199254740992.0 -
	               0.5) * 0.006;
	if (beep >= 0 && ms >= beep + 200 && ms < beep + 700) {
		v += 0.4 * sin(2.0 * M_PI * 1000.0 * t);
	}
	for (size_t k = 0; k < n; k++) {
		if (ms >= sp[k].start && ms < sp[k].end) {
			v += voice(t, (double) (ms - sp[k].start) / 1000.0,
			    sp[k].f0);
			break;
		}
	}
	long x = lrint(v * 32767.0);
	return ((int) (x > 32767 ? 32767 : x < -32768 ? -32768 : x));
}

int
sbx_wav_write(const char *path, const json_t *script, int64_t talk_ms,
    int64_t cap_ms, uint64_t seed)
{
	int64_t ms = talk_ms < cap_ms ? talk_ms : cap_ms;
	if (ms < 0) {
		ms = 0;
	}
	const json_t *utt = json_object_get(script, "utterances");
	span sp[32];
	size_t n = 0, i;
	json_t *u;
	json_array_foreach (utt, i, u) {
		if (n == sizeof(sp) / sizeof(sp[0])) {
			break;
		}
		const char *who = json_string_value(json_object_get(u, "speaker"));
		sp[n].start = json_integer_value(json_object_get(u, "start_ms"));
		sp[n].end = json_integer_value(json_object_get(u, "end_ms"));
		sp[n].f0 = who != NULL && strcmp(who, "agent") == 0 ? 115.0 :
		                                                      205.0;
		n++;
	}
	const json_t *b = json_object_get(script, "beep_ms");
	int64_t beep = b != NULL ? json_integer_value(b) : -1;
	int64_t total = ms * RATE / 1000;
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp)) {
		return (ENAMETOOLONG);
	}
	FILE *f = fopen(tmp, "wb");
	if (f == NULL) {
		return (errno);
	}
	uint8_t buf[CHUNK];
	header(buf, (uint32_t) (total * 2));
	bool ok = fwrite(buf, 1, 44, f) == 44;
	sbx_rng r = {seed};
	for (int64_t s = 0; ok && s < total;) {
		size_t k = 0;
		for (; k + 2 <= sizeof(buf) && s < total; k += 2, s++) {
			put16(buf + k, (uint16_t) (int16_t) sample(sp, n, beep, s,
			    &r));
		}
		ok = fwrite(buf, 1, k, f) == k;
	}
	int err = ok ? 0 : errno != 0 ? errno : EIO;
	if (fclose(f) != 0 && err == 0) {
		err = errno;
	}
	if (err == 0 && rename(tmp, path) != 0) {
		err = errno;
	}
	if (err != 0) {
		unlink(tmp);
	}
	return (err);
}
