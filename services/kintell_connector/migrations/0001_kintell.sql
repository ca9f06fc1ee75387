-- Kintell sessions and ratings, normalised, one row per (tenant, Kintell id); and the import reports.

CREATE TABLE imports (
    import_id      text PRIMARY KEY,
    tenant_id      text NOT NULL,
    mapping        text NOT NULL,
    filename       text,
    content_sha256 text NOT NULL,
    rows_total     integer NOT NULL,
    accepted       integer NOT NULL,
    rejected       integer NOT NULL,
    duplicates     integer NOT NULL,
    errors         jsonb NOT NULL DEFAULT '[]'::jsonb,
    ignored_columns jsonb NOT NULL DEFAULT '[]'::jsonb,
    imported_by    text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX imports_by_tenant ON imports (tenant_id, created_at DESC);

CREATE TABLE kintell_sessions (
    tenant_id        text NOT NULL,
    session_id       text NOT NULL,
    session_type     text NOT NULL CHECK (session_type IN ('language', 'mentorship')),
    status           text NOT NULL CHECK (status IN ('scheduled', 'completed', 'cancelled')),
    participant_id   text NOT NULL,
    volunteer_id     text NOT NULL,
    started_at       timestamptz NOT NULL,
    duration_minutes integer CHECK (duration_minutes BETWEEN 0 AND 1440),
    language         text,
    level            text CHECK (level IN ('A1', 'A2', 'B1', 'B2', 'C1', 'C2')),
    topics           jsonb NOT NULL DEFAULT '[]'::jsonb,
    notes            text,
    origin           text NOT NULL CHECK (origin IN ('csv', 'webhook')),
    import_id        text,              -- the import that last changed the row (NULL for webhooks)
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, session_id)
);
-- The list route: newest first, keyset on (started_at, session_id).
CREATE INDEX kintell_sessions_list ON kintell_sessions (tenant_id, started_at DESC, session_id DESC);
CREATE INDEX kintell_sessions_participant ON kintell_sessions (tenant_id, participant_id, started_at DESC);
-- Finds the owner tenant of an id, to audit cross-tenant probes.
CREATE INDEX kintell_sessions_by_id ON kintell_sessions (session_id);

CREATE TABLE kintell_ratings (
    tenant_id   text NOT NULL,
    rating_id   text NOT NULL,          -- '<session_id>:<rater_role>': one rating per role per session
    session_id  text NOT NULL,
    rater_role  text NOT NULL CHECK (rater_role IN ('participant', 'volunteer')),
    rater_id    text NOT NULL,
    score       smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment     text,
    rated_at    timestamptz NOT NULL,
    origin      text NOT NULL CHECK (origin IN ('csv', 'webhook')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, rating_id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES kintell_sessions (tenant_id, session_id)
);
CREATE INDEX kintell_ratings_session ON kintell_ratings (tenant_id, session_id);
