/*
 * bus_broker.c - the broker side of the bus, owned by callixod.
 *
 * Events: clients PUSH into our PULL; one aio chain forwards every message
 * unchanged to our PUB. The chain never runs plugin code, so it may live
 * on nng's task threads. PUB drops for slow subscribers by design (see
 * callixo/bus.h): events are best effort.
 *
 * Policy: one SURVEYOR socket; every survey opens its own context, so
 * several surveys (from several HTTP threads) run at once, each with its
 * own deadline. nng discards answers that arrive after the deadline.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/survey0/survey.h>

#include "bus.h"
#include "bus_int.h"

#define BUS_NS_MAX 64
/* Per-subscriber queue in the PUB socket: bursts up to this size reach a
 * subscriber that is briefly busy instead of being dropped. */
#define BUS_PUB_SENDBUF 1024

struct cxi_bus {
	char ns[BUS_NS_MAX];
	char *ipc_dir;
	nng_socket pull;
	nng_socket pub;
	nng_socket surv;
	nng_aio *fwd;
	atomic_uint_fast64_t events_in;
	atomic_uint_fast64_t events_out;
	atomic_uint_fast64_t surveys;
	atomic_uint_fast64_t survey_denies;
	atomic_uint_fast64_t survey_timeouts;
	/* Respondent pipes now connected: a survey every one of them has
	 * answered can end before its deadline. */
	atomic_int respondents;
};

static void
bus_forward_cb(void *arg)
{
	cxi_bus *b = arg;
	nng_msg *m;
	int rv;

	if ((rv = nng_aio_result(b->fwd)) != 0) {
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
			return;
		}
		/* A transient failure (memory) must not stop the bus. */
		nng_recv_aio(b->pull, b->fwd);
		return;
	}
	m = nng_aio_get_msg(b->fwd);
	nng_aio_set_msg(b->fwd, NULL);
	atomic_fetch_add(&b->events_in, 1);
	if (nng_sendmsg(b->pub, m, NNG_FLAG_NONBLOCK) == 0) {
		atomic_fetch_add(&b->events_out, 1);
	} else {
		nng_msg_free(m);
	}
	nng_recv_aio(b->pull, b->fwd);
}

static void
bus_surv_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	cxi_bus *b = arg;

	(void) p;
	if (ev == NNG_PIPE_EV_ADD_POST) {
		atomic_fetch_add(&b->respondents, 1);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		atomic_fetch_sub(&b->respondents, 1);
	}
}

/* Listens on inproc and, with an ipc directory, on ipc as well. */
static int
bus_listen_both(cxi_bus *b, nng_socket s, const char *name)
{
	char url[512];
	int rv;

	if (cxi_bus_url_inproc(url, sizeof(url), b->ns, name) != 0) {
		return (NNG_EINVAL);
	}
	if ((rv = cxi_bus_listen(s, url)) != 0) {
		return (rv);
	}
	if (b->ipc_dir != NULL) {
		if (cxi_bus_url_ipc(url, sizeof(url), b->ipc_dir, name) != 0) {
			return (NNG_EINVAL);
		}
		if ((rv = cxi_bus_listen(s, url)) != 0) {
			return (rv);
		}
	}
	return (0);
}

static int
bus_open_sockets(cxi_bus *b)
{
	int rv;

	if ((rv = nng_pull0_open(&b->pull)) != 0 ||
	    (rv = nng_pub0_open(&b->pub)) != 0 ||
	    (rv = nng_surveyor0_open(&b->surv)) != 0) {
		return (rv);
	}
	if ((rv = nng_socket_set_int(b->pub, NNG_OPT_SENDBUF,
	         BUS_PUB_SENDBUF)) != 0 ||
	    (rv = nng_pipe_notify(b->surv, NNG_PIPE_EV_ADD_POST,
	         bus_surv_pipe_cb, b)) != 0 ||
	    (rv = nng_pipe_notify(b->surv, NNG_PIPE_EV_REM_POST,
	         bus_surv_pipe_cb, b)) != 0) {
		return (rv);
	}
	/* Subscribers and respondents first: a publisher that connects
	 * early must find somewhere to deliver. */
	if ((rv = bus_listen_both(b, b->pub, "events")) != 0 ||
	    (rv = bus_listen_both(b, b->surv, "policy")) != 0 ||
	    (rv = bus_listen_both(b, b->pull, "publish")) != 0) {
		return (rv);
	}
	if ((rv = nng_aio_alloc(&b->fwd, bus_forward_cb, b)) != 0) {
		return (rv);
	}
	nng_recv_aio(b->pull, b->fwd);
	return (0);
}

