/*
 * eventlog - appends every bus event it subscribes to as one JSON line.
 *
 * Operators use it to see what flows on the bus (and to keep a local
 * trail of platform events). The file lives in the plugin's data
 * directory and rotates to <file>.1 when it passes max_bytes, so it never
 * fills the disk. Secrets never travel in events, so none are written.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <callixo/callixo.h>

typedef struct eventlog {
	const cx_host *host;
	pthread_mutex_t mu;
	char path[4096];
	int fd;
	off_t size;
	int64_t max_bytes;
	int fsync;
	uint64_t written;
	uint64_t failed;
} eventlog;

static const cx_setting eventlog_settings[] = {
    CX_SETTING_STR("file", 0, "events.jsonl",
        "File name, inside the plugin's data directory"),
    CX_SETTING_LIST("topics", 0,
        "Event types to record; \"call.*\" matches a prefix, \"*\" (the "
        "default) everything"),
    CX_SETTING_INT("max_bytes", CX_SET_RELOADABLE, "10485760", 4096,
        INT64_MAX, "Rotate to <file>.1 when the file grows past this"),
    CX_SETTING_BOOL("fsync", CX_SET_RELOADABLE, "false",
        "fsync after every line (durable, slower)"),
    CX_SETTINGS_END,
};

static cx_err
open_log(eventlog *el)
{
	el->fd = open(el->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (el->fd < 0) {
		el->host->log(el->host, CX_LOG_ERROR, "cannot open %s: %s",
		    el->path, strerror(errno));
		return (CX_EIO);
	}
	struct stat st;
	el->size = fstat(el->fd, &st) == 0 ? st.st_size : 0;
	return (CX_OK);
}

/* Called with el->mu held. */
static void
rotate(eventlog *el)
{
	char old[4200];
	snprintf(old, sizeof(old), "%s.1", el->path);
	close(el->fd);
	el->fd = -1;
	if (rename(el->path, old) != 0) {
		el->host->log(el->host, CX_LOG_WARN, "cannot rotate %s: %s",
		    el->path, strerror(errno));
	}
	open_log(el);
}

static void
on_event(void *arg, const cx_msg *ev)
{
	eventlog *el = arg;
	json_t *line = json_pack("{s:s, s:s, s:I, s:s?, s:O}", "type", ev->type,
	    "id", ev->id, "time_ms", (json_int_t) ev->time_ms, "account",
	    ev->account, "data", ev->data);
	char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	json_decref(line);
	if (text == NULL) {
		return;
	}
	size_t len = strlen(text);
	text[len] = '\n';
	pthread_mutex_lock(&el->mu);
	if (el->fd >= 0 && el->size + (off_t) len + 1 > el->max_bytes) {
		rotate(el);
	}
	ssize_t n = el->fd >= 0 ? write(el->fd, text, len + 1) : -1;
	if (n == (ssize_t) len + 1) {
		el->size += n;
		el->written++;
		if (el->fsync) {
			fdatasync(el->fd);
		}
	} else {
		el->failed++;
	}
	pthread_mutex_unlock(&el->mu);
	free(text);
	el->host->metric_add(el->host, n > 0 ? "eventlog_lines_total" :
	                                       "eventlog_write_errors_total", 1);
}

/* "eventlog.stats" tells how many lines were written: useful for checks. */
static cx_err
on_request(void *arg, const cx_msg *req, json_t **reply)
{
	eventlog *el = arg;
	if (strcmp(req->type, "eventlog.stats") != 0) {
		*reply = json_pack("{s:s}", "message", "unknown request type");
		return (CX_ENOENT);
	}
	pthread_mutex_lock(&el->mu);
	*reply = json_pack("{s:I, s:I, s:s}", "written",
	    (json_int_t) el->written, "failed", (json_int_t) el->failed, "file",
	    el->path);
	pthread_mutex_unlock(&el->mu);
	return (*reply ? CX_OK : CX_ENOMEM);
}

static void
apply(eventlog *el, const json_t *s)
{
	el->max_bytes = json_integer_value(json_object_get(s, "max_bytes"));
	el->fsync = json_is_true(json_object_get(s, "fsync"));
}

static cx_err
eventlog_validate(const json_t *s, char *err, size_t errlen)
{
	const char *file = json_string_value(json_object_get(s, "file"));
	if (file == NULL || file[0] == '\0' || strchr(file, '/') != NULL ||
	    strcmp(file, "..") == 0 || strcmp(file, ".") == 0) {
		snprintf(err, errlen, "'file' must be a plain file name, not a "
		                      "path");
		return (CX_EINVAL);
	}
	return (CX_OK);
}

static cx_err
eventlog_init(void *state, const cx_host *h, const json_t *s)
{
	eventlog *el = state;
	el->host = h;
	el->fd = -1;
	pthread_mutex_init(&el->mu, NULL);
	snprintf(el->path, sizeof(el->path), "%s/%s", h->data_dir,
	    json_string_value(json_object_get(s, "file")));
	apply(el, s);
	cx_err rv = open_log(el);
	if (rv != CX_OK) {
		pthread_mutex_destroy(&el->mu);
		return (rv);
	}
	const json_t *topics = json_object_get(s, "topics");
	size_t i;
	json_t *t;
	if (json_array_size(topics) == 0) {
		rv = h->subscribe(h, "*", on_event, el);
	}
	json_array_foreach ((json_t *) topics, i, t) {
		if (rv == CX_OK) {
			rv = h->subscribe(h, json_string_value(t), on_event, el);
		}
	}
	if (rv == CX_OK) {
		rv = h->serve(h, on_request, el);
	}
	if (rv != CX_OK) {
		close(el->fd);
		pthread_mutex_destroy(&el->mu);
		return (rv);
	}
	h->log(h, CX_LOG_INFO, "recording events to %s", el->path);
	return (CX_OK);
}

static cx_err
eventlog_reconfigure(void *state, const json_t *s)
{
	eventlog *el = state;
	pthread_mutex_lock(&el->mu);
	apply(el, s);
	pthread_mutex_unlock(&el->mu);
	return (CX_OK);
}

static void
eventlog_fini(void *state)
{
	eventlog *el = state;
	if (el->fd >= 0) {
		close(el->fd);
	}
	pthread_mutex_destroy(&el->mu);
}

CX_PLUGIN_DEFINE(.kind = CX_KIND_GENERIC, .name = "eventlog",
    .version = "1.0.0",
    .summary = "Appends bus events to a rotating JSON-lines file",
    .settings = eventlog_settings, .state_size = sizeof(eventlog),
    .validate = eventlog_validate, .init = eventlog_init,
    .reconfigure = eventlog_reconfigure, .fini = eventlog_fini);
