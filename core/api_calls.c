/*
 * api_calls.c - the calls API:
 *   GET /v1/calls                   list (cursor; campaign_id, lead_id,
 *                                   status, outcome filters)
 *   GET /v1/calls/{id}              one call with its artifacts
 *   GET /v1/calls/{id}/recording    the decrypted audio, with Range
 *
 * Only the owner sees a call; any other account gets 404, exactly as
 * for an id that does not exist (no probing). Staff reach the same
 * answers through api_staff.c, with an audit row first.
 *
 * nng's server sends a response whole, so a range request decrypts
 * from the start (chunks are authenticated in order) but keeps only the
 * requested bytes: memory is bounded by the range, not the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "callevents.h"
#include "calling.h"
#include "httprange.h"
#include "log.h"

#define CALLS_PATH "/v1/calls/"
#define QVAL_MAX 600
#define PAGE_MAX 100

/* The calling runtime, or 503 set. */
static cxi_calling *
calling(cxi_actx *c)
{
	cxi_calling *cl = atomic_load(&c->api->calling);
	if (cl == NULL) {
		cxi_api_error(c, 503, "unavailable", "calling is not running "
		    "right now");
	}
	return (cl);
}

static void
not_found(cxi_actx *c)
{
	cxi_api_error(c, 404, "not_found", "no such call");
}

/* ---- GET /v1/calls ---- */

static void
calls_list(cxi_actx *c)
{
	static const char *const filters[] = {"campaign_id", "lead_id",
	    "status", "outcome", NULL};
	char cursor[QVAL_MAX], val[QVAL_MAX], lim[16], why[256] = "";
	cxi_db db;
	if (!cxi_api_auth(c) || calling(c) == NULL) {
		return;
	}
	json_t *f = json_object();
	int r1 = cxi_api_qparam(c->req->query, "cursor", cursor,
	    sizeof(cursor));
	int r2 = cxi_api_qparam(c->req->query, "limit", lim, sizeof(lim));
	char *end = NULL;
	long limit = r2 == 1 ? strtol(lim, &end, 10) : 50;
	bool bad = f == NULL || r1 < 0 || r2 < 0 ||
	    (r2 == 1 && (*end != '\0' || limit < 1 || limit > PAGE_MAX));
	for (size_t i = 0; !bad && filters[i] != NULL; i++) {
		int r = cxi_api_qparam(c->req->query, filters[i], val,
		    sizeof(val));
		bad = r < 0 || strlen(val) > 64;
		if (r == 1 && !bad) {
			json_object_set_new(f, filters[i], json_string(val));
		}
	}
	if (bad) {
		json_decref(f);
		cxi_api_error(c, 400, "invalid_query", "cursor, limit "
		    "(1..%d) or a filter is malformed", PAGE_MAX);
		return;
	}
	if (!cxi_api_db(c, &db)) {
		json_decref(f);
		return;
	}
	json_t *page = NULL;
	cx_err rv = cxi_repo_list(&db, &cxi_ent_call, c->sess.account, f,
	    r1 == 1 ? cursor : NULL, (int) limit, &page, why, sizeof(why));
	cxi_manager_unhold(c->api->mgr);
	json_decref(f);
	if (rv == CX_EINVAL) {
		cxi_api_error(c, 400, "invalid_query", "the cursor is not "
		    "valid");
		return;
	}
	json_t *items = json_object_get(page, "items");
	size_t i;
	json_t *row;
	json_array_foreach (items, i, row) {
		json_t *v = cxi_call_view(row);
		if (v == NULL || json_array_set_new(items, i, v) != 0) {
			rv = CX_ENOMEM;
			break;
		}
	}
	if (rv != CX_OK) {
		json_decref(page);
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
		return;
	}
	cxi_api_reply(c, 200, page);
}

/* ---- GET /v1/calls/{id} ---- */

/* The call row of `account`, or NULL with the error set. */
static json_t *
call_row(cxi_actx *c, const char *account, const char *id)
{
	cxi_db db;
	json_t *row = NULL;
	if (!cxi_api_db(c, &db)) {
		return (NULL);
	}
	cx_err rv = cxi_repo_get(&db, &cxi_ent_call, account, id, &row);
	cxi_manager_unhold(c->api->mgr);
	if (rv == CX_ENOENT || rv == CX_EINVAL) {
		not_found(c);
	} else if (rv != CX_OK) {
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
	}
	return (rv == CX_OK ? row : NULL);
}

void
cxi_api_call_show(cxi_actx *c, const char *account, const char *id)
{
	json_t *row = call_row(c, account, id);
	if (row == NULL) {
		return;
	}
	json_t *v = cxi_call_view(row);
	json_decref(row);
	if (v == NULL) {
		cxi_api_error(c, 500, "internal", "out of memory");
		return;
	}
	cxi_api_reply(c, 200, v);
}

/* ---- GET /v1/calls/{id}/recording ---- */

