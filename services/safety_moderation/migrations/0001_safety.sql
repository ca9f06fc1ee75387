-- safety-moderation: one row per screened text (per distinct content of a record), and one
-- flag per screening that matched the policy (the human review queue).
-- No raw text is stored anywhere: flags keep the MASKED text and the sha256 of the original.

CREATE TABLE screenings (
    tenant_id      text NOT NULL,
    content_type   text NOT NULL,              -- the event type that carried the text
    content_id     text NOT NULL,              -- feedback_id, checkin_id, session_id or rating_id
    content_sha256 text NOT NULL,              -- of the exact text ('' when the event had none)
    outcome        text NOT NULL CHECK (outcome IN ('clear', 'flagged', 'held')),
    verdict        text NOT NULL CHECK (verdict IN ('clear', 'held')),
    flag_id        uuid,                       -- set when outcome is flagged or held
    policy_version text NOT NULL,
    event_id       text NOT NULL,              -- the CloudEvents id that brought the text
    screened_at    timestamptz NOT NULL DEFAULT now(),
    -- The same text of the same record is screened once, whatever event id carries it.
    PRIMARY KEY (tenant_id, content_type, content_id, content_sha256),
    CHECK ((outcome = 'clear') = (flag_id IS NULL)),
    CHECK ((outcome = 'held') = (verdict = 'held'))
);
-- The gate lookup: the latest screening of a record.
CREATE INDEX screenings_latest ON screenings (tenant_id, content_type, content_id, screened_at DESC);
-- Finds the owner tenant of a record id, to audit cross-tenant probes.
CREATE INDEX screenings_by_content ON screenings (content_type, content_id);

CREATE TABLE flags (
    flag_id        uuid PRIMARY KEY,           -- UUIDv7, minted here: time-ordered
    tenant_id      text NOT NULL,
    content_type   text NOT NULL,
    content_id     text NOT NULL,
    content_sha256 text NOT NULL,
    held           boolean NOT NULL,           -- true: held back from downstream use until approved
    category       text NOT NULL,              -- of the most severe match
    severity       text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    severity_rank  smallint NOT NULL CHECK (severity_rank BETWEEN 1 AND 4),
    rule_id        text NOT NULL,
    matches        jsonb NOT NULL,             -- [{rule_id, category, severity, action, pii?}]: no text, no offsets
    masked_text    text NOT NULL,
    excerpt        text NOT NULL,              -- masked
    policy_version text NOT NULL,
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'decided')),
    decision       text CHECK (decision IN ('approved', 'rejected', 'escalated')),
    reason         text,                       -- masked
    reviewer       text,
    decided_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'pending') = (decision IS NULL)),
    CHECK ((status = 'pending') = (decided_at IS NULL))
);
-- The queue: pending first by severity, then oldest first.
CREATE INDEX flags_pending ON flags (tenant_id, severity_rank DESC, flag_id) WHERE status = 'pending';
-- Decided: most recent decision first.
CREATE INDEX flags_decided ON flags (tenant_id, decided_at DESC, flag_id DESC) WHERE status = 'decided';
CREATE INDEX flags_content ON flags (tenant_id, content_type, content_id);
