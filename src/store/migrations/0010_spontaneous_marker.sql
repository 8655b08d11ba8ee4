-- Positions the gateway created itself for paDemandPaymentNotice (spontaneous payments), marked
-- so that a creditor's unpaid ones can be counted against its cap by any instance.
ALTER TABLE debt_position ADD COLUMN spontaneous INTEGER NOT NULL DEFAULT 0
    CHECK (spontaneous IN (0, 1));

-- Those created before the mark: their IUPD is <idServizio>-<IUV of their option>.
UPDATE debt_position SET spontaneous = 1
WHERE length(iupd) = 23 AND substr(iupd, 6, 1) = '-'
  AND EXISTS (SELECT 1 FROM payment_option o
              WHERE o.position_id = debt_position.id AND o.iuv = substr(debt_position.iupd, 7))
  AND EXISTS (SELECT 1 FROM iuv_sequence s WHERE s.organization = debt_position.organization);

-- The count of a creditor's payable spontaneous positions, from the index alone.
CREATE INDEX debt_position_spontaneous_unpaid ON debt_position (organization, expires_after)
    WHERE spontaneous = 1 AND status IN ('PUBLISHED', 'VALID');
