-- orders 0002: shipments, one per order at most; a column added later.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS shipped_at timestamptz;

CREATE TABLE shipments (
    shipment_id uuid PRIMARY KEY,
    tenant_id   text NOT NULL,
    order_id    text NOT NULL,
    carrier     text,
    UNIQUE (tenant_id, order_id)
);
ALTER TABLE shipments ADD CONSTRAINT shipments_order FOREIGN KEY (tenant_id, order_id) REFERENCES orders;
CREATE UNIQUE INDEX shipments_by_carrier ON shipments USING btree (carrier, shipment_id) INCLUDE (order_id);
COMMENT ON TABLE shipments IS 'One shipment per order at most';
