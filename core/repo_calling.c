/*
 * repo_calling.c - the tables of migration 0004 as cxi_entity values:
 * CSV import jobs, stored provider webhooks, and customer webhook
 * endpoints with their deliveries and attempts.
 */
#include "repo.h"

#define C CXI_C_CREATE
#define U CXI_C_UPDATE
#define R CXI_C_REQUIRED
#define F CXI_C_FILTER
#define H CXI_C_HIDDEN
#define N CXI_C_NULLABLE
#define TXT CXI_COL_TEXT
#define INT CXI_COL_INT
#define JSN CXI_COL_JSON

#define END {NULL, 0, 0, 0, NULL, NULL}
#define OWNER {"account_id", TXT, F, 0, NULL, NULL}
#define CREATED {"created_at", INT, 0, 0, NULL, NULL}
#define UPDATED {"updated_at", INT, 0, 0, NULL, NULL}

/* ---- import jobs: counts move only through the importer ---- */

static const char *const job_states[] = {"queued", "running", "done",
    "failed", NULL};
static const cxi_column job_cols[] = {OWNER,
    {"campaign_id", TXT, C | N | F, 64, NULL, "campaigns"},
    {"state", TXT, F, 0, job_states, NULL},
    {"default_country", TXT, C | N, 2, NULL, NULL},
    {"rows_total", INT, 0, 0, NULL, NULL},
    {"imported", INT, 0, 0, NULL, NULL},
    {"skipped", INT, 0, 0, NULL, NULL},
    {"invalid", INT, 0, 0, NULL, NULL},
    {"errors", JSN, 0, 1024 * 1024, NULL, NULL},
    {"error", TXT, N, 0, NULL, NULL},
    CREATED, UPDATED,
    {"finished_at", INT, N, 0, NULL, NULL},
    END};
const cxi_entity cxi_ent_import_job = {"import_job", "import_jobs", "imp_",
    job_cols, "account_id", "created_at", true, false, NULL, NULL};

/* ---- provider events: written before the provider gets its 200 ---- */

static const cxi_column pev_cols[] = {
    {"provider", TXT, C | R | F, 64, NULL, NULL},
    {"event_id", TXT, C | R | F, 256, NULL, NULL},
    {"call_id", TXT, C | N | F, 64, NULL, NULL},
    {"account_id", TXT, C | N | F, 64, NULL, NULL},
    {"seq", INT, C | N, 0, NULL, NULL},
    {"payload", JSN, C | R, 1024 * 1024, NULL, NULL},
    {"received_at", INT, 0, 0, NULL, NULL},
    {"processed_at", INT, N, 0, NULL, NULL},
    {"error", TXT, N, 0, NULL, NULL},
    END};
static const cxi_unique pev_uniq[] = {
    {"provider,event_id", "this provider event was already received"},
    {NULL, NULL}};
const cxi_entity cxi_ent_provider_event = {"provider_event",
    "provider_events", "pev_", pev_cols, NULL, "received_at", false,
    false, pev_uniq, NULL};

/* ---- customer webhooks ---- */

static const cxi_column whe_cols[] = {OWNER,
    {"url", TXT, C | U | R, 2048, NULL, NULL},
    {"events", JSN, C | U, 0, NULL, NULL},
    {"secret_enc", TXT, H, 0, NULL, NULL},
    {"description", TXT, C | U | N, 0, NULL, NULL},
    {"active", CXI_COL_BOOL, C | U, 0, NULL, NULL},
    CREATED, UPDATED, END};
const cxi_entity cxi_ent_webhook_endpoint = {"webhook_endpoint",
    "webhook_endpoints", "whe_", whe_cols, "account_id", "created_at", true,
    false, NULL, NULL};

static const char *const whd_states[] = {"pending", "delivered", "failed",
    NULL};
static const cxi_column whd_cols[] = {OWNER,
    {"endpoint_id", TXT, C | R | F, 64, NULL, "webhook_endpoints"},
    {"event_type", TXT, C | R | F, 64, NULL, NULL},
    {"event_id", TXT, C | R, 64, NULL, NULL},
    {"call_id", TXT, C | N | F, 64, NULL, NULL},
    {"payload", TXT, C | R, 4 * 1024 * 1024, NULL, NULL},
    {"state", TXT, F, 0, whd_states, NULL},
    {"attempts", INT, 0, 0, NULL, NULL},
    {"next_attempt_at", INT, N, 0, NULL, NULL},
    {"last_status", INT, N, 0, NULL, NULL},
    {"last_error", TXT, N, 0, NULL, NULL},
    CREATED, UPDATED,
    {"delivered_at", INT, N, 0, NULL, NULL},
    END};
static const cxi_unique whd_uniq[] = {
    {"endpoint_id,event_id", "this event was already queued for the "
                             "endpoint"},
    {NULL, NULL}};
const cxi_entity cxi_ent_webhook_delivery = {"webhook_delivery",
    "webhook_deliveries", "whd_", whd_cols, "account_id", "created_at",
    true, false, whd_uniq, NULL};

static const cxi_column wha_cols[] = {OWNER,
    {"delivery_id", TXT, C | R | F, 64, NULL, "webhook_deliveries"},
    {"at", INT, 0, 0, NULL, NULL},
    {"status_code", INT, C | N, 0, NULL, NULL},
    {"error", TXT, C | N, 0, NULL, NULL},
    {"duration_ms", INT, C | N, 0, NULL, NULL},
    END};
const cxi_entity cxi_ent_webhook_attempt = {"webhook_attempt",
    "webhook_attempts", "wha_", wha_cols, "account_id", "at", false, true,
    NULL, NULL};
