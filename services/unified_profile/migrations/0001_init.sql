-- Unified profile: one profile per participant per tenant, the external identities that
-- point at it, the business facts already applied, and the milestones already reached.

CREATE TABLE profiles (
    profile_id       uuid PRIMARY KEY,                    -- UUIDv7, minted here
    tenant_id        text NOT NULL,
    version          bigint NOT NULL DEFAULT 0,           -- +1 per change; carried by profile.updated
    flags            jsonb NOT NULL DEFAULT '{}'::jsonb,  -- journey flags, name -> bool
    counters         jsonb NOT NULL DEFAULT '{}'::jsonb,  -- name -> int
    last_activity_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- Lists are per tenant in profile_id (= creation) order; the flag filter uses containment.
CREATE INDEX profiles_tenant ON profiles (tenant_id, profile_id);
CREATE INDEX profiles_flags ON profiles USING gin (flags jsonb_path_ops);

-- Many identities -> one profile; an identity belongs to at most one profile per tenant.
-- The FK is deferred so an event for an unknown identity can claim the identity first
-- (INSERT ... ON CONFLICT DO NOTHING) and create its profile only if it won the race.
CREATE TABLE identities (
    tenant_id   text NOT NULL,
    system      text NOT NULL,
    external_id text NOT NULL,
    profile_id  uuid NOT NULL REFERENCES profiles (profile_id) DEFERRABLE INITIALLY DEFERRED,
    linked_at   timestamptz NOT NULL DEFAULT now(),
    linked_by   text NOT NULL,                             -- 'event:<type>' or 'user:<sub>'
    PRIMARY KEY (tenant_id, system, external_id)
);
CREATE INDEX identities_profile ON identities (profile_id);

-- Business facts already applied (e.g. kintell.session.completed:S-1), so the same fact
-- re-sent under a new event id changes nothing (counters are not doubled).
CREATE TABLE applied_facts (
    profile_id uuid NOT NULL REFERENCES profiles (profile_id),
    fact_key   text NOT NULL,
    event_id   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (profile_id, fact_key)
);

-- A milestone is reached once per profile, ever: turning the flag off and on again
-- (PUT) does not insert a second row, so no second milestone event is emitted.
CREATE TABLE milestones (
    profile_id   uuid NOT NULL REFERENCES profiles (profile_id),
    milestone    text NOT NULL,
    reached_at   timestamptz NOT NULL,
    trigger_type text,                                     -- event type, NULL when set by hand
    PRIMARY KEY (profile_id, milestone)
);
