CREATE TABLE items (
    id bigserial PRIMARY KEY,
    tenant_id text NOT NULL,
    item_id text NOT NULL,
    value int NOT NULL
);
