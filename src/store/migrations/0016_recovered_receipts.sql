-- Where each receipt came from: the Node (paSendRT/paSendRTV2) or the platform's receipts
-- service (a receipt the Node never delivered, recovered by IUR). And the station the Node
-- addressed it to when that station, one of ours, was not (or no longer) bound to the
-- creditor: such a receipt records money already paid, so it is kept and applied, and shown
-- with this mark. Receipts stored before came from the Node, to a bound station.
ALTER TABLE receipt ADD COLUMN origin TEXT NOT NULL DEFAULT 'NODE'
    CHECK (origin IN ('NODE', 'PLATFORM'));
ALTER TABLE receipt ADD COLUMN unbound_station TEXT;
