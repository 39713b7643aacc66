/*
 * testtr - a fake transcription plugin for the call events tests. It
 * answers transcription.transcribe from the plaintext copy the core
 * hands it, and notes what it saw (path, mode, size, first bytes) in
 * <data_dir>/seen.json so the test can check the copy was private and
 * is gone afterwards. Settings: fail_first (answer EIO that many
 * times first), refuse (always EINVAL).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <callixo/callixo.h>
#include <callixo/transcription.h>

typedef struct tr {
	const cx_host *h;
	int fail_first;
	bool refuse;
	int calls;
} tr;

static const cx_setting tr_settings[] = {
    CX_SETTING_INT("fail_first", 0, "0", 0, 100,
        "Answer EIO to this many requests before succeeding"),
    CX_SETTING_BOOL("refuse", 0, "false",
        "Refuse every recording (EINVAL), as a provider refusing audio"),
    CX_SETTINGS_END,
};

static cx_err
tr_serve(void *arg, const cx_msg *req, json_t **reply)
{
	tr *t = arg;
	if (strcmp(req->type, CX_SVC_TRANSCRIBE) != 0) {
		return (CX_ENOTSUP);
	}
	const char *path = json_string_value(json_object_get(req->data,
	    "path"));
	struct stat st;
	char head[5] = "";
	FILE *f = path != NULL ? fopen(path, "rb") : NULL;
	if (f == NULL || fstat(fileno(f), &st) != 0) {
		if (f != NULL) {
			fclose(f);
		}
		*reply = json_pack("{s:s}", "message", "no readable file");
		return (CX_EINVAL);
	}
	size_t n = fread(head, 1, 4, f);
	head[n] = '\0';
	fclose(f);
	char seen[1200];
	snprintf(seen, sizeof(seen), "%s/seen.json", t->h->data_dir);
	json_t *s = json_pack("{s:s, s:i, s:I, s:s, s:i}", "path", path,
	    "mode", (int) (st.st_mode & 0777), "size", (json_int_t) st.st_size,
	    "head", head, "calls", ++t->calls);
	json_dump_file(s, seen, 0);
	json_decref(s);
	if (t->refuse) {
		*reply = json_pack("{s:s}", "message", "unsupported audio");
		return (CX_EINVAL);
	}
	if (t->fail_first > 0) {
		t->fail_first--;
		*reply = json_pack("{s:s}", "message", "upstream 503");
		return (CX_EIO);
	}
	char text[64];
	snprintf(text, sizeof(text), "heard %lld bytes", (long long) st.st_size);
	*reply = json_pack("{s:{s:s, s:[{s:s, s:s, s:i, s:i}]}, s:s, s:s}",
	    "transcript", "text", text, "utterances", "speaker", "0", "text",
	    text, "start_ms", 0, "end_ms", 900, "summary", "a short call",
	    "request_id", "req-1");
	return (CX_OK);
}

static cx_err
tr_init(void *state, const cx_host *h, const json_t *s)
{
	tr *t = state;
	t->h = h;
	t->fail_first = (int) json_integer_value(json_object_get(s,
	    "fail_first"));
	t->refuse = json_is_true(json_object_get(s, "refuse"));
	return (h->serve(h, tr_serve, t));
}

CX_PLUGIN_DEFINE(.kind = CX_KIND_TRANSCRIPTION, .name = "testtr",
    .version = "0.0.1", .summary = "Test transcription plugin",
    .settings = tr_settings, .state_size = sizeof(tr), .init = tr_init);
