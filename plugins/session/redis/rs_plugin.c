/*
 * redis - the Redis session store (hiredis, pooled,
 * reconnecting). See rs.h for the files and the key layout.
 *
 * init dials once. If Redis cannot be reached, init fails with CX_EIO
 * and one error line naming host:port (or the socket) and the reason:
 * every cookie-authenticated request depends on the store, so starting
 * "up" without ever having seen it would only move the failure to the
 * first login. Once running, an outage is survived instead: operations
 * fail with CX_ECLOSED and the pool reconnects with backoff.
 *
 * The URL is a secret (it may carry a password): it is never logged.
 * Logs name the server as host:port and database only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs.h"

static const cx_setting rs_settings[] = {
    CX_SETTING_SECRET("url", CX_SET_REQUIRED,
        "redis://[[user]:password@]host[:port][/db] or "
        "unix://[[user]:password@]/path.sock[?db=N], typically "
        "${CALLIXO_REDIS_URL}; never logged"),
    CX_SETTING_INT("pool_size", 0, "4", 1, 256,
        "Connections kept open at most (opened on demand)"),
    CX_SETTING_DURATION("timeout", 0, "2s", 10, 60000,
        "Limit for one connect, one command, and the wait for a free "
        "connection"),
    CX_SETTING_STR("key_prefix", 0, "cx:",
        "Prefix of every key, so several deployments can share a server"),
    CX_SETTINGS_END,
};

static cx_err
rs_validate(const json_t *s, char *err, size_t errlen)
{
	const char *url = json_string_value(json_object_get(s, "url"));
	rs_url u;
	if (url == NULL || url[0] == '\0') {
		snprintf(err, errlen, "'url' is empty");
		return (CX_EINVAL);
	}
	if (!rs_url_parse(url, &u, err, errlen)) {
		explicit_bzero(&u, sizeof(u));
		return (CX_EINVAL);
	}
	explicit_bzero(&u, sizeof(u));
	const char *p = json_string_value(json_object_get(s, "key_prefix"));
	/* The prefix plus the longest key part must fit the key buffers. */
	if (p == NULL || strlen(p) > 48 || strpbrk(p, " \r\n") != NULL) {
		snprintf(err, errlen, "'key_prefix' must be at most 48 "
		    "characters without spaces");
		return (CX_EINVAL);
	}
	return (CX_OK);
}

static void
rs_fini(void *state)
{
	rs_state *st = state;
	rs_pool_fini(st);
	explicit_bzero(&st->url, sizeof(st->url));
}

static cx_err
rs_init(void *state, const cx_host *h, const json_t *s)
{
	rs_state *st = state;
	char why[300];
	st->host = h;
	if (rs_validate(s, why, sizeof(why)) != CX_OK) {
		h->log(h, CX_LOG_ERROR, "%s", why);
		return (CX_ECONFIG);
	}
	if (!rs_url_parse(json_string_value(json_object_get(s, "url")),
	    &st->url, why, sizeof(why))) {
		h->log(h, CX_LOG_ERROR, "%s", why);
		return (CX_ECONFIG);
	}
	st->pool_size = (int) json_integer_value(json_object_get(s,
	    "pool_size"));
	st->timeout_ms = json_integer_value(json_object_get(s, "timeout"));
	snprintf(st->prefix, sizeof(st->prefix), "%s",
	    json_string_value(json_object_get(s, "key_prefix")));
	rs_url_describe(&st->url, st->where, sizeof(st->where));
	cx_err rv = rs_pool_init(st);
	if (rv != CX_OK) {
		rs_fini(st);
		return (rv);
	}
	if (rs_connect(st, &st->slots[0], why, sizeof(why)) != CX_OK) {
		h->log(h, CX_LOG_ERROR, "%s", why);
		rs_fini(st);
		return (CX_EIO);
	}
	/* The server's version, for the startup line: a failure here is
	 * not fatal, the connection proved itself already. */
	char ver[32] = "?";
	redisReply *r = redisCommand(st->slots[0].c, "INFO server");
	if (r != NULL && r->type == REDIS_REPLY_STRING) {
		const char *v = strstr(r->str, "redis_version:");
		if (v != NULL) {
			sscanf(v + 14, "%31[^\r\n]", ver);
		}
	}
	if (r != NULL) {
		freeReplyObject(r);
	} else {
		redisFree(st->slots[0].c);
		st->slots[0].c = NULL;
	}
	h->log(h, CX_LOG_INFO, "connected to Redis %s at %s%s; pool_size=%d, "
	    "key_prefix=%s", ver, st->where, st->url.password[0] != '\0' ?
	    " (authenticated)" : "", st->pool_size, st->prefix);
	st->ready = true;
	return (CX_OK);
}

CX_PLUGIN_DEFINE(.kind = CX_KIND_SESSION, .name = "redis",
    .version = "1.0.0",
    .summary = "Redis session store (hiredis, pooled, reconnecting)",
    .settings = rs_settings, .state_size = sizeof(rs_state),
    .validate = rs_validate, .init = rs_init, .fini = rs_fini,
    .kind_ops = &rs_session_ops);
