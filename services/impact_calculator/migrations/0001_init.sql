-- Impact calculator: the facts that feed SROI/VIS (one row per business fact, with the
-- event that carried it), investments per company-period, and the computed results.

CREATE TABLE facts (
    company_id  text NOT NULL,                 -- the event's tenant
    fact_key    text NOT NULL,                 -- business identity, e.g. course:<completion_id>
    event_id    text NOT NULL,
    event_type  text NOT NULL,
    kind        text NOT NULL,                 -- course|credential|milestone|score|session|rating
    quarter     text NOT NULL,                 -- YYYY-Qn of the business timestamp
    month       text NOT NULL,                 -- YYYY-MM
    occurred_at timestamptz NOT NULL,
    label       text,                          -- q2q dimension, milestone name, course category
    value       double precision,              -- q2q value, session minutes, rating score
    participant text,                          -- system:id
    volunteer   text,                          -- system:id (sessions)
    session_id  text,                          -- sessions and ratings
    evidence_ids text[] NOT NULL DEFAULT '{}', -- q2q evidence
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, fact_key)
);
CREATE INDEX facts_quarter ON facts (company_id, quarter, kind);
CREATE INDEX facts_month ON facts (company_id, month, kind);
CREATE INDEX facts_session ON facts (company_id, session_id) WHERE kind = 'session';

CREATE TABLE investments (
    company_id text NOT NULL,
    period     text NOT NULL,
    amount     double precision NOT NULL CHECK (amount > 0),
    currency   text NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, period)
);

CREATE TABLE metrics (
    company_id     text NOT NULL,
    period         text NOT NULL,
    metric_id      uuid NOT NULL UNIQUE,        -- stable per company-period; revision counts recomputes that changed it
    revision       integer NOT NULL DEFAULT 1,
    social_value   double precision NOT NULL,
    investment     double precision,
    currency       text NOT NULL,
    sroi_ratio     double precision,
    vis_score      double precision NOT NULL,
    config_version text NOT NULL,
    detail         jsonb NOT NULL,              -- SROI steps and VIS per volunteer
    computed_at    timestamptz NOT NULL,
    PRIMARY KEY (company_id, period)
);
