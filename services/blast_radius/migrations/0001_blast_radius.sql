-- blast-radius: stored impact assessments and the proposal decisions readiness depends on.

CREATE TABLE assessments (
    assessment_id       uuid PRIMARY KEY,                 -- UUIDv7: time ordered, the list's sort key
    tenant_id           text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          text NOT NULL,                    -- the token's sub
    change_kind         text NOT NULL,                    -- e.g. schema_diff, or policy_change+schema_diff
    label               text,
    catalog_fingerprint text NOT NULL,
    bundle              jsonb NOT NULL,                   -- the bundle as received (validated)
    report              jsonb NOT NULL,                   -- the diffable report (nodes, edges, risk, ...)
    digest              text NOT NULL,                    -- sha256 of the canonical report
    risk_score          double precision NOT NULL CHECK (risk_score >= 0 AND risk_score <= 1),
    breaking            jsonb NOT NULL,                   -- [{index, contract, proposal_id}]: what needs approval
    proposal_ids        text[] NOT NULL DEFAULT '{}',
    affected            text[] NOT NULL DEFAULT '{}',
    threshold           double precision NOT NULL,
    ready               boolean NOT NULL,
    readiness           jsonb NOT NULL,                   -- {ready, threshold, reasons, proposals}
    signals             integer NOT NULL DEFAULT 1,       -- readiness signals emitted for this assessment
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assessments_tenant ON assessments (tenant_id, assessment_id DESC);
-- A proposal decision re-evaluates the assessments that name it.
CREATE INDEX assessments_proposals ON assessments USING gin (proposal_ids);

-- Latest decision per proposal (governance.proposal.decided.v1); a later decided_at wins.
CREATE TABLE proposals (
    tenant_id   text NOT NULL,
    proposal_id text NOT NULL,
    kind        text NOT NULL,
    contract    text NOT NULL,
    decision    text NOT NULL CHECK (decision IN ('approved', 'rejected')),
    breaking    boolean NOT NULL,
    decided_by  text NOT NULL,
    decided_at  timestamptz NOT NULL,
    event_id    text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, proposal_id)
);
