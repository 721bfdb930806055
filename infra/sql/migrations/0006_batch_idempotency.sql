-- Batches submitted under an Idempotency-Key: the same key and body answer the same jobs.
-- The row is written in the transaction that stores the batch's jobs, so a key names either
-- a whole stored batch or nothing; its primary key makes a second batch under the key wait
-- for the first and then find it.
CREATE TABLE job_batches (
    tenant          text        NOT NULL,
    idempotency_key text        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    body_hash       bytea       NOT NULL,  -- SHA-256 of the batch's canonical JSON
    job_ids         uuid[]      NOT NULL,  -- in the batch's order
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, idempotency_key)
);
-- Retention finds old keys by age.
CREATE INDEX job_batches_created_at ON job_batches (created_at);
