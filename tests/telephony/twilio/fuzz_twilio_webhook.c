/*
 * fuzz_twilio_webhook.c - what an unauthenticated caller controls in a
 * Twilio webhook: the query string, the form body and the signature
 * header. Input layout: "<query>\n<signature>\n<body>". Whatever the
 * parser accepts must round-trip through the signature check and the
 * event builder without crashing, and a body signed by us must verify.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "twilio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input is not NUL-terminated: copy exactly n bytes. */
static char *
copy_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return (d);
}

static const char *
take_line(const char **p, const char *end, size_t *len)
{
	const char *s = *p;
	const char *nl = memchr(s, '\n', (size_t) (end - s));
	*len = nl ? (size_t) (nl - s) : (size_t) (end - s);
	*p = nl ? nl + 1 : end;
	return (s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *) data, *end = p + size;
	size_t ql, sl;
	const char *q = take_line(&p, end, &ql);
	const char *sig = take_line(&p, end, &sl);
	char *qs = copy_n(q, ql), *ss = copy_n(sig, sl);
	twilio_form query = {0}, body = {0};
	char err[160];
	if (qs == NULL || ss == NULL) {
		goto out;
	}
	bool qok = twilio_form_parse(qs, ql, &query, err, sizeof(err));
	bool bok = twilio_form_parse(p, (size_t) (end - p), &body, err,
	    sizeof(err));
	if (!qok || !bok) {
		goto out;
	}
	char *url = NULL;
	if (asprintf(&url, "https://hooks.example.com:8443/webhooks/twilio/"
	                   "status?%s", qs) < 0) {
		goto out;
	}
	char good[TWILIO_SIG_LEN];
	if (twilio_sig_compute("token", url, &body, good) &&
	    !twilio_sig_verify("token", url, &body, good)) {
		abort();
	}
	(void) twilio_sig_verify("token", url, &body, ss);
	free(url);
	for (int rec = 0; rec < 2; rec++) {
		json_t *ev = NULL;
		twilio_ev_kind k = twilio_event_build(&body, rec == 1, "twilio",
		    twilio_form_get(&query, "cx_call"),
		    twilio_form_get(&query, "ab"), &ev, err, sizeof(err));
		if ((k == TWILIO_EV_STATUS || k == TWILIO_EV_RECORDING) !=
		    (ev != NULL)) {
			abort();
		}
		char *dump = ev ? json_dumps(ev, 0) : NULL;
		if (ev != NULL && dump == NULL) {
			abort();
		}
		free(dump);
		json_decref(ev);
	}
out:
	twilio_form_free(&query);
	twilio_form_free(&body);
	free(qs);
	free(ss);
	return (0);
}
