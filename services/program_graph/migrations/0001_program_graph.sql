-- program-graph: one versioned program (a DAG of nodes) per tenant, and the latest facts
-- the readiness rules read, fed by governance.* events.

-- The current version of each tenant's program; its row lock serialises writes.
CREATE TABLE programs (
    tenant_id  text PRIMARY KEY,
    version    bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per version: who changed what.
CREATE TABLE program_versions (
    tenant_id  text NOT NULL,
    version    bigint NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text NOT NULL,
    summary    text NOT NULL,
    changes    jsonb NOT NULL,                 -- [{op: created|updated|deleted, node_id}]
    PRIMARY KEY (tenant_id, version)
);

-- Node revisions: a row is the node from version valid_from up to (not including) valid_to.
-- The node as of version v: valid_from <= v AND (valid_to IS NULL OR valid_to > v).
CREATE TABLE nodes (
    tenant_id  text NOT NULL,
    node_id    text NOT NULL,
    valid_from bigint NOT NULL,
    valid_to   bigint,
    kind       text NOT NULL,
    spec       jsonb NOT NULL,                 -- domain.NodeSpec, fields that are set
    PRIMARY KEY (tenant_id, node_id, valid_from),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE UNIQUE INDEX nodes_current ON nodes (tenant_id, node_id) WHERE valid_to IS NULL;
CREATE INDEX nodes_node ON nodes (node_id) WHERE valid_to IS NULL;  -- cross-tenant probe audit

-- Latest fact per (tenant, type, subject, key); a later observed_at wins, whatever the arrival order.
CREATE TABLE facts (
    tenant_id   text NOT NULL,
    fact_type   text NOT NULL,                 -- ci | deploy | slo | docs | proposal
    subject     text NOT NULL,                 -- service name or proposal id
    fact_key    text NOT NULL,                 -- suite | environment | slo | ''
    value       jsonb NOT NULL,
    observed_at timestamptz NOT NULL,          -- the fact's own time (reported_at, deployed_at, decided_at)
    arrived_at  timestamptz NOT NULL DEFAULT now(),
    event_type  text NOT NULL,
    event_id    text NOT NULL,
    PRIMARY KEY (tenant_id, fact_type, subject, fact_key)
);

-- Every fact received, in arrival order (history and audit of the signals).
CREATE TABLE fact_log (
    seq         bigserial PRIMARY KEY,
    tenant_id   text NOT NULL,
    fact_type   text NOT NULL,
    subject     text NOT NULL,
    fact_key    text NOT NULL,
    value       jsonb NOT NULL,
    observed_at timestamptz NOT NULL,
    arrived_at  timestamptz NOT NULL DEFAULT now(),
    event_type  text NOT NULL,
    event_source text NOT NULL,
    event_id    text NOT NULL
);
CREATE INDEX fact_log_subject ON fact_log (tenant_id, subject, seq);
