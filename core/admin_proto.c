/*
 * admin_proto.c - the admin protocol: strict request parsing, dispatch to
 * the daemon's handler, and the reply helpers. No sockets here, so the
 * fuzz target drives it directly.
 */
#include "admin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CX_VERSION
#error "CX_VERSION must be defined by the build"
#endif

const char *
cxi_admin_version(void)
{
	return (CX_VERSION);
}

json_t *
cxi_admin_ok(json_t *result)
{
	/* json_pack's "o" steals result even on failure; NULL stays null. */
	json_t *r = json_pack("{s:b,s:o}", "ok", 1, "result",
	    result != NULL ? result : json_null());
	return (r);
}

json_t *
cxi_admin_fail(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_t *msg = json_string(buf);
	if (msg == NULL) {
		/* Not UTF-8 (parser messages quote the offending input):
		 * mask the high bytes rather than lose the whole message. */
		for (char *p = buf; *p != '\0'; p++) {
			if ((unsigned char)*p >= 0x80) {
				*p = '?';
			}
		}
		msg = json_string(buf);
	}
	if (msg == NULL) {
		return (NULL);
	}
	return (json_pack("{s:b,s:o}", "ok", 0, "error", msg));
}

int
cxi_admin_parse_request(const void *buf, size_t len, json_t **req,
    const char **cmd, const json_t **args, char *why, size_t whylen)
{
	json_error_t jerr;
	*req = NULL;
	*cmd = NULL;
	*args = NULL;

	/* Duplicate keys would let two readers of the same request see
	 * different commands; reject them outright. */
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(why, whylen, "malformed request: %s (at byte %d)",
		    jerr.text, jerr.position);
		return (-1);
	}
	if (!json_is_object(root)) {
		snprintf(why, whylen,
		    "malformed request: expected a JSON object");
		goto fail;
	}
	const char *key;
	json_t *val;
	json_object_foreach(root, key, val) {
		if (strcmp(key, "cmd") != 0 && strcmp(key, "args") != 0) {
			snprintf(why, whylen,
			    "malformed request: unknown key \"%.64s\"", key);
			goto fail;
		}
	}
	json_t *c = json_object_get(root, "cmd");
	if (!json_is_string(c)) {
		snprintf(why, whylen, "malformed request: \"cmd\" must be a "
		    "string");
		goto fail;
	}
	/* Command names are plain identifiers; an embedded NUL (legal as
	 * \u0000 only with JSON_ALLOW_NUL, so impossible here) or an empty
	 * string can never name one. */
	if (json_string_length(c) == 0) {
		snprintf(why, whylen, "malformed request: \"cmd\" is empty");
		goto fail;
	}
	json_t *a = json_object_get(root, "args");
	if (a == NULL) {
		a = json_object();
		if (a == NULL || json_object_set_new(root, "args", a) != 0) {
			snprintf(why, whylen, "out of memory");
			goto fail;
		}
	} else if (!json_is_object(a)) {
		snprintf(why, whylen, "malformed request: \"args\" must be an "
		    "object");
		goto fail;
	}
	*req = root;
	*cmd = json_string_value(c);
	*args = a;
	return (0);
fail:
	json_decref(root);
	return (-1);
}

json_t *
cxi_admin_dispatch(const void *buf, size_t len, cxi_admin_fn fn, void *arg)
{
	char why[512];
	json_t *req;
	const char *cmd;
	const json_t *args;
	if (cxi_admin_parse_request(buf, len, &req, &cmd, &args, why,
	    sizeof(why)) != 0) {
		return (cxi_admin_fail("%s", why));
	}
	json_t *reply = fn(arg, cmd, args);
	json_decref(req);
	if (reply == NULL) {
		return (cxi_admin_fail("internal error: the command produced "
		    "no reply"));
	}
	return (reply);
}

/* Sends `reply` (consumed) on the REP socket. Errors are only possible
 * when the socket is closing or the client went away; either way there
 * is nobody left to tell. */
