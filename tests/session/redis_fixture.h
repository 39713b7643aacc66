/*
 * redis_fixture.h - loads the Redis session store through the real core
 * (loader, settings validation, host table on a real bus), plus a
 * direct hiredis connection to look at what the plugin wrote.
 */
#ifndef RT_FIXTURE_H
#define RT_FIXTURE_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include <callixo/callixo.h>
#include <callixo/session.h>

typedef struct rt_inst {
	const cx_plugin *desc;
	const cx_session_ops *ops;
	void *state;
	char name[32];
	struct rt_priv *priv;
} rt_inst;

/* Opens the bus (unique namespace) and remembers the plugin path. */
int rt_global_init(const char *plugin_so);
void rt_global_fini(void);

/* Validates `settings_yaml` as callixod would, then runs init and start.
 * On failure returns the error, with validation errors in why. */
cx_err rt_load(const char *settings_yaml, rt_inst **out, char *why,
    size_t whylen);
void rt_unload(rt_inst *in);

/* Settings for `url` with extra YAML lines appended. */
void rt_settings(char *buf, size_t len, const char *url, const char *extra);

/* Sends stderr (where the core logs) to a temp file until rt_capture_end,
 * which copies what was logged into log and echoes it to the real
 * stderr. */
int rt_capture_begin(void);
void rt_capture_end(int fd, char *log, size_t loglen);

/* A direct connection to the harness server (CALLIXO_REDIS_PORT). */
redisContext *rt_redis(void);
/* One command on it, as a formatted string; NULL on a connection
 * failure. */
redisReply *rt_cmd(redisContext *c, const char *fmt, ...);

#endif
