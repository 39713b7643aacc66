/*
 * sandbox - a telephony provider simulated in process (kind telephony).
 *
 * It answers the core's CX_SVC_CALL_PLACE / _LOOKUP / _HANGUP exactly as
 * callixo/telephony.h describes, and reports each simulated call through
 * call.event and call.recording requests to the core, as a real
 * provider's webhooks would arrive through its plugin. See sbx.h for the
 * files, and docs/sandbox.md for the behaviour in full.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sbx.h"

typedef struct sbx_state {
	const cx_host *h;
	pthread_mutex_t mu; /* guards cfg against reconfigure */
	bool mu_init;
	sbx_config cfg;
	sbx_journal *j;
	sbx_sim *sim;
} sbx_state;

static const char *
str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return (s != NULL && s[0] != '\0' ? s : NULL);
}

static json_t *
message(const char *m)
{
	return (json_pack("{s:s}", "message", m));
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = {(time_t) (ms / 1000), (long) (ms % 1000) * 1000000L};
	while (ms > 0 && nanosleep(&ts, &ts) != 0) {
	}
}

static cx_err
do_place(sbx_state *st, const cx_msg *req, json_t **reply)
{
	char err[256];
	if (!sbx_request_check(req->data, err, sizeof(err))) {
		st->h->metric_add(st->h, "sandbox_place_invalid_total", 1);
		*reply = message(err);
		return (CX_EINVAL);
	}
	pthread_mutex_lock(&st->mu);
	int64_t latency = st->cfg.place_latency;
	pthread_mutex_unlock(&st->mu);
	sleep_ms(latency);
	char pcid[SBX_ID_MAX];
	cx_err rv = sbx_sim_place(st->sim, req->account, req->data, pcid,
	    sizeof(pcid));
	switch (rv) {
	case CX_OK:
		*reply = json_pack("{s:s, s:s}", "provider_call_id", pcid,
		    "status", CX_CALL_QUEUED);
		return (*reply != NULL ? CX_OK : CX_ENOMEM);
	case CX_EBUSY:
		*reply = message("sandbox 429: too many requests (simulated "
		                 "by fail_place)");
		break;
	case CX_EIO:
		*reply = message("sandbox 503: service unavailable (simulated "
		                 "by fail_place)");
		break;
	case CX_ETIMEDOUT:
		*reply = message("sandbox: no answer in time (simulated by "
		                 "timeout_place)");
		break;
	default:
		*reply = message(cx_strerror(rv));
		break;
	}
	return (rv);
}

static cx_err
do_lookup(sbx_state *st, const cx_msg *req, json_t **reply)
{
	const char *id = str(req->data, "call_id");
	const char *pcid = str(req->data, "provider_call_id");
	const char *to = str(req->data, "to");
	const char *from = str(req->data, "from");
	const json_t *since = json_object_get(req->data, "since_ms");
	if (id == NULL && pcid == NULL && to == NULL) {
		*reply = message("sandbox: lookup needs call_id, "
		                 "provider_call_id or to");
		return (CX_EINVAL);
	}
	if (since != NULL && !json_is_null(since) && !json_is_integer(since)) {
		*reply = message("sandbox: since_ms must be an integer");
		return (CX_EINVAL);
	}
	sbx_record r;
	if (!sbx_sim_lookup(st->sim, id, pcid, to, from,
	        (int64_t) json_integer_value(since), &r)) {
		*reply = json_pack("{s:b}", "found", 0);
	} else {
		*reply = json_pack("{s:b, s:s, s:s, s:s}", "found", 1,
		    "provider_call_id", r.pcid, "call_id", r.call_id, "status",
		    sbx_status_names[r.status]);
	}
	return (*reply != NULL ? CX_OK : CX_ENOMEM);
}

static cx_err
do_hangup(sbx_state *st, const cx_msg *req, json_t **reply)
{
	const char *id = str(req->data, "call_id");
	const char *pcid = str(req->data, "provider_call_id");
	if (id == NULL && pcid == NULL) {
		*reply = message("sandbox: hangup needs call_id or "
		                 "provider_call_id");
		return (CX_EINVAL);
	}
	const char *status = NULL;
	cx_err rv = sbx_sim_hangup(st->sim, id, pcid, &status);
	if (rv == CX_ENOENT) {
		*reply = message("sandbox 404: no such call");
		return (rv);
	}
	*reply = json_pack("{s:s}", "status", status != NULL ? status : "");
	return (rv);
}

