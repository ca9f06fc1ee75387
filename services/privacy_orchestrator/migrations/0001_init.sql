-- privacy-orchestrator: DSAR requests (exports and deletions), the answer of each expected
-- holder, and the audit trail of every step. Subjects, job keys and bundles are stored
-- encrypted under the master key (see crypto.py); nothing here is personal data in clear.

CREATE TABLE requests (
    request_id      text PRIMARY KEY,                 -- UUIDv7; the job_id of an export
    kind            text NOT NULL CHECK (kind IN ('export', 'deletion')),
    tenant_id       text NOT NULL,
    requested_by    text NOT NULL,
    status          text NOT NULL,
    holders         text[] NOT NULL,                  -- the expected holders, fixed at creation
    subject_enc     bytea,                            -- discarded when no longer needed
    created_at      timestamptz NOT NULL,
    fanned_out_at   timestamptz,
    completed_at    timestamptz,
    -- exports
    public_key      text,
    private_key_enc bytea,                            -- discarded once the bundle is built
    bundle_enc      bytea,
    bundle_key_enc  bytea,
    bundle_sha256   text,
    bundle_bytes    integer,
    expires_at      timestamptz,
    expired_at      timestamptz,
    -- deletions
    window_days     integer,
    execute_after   timestamptz,
    cancelled_at    timestamptz
);
CREATE INDEX requests_list ON requests (tenant_id, kind, created_at DESC, request_id DESC);
CREATE INDEX requests_due ON requests (execute_after) WHERE status = 'scheduled';
CREATE INDEX requests_expiry ON requests (expires_at) WHERE status = 'complete' AND kind = 'export';
CREATE INDEX requests_active ON requests (status) WHERE status IN ('collecting', 'executing');

CREATE TABLE holders (
    request_id   text NOT NULL REFERENCES requests (request_id),
    service      text NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'ok', 'failed')),
    attempt      integer NOT NULL,
    exhausted    boolean NOT NULL DEFAULT false,
    requested_at timestamptz NOT NULL,
    answered_at  timestamptz,
    counts       jsonb NOT NULL DEFAULT '{}'::jsonb,  -- records exported / erased per category
    error        text,                                -- never personal data (the chassis sends a class name)
    sealed       jsonb,                               -- an export answer as received (sealed to the job key)
    PRIMARY KEY (request_id, service)
);

CREATE TABLE privacy_audit (
    id         bigserial PRIMARY KEY,
    tenant_id  text NOT NULL,
    kind       text NOT NULL,
    request_id text NOT NULL,
    step       text NOT NULL,   -- requested, fanned_out, answered, answer_failed, retried, gave_up, cancelled, ...
    service    text,
    attempt    integer,
    at         timestamptz NOT NULL,
    actor      text NOT NULL    -- the caller's sub, a holder service, or "system"
);
CREATE INDEX privacy_audit_request ON privacy_audit (request_id, id);
