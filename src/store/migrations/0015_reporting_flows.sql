-- Reporting flows (FdR) as the platform published them to a creditor, their payments with what
-- each matched, and the anomalies reconciliation found (src/domain/reporting.rs). A flow is
-- one revision: a newer revision of the same flow (creditor, flow name, PSP) marks the older
-- one superseded. Dates are UTC milliseconds since the epoch; amounts are euro cents.
CREATE TABLE reporting_flow (
    id                  INTEGER PRIMARY KEY,
    organization        TEXT    NOT NULL,
    fdr                 TEXT    NOT NULL,
    psp_id              TEXT    NOT NULL,
    revision            INTEGER NOT NULL,
    fdr_date            INTEGER NOT NULL,
    published           INTEGER,
    regulation          TEXT    NOT NULL,
    regulation_date     TEXT    NOT NULL,
    bic                 TEXT,
    tot_payments        INTEGER NOT NULL,
    sum_payments        INTEGER NOT NULL,
    computed_tot        INTEGER NOT NULL,
    computed_sum        INTEGER,
    superseded          INTEGER NOT NULL DEFAULT 0,
    received_at         INTEGER NOT NULL,
    CONSTRAINT unique_flow_revision UNIQUE (organization, fdr, psp_id, revision)
);
-- A creditor's flows newest first (its listing).
CREATE INDEX reporting_flow_creditor ON reporting_flow (organization, fdr_date);

CREATE TABLE reporting_payment (
    flow_id             INTEGER NOT NULL REFERENCES reporting_flow (id) ON DELETE CASCADE,
    idx                 INTEGER NOT NULL,
    organization        TEXT    NOT NULL,
    iuv                 TEXT    NOT NULL,
    iur                 TEXT    NOT NULL,
    transfer_id         INTEGER NOT NULL,
    amount              INTEGER NOT NULL,
    pay_status          TEXT    NOT NULL,
    pay_date            INTEGER NOT NULL,
    outcome             TEXT    NOT NULL,
    expected_amount     INTEGER,
    -- whether the flow is in force and this payment reports its transfer
    reports             INTEGER NOT NULL,
    PRIMARY KEY (flow_id, idx)
) WITHOUT ROWID;
-- Which flows in force report a transfer.
CREATE INDEX reporting_payment_transfer ON reporting_payment (organization, iuv, transfer_id)
    WHERE reports = 1;

CREATE TABLE reporting_anomaly (
    id                  INTEGER PRIMARY KEY,
    organization        TEXT    NOT NULL,
    kind                TEXT    NOT NULL CHECK (kind IN
        ('NO_RECEIPT', 'AMOUNT_DIFFERS', 'UNKNOWN_TRANSFER', 'UNREPORTED', 'TOTALS_DIFFER')),
    flow_id             INTEGER REFERENCES reporting_flow (id) ON DELETE CASCADE,
    idx                 INTEGER,
    iuv                 TEXT,
    transfer_id         INTEGER,
    expected_amount     INTEGER,
    reported_amount     INTEGER,
    found_at            INTEGER NOT NULL,
    resolved_at         INTEGER
);
CREATE INDEX reporting_anomaly_creditor ON reporting_anomaly (organization, found_at);
-- The open anomaly of a transfer no flow reported, at most one each.
CREATE UNIQUE INDEX reporting_anomaly_unreported ON reporting_anomaly (organization, iuv, transfer_id)
    WHERE kind = 'UNREPORTED' AND resolved_at IS NULL;
