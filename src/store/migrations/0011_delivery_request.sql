-- Each delivery keeps the request its station is sent (paSendRT or paSendRTV2, the station's
-- ids and the receipt in its primitive version), written when the delivery is created: every
-- attempt, the first and each retry, sends these bytes, and no attempt parses the receipt's
-- document again. In a table of its own: a delivery's row is updated after every attempt, and
-- SQLite rewrites a whole row on update, request included. An UNDELIVERABLE delivery has no
-- request (no form the station can take), nor, until the retry worker writes theirs from their
-- receipts' documents at start, do deliveries created before this table.
CREATE TABLE delivery_request (
    delivery INTEGER PRIMARY KEY REFERENCES delivery (id) ON DELETE CASCADE,
    request BLOB NOT NULL
);

-- The deliveries of this data file that are older than the table, up to the last one: the
-- retry worker writes their requests in one pass and then deletes this row, so that no later
-- start looks for them again (nor reads again a document that cannot be read).
CREATE TABLE delivery_request_backfill (upto INTEGER NOT NULL);
INSERT INTO delivery_request_backfill (upto) SELECT max(id) FROM delivery HAVING count(*) > 0;
