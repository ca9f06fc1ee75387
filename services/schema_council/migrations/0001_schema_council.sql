-- schema-council: change proposals with their comments and audit trail, the tenant's own
-- approved contract revisions, and deprecations.

CREATE TABLE proposals (
    tenant_id              text NOT NULL,
    proposal_id            text NOT NULL,
    idempotency_key        text,              -- Idempotency-Key header (a client-supplied proposal_id is its own key)
    request_hash           text NOT NULL,     -- a retry with the same key must send the same request
    kind                   text NOT NULL CHECK (kind IN ('jsonschema', 'openapi', 'asyncapi', 'protobuf', 'graphql')),
    contract               text NOT NULL,
    title                  text NOT NULL,
    owner                  text NOT NULL,
    rationale              text NOT NULL,
    target_date            timestamptz,
    status                 text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'review', 'approved', 'rejected')),
    mode                   text NOT NULL,
    current_source         text NOT NULL CHECK (current_source IN ('request', 'platform', 'tenant', 'none')),
    history                jsonb NOT NULL DEFAULT '[]'::jsonb,   -- [[label, document], ...] oldest first; the last is current
    proposed_document      jsonb NOT NULL,
    rename_hints           jsonb NOT NULL DEFAULT '{}'::jsonb,
    analysis               jsonb NOT NULL,                       -- changes, verdict, modes
    impact                 jsonb NOT NULL,
    breaking               boolean NOT NULL,
    published              boolean NOT NULL,
    accept_breaking_reason text,
    created_by             text NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    decided_by             text,
    decided_at             timestamptz,
    PRIMARY KEY (tenant_id, proposal_id)
);
CREATE UNIQUE INDEX proposals_idempotency ON proposals (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The list route: newest first, keyset on (created_at, proposal_id).
CREATE INDEX proposals_list ON proposals (tenant_id, created_at DESC, proposal_id DESC);
-- The change log: decided proposals by decision time.
CREATE INDEX proposals_decided ON proposals (tenant_id, decided_at DESC) WHERE decided_at IS NOT NULL;
-- Finds the owner tenant of an id, to audit cross-tenant probes.
CREATE INDEX proposals_by_id ON proposals (proposal_id);

CREATE TABLE proposal_comments (
    tenant_id       text NOT NULL,
    comment_id      text NOT NULL,
    proposal_id     text NOT NULL,
    author          text NOT NULL,
    body            text NOT NULL,
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, comment_id),
    FOREIGN KEY (tenant_id, proposal_id) REFERENCES proposals (tenant_id, proposal_id)
);
CREATE INDEX proposal_comments_by_proposal ON proposal_comments (tenant_id, proposal_id, created_at);
CREATE UNIQUE INDEX proposal_comments_idempotency ON proposal_comments (tenant_id, proposal_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Who did what when, for every creation, transition and comment (append-only).
CREATE TABLE proposal_audit (
    id          bigserial PRIMARY KEY,
    tenant_id   text NOT NULL,
    proposal_id text NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       text NOT NULL,
    action      text NOT NULL CHECK (action IN ('created', 'transition', 'comment')),
    from_status text,
    to_status   text,
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
    FOREIGN KEY (tenant_id, proposal_id) REFERENCES proposals (tenant_id, proposal_id)
);
CREATE INDEX proposal_audit_by_proposal ON proposal_audit (tenant_id, proposal_id, id);

-- The tenant's approved versions of contracts (one row per approved proposal).
CREATE TABLE contract_revisions (
    tenant_id   text NOT NULL,
    contract    text NOT NULL,
    revision    integer NOT NULL CHECK (revision >= 1),
    kind        text NOT NULL,
    owner       text NOT NULL,
    document    jsonb NOT NULL,
    proposal_id text NOT NULL,
    approved_by text NOT NULL,
    approved_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, contract, revision)
);
CREATE INDEX contract_revisions_by_contract ON contract_revisions (contract);

CREATE TABLE deprecations (
    tenant_id         text NOT NULL,
    contract          text NOT NULL,      -- the entity: an event type without .vN, a service, a tenant contract
    version           text NOT NULL,      -- v1 for an event major, the service version, a revision number
    deprecated_at     timestamptz NOT NULL,
    sunset_at         timestamptz NOT NULL,
    replacement       text,
    notice            text,
    deprecated_by     text NOT NULL,
    window_overridden boolean NOT NULL DEFAULT false,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, contract, version),
    CHECK (sunset_at > deprecated_at)
);
CREATE INDEX deprecations_by_time ON deprecations (tenant_id, deprecated_at DESC);
