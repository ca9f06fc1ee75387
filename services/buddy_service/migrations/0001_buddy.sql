-- Buddy matches and the records that hang off them (shared activities, check-ins, feedback),
-- one row per (tenant, buddy-system id); and the import reports.
-- Records are immutable facts: a re-import inserts ON CONFLICT DO NOTHING and changes nothing.

CREATE TABLE imports (
    import_id      text PRIMARY KEY,
    tenant_id      text NOT NULL,
    format         text NOT NULL CHECK (format IN ('csv', 'json')),
    timezone       text NOT NULL,
    content_sha256 text NOT NULL,
    rows_total     integer NOT NULL,
    accepted       integer NOT NULL,
    rejected       integer NOT NULL,
    duplicates     integer NOT NULL,
    sections       jsonb NOT NULL DEFAULT '[]'::jsonb,
    errors         jsonb NOT NULL DEFAULT '[]'::jsonb,
    records        jsonb NOT NULL DEFAULT '[]'::jsonb,
    imported_by    text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX imports_by_tenant ON imports (tenant_id, created_at DESC);

CREATE TABLE buddy_matches (
    tenant_id      text NOT NULL,
    match_id       text NOT NULL,
    participant_id text NOT NULL,
    buddy_id       text NOT NULL,
    matched_at     timestamptz NOT NULL,
    program        text,
    origin         text NOT NULL CHECK (origin IN ('csv', 'json')),
    import_id      text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, match_id),
    CHECK (participant_id <> buddy_id)
);
-- The list route: newest first, keyset on (matched_at, match_id).
CREATE INDEX buddy_matches_list ON buddy_matches (tenant_id, matched_at DESC, match_id DESC);
CREATE INDEX buddy_matches_participant ON buddy_matches (tenant_id, participant_id);
CREATE INDEX buddy_matches_buddy ON buddy_matches (tenant_id, buddy_id);
-- Finds the owner tenant of an id, to audit cross-tenant probes.
CREATE INDEX buddy_matches_by_id ON buddy_matches (match_id);

CREATE TABLE buddy_events (
    tenant_id        text NOT NULL,
    event_id         text NOT NULL,
    match_id         text NOT NULL,
    participant_id   text NOT NULL,      -- the match's participant, copied for the event and for queries
    category         text NOT NULL,
    occurred_at      timestamptz NOT NULL,
    duration_minutes integer CHECK (duration_minutes BETWEEN 0 AND 1440),
    origin           text NOT NULL CHECK (origin IN ('csv', 'json')),
    import_id        text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, match_id) REFERENCES buddy_matches (tenant_id, match_id)
);
CREATE INDEX buddy_events_match ON buddy_events (tenant_id, match_id, occurred_at);

CREATE TABLE buddy_checkins (
    tenant_id      text NOT NULL,
    checkin_id     text NOT NULL,
    match_id       text NOT NULL,
    participant_id text NOT NULL,
    completed_at   timestamptz NOT NULL,
    mood           smallint CHECK (mood BETWEEN 1 AND 5),
    notes          text,
    origin         text NOT NULL CHECK (origin IN ('csv', 'json')),
    import_id      text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, checkin_id),
    FOREIGN KEY (tenant_id, match_id) REFERENCES buddy_matches (tenant_id, match_id)
);
CREATE INDEX buddy_checkins_match ON buddy_checkins (tenant_id, match_id, completed_at);

CREATE TABLE buddy_feedback (
    tenant_id      text NOT NULL,
    feedback_id    text NOT NULL,
    match_id       text NOT NULL,
    participant_id text NOT NULL,
    from_role      text NOT NULL CHECK (from_role IN ('participant', 'buddy')),
    rating         smallint CHECK (rating BETWEEN 1 AND 5),
    text           text,
    submitted_at   timestamptz NOT NULL,
    origin         text NOT NULL CHECK (origin IN ('csv', 'json')),
    import_id      text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, feedback_id),
    FOREIGN KEY (tenant_id, match_id) REFERENCES buddy_matches (tenant_id, match_id),
    CHECK (rating IS NOT NULL OR text IS NOT NULL)
);
CREATE INDEX buddy_feedback_match ON buddy_feedback (tenant_id, match_id, submitted_at);
