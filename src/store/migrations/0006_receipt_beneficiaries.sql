-- The beneficiary creditors of each receipt's transfers (other than the notice's creditor), so
-- that each sees the receipt among its own, whichever copy the Node delivered first.
CREATE TABLE receipt_beneficiary (
    organization    TEXT    NOT NULL,
    receipt         INTEGER NOT NULL REFERENCES receipt (id),
    PRIMARY KEY (organization, receipt)
) WITHOUT ROWID;
