-- The mirror of positions to the central notices archive (ACA), as SQLite's migration 0014
-- makes it (src/store/migrations/0014_aca_mirror.sql says what each column holds): a trigger
-- on debt_position records in the writing transaction that a position of a mirrored creditor
-- changed, whichever path wrote it.
CREATE TABLE aca_creditor (
    organization    text    PRIMARY KEY
);

CREATE SEQUENCE aca_change;

CREATE TABLE aca_mirror (
    organization        text    NOT NULL,
    iupd                text    COLLATE "C" NOT NULL,
    generation          bigint  NOT NULL,
    mirrored_generation bigint  NOT NULL DEFAULT 0,
    change_seq          bigint  NOT NULL,
    state               text    NOT NULL CHECK (state IN ('PENDING', 'FAILED', 'DONE')),
    due_at              bigint  NOT NULL DEFAULT 0,
    lease_until         bigint  NOT NULL DEFAULT 0,
    attempts            bigint  NOT NULL DEFAULT 0,
    last_attempt_at     bigint,
    last_error          text,
    archived_status     text    CHECK (archived_status IN ('DRAFT', 'PUBLISHED', 'INVALID')),
    archived_digest     text,
    archived_paid       text    NOT NULL DEFAULT '',
    PRIMARY KEY (organization, iupd)
);

CREATE INDEX aca_mirror_due ON aca_mirror (due_at) WHERE state = 'PENDING';
CREATE INDEX aca_mirror_by_change ON aca_mirror (organization, change_seq);
CREATE INDEX aca_mirror_change_seq ON aca_mirror (change_seq);

CREATE FUNCTION aca_position_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    org text;
    id text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        org := OLD.organization;
        id := OLD.iupd;
    ELSE
        org := NEW.organization;
        id := NEW.iupd;
    END IF;
    IF EXISTS (SELECT 1 FROM aca_creditor WHERE organization = org) THEN
        INSERT INTO aca_mirror (organization, iupd, generation, change_seq, state)
        VALUES (org, id, 1, nextval('aca_change'), 'PENDING')
        ON CONFLICT (organization, iupd) DO UPDATE SET generation = aca_mirror.generation + 1,
            change_seq = excluded.change_seq, state = 'PENDING', due_at = 0, attempts = 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER aca_position_changed AFTER INSERT OR UPDATE OR DELETE ON debt_position
    FOR EACH ROW EXECUTE FUNCTION aca_position_changed();
