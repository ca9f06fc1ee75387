-- docs-hub: the document index (one row per document per tenant), its versions (a new row
-- only when the content hash changes), the links derived from it, the per-service coverage of
-- the latest refresh, and a record of every refresh with the catalogue snapshot it used.

CREATE TABLE refreshes (
    refresh_id        text PRIMARY KEY,
    tenant_id         text NOT NULL,
    commit_sha        text,
    requested_by      text NOT NULL,
    indexed_at        timestamptz NOT NULL,
    docs_seen         integer NOT NULL,
    versions_created  integer NOT NULL,
    docs_removed      integer NOT NULL,
    catalogue         jsonb NOT NULL,          -- domain.Catalogue.to_json(): what drift checks compare against
    problems          jsonb NOT NULL DEFAULT '[]'::jsonb  -- load errors and skipped files (no contents)
);
CREATE INDEX refreshes_latest ON refreshes (tenant_id, indexed_at DESC, refresh_id DESC);

CREATE TABLE documents (
    tenant_id         text NOT NULL,
    doc_id            text NOT NULL,
    doc_key           text NOT NULL,            -- repo path, or openapi:<service> / asyncapi:<service>
    kind              text NOT NULL CHECK (kind IN ('readme', 'openapi', 'asyncapi', 'adr', 'runbook')),
    path              text,
    title             text NOT NULL,
    services          text[] NOT NULL DEFAULT '{}',
    headings          jsonb NOT NULL DEFAULT '[]'::jsonb,
    sha256            text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    version           integer NOT NULL CHECK (version >= 1),
    first_seen_at     timestamptz NOT NULL,
    last_changed_at   timestamptz NOT NULL,
    last_verified_at  timestamptz NOT NULL,
    removed_at        timestamptz,
    PRIMARY KEY (tenant_id, doc_id),
    UNIQUE (tenant_id, doc_key)
);
-- Finds the owner tenant of an id, to audit cross-tenant probes.
CREATE INDEX documents_by_id ON documents (doc_id);

CREATE TABLE document_versions (
    tenant_id    text NOT NULL,
    doc_id       text NOT NULL,
    version      integer NOT NULL,
    sha256       text NOT NULL,
    content      text NOT NULL,
    size_bytes   integer NOT NULL,
    commit_sha   text,
    refresh_id   text NOT NULL,
    recorded_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, doc_id, version),
    FOREIGN KEY (tenant_id, doc_id) REFERENCES documents (tenant_id, doc_id)
);

CREATE TABLE doc_links (
    tenant_id  text NOT NULL,
    doc_id     text NOT NULL,
    link_kind  text NOT NULL CHECK (link_kind IN ('service', 'endpoint', 'event')),
    service    text NOT NULL,
    target     text NOT NULL,                 -- service name, 'METHOD /path' or an event type
    PRIMARY KEY (tenant_id, doc_id, link_kind, service, target),
    FOREIGN KEY (tenant_id, doc_id) REFERENCES documents (tenant_id, doc_id)
);
CREATE INDEX doc_links_target ON doc_links (tenant_id, link_kind, service, target);

CREATE TABLE coverage (
    tenant_id             text NOT NULL,
    service               text NOT NULL,
    endpoints_total       integer NOT NULL,
    endpoints_documented  integer NOT NULL,
    events_total          integer NOT NULL,
    events_documented     integer NOT NULL,
    undocumented          jsonb NOT NULL,     -- {"endpoints": [...], "events": [...]}
    refresh_id            text NOT NULL,
    computed_at           timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, service)
);
