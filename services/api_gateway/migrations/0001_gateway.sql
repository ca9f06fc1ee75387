-- api-gateway: companies (tenants), their members and API keys, and the audit trail.

CREATE TABLE companies (
    company_id  text PRIMARY KEY CHECK (company_id ~ '^[a-z0-9][a-z0-9_-]{1,62}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Tenant membership: checked (through the cache) on every proxied request.
CREATE TABLE company_users (
    company_id     text NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    user_id        text NOT NULL CHECK (length(user_id) BETWEEN 1 AND 200),
    role           text NOT NULL CHECK (role IN ('admin', 'company_user', 'participant')),
    added_by       text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_access_at timestamptz,           -- refreshed on membership cache misses only
    PRIMARY KEY (company_id, user_id)
);
CREATE INDEX company_users_by_user ON company_users (user_id);
CREATE INDEX company_users_admins ON company_users (company_id) WHERE role = 'admin';

-- API keys: only the sha256 of the key is stored; `key_prefix` is the visible lookup part.
CREATE TABLE company_api_keys (
    key_id       uuid PRIMARY KEY,
    company_id   text NOT NULL REFERENCES companies (company_id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    key_prefix   text NOT NULL UNIQUE,
    key_hash     text NOT NULL CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    role         text NOT NULL CHECK (role IN ('admin', 'company_user', 'participant')),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    revoked_by   text
);
CREATE INDEX company_api_keys_by_company ON company_api_keys (company_id, created_at, key_id);

-- Denied access (401, 403, cross-tenant 404, 429) and membership / API-key changes.
-- Never a request body, a token or an API key; the path is stored without its query string.
CREATE TABLE audit_logs (
    id             bigserial PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    company_id     text,                 -- the tenant concerned; NULL when unknown (bad token)
    actor          text,                 -- user id, 'apikey:<id>', or NULL
    action         text NOT NULL,        -- 'access' for denials, else e.g. 'membership.added'
    outcome        text NOT NULL CHECK (outcome IN ('denied', 'changed')),
    status         integer,
    reason         text NOT NULL,
    method         text,
    path           text,
    correlation_id text,
    detail         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_logs_by_company ON audit_logs (company_id, id DESC);

-- Append-only: the trail cannot be edited through the service's connection.
CREATE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_logs is append-only';
END $$;
CREATE TRIGGER audit_logs_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only();
