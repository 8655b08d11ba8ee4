-- Where each receipt came from, and the station it was addressed to when that station was not
-- bound to the creditor, as SQLite's migration 0016 adds them (src/store/migrations).
ALTER TABLE receipt ADD COLUMN origin text NOT NULL DEFAULT 'NODE'
    CHECK (origin IN ('NODE', 'PLATFORM'));
ALTER TABLE receipt ADD COLUMN unbound_station text;
