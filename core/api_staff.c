/*
 * api_staff.c - staff access to a customer's data, always with a reason
 * that the customer can read (security.md Z-3):
 *   GET /v1/staff/accounts/{id}/calls?reason=...  (staff only)
 *   GET /v1/staff/accounts/{id}/calls/{call_id}?reason=...
 *   GET /v1/staff/accounts/{id}/calls/{call_id}/recording?reason=...
 *   GET /v1/me/access-log                          (the customer's view)
 *
 * The audit row is written before any data is read: an access that
 * cannot be logged does not happen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "callevents.h"
#include "log.h"

#define REASON_MIN_CHARS 10
#define REASON_MAX_BYTES 500
#define QVAL_MAX 600
#define PAGE_MAX 100

static int
hexval(char h)
{
	if (h >= '0' && h <= '9') {
		return (h - '0');
	}
	if (h >= 'a' && h <= 'f') {
		return (h - 'a' + 10);
	}
	if (h >= 'A' && h <= 'F') {
		return (h - 'A' + 10);
	}
	return (-1);
}

int
cxi_api_qparam(const char *q, const char *key, char *out, size_t outsz)
{
	size_t klen = strlen(key);
	while (q != NULL && *q != '\0') {
		const char *end = strchr(q, '&');
		size_t len = end != NULL ? (size_t) (end - q) : strlen(q);
		if (len > klen && strncmp(q, key, klen) == 0 && q[klen] == '=') {
			size_t o = 0;
			for (size_t i = klen + 1; i < len; i++) {
				int ch = (unsigned char) q[i];
				if (ch == '+') {
					ch = ' ';
				} else if (ch == '%') {
					if (i + 2 >= len || hexval(q[i + 1]) < 0 ||
					    hexval(q[i + 2]) < 0) {
						return (-1);
					}
					ch = hexval(q[i + 1]) * 16 +
					    hexval(q[i + 2]);
					i += 2;
				}
				if (ch == 0 || o + 1 >= outsz) {
					return (-1);
				}
				out[o++] = (char) ch;
			}
			out[o] = '\0';
			return (cxi_repo_utf8_ok(out, o) ? 1 : -1);
		}
		q = end != NULL ? end + 1 : NULL;
	}
	return (0);
}

/* cursor and limit of a list request; false with 400 set. */
static bool
paging(cxi_actx *c, char *cursor, size_t cursz, bool *has_cursor, int *limit)
{
	char lim[16];
	int r1 = cxi_api_qparam(c->req->query, "cursor", cursor, cursz);
	int r2 = cxi_api_qparam(c->req->query, "limit", lim, sizeof(lim));
	char *end = NULL;
	long v = r2 == 1 ? strtol(lim, &end, 10) : 50;
	if (r1 < 0 || r2 < 0 || (r2 == 1 && (*end != '\0' || v < 1 ||
	                                        v > PAGE_MAX))) {
		cxi_api_error(c, 400, "invalid_query", "cursor or limit "
		    "(1..%d) is malformed", PAGE_MAX);
		return (false);
	}
	*has_cursor = r1 == 1;
	*limit = (int) v;
	return (true);
}

static size_t
utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s != '\0'; s++) {
		n += ((unsigned char) *s & 0xC0) != 0x80;
	}
	return (n);
}

/* A page answer from cxi_repo_list; takes `page`. */
static void
page_reply(cxi_actx *c, cx_err rv, json_t *page)
{
	if (rv == CX_EINVAL) {
		json_decref(page);
		cxi_api_error(c, 400, "invalid_query", "the cursor is not "
		    "valid");
	} else if (rv != CX_OK) {
		json_decref(page);
		cxi_api_error(c, 503, "unavailable", "storage is not "
		    "available right now");
	} else {
		cxi_api_reply(c, 200, page);
	}
}

/* ---- GET /v1/staff/accounts/{id}/calls ---- */