int
cxi_bus_open(cxi_bus **out, const char *ns, const char *ipc_dir)
{
	cxi_bus *b;
	int rv;

	if (out == NULL) {
		return (CX_EINVAL);
	}
	*out = NULL;
	if (ns == NULL) {
		ns = "";
	}
	if (strlen(ns) >= BUS_NS_MAX ||
	    (ns[0] != '\0' && !cxi_bus_name_ok(ns))) {
		return (CX_EINVAL);
	}
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		return (CX_ENOMEM);
	}
	snprintf(b->ns, sizeof(b->ns), "%s", ns);
	if (ipc_dir != NULL && (b->ipc_dir = strdup(ipc_dir)) == NULL) {
		free(b);
		return (CX_ENOMEM);
	}
	b->pull = (nng_socket) NNG_SOCKET_INITIALIZER;
	b->pub = (nng_socket) NNG_SOCKET_INITIALIZER;
	b->surv = (nng_socket) NNG_SOCKET_INITIALIZER;
	if ((rv = bus_open_sockets(b)) != 0) {
		cxi_bus_close(b);
		return (cxi_bus_err(rv));
	}
	*out = b;
	return (CX_OK);
}

void
cxi_bus_close(cxi_bus *b)
{
	if (b == NULL) {
		return;
	}
	/* Stop the forwarder before its sockets go away; nng_aio_stop also
	 * waits for a callback already running. */
	if (b->fwd != NULL) {
		nng_aio_stop(b->fwd);
	}
	if (nng_socket_id(b->pull) > 0) {
		nng_close(b->pull);
	}
	if (nng_socket_id(b->pub) > 0) {
		nng_close(b->pub);
	}
	if (nng_socket_id(b->surv) > 0) {
		nng_close(b->surv);
	}
	if (b->fwd != NULL) {
		nng_aio_free(b->fwd);
	}
	free(b->ipc_dir);
	free(b);
}

const char *
cxi_bus_ns(const cxi_bus *b)
{
	return (b->ns);
}

const char *
cxi_bus_ipc_dir(const cxi_bus *b)
{
	return (b->ipc_dir);
}

void
cxi_bus_stats_get(cxi_bus *b, cxi_bus_stats *out)
{
	out->events_in = atomic_load(&b->events_in);
	out->events_out = atomic_load(&b->events_out);
	out->surveys = atomic_load(&b->surveys);
	out->survey_denies = atomic_load(&b->survey_denies);
	out->survey_timeouts = atomic_load(&b->survey_timeouts);
	out->respondents = (uint32_t) atomic_load(&b->respondents);
}

/* One collected survey: which required modules answered, and the first
 * deny (deny wins, so later answers cannot change the outcome). */
typedef struct bus_tally {
	const char *const *required;
	size_t n_required;
	bool *answered;
	bool denied;
	char *reason;
	size_t reason_len;
} bus_tally;

/* Returns 1 when env is a well-formed answer to qtype. */
static int
bus_tally_answer(bus_tally *t, const char *qtype, const json_t *env)
{
	const char *type, *plugin, *verdict, *why;
	const json_t *data;
	size_t ql = strlen(qtype);

	type = json_string_value(json_object_get(env, "type"));
	data = json_object_get(env, "data");
	plugin = json_string_value(json_object_get(data, "plugin"));
	verdict = json_string_value(json_object_get(data, "verdict"));
	why = json_string_value(json_object_get(data, "reason"));
	/* An answer to another question, or one we cannot read, is no
	 * answer at all; a required module then counts as silent. */
	if (type == NULL || strncmp(type, qtype, ql) != 0 ||
	    strcmp(type + ql, CXI_BUS_ANSWER_SUFFIX) != 0 || plugin == NULL ||
	    verdict == NULL) {
		return (0);
	}
	if (strcmp(verdict, "deny") == 0) {
		if (!t->denied && t->reason != NULL) {
			snprintf(t->reason, t->reason_len,
			    "policy %s denied: %s", plugin, why != NULL ? why : "no reason given");
		}
		t->denied = true;
	} else if (strcmp(verdict, "allow") != 0 &&
	    strcmp(verdict, "abstain") != 0) {
		return (0);
	}
	for (size_t i = 0; i < t->n_required; i++) {
		if (strcmp(t->required[i], plugin) == 0) {
			t->answered[i] = true;
		}
	}
	return (1);
}

/* Sends the question and collects answers until the deadline, or until
 * every respondent connected at send time has replied. Returns how many
 * well-formed answers came, or -1 if the question could not be asked.
 * A respondent that connects in the instant between our count and the
 * send may be missed, exactly as if it had connected after the send. */
