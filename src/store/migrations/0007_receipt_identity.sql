-- A receipt is identified by (creditor, notice number, receipt id), no longer by (creditor,
-- receipt id): the same receiptId on another notice is another receipt. Each stored document
-- keeps the digest of its parsed content, so that a repeat (same digest) changes nothing and a
-- copy with other content is kept beside the first with status CONFLICT. SQLite cannot change
-- a table's constraints in place: the table is rebuilt, its rows and ids kept, so deliveries and
-- beneficiaries still point at them. Digests of receipts stored before are filled in when the
-- gateway starts, by parsing their documents.

CREATE TABLE receipt_new (
    id                  INTEGER PRIMARY KEY,
    organization        TEXT    NOT NULL,
    receipt_id          TEXT    NOT NULL,
    recipient           TEXT    NOT NULL,
    broker_id           TEXT    NOT NULL,
    station_id          TEXT    NOT NULL,
    version             INTEGER NOT NULL CHECK (version IN (1, 2)),
    iuv                 TEXT    NOT NULL,
    nav                 TEXT    NOT NULL,
    status              TEXT    NOT NULL
        CHECK (status IN ('APPLIED', 'FLAGGED', 'DUPLICATE', 'CONFLICT')),
    flag                TEXT,
    flag_description    TEXT,
    amount              INTEGER NOT NULL,
    debtor              TEXT    NOT NULL,
    payer               TEXT,
    psp_id              TEXT    NOT NULL,
    psp_company         TEXT    NOT NULL,
    payment_date_time   TEXT,
    payment_time        INTEGER,
    stand_in            INTEGER,
    received_at         INTEGER NOT NULL,
    document            BLOB    NOT NULL,
    -- SHA-256 of the parsed content (see domain::receipt_digest); NULL only until backfilled
    digest              BLOB    CHECK (digest IS NULL OR length(digest) = 32)
);
INSERT INTO receipt_new (id, organization, receipt_id, recipient, broker_id, station_id, version,
        iuv, nav, status, flag, flag_description, amount, debtor, payer, psp_id, psp_company,
        payment_date_time, payment_time, stand_in, received_at, document)
    SELECT id, organization, receipt_id, recipient, broker_id, station_id, version, iuv, nav,
        status, flag, flag_description, amount, debtor, payer, psp_id, psp_company,
        payment_date_time, payment_time, stand_in, received_at, document
    FROM receipt;
DROP TABLE receipt;
ALTER TABLE receipt_new RENAME TO receipt;
-- One row per distinct content of a receipt; the first one received is the one not CONFLICT.
CREATE UNIQUE INDEX receipt_identity ON receipt (organization, nav, receipt_id, digest);
CREATE INDEX receipt_by_iuv ON receipt (organization, iuv);
CREATE INDEX receipt_missing_digest ON receipt (id) WHERE digest IS NULL;

-- One row, rewritten by the readiness check: a write through the same path as every other, so
-- that a full disk, a lock held elsewhere or a stopped writer show before a receipt meets them.
CREATE TABLE store_probe (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    written_at          INTEGER NOT NULL
);
