-- Jobs of payment notices (crate::notice_jobs): a job names the creditor's positions, fixed
-- when it is made; each notice has its row, with its outcome and, once made, its PDF. The
-- worker holds a notice it takes until lease_until (milliseconds; 0: no one holds it).
CREATE TABLE notice_job (
    id              text PRIMARY KEY,
    organization    text NOT NULL,
    idempotency_key text,
    state           text NOT NULL,
    created_at      bigint NOT NULL,
    started_at      bigint,
    finished_at     bigint,
    error           text
);
CREATE UNIQUE INDEX notice_job_idempotency ON notice_job (organization, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX notice_job_finished ON notice_job (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE notice_job_item (
    job_id      text NOT NULL,
    seq         bigint NOT NULL,
    iupd        text NOT NULL,
    outcome     text NOT NULL,
    reason      text,
    pdf         bytea,
    lease_until bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, seq)
);
CREATE INDEX notice_job_item_pending ON notice_job_item (job_id, seq) WHERE outcome = 'PENDING';
