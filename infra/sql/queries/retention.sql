-- name: prune_finished_jobs
-- Delete one batch of jobs that finished before the retention cutoff, oldest first (on the
-- jobs_finished index); their events and outbox rows go with them (ON DELETE CASCADE). Rows
-- another transaction holds are skipped until a later batch. Answers how many were deleted.
-- $1 retention in days, $2 batch size
WITH deleted AS (
    DELETE FROM jobs
    WHERE id = ANY (ARRAY(
        SELECT id FROM jobs
        WHERE status IN ('succeeded', 'failed', 'cancelled')
          AND finished_at < now() - make_interval(days => $1)
          AND workflow_id IS NULL  -- a workflow's jobs go with the workflow
        ORDER BY finished_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING id
)
SELECT count(*) FROM deleted;

-- name: prune_finished_workflows
-- Delete one batch of workflows that finished before the retention cutoff, oldest first;
-- their nodes and jobs (and so the jobs' events) go with them (ON DELETE CASCADE).
-- Answers how many workflows were deleted.
-- $1 retention in days, $2 batch size (in workflows)
WITH deleted AS (
    DELETE FROM workflows
    WHERE id = ANY (ARRAY(
        SELECT id FROM workflows
        WHERE finished_at < now() - make_interval(days => $1)
        ORDER BY finished_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING id
)
SELECT count(*) FROM deleted;

-- name: prune_job_batches
-- Delete one batch of batch idempotency keys older than the retention cutoff none of whose
-- jobs is kept any more (so a key answers its jobs as long as one exists). Answers how many
-- were deleted.
-- $1 retention in days, $2 batch size
WITH old AS (
    SELECT tenant, idempotency_key FROM job_batches b
    WHERE created_at < now() - make_interval(days => $1)
      AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = ANY (b.job_ids))
    ORDER BY created_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), deleted AS (
    DELETE FROM job_batches b USING old
    WHERE b.tenant = old.tenant AND b.idempotency_key = old.idempotency_key
    RETURNING 1
)
SELECT count(*) FROM deleted;
