-- Receipts recovered for reporting flows, and paid options found by IUV alone, as SQLite's
-- migration 0019 makes them (src/store/migrations/0019_receipt_recovery.sql).
ALTER TABLE reporting_anomaly ADD COLUMN recovery_due bigint;
ALTER TABLE reporting_anomaly ADD COLUMN recovery_attempts bigint NOT NULL DEFAULT 0;
ALTER TABLE reporting_anomaly ADD COLUMN recovery_outcome text;
ALTER TABLE reporting_anomaly ADD COLUMN recovery_detail text;
ALTER TABLE reporting_anomaly ADD COLUMN recovery_at bigint;
UPDATE reporting_anomaly SET recovery_due = found_at
    WHERE kind = 'NO_RECEIPT' AND resolved_at IS NULL;
CREATE INDEX reporting_anomaly_recovery ON reporting_anomaly (organization, recovery_due)
    WHERE recovery_due IS NOT NULL AND resolved_at IS NULL;
CREATE INDEX payment_option_paid_iuv ON payment_option (iuv) WHERE status <> 'PO_UNPAID';
