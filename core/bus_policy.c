/*
 * bus_policy.c - answering the broker's policy surveys.
 *
 * A policy client dials the broker's SURVEYOR with a RESPONDENT socket
 * and answers each question with an envelope of type "<question>.answer"
 * whose data is {"plugin":name,"verdict":"allow|deny|abstain",
 * "reason":string|null}. CXI_BUS_POLICY_WORKERS contexts, each on its own
 * thread, answer concurrently: a slow answer holds up only itself.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nng/nng.h>
#include <nng/protocol/survey0/respond.h>

#include "bus.h"
#include "bus_int.h"

static const char *
bus_verdict_name(cx_verdict v)
{
	switch (v) {
	case CX_POLICY_ALLOW:
		return ("allow");
	case CX_POLICY_DENY:
		return ("deny");
	default:
		return ("abstain");
	}
}

static json_t *
bus_pol_answer(cxi_bus_client *c, nng_msg *m)
{
	char atype[CXI_ENV_TYPE_MAX + 1];
	const char *why = NULL;
	json_t *q, *env = NULL;
	cx_verdict v;
	cx_msg view;

	q = cxi_env_decode(nng_msg_body(m), nng_msg_len(m), NULL, 0);
	if (q == NULL || cxi_env_view(q, &view) != 0 ||
	    snprintf(atype, sizeof(atype), "%s%s", view.type,
	        CXI_BUS_ANSWER_SUFFIX) >= (int) sizeof(atype)) {
		/* No answer: the surveyor counts us as silent. */
		json_decref(q);
		return (NULL);
	}
	v = c->pol_fn(c->pol_arg, &view, &why);
	env = cxi_env_new(atype, view.account,
	    json_pack("{s:s, s:s, s:s?}", "plugin", c->name, "verdict",
	        bus_verdict_name(v), "reason", why));
	json_decref(q);
	return (env);
}

static void
bus_pol_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	cxi_bus_client *c = arg;

	(void) p;
	pthread_mutex_lock(&c->mtx);
	c->pol_pipes += ev == NNG_PIPE_EV_ADD_POST ? 1 : -1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mtx);
}

/* Waits for our end of the connection. The broker's end follows within
 * microseconds; cxi_bus_stats.respondents shows it from the core side. */
static cx_err
bus_pol_wait(cxi_bus_client *c)
{
	struct timespec ts;
	int ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += CXI_BUS_CONNECT_MS / 1000;
	pthread_mutex_lock(&c->mtx);
	while (c->pol_pipes == 0 &&
	    pthread_cond_timedwait(&c->cv, &c->mtx, &ts) == 0) {
	}
	ok = c->pol_pipes > 0;
	pthread_mutex_unlock(&c->mtx);
	return (ok ? CX_OK : CX_ETIMEDOUT);
}

cx_err
cxi_bus_answer_policy(cxi_bus_client *c, cx_policy_fn fn, void *arg)
{
	char url[512];
	int rv;
	cx_err e;

	if (c == NULL || fn == NULL) {
		return (CX_EINVAL);
	}
	if ((c->ipc_dir != NULL
	            ? cxi_bus_url_ipc(url, sizeof(url), c->ipc_dir, "policy")
	            : cxi_bus_url_inproc(url, sizeof(url), c->ns, "policy")) !=
	    0) {
		return (CX_EINVAL);
	}
	pthread_mutex_lock(&c->ctl);
	if (c->closing || c->pol_open) {
		pthread_mutex_unlock(&c->ctl);
		return (c->closing ? CX_ECLOSED : CX_EEXIST);
	}
	if ((rv = nng_respondent0_open(&c->resp)) != 0) {
		pthread_mutex_unlock(&c->ctl);
		return (cxi_bus_err(rv));
	}
	c->pol_fn = fn;
	c->pol_arg = arg;
	if ((rv = nng_pipe_notify(c->resp, NNG_PIPE_EV_ADD_POST,
	         bus_pol_pipe_cb, c)) != 0 ||
	    (rv = nng_pipe_notify(c->resp, NNG_PIPE_EV_REM_POST,
	         bus_pol_pipe_cb, c)) != 0 ||
	    (rv = cxi_bus_workers_start(c->pol_w, CXI_BUS_POLICY_WORKERS, c,
	         c->resp, bus_pol_answer)) != 0 ||
	    (rv = nng_dial(c->resp, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		cxi_bus_workers_join(c->pol_w, CXI_BUS_POLICY_WORKERS);
		nng_close(c->resp);
		pthread_mutex_unlock(&c->ctl);
		return (cxi_bus_err(rv));
	}
	if ((e = bus_pol_wait(c)) != CX_OK) {
		cxi_bus_workers_join(c->pol_w, CXI_BUS_POLICY_WORKERS);
		nng_close(c->resp);
		pthread_mutex_unlock(&c->ctl);
		return (e);
	}
	c->pol_open = 1;
	pthread_mutex_unlock(&c->ctl);
	return (CX_OK);
}

/* Called with ctl held. */
void
cxi_bus_pol_stop(cxi_bus_client *c)
{
	if (!c->pol_open) {
		return;
	}
	/* Workers first, socket second: see cxi_bus_workers_join. */
	cxi_bus_workers_join(c->pol_w, CXI_BUS_POLICY_WORKERS);
	nng_close(c->resp);
	pthread_mutex_lock(&c->mtx);
	c->pol_pipes = 0;
	pthread_mutex_unlock(&c->mtx);
	c->pol_open = 0;
}
