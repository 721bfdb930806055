-- name: insert_job_batch
-- Claim an idempotency key for a batch of jobs; no row if the tenant used the key before
-- (a concurrent claim of the same key waits for the first to commit or roll back).
-- $1 tenant, $2 idempotency key, $3 body hash, $4 job ids in order
INSERT INTO job_batches (tenant, idempotency_key, body_hash, job_ids)
VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant, idempotency_key) DO NOTHING
RETURNING job_ids;

-- name: get_job_batch
-- The batch a tenant submitted under an idempotency key.
-- $1 tenant, $2 idempotency key
SELECT body_hash, job_ids FROM job_batches WHERE tenant = $1 AND idempotency_key = $2;

-- name: get_jobs_in_order
-- Jobs of a tenant by id, in the order of the ids given (ids no longer stored are left out).
-- $1 tenant, $2 ids
SELECT j.*
FROM unnest($2::uuid[]) WITH ORDINALITY AS wanted(id, position)
JOIN jobs j ON j.id = wanted.id AND j.tenant = $1
ORDER BY wanted.position;

-- name: set_job_batch_ids
-- Record the jobs a claimed batch stored (a job repeating its own idempotency key is the
-- earlier job).
-- $1 tenant, $2 idempotency key, $3 job ids in order
UPDATE job_batches SET job_ids = $3 WHERE tenant = $1 AND idempotency_key = $2;
