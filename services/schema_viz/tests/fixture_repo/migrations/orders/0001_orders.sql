/* orders: orders and their lines; composite keys throughout. */
CREATE TABLE IF NOT EXISTS orders (
    tenant_id  text NOT NULL,
    order_id   text NOT NULL,
    status     text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'cancelled')),
    total      numeric(12, 2) NOT NULL CHECK (total >= 0),
    placed_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, order_id)
);
CREATE INDEX orders_recent ON orders (tenant_id, placed_at DESC) WHERE status <> 'cancelled';

CREATE TABLE order_lines (
    tenant_id text NOT NULL,
    order_id  text NOT NULL,
    line_no   integer NOT NULL CHECK (line_no > 0),
    sku       text NOT NULL,
    quantity  integer NOT NULL DEFAULT 1,
    tags      text[] NOT NULL DEFAULT '{}',
    CONSTRAINT order_lines_pk PRIMARY KEY (tenant_id, order_id, line_no),
    CONSTRAINT order_lines_order FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, order_id)
        ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
