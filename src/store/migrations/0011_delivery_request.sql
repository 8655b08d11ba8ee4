-- Each delivery keeps the request its station is sent (paSendRT or paSendRTV2, the station's
-- ids and the receipt in its primitive version), written when the delivery is created: every
-- attempt, the first and each retry, sends these bytes, and no attempt parses the receipt's
-- document again. NULL for an UNDELIVERABLE delivery (no form the station can take), and for
-- deliveries created before this column until the retry worker, at start, writes theirs from
-- their receipts' documents.
ALTER TABLE delivery ADD COLUMN request BLOB;

CREATE INDEX delivery_missing_request ON delivery (id)
    WHERE request IS NULL AND state <> 'UNDELIVERABLE';
