-- Receipts recovered for reporting flows: an open NO_RECEIPT anomaly is a receipt to fetch from
-- the platform's receipts service. Each attempt is counted and its outcome kept on the anomaly;
-- `recovery_due` is when the next one is due (NULL: none, the recovery ended or gave up). The
-- open NO_RECEIPT anomalies found before are due at once.
ALTER TABLE reporting_anomaly ADD COLUMN recovery_due INTEGER;
ALTER TABLE reporting_anomaly ADD COLUMN recovery_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reporting_anomaly ADD COLUMN recovery_outcome TEXT;
ALTER TABLE reporting_anomaly ADD COLUMN recovery_detail TEXT;
ALTER TABLE reporting_anomaly ADD COLUMN recovery_at INTEGER;
UPDATE reporting_anomaly SET recovery_due = found_at
    WHERE kind = 'NO_RECEIPT' AND resolved_at IS NULL;
-- A creditor's recoveries due, soonest first.
CREATE INDEX reporting_anomaly_recovery ON reporting_anomaly (organization, recovery_due)
    WHERE recovery_due IS NOT NULL AND resolved_at IS NULL;
-- A flow of one creditor may report its transfer in the paid notice of another creditor served
-- here (a payment with several beneficiaries): such notices are found by IUV alone. Only paid
-- options are indexed, so that positions waiting to be paid cost nothing more to write.
CREATE INDEX payment_option_paid_iuv ON payment_option (iuv) WHERE status <> 'PO_UNPAID';
