-- Bulk actions on jobs: cancel or retry up to 10,000 jobs of a tenant in one call, by ids or
-- by GET /v1/jobs's filters, a batch of ids per statement.

-- name: select_job_ids
-- The ids of a tenant's jobs a bulk action selects, newest first: GET /v1/jobs's filters,
-- with the statuses narrowed to those the action applies to.
-- $1 tenant, $2 statuses, $3 engine, $4 operation, $5 tags (all required),
-- $6 created at or after, $7 created before, $8 limit, $9 schedule id, $10 workflow id,
-- $11 node key
SELECT id FROM jobs
WHERE tenant = $1
  AND status = ANY($2::job_status[])
  AND ($3::text IS NULL OR engine = $3::text)
  AND ($4::text IS NULL OR operation = $4::text)
  AND ($5::text[] IS NULL OR tags @> $5::text[])
  AND ($6::timestamptz IS NULL OR created_at >= $6::timestamptz)
  AND ($7::timestamptz IS NULL OR created_at < $7::timestamptz)
  AND ($9::uuid IS NULL OR schedule_id = $9::uuid)
  AND ($10::uuid IS NULL OR workflow_id = $10::uuid)
  AND ($11::text IS NULL OR node_key = $11::text)
ORDER BY id DESC
LIMIT $8;

-- name: cancel_jobs
-- cancel_job for many: cancel those that have not started (or are between attempts).
-- $1 ids, $2 tenant, $3 statuses cancellable at once
UPDATE jobs
SET status = 'cancelled', finished_at = now(), run_at = NULL,
    error = jsonb_build_object('type', 'Cancelled', 'message', 'cancelled on request', 'category', 'cancelled')
WHERE id = ANY($1::uuid[]) AND tenant = $2 AND status = ANY($3::job_status[])
RETURNING id;

-- name: request_cancel_jobs
-- request_cancel for many: ask the workers running these jobs to stop them; one NOTIFY
-- (sent at commit) per job.
-- $1 ids, $2 tenant
WITH job AS (
    UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, now())
    WHERE id = ANY($1::uuid[]) AND tenant = $2 AND status = 'running'
    RETURNING id, tenant, status, attempts
)
SELECT id, pg_notify('conveyor_cancel', id::text) FROM job;

-- name: retry_jobs
-- retry_job for many: run failed or cancelled jobs again (attempts continue, the retry
-- budget starts afresh); a workflow's jobs are not retried alone, nor jobs whose `$ref`s
-- read a dependency that has not succeeded.
-- $1 ids, $2 tenant, $3 statuses that can be retried
UPDATE jobs
SET status = 'queued', retry_base = attempts, worker_losses = 0, error = NULL, result = NULL,
    progress = 0, progress_message = NULL, run_at = NULL, cancel_requested_at = NULL,
    finished_at = NULL, params = conveyor_retry_params(jobs)
WHERE id = ANY($1::uuid[]) AND tenant = $2 AND status = ANY($3::job_status[]) AND workflow_id IS NULL
  AND conveyor_retry_params(jobs) IS NOT NULL
RETURNING id, engine, operation, priority, attempts;

-- name: count_jobs
-- How many of these ids are jobs of the tenant.
-- $1 ids, $2 tenant
SELECT count(*) FROM jobs WHERE id = ANY($1::uuid[]) AND tenant = $2;