static cx_err
sbx_serve(void *arg, const cx_msg *req, json_t **reply)
{
	sbx_state *st = arg;
	if (strcmp(req->type, CX_SVC_CALL_PLACE) == 0) {
		return (do_place(st, req, reply));
	}
	if (strcmp(req->type, CX_SVC_CALL_LOOKUP) == 0) {
		return (do_lookup(st, req, reply));
	}
	if (strcmp(req->type, CX_SVC_CALL_HANGUP) == 0) {
		return (do_hangup(st, req, reply));
	}
	*reply = message("sandbox: unknown request type");
	return (CX_ENOTSUP);
}

static void
sbx_fini(void *state)
{
	sbx_state *st = state;
	sbx_sim_free(st->sim);
	st->sim = NULL;
	sbx_journal_close(st->j);
	st->j = NULL;
	if (st->mu_init) {
		pthread_mutex_destroy(&st->mu);
		st->mu_init = false;
	}
}

/* The host promises the directory, but under isolation: process the
 * core (as of ABI 1.1) does not create it for the child: make it. */
static bool
ensure_dir(const char *dir)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int) sizeof(tmp)) {
		return (false);
	}
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
				return (false);
			}
			*p = '/';
		}
	}
	return (mkdir(tmp, 0700) == 0 || errno == EEXIST);
}

static cx_err
sbx_init(void *state, const cx_host *h, const json_t *s)
{
	sbx_state *st = state;
	char why[512] = "";
	st->h = h;
	if (!sbx_config_parse(s, &st->cfg, why, sizeof(why))) {
		h->log(h, CX_LOG_ERROR, "%s", why);
		return (CX_ECONFIG);
	}
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		return (CX_ENOMEM);
	}
	st->mu_init = true;
	if (!ensure_dir(h->data_dir)) {
		h->log(h, CX_LOG_ERROR, "cannot create %s: %s", h->data_dir,
		    strerror(errno));
		sbx_fini(st);
		return (CX_EIO);
	}
	cx_err rv = sbx_journal_open(h->data_dir, sbx_now_ms(),
	    st->cfg.journal_max_age, &st->j, why, sizeof(why));
	if (rv != CX_OK) {
		h->log(h, CX_LOG_ERROR, "%s", why);
		sbx_fini(st);
		return (rv);
	}
	if (why[0] != '\0') {
		h->log(h, CX_LOG_WARN, "%s", why);
	}
	if ((rv = sbx_sim_new(h, st->j, &st->cfg, &st->sim)) != CX_OK ||
	    (rv = h->serve(h, sbx_serve, st)) != CX_OK) {
		sbx_fini(st);
		return (rv);
	}
	h->log(h, CX_LOG_INFO, "simulated telephony: seed %lld, speed x%d, "
	    "%zu calls in the journal", (long long) st->cfg.seed,
	    st->cfg.speed, sbx_journal_count(st->j));
	return (CX_OK);
}

static cx_err
sbx_start(void *state)
{
	sbx_state *st = state;
	sbx_sim_recover(st->sim);
	return (sbx_sim_start(st->sim));
}

static void
sbx_stop(void *state)
{
	sbx_state *st = state;
	sbx_sim_stop(st->sim);
}

static cx_err
sbx_reconfigure(void *state, const json_t *s)
{
	sbx_state *st = state;
	sbx_config cfg;
	char why[256];
	if (!sbx_config_parse(s, &cfg, why, sizeof(why))) {
		st->h->log(st->h, CX_LOG_ERROR, "%s", why);
		return (CX_ECONFIG);
	}
	pthread_mutex_lock(&st->mu);
	/* Not reloadable, so unchanged here; keep the running values. */
	cfg.workers = st->cfg.workers;
	cfg.journal_max_age = st->cfg.journal_max_age;
	st->cfg = cfg;
	pthread_mutex_unlock(&st->mu);
	sbx_sim_config(st->sim, &cfg);
	return (CX_OK);
}

CX_PLUGIN_DEFINE(.kind = CX_KIND_TELEPHONY, .name = "sandbox",
    .version = "1.0.0",
    .summary = "Simulated telephony provider: seeded outcomes, timelines, "
               "transcripts and WAV recordings through the provider contract",
    .settings = sbx_settings, .state_size = sizeof(sbx_state),
    .validate = sbx_validate, .init = sbx_init, .start = sbx_start,
    .reconfigure = sbx_reconfigure, .stop = sbx_stop, .fini = sbx_fini);
