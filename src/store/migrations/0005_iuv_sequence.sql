-- The next IUV base to try per creditor and segregation code, for the IUVs the gateway issues
-- itself (spontaneous payments). The unique constraints on payment_option stay the final guard.
CREATE TABLE IF NOT EXISTS iuv_sequence (
    organization        TEXT    NOT NULL,
    segregation_code    TEXT    NOT NULL CHECK (length(segregation_code) = 2),
    next_base           INTEGER NOT NULL CHECK (next_base >= 1),
    PRIMARY KEY (organization, segregation_code)
) WITHOUT ROWID;
