-- q2q-ai: texts waiting for the safety gate, the evidence snippets scores rest on, and the scores.
-- No raw text is ever stored: masked_text and snippets are masked (emails, phones, names).

-- One row per text item, keyed as safety-moderation keys it: (content_type, content_id).
-- Facts arrive in any order (text, screening verdict, review decision) and accumulate here;
-- the row lock taken by the upsert orders concurrent writers of one item.
CREATE TABLE text_items (
    item_id            uuid PRIMARY KEY,                     -- UUIDv7, minted here
    tenant_id          text NOT NULL,
    content_type       text NOT NULL,                        -- the event type that carried the text
    content_id         text NOT NULL,                        -- feedback_id, checkin_id, session_id or rating_id
    status             text NOT NULL CHECK (status IN
                         ('awaiting_text', 'awaiting_screening', 'awaiting_review', 'scored', 'discarded')),
    participant_system text,
    participant_id     text,
    masked_text        text,                                 -- NULL until the text arrives; NULL again once discarded
    text_sha256        text,                                 -- of masked_text; kept after a discard
    observed_at        timestamptz,                          -- when the text was written (the record's time)
    text_event_id      text,                                 -- the event that brought the text
    verdict            text CHECK (verdict IN ('clear', 'held')),
    flag_id            text,
    policy_version     text,
    review_decision    text CHECK (review_decision IN ('approved', 'rejected', 'escalated')),
    model_version      text,                                 -- set when scored
    scores_count       integer NOT NULL DEFAULT 0,
    settled_at         timestamptz,                          -- scored or discarded
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, content_type, content_id)
);
CREATE INDEX text_items_flag ON text_items (tenant_id, flag_id) WHERE flag_id IS NOT NULL;
CREATE INDEX text_items_status ON text_items (tenant_id, status);

-- Review decisions per safety flag; kept so a review that overtakes its screening is applied
-- when the screening arrives. The first final decision (approved/rejected) stands.
CREATE TABLE reviews (
    tenant_id   text NOT NULL,
    flag_id     text NOT NULL,
    content_id  text NOT NULL,
    decision    text NOT NULL CHECK (decision IN ('approved', 'rejected', 'escalated')),
    reviewed_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, flag_id)
);

-- Masked sentences that at least one score cites, with the sha256 of the masked snippet.
CREATE TABLE evidence_snippets (
    evidence_id    uuid PRIMARY KEY,                         -- UUIDv7
    tenant_id      text NOT NULL,
    item_id        uuid NOT NULL REFERENCES text_items (item_id),
    sentence_index integer NOT NULL CHECK (sentence_index >= 0),
    snippet        text NOT NULL,
    snippet_sha256 char(64) NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (item_id, sentence_index)
);

-- One score per (text item, dimension). evidence_ids point at evidence_snippets of the same item
-- (checked in code: Postgres has no foreign keys on array elements).
CREATE TABLE outcome_scores (
    score_id           uuid PRIMARY KEY,                     -- UUIDv7; the score_id of q2q.outcome.scored.v1
    tenant_id          text NOT NULL,
    item_id            uuid NOT NULL REFERENCES text_items (item_id),
    participant_system text NOT NULL,
    participant_id     text NOT NULL,
    dimension          text NOT NULL CHECK (dimension IN ('confidence', 'belonging', 'language_level_proxy', 'job_readiness')),
    value              double precision NOT NULL CHECK (value >= 0 AND value <= 1),
    confidence         double precision NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    evidence_ids       uuid[] NOT NULL CHECK (cardinality(evidence_ids) >= 1),
    explanation        jsonb NOT NULL,
    model_version      text NOT NULL,
    source_type        text NOT NULL,
    source_id          text NOT NULL,
    observed_at        timestamptz NOT NULL,
    scored_at          timestamptz NOT NULL,
    UNIQUE (item_id, dimension)
);
-- Lists are per tenant, newest observation first (keyset on observed_at, score_id).
CREATE INDEX outcome_scores_list ON outcome_scores (tenant_id, observed_at DESC, score_id DESC);
CREATE INDEX outcome_scores_participant ON outcome_scores (tenant_id, participant_system, participant_id, observed_at DESC);
