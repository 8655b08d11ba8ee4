-- Receipts as received, the creditors' broadcast stations and the delivery outbox.
-- Dates are UTC milliseconds since the epoch; amounts are euro cents.

CREATE TABLE receipt (
    id                  INTEGER PRIMARY KEY,
    -- receipt/fiscalCode: the creditor that owns the notice
    organization        TEXT    NOT NULL,
    receipt_id          TEXT    NOT NULL,
    -- idPA / idBrokerPA / idStation the Node addressed it to
    recipient           TEXT    NOT NULL,
    broker_id           TEXT    NOT NULL,
    station_id          TEXT    NOT NULL,
    version             INTEGER NOT NULL CHECK (version IN (1, 2)),
    iuv                 TEXT    NOT NULL,
    nav                 TEXT    NOT NULL,
    status              TEXT    NOT NULL CHECK (status IN ('APPLIED', 'FLAGGED', 'DUPLICATE')),
    flag                TEXT,
    flag_description    TEXT,
    amount              INTEGER NOT NULL,
    debtor              TEXT    NOT NULL,
    payer               TEXT,
    psp_id              TEXT    NOT NULL,
    psp_company         TEXT    NOT NULL,
    -- paymentDateTime as written, and as milliseconds for filters
    payment_date_time   TEXT,
    payment_time        INTEGER,
    stand_in            INTEGER,
    received_at         INTEGER NOT NULL,
    -- the SOAP request exactly as received
    document            BLOB    NOT NULL,
    CONSTRAINT unique_receipt UNIQUE (organization, receipt_id)
);
CREATE INDEX receipt_by_iuv ON receipt (organization, iuv);
CREATE INDEX receipt_by_recipient ON receipt (recipient, iuv);

CREATE TABLE broadcast_station (
    organization        TEXT    NOT NULL,
    station_id          TEXT    NOT NULL,
    broker_id           TEXT    NOT NULL,
    url                 TEXT    NOT NULL,
    primitive_version   INTEGER NOT NULL CHECK (primitive_version IN (1, 2)),
    timeout_ms          INTEGER NOT NULL CHECK (timeout_ms > 0),
    enabled             INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (organization, station_id)
) WITHOUT ROWID;

-- One row per (receipt, recipient station); the station is copied so that later changes to the
-- routing table do not rewrite history. Only PENDING rows have a next attempt.
CREATE TABLE delivery (
    id                  INTEGER PRIMARY KEY,
    receipt             INTEGER NOT NULL REFERENCES receipt (id),
    organization        TEXT    NOT NULL,
    station_id          TEXT    NOT NULL,
    broker_id           TEXT    NOT NULL,
    url                 TEXT    NOT NULL,
    primitive_version   INTEGER NOT NULL CHECK (primitive_version IN (1, 2)),
    timeout_ms          INTEGER NOT NULL,
    state               TEXT    NOT NULL
        CHECK (state IN ('PENDING', 'DELIVERED', 'REJECTED', 'UNDELIVERABLE', 'FAILED')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     INTEGER,
    last_error          TEXT,
    fault_code          TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    delivered_at        INTEGER,
    CHECK ((state = 'PENDING') = (next_attempt_at IS NOT NULL))
);
CREATE INDEX delivery_due ON delivery (next_attempt_at) WHERE state = 'PENDING';
CREATE INDEX delivery_by_organization ON delivery (organization, state, id);
CREATE INDEX delivery_by_receipt ON delivery (receipt);
