-- Files of positions uploaded through the upload API, kept from their upload on, and what
-- became of each of their items. A file is worked through in chunks: each chunk's changes,
-- its outcomes and the new `processed` count commit together, so a restart resumes at the
-- first item not yet done and never applies one twice.
CREATE TABLE upload_file (
    id              TEXT    PRIMARY KEY,
    broker          TEXT    NOT NULL,
    organization    TEXT    NOT NULL,
    operation       TEXT    NOT NULL CHECK (operation IN ('CREATE', 'UPDATE', 'DELETE')),
    -- the JSON document of the upload (taken out of its zip)
    content         BLOB    NOT NULL,
    submitted       INTEGER NOT NULL CHECK (submitted >= 0),
    processed       INTEGER NOT NULL DEFAULT 0 CHECK (processed BETWEEN 0 AND submitted),
    -- UTC milliseconds
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER
) WITHOUT ROWID;
CREATE INDEX upload_file_by_organization ON upload_file (organization, broker, started_at);
CREATE INDEX upload_file_in_progress ON upload_file (started_at) WHERE ended_at IS NULL;

CREATE TABLE upload_outcome (
    file            TEXT    NOT NULL REFERENCES upload_file (id),
    item            INTEGER NOT NULL,
    -- the IUPD as written in the file, when it could be read
    iupd            TEXT,
    -- the HTTP status the same change gets from the REST API, and its detail
    status          INTEGER NOT NULL,
    message         TEXT    NOT NULL,
    PRIMARY KEY (file, item)
) WITHOUT ROWID;
