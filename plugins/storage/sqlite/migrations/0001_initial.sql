-- 0001_initial: the data model (SQLite dialect).
-- Never edit a released migration: add a new numbered file instead.
-- Ids are prefixed random strings; times are Unix milliseconds; money is
-- integer micro-units of its currency, except on-chain amounts, which
-- are decimal strings in the chain's base unit (they overflow int64).

CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    email           TEXT NOT NULL,
    email_norm      TEXT NOT NULL UNIQUE,
    company         TEXT,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL DEFAULT 'customer'
                    CHECK (role IN ('customer', 'staff')),
    policy_version  TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    closed_at       INTEGER,
    restricted_at   INTEGER
) STRICT;

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    ip              TEXT,
    user_agent      TEXT,
    revoked_at      INTEGER
) STRICT;
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE,
    prefix          TEXT NOT NULL,
    scope           TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    revoked_at      INTEGER
) STRICT;
CREATE INDEX api_keys_account ON api_keys(account_id);

CREATE TABLE credentials (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    provider        TEXT NOT NULL,
    name            TEXT NOT NULL,
    secret_enc      TEXT NOT NULL,
    last4           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (account_id, provider, name)
) STRICT;

CREATE TABLE account_keys (
    account_id      TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    wrapped_key     BLOB NOT NULL,
    master_key_id   TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE campaigns (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'running', 'paused',
                                      'completed', 'cancelled')),
    config          TEXT NOT NULL DEFAULT '{}',
    status_reason   TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX campaigns_account ON campaigns(account_id, status);

CREATE TABLE leads (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    campaign_id     TEXT REFERENCES campaigns(id) ON DELETE SET NULL,
    phone_e164      TEXT NOT NULL,
    name            TEXT,
    timezone        TEXT,
    tags            TEXT NOT NULL DEFAULT '[]',
    metadata        TEXT NOT NULL DEFAULT '{}',
    status          TEXT NOT NULL DEFAULT 'new',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (account_id, phone_e164)
) STRICT;
CREATE INDEX leads_campaign ON leads(campaign_id, status);

CREATE TABLE calls (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    campaign_id      TEXT REFERENCES campaigns(id) ON DELETE SET NULL,
    lead_id          TEXT REFERENCES leads(id) ON DELETE SET NULL,
    attempt          INTEGER NOT NULL DEFAULT 1,
    provider         TEXT NOT NULL,
    provider_call_id TEXT,
    status           TEXT NOT NULL DEFAULT 'queued',
    outcome          TEXT,
    from_number      TEXT,
    to_number        TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    answered_at      INTEGER,
    ended_at         INTEGER,
    duration_ms      INTEGER,
    cost_micros      INTEGER,
    currency         TEXT,
    recording_key    TEXT,
    transcript       TEXT,
    summary          TEXT,
    sentiment        TEXT,
    analysis         TEXT,
    UNIQUE (provider, provider_call_id),
    UNIQUE (campaign_id, lead_id, attempt)
) STRICT;
CREATE INDEX calls_account ON calls(account_id, created_at);
CREATE INDEX calls_campaign ON calls(campaign_id, status);

CREATE TABLE usage_events (
    id              TEXT PRIMARY KEY,
    account_id      TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    feature         TEXT NOT NULL,
    at              INTEGER NOT NULL,
    ip              TEXT
) STRICT;
CREATE INDEX usage_account ON usage_events(account_id, at);

CREATE TABLE payments (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    chain           TEXT NOT NULL,
    tx_hash         TEXT NOT NULL,
    asset           TEXT NOT NULL,
    amount          TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'confirmed', 'credited',
                                     'failed')),
    confirmations   INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (chain, tx_hash)
) STRICT;
CREATE INDEX payments_account ON payments(account_id, created_at);

CREATE TABLE ledger_entries (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    amount_micros   INTEGER NOT NULL,
    currency        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    ref_type        TEXT NOT NULL,
    ref_id          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (ref_type, ref_id, kind)
) STRICT;
CREATE INDEX ledger_account ON ledger_entries(account_id, created_at);

-- No foreign key: the trail outlives the accounts it mentions.
CREATE TABLE audit_log (
    id              TEXT PRIMARY KEY,
    at              INTEGER NOT NULL,
    actor_id        TEXT,
    actor_role      TEXT,
    action          TEXT NOT NULL,
    object_type     TEXT NOT NULL,
    object_id       TEXT,
    subject_id      TEXT,
    reason          TEXT,
    ip              TEXT
) STRICT;
CREATE INDEX audit_subject ON audit_log(subject_id, at);

CREATE TABLE privacy_requests (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    kind            TEXT NOT NULL
                    CHECK (kind IN ('access', 'rectify', 'erase',
                                    'restrict', 'export')),
    state           TEXT NOT NULL DEFAULT 'received'
                    CHECK (state IN ('received', 'in_progress', 'done',
                                     'rejected')),
    detail          TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    due_at          INTEGER NOT NULL
) STRICT;
CREATE INDEX privacy_account ON privacy_requests(account_id, created_at);
