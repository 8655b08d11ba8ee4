-- Lifecycle of debt positions: listing with filters, ordering and paging on indexes, and the
-- statuses that change with time. `version` (0001) already guards every write.

-- When a VALID position becomes EXPIRED (its last due date, if its options switch to expired
-- and none is paid); NULL when it never does. Kept by every write from the domain's rule.
ALTER TABLE debt_position ADD COLUMN expires_after INTEGER;
UPDATE debt_position SET expires_after =
    (SELECT max(o.due_date) FROM payment_option o WHERE o.position_id = debt_position.id)
WHERE switch_to_expired = 1
  AND NOT EXISTS (SELECT 1 FROM payment_option o
                  WHERE o.position_id = debt_position.id AND o.status <> 'PO_UNPAID');

-- Lists of one creditor, one index per ordering (by IUPD: the unique index of 0001). Every
-- index ends with the row id, which breaks ties.
CREATE INDEX debt_position_by_inserted ON debt_position (organization, inserted_date);
CREATE INDEX debt_position_by_company ON debt_position (organization, company_name);
CREATE INDEX debt_position_by_status ON debt_position (organization, status);
CREATE INDEX debt_position_by_payment_date ON debt_position (organization, payment_date);
CREATE INDEX payment_option_by_due_date ON payment_option (organization, due_date, position_id);

-- The sweeper's candidates: published positions whose validity date has come, and published
-- or valid ones past their expiry.
CREATE INDEX debt_position_to_valid ON debt_position (validity_date) WHERE status = 'PUBLISHED';
CREATE INDEX debt_position_to_expire ON debt_position (expires_after)
    WHERE status IN ('PUBLISHED', 'VALID');
