/*
 * dg.h - the Deepgram transcription plugin: shared types.
 *
 *   dg_plugin.c  settings, lifecycle, the transcription.transcribe handler
 *   dg_http.c    one POST /v1/listen with the recording streamed from disk
 *   dg_parse.c   the response and error-body parsers (no I/O: fuzzed)
 */
#ifndef DG_H
#define DG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <callixo/callixo.h>
#include <callixo/transcription.h>

/* Deepgram's documented ceiling for one pre-recorded file. */
#define DG_MAX_BYTES_DEFAULT "2147483648"
/* A one-hour call with word timings is a few MB of JSON; anything far
 * beyond this is not a Deepgram answer. */
#define DG_RESP_LIMIT (64u << 20)
/* Room for the error message handed back to the core. */
#define DG_MSG_MAX 512

/* One immutable snapshot of the settings. Requests hold a reference, so
 * a reload never changes a request already on the wire. */
typedef struct dg_conf {
	int refs; /* atomic */
	char *api_key; /* NULL: only vault credentials will do */
	char *api_base; /* no trailing '/' */
	char *model;
	char *language; /* NULL: Deepgram's default */
	bool smart_format, punctuate, diarize, utterances;
	bool summarize; /* summarize=v2 */
	bool mip_opt_out;
	long timeout_ms;
	int64_t max_bytes;
	int max_concurrent;
} dg_conf;

typedef struct dg {
	const cx_host *host;
	pthread_mutex_t mu;
	bool mu_inited, curl_inited;
	dg_conf *conf;
	int in_flight; /* atomic */
} dg;

/* What one transcription needs, already checked. */
typedef struct dg_job {
	const char *call_id;
	const char *path;
	const char *content_type;
	const char *language; /* NULL: none sent */
	const char *api_key;
	bool summarize; /* after the language check */
} dg_job;

/* The outcome of one HTTP exchange. */
typedef struct dg_resp {
	long status; /* 0: no HTTP answer */
	char *body;  /* NUL-terminated, may be NULL */
	size_t len;
	uint64_t sent; /* audio bytes read from the file */
} dg_resp;

cx_err dg_http_transcribe(const dg_conf *c, const dg_job *j,
    dg_resp *r, char *msg, size_t msglen);
void dg_resp_free(dg_resp *r);
/* Maps a non-2xx status to the contract's codes. */
cx_err dg_http_status_err(long status);

/* Turns a 200 body into the contract's reply {transcript:{text,
 * utterances}, summary, request_id}. On failure returns CX_EPROTO and
 * names the missing or malformed field in `why`. */
cx_err dg_parse_result(const char *body, size_t len, bool want_utterances,
    bool want_summary, json_t **out, char *why, size_t whylen);
/* Summary of a non-2xx body in any of Deepgram's three shapes (legacy
 * err_code/err_msg, modern category/message/details, plain text):
 * printable, truncated, never empty. */
void dg_parse_error(const char *body, size_t len, char *out, size_t cap);

#endif