static int
bus_survey_run(cxi_bus *b, const char *type, json_t *env, int deadline_ms,
    bus_tally *t)
{
	int64_t deadline = cxi_bus_now_ms() + deadline_ms;
	nng_ctx ctx = NNG_CTX_INITIALIZER;
	nng_aio *aio;
	nng_msg *m;
	char *buf;
	size_t len;
	int rv, peers, replies = 0, answers = 0;

	if (cxi_env_encode(env, &buf, &len) != 0) {
		return (-1);
	}
	if ((rv = nng_msg_alloc(&m, 0)) != 0) {
		free(buf);
		return (-1);
	}
	rv = nng_msg_append(m, buf, len);
	free(buf);
	if (rv != 0) {
		nng_msg_free(m);
		return (-1);
	}
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		nng_msg_free(m);
		return (-1);
	}
	if ((rv = nng_ctx_open(&ctx, b->surv)) != 0 ||
	    (rv = nng_ctx_set_ms(ctx, NNG_OPT_SURVEYOR_SURVEYTIME,
	         deadline_ms)) != 0) {
		if (rv != 0 && nng_ctx_id(ctx) > 0) {
			nng_ctx_close(ctx);
		}
		nng_msg_free(m);
		nng_aio_free(aio);
		return (-1);
	}
	peers = atomic_load(&b->respondents);
	if (cxi_bus_ctx_sendmsg(ctx, aio, m) != 0) {
		nng_ctx_close(ctx);
		nng_aio_free(aio);
		return (-1);
	}
	while (replies < peers) {
		int64_t left = deadline - cxi_bus_now_ms();
		json_t *ans;

		/* The survey timer ends this with NNG_ETIMEDOUT; our own
		 * timeout is only a backstop. */
		nng_aio_set_timeout(aio,
		    (nng_duration) (left > 0 ? left : 0) + 50);
		if (cxi_bus_ctx_recvmsg(ctx, aio, &m) != 0) {
			break;
		}
		replies++;
		ans = cxi_env_decode(nng_msg_body(m), nng_msg_len(m), NULL, 0);
		nng_msg_free(m);
		if (ans == NULL) {
			continue;
		}
		answers += bus_tally_answer(t, type, ans);
		json_decref(ans);
	}
	nng_ctx_close(ctx);
	nng_aio_free(aio);
	return (answers);
}

cx_verdict
cxi_bus_survey(cxi_bus *b, const char *type, const char *account,
    json_t *data, int deadline_ms, const char *const *required,
    size_t n_required, size_t *n_answers, char *reason, size_t reason_len)
{
	bus_tally t;
	json_t *env;
	int got;

	if (n_answers != NULL) {
		*n_answers = 0;
	}
	if (reason != NULL && reason_len > 0) {
		reason[0] = '\0';
	}
	atomic_fetch_add(&b->surveys, 1);
	memset(&t, 0, sizeof(t));
	/* The answer type "<type>.answer" must fit the envelope limit too. */
	if (type != NULL && strlen(type) + strlen(CXI_BUS_ANSWER_SUFFIX) >
	        CXI_ENV_TYPE_MAX) {
		deadline_ms = 0;
	}
	t.required = required;
	t.n_required = required != NULL ? n_required : 0;
	t.reason = reason_len > 0 ? reason : NULL;
	t.reason_len = reason_len;
	/* Any failure to ask counts as deny: silence is never consent. The
	 * question owns data from here on, like cxi_env_new. */
	if (deadline_ms <= 0 ||
	    (t.n_required > 0 &&
	        (t.answered = calloc(t.n_required, sizeof(bool))) == NULL)) {
		json_decref(data);
		env = NULL;
	} else {
		env = cxi_env_new(type, account, data);
	}
	if (env == NULL) {
		free(t.answered);
		if (t.reason != NULL) {
			snprintf(reason, reason_len,
			    "policy question %s could not be asked",
			    type != NULL ? type : "(null)");
		}
		atomic_fetch_add(&b->survey_denies, 1);
		return (CX_POLICY_DENY);
	}
	got = bus_survey_run(b, type, env, deadline_ms, &t);
	json_decref(env);
	if (got < 0) {
		free(t.answered);
		if (t.reason != NULL) {
			snprintf(reason, reason_len,
			    "policy question %s could not be sent", type);
		}
		atomic_fetch_add(&b->survey_denies, 1);
		return (CX_POLICY_DENY);
	}
	if (n_answers != NULL) {
		*n_answers = (size_t) got;
	}
	for (size_t i = 0; i < t.n_required; i++) {
		if (t.answered[i]) {
			continue;
		}
		atomic_fetch_add(&b->survey_timeouts, 1);
		if (!t.denied && t.reason != NULL) {
			snprintf(reason, reason_len,
			    "policy %s did not answer within %d ms",
			    required[i], deadline_ms);
		}
		t.denied = true;
	}
	free(t.answered);
	if (t.denied) {
		atomic_fetch_add(&b->survey_denies, 1);
		return (CX_POLICY_DENY);
	}
	return (CX_POLICY_ALLOW);
}
