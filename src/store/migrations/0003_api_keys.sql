-- API keys for the REST API. Only the SHA-256 of each key is kept; the id is its public part.
-- Dates are UTC milliseconds since the epoch.

CREATE TABLE api_key (
    id                  TEXT    PRIMARY KEY,
    -- every REST request looks its key up by this (unique, so indexed)
    hash                BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
    label               TEXT,
    -- 1: the key acts for every organization; 0: for those in api_key_organization
    all_organizations   INTEGER NOT NULL CHECK (all_organizations IN (0, 1)),
    created_at          INTEGER NOT NULL,
    revoked_at          INTEGER
);

CREATE TABLE api_key_organization (
    key_id              TEXT    NOT NULL REFERENCES api_key (id),
    organization        TEXT    NOT NULL,
    PRIMARY KEY (key_id, organization)
) WITHOUT ROWID;
