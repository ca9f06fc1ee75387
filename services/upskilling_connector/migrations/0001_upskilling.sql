-- Course completions, credentials and progress from learning providers, one row per (tenant, stable id);
-- and the import reports. Participants are (provider, participant_id): ExternalRef(system=provider, id=participant_id).

CREATE TABLE imports (
    import_id       text PRIMARY KEY,
    tenant_id       text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('completions', 'credentials', 'progress')),
    provider        text NOT NULL,
    format          text NOT NULL CHECK (format IN ('csv', 'json')),
    filename        text,
    content_sha256  text NOT NULL,
    rows_total      integer NOT NULL CHECK (rows_total >= 0),
    accepted        integer NOT NULL CHECK (accepted >= 0),
    duplicates      integer NOT NULL CHECK (duplicates >= 0),
    skipped         integer NOT NULL CHECK (skipped >= 0),
    rejected        integer NOT NULL CHECK (rejected >= 0),
    errors          jsonb NOT NULL DEFAULT '[]'::jsonb,
    skipped_rows    jsonb NOT NULL DEFAULT '[]'::jsonb,
    emitted         jsonb NOT NULL DEFAULT '{}'::jsonb,
    notices         jsonb NOT NULL DEFAULT '[]'::jsonb,
    ignored_columns jsonb NOT NULL DEFAULT '[]'::jsonb,
    imported_by     text NOT NULL,
    created_at      timestamptz NOT NULL,
    CHECK (rows_total = accepted + duplicates + skipped + rejected)
);
CREATE INDEX imports_by_tenant ON imports (tenant_id, created_at DESC);

CREATE TABLE completions (
    tenant_id      text NOT NULL,
    completion_id  text NOT NULL,          -- '<provider>:<participant>:<course>' (domain.record_id)
    provider       text NOT NULL,
    participant_id text NOT NULL,
    course_id      text NOT NULL,
    course_name    text NOT NULL,
    category       text CHECK (category IN ('language', 'digital', 'professional')),
    completed_at   timestamptz NOT NULL,
    score          double precision CHECK (score BETWEEN 0 AND 100),
    credits        double precision CHECK (credits >= 0),
    certificate_id text,
    import_id      text NOT NULL,          -- the import that stored it first
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, completion_id)
);
-- The list route: newest first, keyset on (completed_at, completion_id).
CREATE INDEX completions_list ON completions (tenant_id, completed_at DESC, completion_id DESC);
CREATE INDEX completions_participant ON completions (tenant_id, participant_id, completed_at DESC);
-- Finds the owner tenant of an id, to audit cross-tenant probes.
CREATE INDEX completions_by_id ON completions (completion_id);

CREATE TABLE credentials (
    tenant_id      text NOT NULL,
    credential_id  text NOT NULL,          -- '<provider>:<certificate or assertion id>'
    provider       text NOT NULL,
    participant_id text NOT NULL,
    name           text NOT NULL,
    issued_at      timestamptz NOT NULL,
    expires_at     timestamptz CHECK (expires_at IS NULL OR expires_at > issued_at),
    url            text,
    credits        double precision CHECK (credits >= 0),
    import_id      text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, credential_id)
);
CREATE INDEX credentials_list ON credentials (tenant_id, issued_at DESC, credential_id DESC);
CREATE INDEX credentials_participant ON credentials (tenant_id, participant_id, issued_at DESC);
CREATE INDEX credentials_by_id ON credentials (credential_id);

-- The latest known progress per participant and course (older news never overwrites newer).
CREATE TABLE progress (
    tenant_id        text NOT NULL,
    progress_id      text NOT NULL,        -- '<provider>:<participant>:<course>'
    provider         text NOT NULL,
    participant_id   text NOT NULL,
    course_id        text NOT NULL,
    course_name      text NOT NULL,
    percent_complete double precision NOT NULL CHECK (percent_complete BETWEEN 0 AND 100),
    updated_at       timestamptz NOT NULL, -- when the provider says the progress was measured
    import_id        text NOT NULL,        -- the import that last changed it
    stored_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, progress_id)
);
CREATE INDEX progress_list ON progress (tenant_id, updated_at DESC, progress_id DESC);
CREATE INDEX progress_participant ON progress (tenant_id, participant_id, updated_at DESC);
