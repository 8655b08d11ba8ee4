-- Debt positions, their payment options and transfers (GPD model).
-- Dates are UTC milliseconds since the epoch; amounts are euro cents.

CREATE TABLE debt_position (
    id                  INTEGER PRIMARY KEY,
    organization        TEXT    NOT NULL,
    iupd                TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    company_name        TEXT    NOT NULL,
    office_name         TEXT,
    debtor_type         TEXT    NOT NULL CHECK (debtor_type IN ('F', 'G')),
    debtor_fiscal_code  TEXT    NOT NULL,
    debtor_full_name    TEXT    NOT NULL,
    street_name         TEXT,
    civic_number        TEXT,
    postal_code         TEXT,
    city                TEXT,
    province            TEXT,
    region              TEXT,
    country             TEXT,
    email               TEXT,
    phone               TEXT,
    switch_to_expired   INTEGER NOT NULL,
    pay_stand_in        INTEGER NOT NULL,
    validity_date       INTEGER,
    publish_date        INTEGER,
    payment_date        INTEGER,
    inserted_date       INTEGER NOT NULL,
    last_updated_date   INTEGER NOT NULL,
    version             INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT unique_iupd UNIQUE (organization, iupd)
);

CREATE TABLE payment_option (
    id                  INTEGER PRIMARY KEY,
    position_id         INTEGER NOT NULL REFERENCES debt_position (id) ON DELETE CASCADE,
    organization        TEXT    NOT NULL,
    iuv                 TEXT    NOT NULL,
    nav                 TEXT    NOT NULL,
    amount              INTEGER NOT NULL CHECK (amount > 0),
    description         TEXT    NOT NULL,
    is_partial_payment  INTEGER NOT NULL,
    due_date            INTEGER NOT NULL,
    retention_date      INTEGER,
    notification_fee    INTEGER,
    status              TEXT    NOT NULL,
    payment_date        INTEGER,
    payment_method      TEXT,
    psp_company         TEXT,
    receipt_id          TEXT,
    fee                 INTEGER NOT NULL DEFAULT 0,
    metadata            TEXT    NOT NULL DEFAULT '[]',
    last_updated_date   INTEGER NOT NULL,
    CONSTRAINT unique_iuv UNIQUE (organization, iuv),
    CONSTRAINT unique_nav UNIQUE (organization, nav)
);
CREATE INDEX payment_option_position ON payment_option (position_id);
-- The SOAP lookup (creditor, notice number) -> position, answered from the index alone.
CREATE INDEX payment_option_notice ON payment_option (organization, nav, position_id);

-- Clustered by option: the transfers of an option are read together, in one index descent.
CREATE TABLE transfer (
    option_id               INTEGER NOT NULL REFERENCES payment_option (id) ON DELETE CASCADE,
    transfer_id             INTEGER NOT NULL CHECK (transfer_id BETWEEN 1 AND 5),
    organization            TEXT    NOT NULL,
    company_name            TEXT,
    amount                  INTEGER NOT NULL CHECK (amount > 0),
    remittance_information  TEXT    NOT NULL,
    category                TEXT    NOT NULL,
    iban                    TEXT,
    postal_iban             TEXT,
    stamp_hash              TEXT,
    stamp_type              TEXT,
    stamp_province          TEXT,
    status                  TEXT    NOT NULL,
    metadata                TEXT    NOT NULL DEFAULT '[]',
    PRIMARY KEY (option_id, transfer_id),
    -- an IBAN or a stamp, never both
    CHECK ((iban IS NULL) <> (stamp_hash IS NULL))
) WITHOUT ROWID;
CREATE INDEX transfer_organization ON transfer (organization);
