/*
 * admin_client.c - callixoctl's side of the admin socket.
 */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

/* Validates the shape of a reply so callers can trust "ok" and
 * "result"/"error" without checking again. */
static int
check_reply(const json_t *r)
{
	if (!json_is_object(r)) {
		return (-1);
	}
	json_t *ok = json_object_get(r, "ok");
	if (json_is_true(ok)) {
		return (json_object_get(r, "result") != NULL ? 0 : -1);
	}
	if (json_is_false(ok)) {
		return (json_is_string(json_object_get(r, "error")) ? 0 : -1);
	}
	return (-1);
}

int
cxi_admin_request(const char *socket_path, const char *cmd, json_t *args,
    int timeout_ms, json_t **reply, char *why, size_t whylen)
{
	*reply = NULL;
	struct stat st;
	if (stat(socket_path, &st) != 0) {
		snprintf(why, whylen, "callixod is not running (no admin "
		    "socket at %s)", socket_path);
		return (CXI_ADMIN_NOT_RUNNING);
	}

	json_t *req = json_pack("{s:s}", "cmd", cmd);
	if (req == NULL || (args != NULL &&
	    json_object_set(req, "args", args) != 0)) {
		json_decref(req);
		snprintf(why, whylen, "out of memory");
		return (-1);
	}
	char *text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	char *url = NULL;
	if (text == NULL || asprintf(&url, "ipc://%s", socket_path) < 0) {
		free(text);
		snprintf(why, whylen, "out of memory");
		return (-1);
	}

	int ret = -1;
	nng_socket s;
	int rv = nng_req0_open(&s);
	if (rv != 0) {
		snprintf(why, whylen, "cannot open a socket: %s",
		    nng_strerror(rv));
		free(url);
		free(text);
		return (-1);
	}
	/* The REQ protocol would resend after its resend time; a resent
	 * "reload" is not harmless, so one send is all we ever do. */
	if ((rv = nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME,
	    NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms)) != 0) {
		snprintf(why, whylen, "socket options: %s", nng_strerror(rv));
		goto out;
	}
	/* Synchronous dial: a refused connection is reported now rather
	 * than retried in the background until the receive times out. */
	rv = nng_dial(s, url, NULL, 0);
	if (rv == NNG_ECONNREFUSED || rv == NNG_ENOENT) {
		snprintf(why, whylen, "callixod is not running (no admin "
		    "socket at %s)", socket_path);
		ret = CXI_ADMIN_NOT_RUNNING;
		goto out;
	}
	if (rv != 0) {
		snprintf(why, whylen, "cannot connect to callixod at %s: %s",
		    socket_path, nng_strerror(rv));
		goto out;
	}
	rv = nng_send(s, text, strlen(text), 0);
	if (rv == 0) {
		char *buf = NULL;
		size_t len = 0;
		rv = nng_recv(s, &buf, &len, NNG_FLAG_ALLOC);
		if (rv == 0) {
			json_error_t jerr;
			json_t *r = json_loadb(buf, len, 0, &jerr);
			nng_free(buf, len);
			if (r == NULL || check_reply(r) != 0) {
				json_decref(r);
				snprintf(why, whylen, "malformed reply from "
				    "callixod");
				goto out;
			}
			*reply = r;
			ret = 0;
			goto out;
		}
	}
	if (rv == NNG_ETIMEDOUT) {
		if (timeout_ms % 1000 == 0) {
			snprintf(why, whylen, "no answer from callixod within "
			    "%d s", timeout_ms / 1000);
		} else {
			snprintf(why, whylen, "no answer from callixod within "
			    "%.1f s", timeout_ms / 1000.0);
		}
	} else {
		snprintf(why, whylen, "talking to callixod: %s",
		    nng_strerror(rv));
	}
out:
	nng_close(s);
	free(url);
	free(text);
	return (ret);
}
