-- The event journal's file (attached as `journal`): the table of migration 0013, column for
-- column, which migration 0021 moves here. One row per SOAP primitive received, delivery
-- attempt and REST call on a creditor's routes; only inserted, and deleted past the retention.
CREATE TABLE IF NOT EXISTS journal.event_journal (
    id              INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('PRIMITIVE', 'DELIVERY', 'REST')),
    organization    TEXT,
    primitive       TEXT,
    broker_id       TEXT,
    station_id      TEXT,
    notice_number   TEXT,
    iuv             TEXT,
    iupd_digest     TEXT,
    receipt_id      TEXT,
    key_id          TEXT,
    method          TEXT,
    route           TEXT,
    status          INTEGER,
    outcome         TEXT    NOT NULL,
    fault_code      TEXT,
    error           TEXT,
    attempt         INTEGER,
    duration_us     INTEGER NOT NULL
);

-- A creditor's entries by time (its listing, newest first); pruning goes by time alone.
CREATE INDEX IF NOT EXISTS journal.event_journal_creditor ON event_journal (organization, at);
CREATE INDEX IF NOT EXISTS journal.event_journal_at ON event_journal (at);
