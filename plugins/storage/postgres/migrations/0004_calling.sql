-- 0004_calling: what running campaigns needs (issue 5): the dialing state
-- of a lead, the life of a call and its artifacts, CSV import jobs, the
-- provider webhooks stored before they are acknowledged, and customer
-- webhook endpoints with every delivery attempt.

-- A lead is due when status is 'new' or 'retry' and next_attempt_at
-- (NULL: at once) has passed. attempts counts dispatched calls.
ALTER TABLE leads ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN next_attempt_at BIGINT;
ALTER TABLE leads ADD COLUMN last_outcome TEXT;
ALTER TABLE leads ADD COLUMN status_reason TEXT;
CREATE INDEX leads_due ON leads(campaign_id, status, next_attempt_at);

ALTER TABLE campaigns ADD COLUMN started_at BIGINT;
ALTER TABLE campaigns ADD COLUMN ended_at BIGINT;

-- seq: the highest provider sequence number applied (out-of-order
-- callbacks never move a call backwards). settled_at: the dialer has
-- applied the call's outcome to its lead (retry or done) exactly once.
-- artifacts_due_at: a finished call waits for its recording, transcript
-- and summary until then before call.completed goes out without them.
ALTER TABLE calls ADD COLUMN seq BIGINT NOT NULL DEFAULT -1;
ALTER TABLE calls ADD COLUMN dispatched_at BIGINT;
ALTER TABLE calls ADD COLUMN settled_at BIGINT;
ALTER TABLE calls ADD COLUMN variables TEXT;
ALTER TABLE calls ADD COLUMN utterances TEXT;
ALTER TABLE calls ADD COLUMN success BIGINT;
ALTER TABLE calls ADD COLUMN voicemail BIGINT;
ALTER TABLE calls ADD COLUMN disconnection_reason TEXT;
ALTER TABLE calls ADD COLUMN error TEXT;
ALTER TABLE calls ADD COLUMN recording_type TEXT;
ALTER TABLE calls ADD COLUMN recording_bytes BIGINT;
ALTER TABLE calls ADD COLUMN transcript_source TEXT;
ALTER TABLE calls ADD COLUMN artifacts_due_at BIGINT;
ALTER TABLE calls ADD COLUMN completed_sent_at BIGINT;
CREATE INDEX calls_status ON calls(status, dispatched_at);

CREATE TABLE import_jobs (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    campaign_id     TEXT REFERENCES campaigns(id) ON DELETE SET NULL,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'done', 'failed')),
    default_country TEXT,
    rows_total      BIGINT NOT NULL DEFAULT 0,
    imported        BIGINT NOT NULL DEFAULT 0,
    skipped         BIGINT NOT NULL DEFAULT 0,
    invalid         BIGINT NOT NULL DEFAULT 0,
    errors          TEXT NOT NULL DEFAULT '[]',
    error           TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    finished_at     BIGINT
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
    seq             BIGINT,
    payload         TEXT NOT NULL,
    received_at     BIGINT NOT NULL,
    processed_at    BIGINT,
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
    active          BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
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
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    delivered_at    BIGINT,
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
    at              BIGINT NOT NULL,
    status_code     BIGINT,
    error           TEXT,
    duration_ms     BIGINT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, at);
