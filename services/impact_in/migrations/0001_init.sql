-- impact-in: partner connections (secrets encrypted), the latest figures per company-period,
-- the delivery log with its attempts, and the webhook ids already processed.

CREATE TABLE connections (
    tenant_id  text NOT NULL,
    platform   text NOT NULL CHECK (platform IN ('benevity', 'goodera', 'workday')),
    enabled    boolean NOT NULL DEFAULT true,
    settings   jsonb NOT NULL,                  -- non-secret: URLs, client id, username, references
    secrets    bytea NOT NULL,                  -- AES-GCM sealed JSON (crypto.SecretBox)
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, platform)
);

CREATE TABLE latest_metrics (
    tenant_id   text NOT NULL,
    period      text NOT NULL,
    metric_id   text NOT NULL,
    computed_at timestamptz NOT NULL,
    metrics     jsonb NOT NULL,
    PRIMARY KEY (tenant_id, period)
);

CREATE TABLE deliveries (
    id               uuid PRIMARY KEY,
    tenant_id        text NOT NULL,
    platform         text NOT NULL,
    payload_type     text NOT NULL,
    idempotency_key  text NOT NULL,
    period           text NOT NULL,
    metric_id        text NOT NULL,
    event_id         text NOT NULL,
    metrics          jsonb NOT NULL,             -- the snapshot this delivery maps from
    status           text NOT NULL CHECK (status IN ('pending', 'failed', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0, -- pushes ever made
    cycle_attempts   integer NOT NULL DEFAULT 0, -- pushes since creation or the last replay (dead at max)
    replays          integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,                -- NULL once delivered or dead
    last_push_at     timestamptz,
    last_status_code integer,
    last_error       text,
    sent_payload     jsonb,                      -- exactly what the last push sent
    partner_reference text,
    partner_status   text,                       -- from the partner's status webhooks
    partner_status_at timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX deliveries_list ON deliveries (tenant_id, created_at DESC, id DESC);

CREATE TABLE delivery_attempts (
    delivery_id uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    seq         integer NOT NULL,
    kind        text NOT NULL,                   -- push | replay | deferred
    at          timestamptz NOT NULL,
    outcome     text NOT NULL,                   -- delivered | failed | dead | queued | circuit_open
    status_code integer,
    error       text,
    actor       text,
    PRIMARY KEY (delivery_id, seq)
);

CREATE TABLE webhook_events (
    tenant_id   text NOT NULL,
    platform    text NOT NULL,
    webhook_id  text NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, platform, webhook_id)
);
