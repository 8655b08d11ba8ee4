-- Personal data of debtors and payers, erased when its retention ends or on the data subject's
-- request (see domain::personal_data). Erasing writes the marker in place of identifiers and
-- names, empties the other fields and records when; accounting columns stay.

-- When the position's personal data reaches the end of its retention: the latest retentionDate
-- of its options, when each has one (NULL otherwise). Kept by every write from the domain's
-- rule, as expires_after is.
ALTER TABLE debt_position ADD COLUMN retained_until INTEGER;
ALTER TABLE debt_position ADD COLUMN personal_data_erased_at INTEGER;
UPDATE debt_position SET retained_until =
    (SELECT max(o.retention_date) FROM payment_option o WHERE o.position_id = debt_position.id)
WHERE NOT EXISTS (SELECT 1 FROM payment_option o
                  WHERE o.position_id = debt_position.id AND o.retention_date IS NULL);
-- The sweeper's candidates, and a data subject's positions.
CREATE INDEX debt_position_to_erase ON debt_position (retained_until)
    WHERE personal_data_erased_at IS NULL;
CREATE INDEX debt_position_by_debtor ON debt_position (organization, debtor_fiscal_code);

ALTER TABLE receipt ADD COLUMN personal_data_erased_at INTEGER;
-- The sweeper's candidates. A data subject's receipts are found by reading the creditor's
-- (receipt_by_iuv): indexes on debtor and payer would cost every receipt two more index
-- writes for a rare request.
CREATE INDEX receipt_to_erase ON receipt (received_at) WHERE personal_data_erased_at IS NULL;
