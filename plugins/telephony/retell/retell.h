/*
 * retell.h - internals shared by the Retell AI telephony plugin's files.
 *
 * retell_plugin.c  settings, lifecycle, the service handler
 * retell_http.c    one HTTPS request to Retell (libcurl), bounded body
 * retell_api.c     place / lookup / hangup on Retell's REST API
 * retell_sig.c     x-retell-signature parsing and checking (fuzzed)
 * retell_event.c   webhook JSON -> call.event (fuzzed)
 * retell_hook.c    the /webhooks/<name> handler
 * retell_rec.c     recording downloads on a worker thread
 * retell_recq.c    the jobs' journal in data_dir (retell_recq.h), and
 * retell_recq_index.c  their index and heaps in memory
 *
 * The wire format follows retell-sdk 5.66.1 (src/resources/call.ts,
 * src/lib/webhook_auth.ts) and docs.retellai.com.
 */
#ifndef RETELL_PLUGIN_H
#define RETELL_PLUGIN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <callixo/callixo.h>

#define RT_KEY_MAX 256
/* The core refuses a call.event payload over 1 MiB; keep a margin. */
#define RT_EVENT_MAX (1000u * 1024u)
#define RT_URL_MAX 512
#define RT_ID_MAX 128
/* Retell waits 10 s for a webhook's answer: the key lookup and the
 * event's storage must both fit, with room for the network. */
#define RT_CRED_TIMEOUT_MS 2000
#define RT_CORE_TIMEOUT_MS 6500

/* A snapshot of the settings, copied by value under the lock so a
 * reconfigure never changes a value a request is using. */
typedef struct rt_cfg {
	char api_key[RT_KEY_MAX]; /* secret: never logged; "" when unset */
	char api_base[RT_URL_MAX];
	char public_url[RT_URL_MAX];
	long http_timeout_ms;
	int64_t tolerance_ms;
	int64_t rec_backoff_ms;
	int rec_max_attempts;
} rt_cfg;

typedef struct rt_rec rt_rec;

typedef struct retell {
	const cx_host *host;
	pthread_mutex_t mu; /* guards cfg */
	bool mu_init;
	rt_cfg cfg;
	bool curl_inited;
	rt_rec *rec;
} retell;

void retell_cfg_get(retell *r, rt_cfg *out);

/* retell_http.c */
typedef struct rt_resp {
	long status;   /* HTTP status; 0 when no answer came */
	int curl_code; /* CURLcode of the transfer */
	char *body;    /* NUL-terminated; free() it */
	size_t len;
	long retry_after_ms; /* retry-after-ms or Retry-After (s); -1 none */
} rt_resp;

/* Sends `method` url with Bearer api_key and an optional JSON body.
 * CX_OK means an HTTP answer came (any status); CX_ETIMEDOUT a timeout;
 * CX_EIO no connection or a body over the limit. */
cx_err retell_http(const char *method, const char *url, const char *api_key,
    const char *json_body, long timeout_ms, rt_resp *out);
void rt_resp_free(rt_resp *resp);
/* Downloads url (no credentials: recording URLs are public or signed)
 * into the open file fd; stops early once *abort is true. Fills
 * *ctype from Content-Type. */
cx_err retell_http_download(const char *url, int fd, long timeout_ms,
    const atomic_bool *abort, long *status, char *ctype, size_t ctypelen);

/* retell_api.c: the service requests (the reply convention of
 * cx_service_fn). */
cx_err retell_place(retell *r, const json_t *req, json_t **reply);
cx_err retell_lookup(retell *r, const json_t *req, json_t **reply);
cx_err retell_hangup(retell *r, const json_t *req, json_t **reply);

/* retell_sig.c */
/* Parses "v=<ms>,d=<64 hex>" as retell-sdk's verify does (case-
 * insensitive keys and hex, no spaces, v a safe integer). */
bool retell_sig_parse(const char *hdr, uint64_t *ts_ms, uint8_t digest[32]);
/* Constant-time check of HMAC-SHA256(key, body || decimal(ts_ms)). */
bool retell_sig_check(const char *key, const uint8_t *body, size_t len,
    uint64_t ts_ms, const uint8_t digest[32]);
/* The header value Retell would send ("v=<ms>,d=<hex>"), for tests. */
void retell_sig_make(const char *key, const uint8_t *body, size_t len,
    uint64_t ts_ms, char out[96]);

/* retell_event.c */
typedef struct rt_hook_info {
	char event[32];            /* call_started | call_ended | ... */
	char call_id[RT_ID_MAX];   /* Retell's call_id */
	char cx_call_id[RT_ID_MAX]; /* metadata.cx_call_id when it is one of
	                             * ours ("call_..."), else "" */
	char recording_url[2048];  /* "" when none */
	int64_t duration_ms;       /* -1 when unknown */
	bool want_recording;       /* metadata.cx_record is not false */
} rt_hook_info;

/* Parses a webhook body. Fills *root (caller decrefs) and info; on
 * failure writes why into err and returns CX_EINVAL (bad JSON or not a
 * Retell event). metadata.cx_call_id is extracted even when the rest
 * is unusable, so the signature can be checked with the right key. */
cx_err retell_event_parse(const uint8_t *body, size_t len, json_t **root,
    rt_hook_info *info, char *err, size_t errlen);
/* True for the events mapped to call.event (started/ended/analyzed). */
bool retell_event_known(const char *event);
/* Builds the call.event data for a parsed payload (a new object), at
 * most RT_EVENT_MAX bytes as JSON; NULL when even the derived fields
 * cannot fit, or out of memory. */
json_t *retell_event_build(const json_t *root, const rt_hook_info *info,
    const char *provider);
/* Maps a Retell call object to a CX status and outcome (outcome NULL
 * for live statuses). */
void retell_call_status(const json_t *call, const char **status,
    const char **outcome);

/* retell_hook.c */
cx_err retell_hook(void *arg, const cx_http_req *req, cx_http_resp *resp);

/* retell_rec.c */
cx_err retell_rec_open(retell *r);
cx_err retell_rec_start(retell *r);
void retell_rec_stop(retell *r);
void retell_rec_close(retell *r);
/* Queues a download, durably (written to data_dir before it returns
 * CX_OK). A call already queued or done is not queued twice. */
cx_err retell_rec_enqueue(retell *r, const char *call_id,
    const char *cx_call_id, const char *url, int64_t duration_ms);
/* Wakes the worker (tests use a short backoff instead). */
void retell_rec_kick(retell *r);

#endif
