-- 0004_calling: what running campaigns needs (issue 5): the dialing state
-- of a lead, the life of a call and its artifacts, CSV import jobs, the
-- provider webhooks stored before they are acknowledged, and customer
-- webhook endpoints with every delivery attempt.

-- A lead is due when status is 'new' or 'retry' and next_attempt_at
-- (NULL: at once) has passed. attempts counts dispatched calls.
ALTER TABLE leads ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN next_attempt_at INTEGER;
ALTER TABLE leads ADD COLUMN last_outcome TEXT;
ALTER TABLE leads ADD COLUMN status_reason TEXT;
CREATE INDEX leads_due ON leads(campaign_id, status, next_attempt_at);

ALTER TABLE campaigns ADD COLUMN started_at INTEGER;
ALTER TABLE campaigns ADD COLUMN ended_at INTEGER;

-- seq: the highest provider sequence number applied (out-of-order
-- callbacks never move a call backwards). settled_at: the dialer has
-- applied the call's outcome to its lead (retry or done) exactly once.
-- artifacts_due_at: a finished call waits for its recording, transcript
-- and summary until then before call.completed goes out without them.
ALTER TABLE calls ADD COLUMN seq INTEGER NOT NULL DEFAULT -1;
ALTER TABLE calls ADD COLUMN dispatched_at INTEGER;
ALTER TABLE calls ADD COLUMN settled_at INTEGER;
ALTER TABLE calls ADD COLUMN variables TEXT;
ALTER TABLE calls ADD COLUMN utterances TEXT;
ALTER TABLE calls ADD COLUMN success INTEGER;
ALTER TABLE calls ADD COLUMN voicemail INTEGER;
ALTER TABLE calls ADD COLUMN disconnection_reason TEXT;
ALTER TABLE calls ADD COLUMN error TEXT;
ALTER TABLE calls ADD COLUMN recording_type TEXT;
ALTER TABLE calls ADD COLUMN recording_bytes INTEGER;
ALTER TABLE calls ADD COLUMN transcript_source TEXT;
ALTER TABLE calls ADD COLUMN artifacts_due_at INTEGER;
ALTER TABLE calls ADD COLUMN completed_sent_at INTEGER;
CREATE INDEX calls_status ON calls(status, dispatched_at);

CREATE TABLE import_jobs (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    campaign_id     TEXT REFERENCES campaigns(id) ON DELETE SET NULL,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'done', 'failed')),
    default_country TEXT,
    rows_total      INTEGER NOT NULL DEFAULT 0,
    imported        INTEGER NOT NULL DEFAULT 0,
    skipped         INTEGER NOT NULL DEFAULT 0,
    invalid         INTEGER NOT NULL DEFAULT 0,
    errors          TEXT NOT NULL DEFAULT '[]',
    error           TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX import_jobs_account ON import_jobs(account_id, created_at);

-- No foreign key to calls: an event for a call we cannot place yet is
-- still kept (and answered), never lost.
CREATE TABLE provider_events (
    id              TEXT PRIMARY KEY,
    provider        TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    call_id         TEXT,
    account_id      TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    seq             INTEGER,
    payload         TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    processed_at    INTEGER,
    error           TEXT,
    UNIQUE (provider, event_id)
);
CREATE INDEX provider_events_pending ON provider_events(processed_at,
    received_at);

CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL DEFAULT '[]',
    secret_enc      TEXT NOT NULL,
    description     TEXT,
    active          INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints(account_id);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id)
                    ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    call_id         TEXT,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state,
    next_attempt_at);
CREATE INDEX webhook_deliveries_account ON webhook_deliveries(account_id,
    created_at);

CREATE TABLE webhook_attempts (
    id              TEXT PRIMARY KEY,
    delivery_id     TEXT NOT NULL REFERENCES webhook_deliveries(id)
                    ON DELETE CASCADE,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    at              INTEGER NOT NULL,
    status_code     INTEGER,
    error           TEXT,
    duration_ms     INTEGER
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, at);
