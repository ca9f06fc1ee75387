-- Tables the chassis keeps in every service schema.

-- Inbox: "event (source, id) processed here", written in the handler's transaction.
CREATE TABLE IF NOT EXISTS inbox (
    msg_key      text PRIMARY KEY,
    event_type   text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- Outbox: events committed with the state change, relayed to JetStream after commit.
CREATE TABLE IF NOT EXISTS outbox (
    seq        bigserial PRIMARY KEY,
    msg_id     text NOT NULL,
    subject    text NOT NULL,
    payload    bytea NOT NULL,
    traceparent text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

-- Audit trail of denied or sensitive access (cross-tenant attempts, auth failures on commands).
CREATE TABLE IF NOT EXISTS audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    tenant_id  text,
    actor      text,
    action     text NOT NULL,
    resource   text,
    outcome    text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb
);
