-- The request a delivery sends its station (paSendRT or paSendRTV2, the station's ids and the
-- receipt in its primitive version), kept once its first attempt has not delivered it (or it
-- was not attempted at once): every retry sends these bytes, and no retry parses the
-- receipt's document again. Most deliveries succeed at once and never write theirs. In a table
-- of its own: a delivery's row is updated after every attempt, and SQLite rewrites a whole row
-- on update. A pending delivery due without one (its first attempt cut short by a crash, a
-- delivered one sent again, one created before this table) gets it from its receipt's
-- document before the retry worker takes it.
CREATE TABLE delivery_request (
    delivery INTEGER PRIMARY KEY REFERENCES delivery (id) ON DELETE CASCADE,
    request BLOB NOT NULL
);
