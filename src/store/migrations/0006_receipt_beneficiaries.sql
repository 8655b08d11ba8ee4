-- The beneficiary creditors of each receipt's transfers (other than the notice's creditor), so
-- that each sees the receipt among its own, whichever copy the Node delivered first. The
-- recipient the Node addressed is the notice's creditor or one of these, so this table also
-- answers "receipts addressed to me" and the index on the recipient goes.
CREATE TABLE receipt_beneficiary (
    organization    TEXT    NOT NULL,
    receipt         INTEGER NOT NULL REFERENCES receipt (id),
    PRIMARY KEY (organization, receipt)
) WITHOUT ROWID;
INSERT OR IGNORE INTO receipt_beneficiary (organization, receipt)
    SELECT recipient, id FROM receipt WHERE recipient <> organization;
DROP INDEX receipt_by_recipient;
