-- safety-moderation: whose text it was, so a data-subject request (privacy-orchestrator) can
-- find and erase the screenings and flags of a person. The author is the ExternalRef of the
-- event that carried the text (see domain.CONTENT_FIELDS): `participant` for buddy feedback,
-- buddy check-ins and kintell session notes, `rated_by` for kintell ratings.
-- Nullable: rows screened before this migration have no author and cannot be matched.

ALTER TABLE screenings
    ADD COLUMN author_system text,
    ADD COLUMN author_id     text;

ALTER TABLE flags
    ADD COLUMN author_system text,
    ADD COLUMN author_id     text;

CREATE INDEX screenings_by_author ON screenings (tenant_id, author_system, author_id);
CREATE INDEX flags_by_author ON flags (tenant_id, author_system, author_id);