/* Reads [first, last] of the recording into a new buffer. */
static cx_err
read_range(cxi_calling *cl, const char *key, int64_t first, int64_t last,
    char **out, char *why, size_t whylen)
{
	cxi_callrec *r = NULL;
	size_t want = (size_t) (last - first + 1), have = 0;
	char *buf = malloc(want > 0 ? want : 1);
	char *chunk = malloc(CXI_BLOB_CHUNK);
	cx_err rv = buf == NULL || chunk == NULL ? CX_ENOMEM :
	    cxi_callrec_open(cl, key, &r, why, whylen);
	int64_t pos = 0;
	size_t got = 1;
	while (rv == CX_OK && have < want && got > 0) {
		rv = cxi_callrec_read(r, chunk, CXI_BLOB_CHUNK, &got, why,
		    whylen);
		/* The overlap of [pos, pos + got) with [first, last]. */
		int64_t lo = pos > first ? pos : first;
		int64_t hi = pos + (int64_t) got - 1 < last ?
		    pos + (int64_t) got - 1 : last;
		if (rv == CX_OK && hi >= lo) {
			memcpy(buf + (lo - first), chunk + (lo - pos),
			    (size_t) (hi - lo + 1));
			have += (size_t) (hi - lo + 1);
		}
		pos += (int64_t) got;
	}
	cxi_callrec_close(r);
	free(chunk);
	if (rv == CX_OK && have != want) {
		snprintf(why, whylen, "the recording is shorter than "
		    "recorded");
		rv = CX_EPROTO;
	}
	if (rv != CX_OK) {
		free(buf);
		return (rv);
	}
	*out = buf;
	return (CX_OK);
}

void
cxi_api_call_recording(cxi_actx *c, const char *account, const char *id)
{
	char why[256] = "", hv[96];
	cxi_calling *cl = calling(c);
	json_t *row = cl != NULL ? call_row(c, account, id) : NULL;
	if (row == NULL) {
		return;
	}
	const char *key = json_string_value(json_object_get(row,
	    "recording_key"));
	const char *ctype = json_string_value(json_object_get(row,
	    "recording_type"));
	int64_t size = (int64_t) json_integer_value(json_object_get(row,
	    "recording_bytes"));
	if (key == NULL || ctype == NULL) {
		json_decref(row);
		cxi_api_error(c, 404, "not_found", "this call has no "
		    "recording");
		return;
	}
	int64_t first = 0, last = size - 1;
	int r = cxi_http_range(cx_http_req_header(c->req, "Range"), size,
	    &first, &last);
	if (r < 0) {
		json_decref(row);
		cxi_api_error(c, 416, "range_not_satisfiable", "the recording "
		    "has %lld bytes", (long long) size);
		snprintf(hv, sizeof(hv), "bytes */%lld", (long long) size);
		cxi_api_header(c, "Content-Range", hv);
		return;
	}
	char *body = NULL;
	cx_err rv = size == 0 ? CX_OK :
	    read_range(cl, key, first, last, &body, why, sizeof(why));
	if (rv != CX_OK) {
		cxi_error("api", "call %s: the recording cannot be read: %s",
		    id, why[0] ? why : cx_strerror(rv));
		json_decref(row);
		cxi_api_error(c, 500, "internal", "the recording cannot be "
		    "read");
		return;
	}
	free(c->resp->body);
	c->resp->body = body;
	c->resp->body_len = size == 0 ? 0 : (size_t) (last - first + 1);
	c->resp->status = r == 1 ? 206 : 200;
	snprintf(c->resp->content_type, sizeof(c->resp->content_type), "%s",
	    ctype);
	cxi_api_header(c, "Accept-Ranges", "bytes");
	cxi_api_header(c, "Cache-Control", "private, no-store");
	if (r == 1) {
		snprintf(hv, sizeof(hv), "bytes %lld-%lld/%lld",
		    (long long) first, (long long) last, (long long) size);
		cxi_api_header(c, "Content-Range", hv);
	}
	json_decref(row);
}

static void
calls_get(cxi_actx *c)
{
	char id[72];
	/* One subtree route serves the collection too: a route ending in
	 * "/" also answers the path without it, and would win over an
	 * exact "/calls" (longer template). */
	if (strcmp(c->req->path, "/v1/calls") == 0 ||
	    strcmp(c->req->path, CALLS_PATH) == 0) {
		calls_list(c);
		return;
	}
	if (!cxi_api_auth(c) || calling(c) == NULL) {
		return;
	}
	const char *p = c->req->path + strlen(CALLS_PATH);
	const char *slash = strchr(p, '/');
	size_t n = slash != NULL ? (size_t) (slash - p) : strlen(p);
	if (strncmp(c->req->path, CALLS_PATH, strlen(CALLS_PATH)) != 0 ||
	    n == 0 || n >= 65 ||
	    (slash != NULL && strcmp(slash, "/recording") != 0)) {
		not_found(c);
		return;
	}
	memcpy(id, p, n);
	id[n] = '\0';
	if (slash == NULL) {
		cxi_api_call_show(c, c->sess.account, id);
	} else {
		cxi_api_call_recording(c, c->sess.account, id);
	}
}

CXI_API_HANDLER(h_calls, calls_get)

cx_err
cxi_api_calls_routes(cxi_api *a)
{
	return (cxi_http_api_route_add(a->http, "GET", "/calls/", h_calls, a));
}
