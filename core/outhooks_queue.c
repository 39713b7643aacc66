/*
 * outhooks_queue.c - queueing a customer webhook event (outhooks.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outhooks.h"
#include "repo.h"

/* An endpoint's events list: a JSON array of type names; empty = all. */
static bool
subscribed(const char *events_json, const char *type)
{
	json_t *ev = json_loads(events_json != NULL ? events_json : "[]", 0,
	    NULL);
	bool yes = json_is_array(ev) && json_array_size(ev) == 0;
	size_t i;
	json_t *v;
	json_array_foreach (ev, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), type) == 0) {
			yes = true;
		}
	}
	json_decref(ev);
	return (yes);
}

cx_err
cxi_outhooks_enqueue_c(cxi_dbc *c, const char *account, const char *type,
    const char *event_id, const json_t *data, size_t *queued, char *why,
    size_t whylen)
{
	cx_db_rows *rows = NULL;
	size_t n_new = 0;
	cx_db_value p[] = {CX_DB_V_TEXT(account)};
	cx_err rv = cxi_db_exec(c, "SELECT id, events FROM webhook_endpoints "
	                           "WHERE account_id = $1 AND active = 1 "
	                           "ORDER BY id", p, 1, &rows, NULL);
	if (rv != CX_OK) {
		return (cxi_repo_dberr(c, &cxi_ent_webhook_endpoint, rv, why,
		    whylen));
	}
	int64_t now = cxi_repo_now_ms();
	json_t *body = json_pack("{s:s, s:s, s:I, s:O}", "id", event_id,
	    "type", type, "created", (json_int_t) now, "data", data);
	char *payload = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (payload == NULL) {
		cxi_db_rows_free(c, rows);
		return (CX_ENOMEM);
	}
	size_t n = cxi_db_rows_count(c, rows);
	for (size_t i = 0; rv == CX_OK && i < n; i++) {
		const char *ep = cxi_db_text(c, rows, i, 0);
		if (ep == NULL || !subscribed(cxi_db_text(c, rows, i, 1), type)) {
			continue;
		}
		json_t *sys = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}",
		    "endpoint_id", ep, "event_type", type, "event_id", event_id,
		    "payload", payload, "state", "pending", "next_attempt_at",
		    (json_int_t) now);
		const char *call = json_string_value(json_object_get(data, "id"));
		if (sys != NULL && call != NULL &&
		    strncmp(call, "call_", 5) == 0) {
			json_object_set_new(sys, "call_id", json_string(call));
		}
		bool inserted = false;
		rv = sys == NULL ? CX_ENOMEM :
		    cxi_repo_insert_skip_c(c, &cxi_ent_webhook_delivery, account,
		        NULL, sys, "endpoint_id, event_id", &inserted, NULL, why,
		        whylen);
		json_decref(sys);
		n_new += inserted;
	}
	free(payload);
	cxi_db_rows_free(c, rows);
	if (queued != NULL) {
		*queued = n_new;
	}
	return (rv);
}
