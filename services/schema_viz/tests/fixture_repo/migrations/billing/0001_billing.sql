-- billing: customers and invoices; invoices may exist before a customer is known.
CREATE TYPE invoice_state AS ENUM ('draft', 'sent', 'paid');

CREATE TABLE customers (
    customer_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       text NOT NULL UNIQUE
);

CREATE TABLE invoices (
    invoice_id  uuid PRIMARY KEY,
    customer_id bigint REFERENCES customers (customer_id) ON DELETE SET NULL,
    state       invoice_state NOT NULL DEFAULT 'draft',
    amount      double precision NOT NULL,
    issued_at   timestamp with time zone NOT NULL DEFAULT now()
);
CREATE INDEX ON invoices (customer_id);

CREATE FUNCTION invoices_touch() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    NEW.issued_at := now();  -- a ; inside a dollar-quoted body
    RETURN NEW;
END $body$;
CREATE TRIGGER invoices_touch BEFORE UPDATE ON invoices FOR EACH ROW EXECUTE FUNCTION invoices_touch();
