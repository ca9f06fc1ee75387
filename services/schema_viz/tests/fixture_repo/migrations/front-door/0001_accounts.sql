-- front-door: accounts and their API keys (a quoted identifier on purpose).
CREATE TABLE accounts (
    account_id text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE "API Keys" (
    key_id     uuid PRIMARY KEY,
    account_id text NOT NULL REFERENCES accounts ON DELETE CASCADE,
    "Label"    varchar(80),
    key_hash   char(64) NOT NULL UNIQUE
);
CREATE INDEX api_keys_by_account ON "API Keys" (account_id);
