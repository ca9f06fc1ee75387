CREATE TABLE IF NOT EXISTS bench_items (
    item_id text PRIMARY KEY,
    tenant_id text NOT NULL,
    value int NOT NULL
);
CREATE TABLE IF NOT EXISTS bench_latency (
    item_id text PRIMARY KEY,
    latency_ms double precision NOT NULL
);
