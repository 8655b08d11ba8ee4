-- Jobs of payment notices (crate::notice_jobs): a job names the creditor's positions, fixed
-- when it is made; each notice has its row, with its outcome and, once made, its PDF. The
-- worker holds a notice it takes until lease_until (milliseconds; 0: no one holds it).
CREATE TABLE notice_job (
    id              TEXT PRIMARY KEY,
    organization    TEXT NOT NULL,
    idempotency_key TEXT,
    state           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER,
    error           TEXT
);
CREATE UNIQUE INDEX notice_job_idempotency ON notice_job (organization, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX notice_job_finished ON notice_job (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE notice_job_item (
    job_id      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    iupd        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT,
    pdf         BLOB,
    lease_until INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, seq)
);
CREATE INDEX notice_job_item_pending ON notice_job_item (job_id, seq) WHERE outcome = 'PENDING';
