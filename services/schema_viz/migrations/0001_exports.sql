-- Provenance of rendered diagrams: who exported what, when, and the exact bytes' hash, so a
-- diagram pasted into a document can be traced back to the platform state it showed.
CREATE TABLE exports (
    id          bigserial PRIMARY KEY,
    tenant_id   text NOT NULL,
    actor       text NOT NULL,
    kind        text NOT NULL,
    format      text NOT NULL,
    selector    jsonb NOT NULL,
    sha256      text NOT NULL,
    nodes       int NOT NULL,
    edges       int NOT NULL,
    exported_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX exports_by_tenant ON exports (tenant_id, id DESC);
