-- The mirror of positions to the platform's central notices archive (ACA). The creditors whose
-- positions are mirrored are listed in aca_creditor, written from the configuration at start.
-- Every write of a position of such a creditor (insert, update, delete: whichever path makes
-- it) records in the same transaction, by the triggers below, that the position changed: one
-- row per position, its generation bumped by each change, so that changes coalesce and the
-- mirror worker sends the position's state as it then is. The row also keeps what the archive
-- holds as far as the gateway knows (status, digest of the content sent, options marked paid).
CREATE TABLE aca_creditor (
    organization    TEXT    PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE aca_mirror (
    organization        TEXT    NOT NULL,
    iupd                TEXT    NOT NULL,
    -- bumped by every change of the position; the worker records which one it mirrored
    generation          INTEGER NOT NULL,
    mirrored_generation INTEGER NOT NULL DEFAULT 0,
    -- order of the latest change among all positions, for listings (newest first)
    change_seq          INTEGER NOT NULL,
    state               TEXT    NOT NULL CHECK (state IN ('PENDING', 'FAILED', 'DONE')),
    -- when the next attempt is due (ms since the epoch; 0: at once) and until when a worker
    -- holds it (0: nobody)
    due_at              INTEGER NOT NULL DEFAULT 0,
    lease_until         INTEGER NOT NULL DEFAULT 0,
    attempts            INTEGER NOT NULL DEFAULT 0,
    last_attempt_at     INTEGER,
    last_error          TEXT,
    -- what the archive holds: NULL when nothing; else DRAFT, PUBLISHED or INVALID
    archived_status     TEXT    CHECK (archived_status IN ('DRAFT', 'PUBLISHED', 'INVALID')),
    archived_digest     TEXT,
    -- the notice numbers the archive has as paid, space-separated
    archived_paid       TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (organization, iupd)
);

CREATE INDEX aca_mirror_due ON aca_mirror (due_at) WHERE state = 'PENDING';
CREATE INDEX aca_mirror_by_change ON aca_mirror (organization, change_seq);
CREATE INDEX aca_mirror_change_seq ON aca_mirror (change_seq);

CREATE TRIGGER aca_position_inserted AFTER INSERT ON debt_position
WHEN EXISTS (SELECT 1 FROM aca_creditor WHERE organization = NEW.organization)
BEGIN
    INSERT INTO aca_mirror (organization, iupd, generation, change_seq, state)
    VALUES (NEW.organization, NEW.iupd, 1,
            (SELECT coalesce(max(change_seq), 0) + 1 FROM aca_mirror), 'PENDING')
    ON CONFLICT (organization, iupd) DO UPDATE SET generation = generation + 1,
        change_seq = excluded.change_seq, state = 'PENDING', due_at = 0, attempts = 0;
END;

CREATE TRIGGER aca_position_updated AFTER UPDATE ON debt_position
WHEN EXISTS (SELECT 1 FROM aca_creditor WHERE organization = NEW.organization)
BEGIN
    INSERT INTO aca_mirror (organization, iupd, generation, change_seq, state)
    VALUES (NEW.organization, NEW.iupd, 1,
            (SELECT coalesce(max(change_seq), 0) + 1 FROM aca_mirror), 'PENDING')
    ON CONFLICT (organization, iupd) DO UPDATE SET generation = generation + 1,
        change_seq = excluded.change_seq, state = 'PENDING', due_at = 0, attempts = 0;
END;

CREATE TRIGGER aca_position_deleted AFTER DELETE ON debt_position
WHEN EXISTS (SELECT 1 FROM aca_creditor WHERE organization = OLD.organization)
BEGIN
    INSERT INTO aca_mirror (organization, iupd, generation, change_seq, state)
    VALUES (OLD.organization, OLD.iupd, 1,
            (SELECT coalesce(max(change_seq), 0) + 1 FROM aca_mirror), 'PENDING')
    ON CONFLICT (organization, iupd) DO UPDATE SET generation = generation + 1,
        change_seq = excluded.change_seq, state = 'PENDING', due_at = 0, attempts = 0;
END;
