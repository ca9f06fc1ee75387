-- Reporting: local projections (evidence, participants' first evidence, metric snapshots),
-- generated reports, themes, saved views, share links, schedules. tenant_id = company.

CREATE TABLE evidence (
    tenant_id      text NOT NULL,
    evidence_id    text NOT NULL,
    participant    text NOT NULL,              -- HMAC-SHA256 pseudonym, never the raw ref
    program        text NOT NULL,
    snippet        text NOT NULL,              -- masked by q2q
    snippet_sha256 text NOT NULL,
    dimensions     text[] NOT NULL DEFAULT '{}',
    source_type    text NOT NULL,
    source_id      text NOT NULL,
    observed_at    timestamptz NOT NULL,
    event_id       text NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, evidence_id)
);
CREATE INDEX evidence_time ON evidence (tenant_id, observed_at DESC, evidence_id DESC);
CREATE INDEX evidence_participant ON evidence (tenant_id, participant);
CREATE INDEX evidence_dimensions ON evidence USING gin (dimensions);

-- The first evidence of each pseudonymous participant: their cohort is its quarter.
CREATE TABLE participants (
    tenant_id         text NOT NULL,
    participant       text NOT NULL,
    first_observed_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, participant)
);

CREATE TABLE metric_history (
    tenant_id      text NOT NULL,
    event_id       text NOT NULL,
    period         text NOT NULL,
    metric_id      text NOT NULL,
    sroi_ratio     double precision,
    social_value   double precision NOT NULL,
    investment     double precision,
    vis_score      double precision NOT NULL,
    config_version text NOT NULL,
    computed_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX metric_history_period ON metric_history (tenant_id, period, computed_at DESC);

CREATE TABLE metric_latest (
    tenant_id      text NOT NULL,
    period         text NOT NULL,
    metric_id      text NOT NULL,
    sroi_ratio     double precision,
    social_value   double precision NOT NULL,
    investment     double precision,
    vis_score      double precision NOT NULL,
    config_version text NOT NULL,
    computed_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, period)
);
CREATE INDEX metric_latest_metric ON metric_latest (metric_id);

CREATE TABLE gen_reports (
    report_id      uuid PRIMARY KEY,
    tenant_id      text NOT NULL,
    period         text NOT NULL,
    template       text NOT NULL,
    status         text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved')),
    sections       jsonb NOT NULL,
    charts         jsonb NOT NULL,
    cited_evidence text[] NOT NULL,
    evidence_hash  text NOT NULL,
    metrics        jsonb,
    generator      text NOT NULL,
    prompt_version text,
    seed           bigint NOT NULL,
    tokens_in      integer NOT NULL DEFAULT 0,
    tokens_out     integer NOT NULL DEFAULT 0,
    cost           double precision NOT NULL DEFAULT 0,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL,
    approved_by    text,
    approved_at    timestamptz
);
CREATE INDEX gen_reports_tenant ON gen_reports (tenant_id, created_at DESC, report_id DESC);

-- One row per generation, for the per-company hourly limit (times from the service clock).
CREATE TABLE generation_log (
    tenant_id text NOT NULL,
    at        timestamptz NOT NULL
);
CREATE INDEX generation_log_tenant ON generation_log (tenant_id, at);

CREATE TABLE themes (
    tenant_id       text PRIMARY KEY,
    primary_color   text NOT NULL,
    secondary_color text NOT NULL,
    logo_png        bytea,
    updated_by      text NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE saved_views (
    view_id    uuid PRIMARY KEY,
    tenant_id  text NOT NULL,
    owner      text NOT NULL,
    name       text NOT NULL,
    filters    jsonb NOT NULL,
    visibility text NOT NULL CHECK (visibility IN ('private', 'public')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX saved_views_tenant ON saved_views (tenant_id, created_at DESC, view_id DESC);

CREATE TABLE share_links (
    link_id           uuid PRIMARY KEY,
    tenant_id         text NOT NULL,
    report_id         uuid NOT NULL REFERENCES gen_reports (report_id),
    expires_at        timestamptz NOT NULL,
    include_sensitive boolean NOT NULL,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL,
    revoked_at        timestamptz
);

CREATE TABLE share_link_access (
    id          bigserial PRIMARY KEY,
    link_id     uuid,                            -- null when the token could not be read
    at          timestamptz NOT NULL,
    outcome     text NOT NULL,                   -- granted|expired|revoked|bad_signature|unknown
    client_hash text NOT NULL                    -- keyed hash of the client address
);
CREATE INDEX share_link_access_link ON share_link_access (link_id, at);

CREATE TABLE schedules (
    schedule_id uuid PRIMARY KEY,
    tenant_id   text NOT NULL,
    template    text NOT NULL,
    frequency   text NOT NULL CHECK (frequency IN ('monthly', 'quarterly')),
    recipients  text[] NOT NULL,
    format      text NOT NULL,
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    next_run_at timestamptz NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE status = 'active';

CREATE TABLE schedule_runs (
    run_id          uuid PRIMARY KEY,
    schedule_id     uuid NOT NULL REFERENCES schedules (schedule_id),
    tenant_id       text NOT NULL,
    period          text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz,
    report_id       uuid,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (schedule_id, period)
);
CREATE INDEX schedule_runs_due ON schedule_runs (next_attempt_at) WHERE status = 'pending';