static void
staff_calls(cxi_actx *c)
{
	static const char pre[] = "/v1/staff/accounts/";
	char reason[QVAL_MAX], cursor[QVAL_MAX], why[256] = "";
	char target[64], call[72] = "";
	bool has_cursor, recording = false;
	int limit;
	cxi_db db;

	if (!cxi_api_auth(c)) {
		return;
	}
	json_t *me = cxi_api_session_account(c);
	if (me == NULL) {
		return;
	}
	const char *role = json_string_value(json_object_get(me, "role"));
	bool staff = role != NULL && strcmp(role, "staff") == 0;
	json_decref(me);
	if (!staff) {
		cxi_api_log(c, "staff_access", "forbidden", c->sess.account,
		    NULL);
		cxi_api_error(c, 403, "forbidden", "staff only");
		return;
	}
	/* The path is /v1/staff/accounts/<id>/calls, nothing else. */
	const char *p = c->req->path + (strncmp(c->req->path, pre,
	    sizeof(pre) - 1) == 0 ? sizeof(pre) - 1 : 0);
	const char *slash = strchr(p, '/');
	size_t idlen = slash != NULL ? (size_t) (slash - p) : 0;
	/* Below it: /calls/<call_id> and /calls/<call_id>/recording. */
	const char *sub = slash != NULL && strncmp(slash, "/calls/", 7) == 0 ?
	    slash + 7 : NULL;
	const char *cend = sub != NULL ? strchr(sub, '/') : NULL;
	size_t clen = sub == NULL ? 0 : cend != NULL ? (size_t) (cend - sub) :
	                                               strlen(sub);
	recording = cend != NULL && strcmp(cend, "/recording") == 0;
	if (p == c->req->path || idlen == 0 || idlen >= sizeof(target) ||
	    (strcmp(slash, "/calls") != 0 &&
	        (sub == NULL || clen == 0 || clen >= 65 ||
	            (cend != NULL && !recording)))) {
		cxi_api_error(c, 404, "not_found", "no such resource");
		return;
	}
	if (sub != NULL) {
		memcpy(call, sub, clen);
		call[clen] = '\0';
	}
	memcpy(target, p, idlen);
	target[idlen] = '\0';
	int r = cxi_api_qparam(c->req->query, "reason", reason, sizeof(reason));
	if (r != 1 || utf8_chars(reason) < REASON_MIN_CHARS ||
	    strlen(reason) > REASON_MAX_BYTES) {
		cxi_api_error(c, 400, "reason_required", "give ?reason= with "
		    "at least %d characters saying why you need this data",
		    REASON_MIN_CHARS);
		return;
	}
	if (!paging(c, cursor, sizeof(cursor), &has_cursor, &limit) ||
	    !cxi_api_db(c, &db)) {
		return;
	}
	cx_err rv = cxi_repo_get(&db, &cxi_ent_account, NULL, target, NULL);
	if (rv != CX_OK) {
		cxi_manager_unhold(c->api->mgr);
		if (rv == CX_ENOENT) {
			cxi_api_error(c, 404, "not_found", "no such account");
		} else {
			cxi_api_error(c, 503, "unavailable", "storage is not "
			    "available right now");
		}
		return;
	}
	json_t *audit = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "actor_id", c->sess.account, "actor_role", "staff", "action",
	    "read", "object_type", call[0] == '\0' ? "calls" :
	    recording ? "recording" : "call", "subject_id", target, "reason",
	    reason, "ip", c->ip);
	if (audit != NULL && call[0] != '\0') {
		json_object_set_new(audit, "object_id", json_string(call));
	}
	rv = audit != NULL ? cxi_audit_append(&db, audit, why, sizeof(why)) :
	    CX_ENOMEM;
	json_decref(audit);
	if (rv != CX_OK) {
		cxi_manager_unhold(c->api->mgr);
		cxi_error("api", "staff access: the audit row could not be "
		    "written: %s", why[0] ? why : cx_strerror(rv));
		cxi_api_error(c, 503, "unavailable", "the access could not be "
		    "logged, so it was not made");
		return;
	}
	cxi_api_log(c, "staff_access", call[0] == '\0' ? "calls" :
	    recording ? "recording" : "call", c->sess.account, target);
	if (call[0] != '\0') {
		cxi_manager_unhold(c->api->mgr);
		if (recording) {
			cxi_api_call_recording(c, target, call);
		} else {
			cxi_api_call_show(c, target, call);
		}
		return;
	}
	json_t *page = NULL;
	rv = cxi_repo_list(&db, &cxi_ent_call, target, NULL,
	    has_cursor ? cursor : NULL, limit, &page, why, sizeof(why));
	cxi_manager_unhold(c->api->mgr);
	/* The same view as the owner's GET /v1/calls, no storage keys. */
	size_t i;
	json_t *row;
	json_array_foreach (json_object_get(page, "items"), i, row) {
		json_t *v = cxi_call_view(row);
		if (v == NULL || json_array_set_new(json_object_get(page,
		                     "items"), i, v) != 0) {
			rv = CX_ENOMEM;
		}
	}
	page_reply(c, rv, page);
}

/* ---- GET /v1/me/access-log ---- */

static void
access_log(cxi_actx *c)
{
	static const char *const shown[] = {"id", "at", "actor_role",
	    "action", "object_type", "object_id", "reason", NULL};
	char cursor[QVAL_MAX];
	bool has_cursor;
	int limit;
	cxi_db db;
	json_t *page = NULL;

	if (!cxi_api_auth(c) ||
	    !paging(c, cursor, sizeof(cursor), &has_cursor, &limit) ||
	    !cxi_api_db(c, &db)) {
		return;
	}
	cx_err rv = cxi_audit_list_subject(&db, c->sess.account,
	    has_cursor ? cursor : NULL, limit, &page);
	cxi_manager_unhold(c->api->mgr);
	/* The staff member's id and address stay internal; the customer
	 * sees when, what, by which role, and why. */
	size_t i;
	json_t *row;
	json_array_foreach (json_object_get(page, "items"), i, row) {
		json_t *keep = json_object();
		for (size_t k = 0; keep != NULL && shown[k] != NULL; k++) {
			json_t *v = json_object_get(row, shown[k]);
			if (v != NULL && json_object_set(keep, shown[k], v) != 0) {
				json_decref(keep);
				keep = NULL;
			}
		}
		if (keep == NULL || json_array_set_new(json_object_get(page,
		                        "items"), i, keep) != 0) {
			json_decref(page);
			cxi_api_error(c, 500, "internal", "out of memory");
			return;
		}
	}
	page_reply(c, rv, page);
}

CXI_API_HANDLER(h_staff_calls, staff_calls)
CXI_API_HANDLER(h_access_log, access_log)

cx_err
cxi_api_staff_routes(cxi_api *a)
{
	cx_err rv = cxi_http_api_route_add(a->http, "GET", "/staff/accounts/",
	    h_staff_calls, a);
	if (rv != CX_OK) {
		return (rv);
	}
	return (cxi_http_api_route_add(a->http, "GET", "/me/access-log",
	    h_access_log, a));
}
