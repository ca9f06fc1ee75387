-- Erasure tombstones, in every service that declares personal data: a person (a hashed source
-- ref) erased at `erased_at`. An event about them created before that time (a late delivery,
-- a dead letter replayed) is skipped instead of storing them again.
CREATE TABLE IF NOT EXISTS erased_subjects (
    tenant_id  text NOT NULL,
    ref_key    char(64) NOT NULL,              -- sha256 of system + id: the ref itself is not kept
    erased_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, ref_key)
);
