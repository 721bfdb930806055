-- name: insert_jobs
-- Insert a batch of jobs of one tenant; a job whose idempotency key the tenant already used
-- is skipped (the caller looks it up). The trigger writes events and outbox rows.
-- $1 ids, $2 tenant, $3 engines, $4 operations, $5 statuses, $6 priorities, $7 params (JSON texts),
-- $8 max_retries, $9 retry_backoff_seconds, $10 retry_backoff_max_seconds,
-- $11 timeout_seconds, $12 tags, $13 metadata (JSON texts: a list of lists would read as a
-- two-dimensional array), $14 run_at, $15 notify (JSON texts or nulls), $16 idempotency keys,
-- $17 depends_on (JSON texts), $18 on_dependency_failure, $19 retry_on (JSON texts or nulls),
-- $20 template (`name@<version>` or nulls)
INSERT INTO jobs (id, tenant, engine, operation, status, priority, params, max_retries,
                  retry_backoff_seconds, retry_backoff_max_seconds, timeout_seconds, tags,
                  metadata, run_at, notify, idempotency_key, depends_on, dependencies_left,
                  on_dependency_failure, retry_on, template)
SELECT j.id, $2, j.engine, j.operation, j.status, j.priority, j.params::jsonb, j.max_retries,
       j.backoff, j.backoff_max, j.timeout_seconds,
       ARRAY(SELECT jsonb_array_elements_text(j.tags::jsonb)), j.metadata::jsonb, j.run_at,
       j.notify::jsonb, j.idempotency_key,
       ARRAY(SELECT jsonb_array_elements_text(j.depends_on::jsonb))::uuid[],
       jsonb_array_length(j.depends_on::jsonb), j.on_dependency_failure,
       CASE WHEN j.retry_on IS NOT NULL THEN ARRAY(SELECT jsonb_array_elements_text(j.retry_on::jsonb)) END,
       j.template
FROM unnest($1::uuid[], $3::text[], $4::text[], $5::job_status[], $6::smallint[], $7::text[],
            $8::integer[], $9::float8[], $10::float8[], $11::float8[], $12::text[], $13::text[],
            $14::timestamptz[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],
            $20::text[])
     AS j(id, engine, operation, status, priority, params, max_retries, backoff, backoff_max,
          timeout_seconds, tags, metadata, run_at, notify, idempotency_key, depends_on,
          on_dependency_failure, retry_on, template)
ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *;

-- name: get_jobs_by_idempotency_key
-- The jobs a tenant submitted under these idempotency keys.
-- $1 tenant, $2 keys
SELECT * FROM jobs WHERE tenant = $1 AND idempotency_key = ANY($2::text[]);

-- name: get_job
-- One job of a tenant.
-- $1 id, $2 tenant
SELECT * FROM jobs WHERE id = $1 AND tenant = $2;

-- name: list_jobs
-- A tenant's jobs, newest first, after the cursor id, with optional filters.
-- $1 tenant, $2 statuses, $3 engine, $4 operation, $5 tags (all required),
-- $6 created at or after, $7 created before, $8 cursor id, $9 limit, $10 schedule id,
-- $11 workflow id, $12 node key
SELECT * FROM jobs
WHERE tenant = $1
  AND ($2::job_status[] IS NULL OR status = ANY($2::job_status[]))
  AND ($3::text IS NULL OR engine = $3::text)
  AND ($4::text IS NULL OR operation = $4::text)
  AND ($5::text[] IS NULL OR tags @> $5::text[])
  AND ($6::timestamptz IS NULL OR created_at >= $6::timestamptz)
  AND ($7::timestamptz IS NULL OR created_at < $7::timestamptz)
  AND ($8::uuid IS NULL OR id < $8::uuid)
  AND ($10::uuid IS NULL OR schedule_id = $10::uuid)
  AND ($11::uuid IS NULL OR workflow_id = $11::uuid)
  AND ($12::text IS NULL OR node_key = $12::text)
ORDER BY id DESC
LIMIT $9;

-- name: list_job_events
-- A job's history, oldest first, after an event id.
-- $1 job id, $2 tenant, $3 after event id, $4 limit
SELECT id, type, job_id, workflow_id, tags, data, created_at
FROM events
WHERE job_id = $1 AND tenant = $2 AND id > $3
ORDER BY id
LIMIT $4;

-- name: cancel_job
-- Cancel a job that has not started (or is between attempts); it never runs.
-- $1 id, $2 tenant, $3 statuses cancellable at once
UPDATE jobs
SET status = 'cancelled', finished_at = now(), run_at = NULL,
    error = jsonb_build_object('type', 'Cancelled', 'message', 'cancelled on request', 'category', 'cancelled')
WHERE id = $1 AND tenant = $2 AND status = ANY($3::job_status[])
RETURNING *;

-- name: request_cancel
-- Ask the worker running a job to stop it; the worker records the cancellation.
-- $1 id, $2 tenant
WITH job AS (
    UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, now())
    WHERE id = $1 AND tenant = $2 AND status = 'running'
    RETURNING *
)
SELECT * FROM job;

-- name: notify_cancel
-- Tell every worker (at commit) that a running job is to stop.
-- $1 job id as text
SELECT pg_notify('conveyor_cancel', $1);

-- name: retry_job
-- Run a failed or cancelled job again: attempts continue, the retry budget starts afresh.
-- A workflow's jobs are not retried alone (their nodes have finished). A job that reads the
-- result of a dependency that has not succeeded is not retried (conveyor_retry_params).
-- $1 id, $2 tenant, $3 statuses that can be retried
UPDATE jobs
SET status = 'queued', retry_base = attempts, worker_losses = 0, error = NULL, result = NULL,
    progress = 0, progress_message = NULL, run_at = NULL, cancel_requested_at = NULL,
    finished_at = NULL, params = conveyor_retry_params(jobs)
WHERE id = $1 AND tenant = $2 AND status = ANY($3::job_status[]) AND workflow_id IS NULL
  AND conveyor_retry_params(jobs) IS NOT NULL
RETURNING *;

-- name: claim_jobs
-- Take jobs to run: queued ones, or running ones whose worker is gone (then it counts as a
-- loss). A job whose cancellation was asked is cancelled instead; one that lost its worker
-- too often fails. One guarded UPDATE: concurrent claimers of a job wait for each other's
-- row lock and re-check the guard, so exactly one gets it.
-- Queue controls hold queued jobs back: a paused queue's, and those past a queue's or the
-- global max_concurrency (counting running jobs and the batch's own, highest priority first).
-- Answers the claimed rows (held false) and the held-back ones (held true; they stay queued).
-- With a limit set, the caller first takes lock_queue_limits in the same transaction, so that
-- claimers on every host count one after the other.
-- $1 ids, $2 worker id, $3 lease seconds, $4 max worker losses
WITH control AS (
    SELECT queue, paused, max_concurrency FROM queue_controls WHERE paused OR max_concurrency IS NOT NULL
), candidate AS (
    SELECT j.id, j.engine,
           row_number() OVER (PARTITION BY j.engine ORDER BY j.priority DESC, j.id) AS nth_of_queue,
           row_number() OVER (ORDER BY j.priority DESC, j.id) AS nth
    FROM jobs j
    WHERE j.id = ANY($1::uuid[]) AND j.status = 'queued' AND EXISTS (SELECT 1 FROM control)
), running AS (
    SELECT engine, count(*) AS n FROM jobs
    WHERE status = 'running' AND EXISTS (SELECT 1 FROM control WHERE max_concurrency IS NOT NULL)
    GROUP BY engine
), held AS (
    SELECT c.id FROM candidate c
    LEFT JOIN control q ON q.queue = c.engine
    LEFT JOIN control g ON g.queue = '*'
    WHERE coalesce(q.paused, false)
       OR q.max_concurrency < coalesce((SELECT r.n FROM running r WHERE r.engine = c.engine), 0) + c.nth_of_queue
       OR g.max_concurrency < coalesce((SELECT sum(r.n) FROM running r), 0) + c.nth
), claimed AS (
    UPDATE jobs
    SET status = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled'
                      WHEN status = 'running' AND worker_losses + 1 >= conveyor_max_worker_losses(retry_on, $4) THEN 'failed'
                      ELSE 'running' END::job_status,
        attempts = attempts + (cancel_requested_at IS NULL AND NOT (status = 'running' AND worker_losses + 1 >= conveyor_max_worker_losses(retry_on, $4)))::int,
        worker_losses = worker_losses + (status = 'running')::int,
        worker_id = $2,
        heartbeat_at = now(),
        -- the statement's time, not the transaction's: a limited claim may have waited for its lock
        started_at = CASE WHEN cancel_requested_at IS NULL THEN statement_timestamp() ELSE started_at END,
        finished_at = CASE WHEN cancel_requested_at IS NOT NULL OR (status = 'running' AND worker_losses + 1 >= conveyor_max_worker_losses(retry_on, $4))
                           THEN statement_timestamp() END,
        progress = 0,
        progress_message = NULL,
        error = CASE WHEN cancel_requested_at IS NOT NULL
                     THEN jsonb_build_object('type', 'Cancelled', 'message', 'cancelled on request', 'category', 'cancelled')
                     WHEN status = 'running' AND worker_losses + 1 >= conveyor_max_worker_losses(retry_on, $4)
                     THEN jsonb_build_object('type', 'WorkerLost', 'category', 'worker_lost',
                                             'message', conveyor_worker_lost_message(retry_on, $4))
                     ELSE error END
    WHERE id = ANY($1::uuid[])
      AND NOT id IN (SELECT id FROM held)
      AND (status = 'queued'
           OR (status = 'running' AND worker_id IS DISTINCT FROM $2 AND conveyor_worker_gone(worker_id, heartbeat_at, $3)))
    RETURNING *
)
SELECT claimed.*, false AS held FROM claimed
UNION ALL
SELECT j.*, true AS held FROM jobs j WHERE j.id IN (SELECT id FROM held);

-- name: lock_queue_limits
-- Take the control rows of limited queues (and the global one), in one order, so claims
-- under a limit count running jobs one after the other; held until the transaction ends.
-- $1 engines being claimed
SELECT queue FROM queue_controls
WHERE max_concurrency IS NOT NULL AND (queue = ANY($1::text[]) OR queue = '*')
ORDER BY queue
FOR UPDATE;

-- name: finish_jobs
-- Record how attempts ended, for the jobs this worker still owns: succeeded, failed,
-- cancelled, retrying (after a delay) or queued (released by a stopping worker).
-- $1 worker id, $2 ids, $3 new statuses, $4 results (JSON texts), $5 errors (JSON texts),
-- $6 retry delays in seconds
UPDATE jobs j
SET status = f.status,
    result = f.result::jsonb,
    error = f.error::jsonb,
    run_at = CASE WHEN f.retry_in IS NULL THEN NULL ELSE now() + make_interval(secs => f.retry_in) END,
    -- a success is the whole of the work, whatever the last report said
    progress = CASE WHEN f.status = 'succeeded' THEN 1 ELSE j.progress END,
    progress_message = CASE WHEN f.status = 'succeeded' THEN 'done' ELSE j.progress_message END,
    finished_at = CASE WHEN f.status IN ('succeeded', 'failed', 'cancelled') THEN now() END,
    heartbeat_at = NULL,
    -- a released attempt was the worker's doing, not the job's: it spends no retry
    retry_base = j.retry_base + (f.status = 'queued')::int
FROM unnest($2::uuid[], $3::job_status[], $4::text[], $5::text[], $6::float8[])
     AS f(id, status, result, error, retry_in)
WHERE j.id = f.id AND j.status = 'running' AND j.worker_id = $1
RETURNING j.id;

-- name: heartbeat
-- Renew the lease of a worker's running jobs and write their progress; answers which of
-- them are still this worker's, and which were asked to cancel.
-- $1 worker id, $2 job ids, $3 progress (null: unchanged), $4 progress messages
UPDATE jobs j
SET heartbeat_at = now(),
    progress = coalesce(p.progress, j.progress),
    progress_message = CASE WHEN p.progress IS NULL THEN j.progress_message ELSE p.message END
FROM unnest($2::uuid[], $3::real[], $4::text[]) AS p(id, progress, message)
WHERE j.id = p.id AND j.status = 'running' AND j.worker_id = $1
RETURNING j.id, j.cancel_requested_at IS NOT NULL AS cancel_requested;

-- name: cancel_requested
-- Which of these running jobs were asked to cancel.
-- $1 job ids
SELECT id FROM jobs WHERE id = ANY($1::uuid[]) AND status = 'running' AND cancel_requested_at IS NOT NULL;

-- name: promote_due
-- Queue jobs whose time has come (scheduled, or retrying after their backoff).
-- $1 limit
UPDATE jobs SET status = 'queued', run_at = NULL
WHERE id IN (
    SELECT id FROM jobs
    WHERE status IN ('scheduled', 'retrying') AND run_at <= now()
    ORDER BY run_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING id, engine, operation, priority, attempts;

-- name: seconds_until_due
-- Seconds until the next scheduled or retrying job is due (null: none is waiting).
SELECT extract(epoch FROM min(run_at) - now())::float8
FROM jobs WHERE status IN ('scheduled', 'retrying');

-- name: rescue_orphans
-- Settle running jobs whose worker is gone and whose message nobody took over: queue them
-- again, cancel those asked to cancel, fail those that lost their worker too often.
-- $1 lease seconds, $2 max worker losses, $3 limit
WITH target AS (
    SELECT id,
           cancel_requested_at IS NOT NULL AS cancelling,
           worker_losses + 1 >= conveyor_max_worker_losses(retry_on, $2) AS lost_too_often
    FROM jobs
    WHERE status = 'running' AND conveyor_worker_gone(worker_id, heartbeat_at, $1)
    ORDER BY heartbeat_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j
SET status = CASE WHEN t.cancelling THEN 'cancelled' WHEN t.lost_too_often THEN 'failed' ELSE 'queued' END::job_status,
    worker_losses = j.worker_losses + 1,
    heartbeat_at = NULL,
    finished_at = CASE WHEN t.cancelling OR t.lost_too_often THEN now() END,
    error = CASE WHEN t.cancelling
                 THEN jsonb_build_object('type', 'Cancelled', 'message', 'cancelled on request',
                                         'category', 'cancelled')
                 WHEN t.lost_too_often
                 THEN jsonb_build_object('type', 'WorkerLost', 'category', 'worker_lost',
                                         'message', conveyor_worker_lost_message(j.retry_on, $2))
                 ELSE j.error END
FROM target t
WHERE j.id = t.id
RETURNING j.id, j.engine, j.operation, j.priority, j.attempts, j.status;

-- name: delete_job
-- Delete a finished job of the tenant that is in no workflow, with its events, artifacts,
-- outbox rows and dependency links (ON DELETE CASCADE); not while a job waiting on it may still
-- read its result. Answers the id, or nothing.
-- $1 id, $2 tenant
DELETE FROM jobs j
WHERE j.id = $1 AND j.tenant = $2 AND j.status IN ('succeeded', 'failed', 'cancelled') AND j.workflow_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs w ON w.id = d.job_id
                  WHERE d.dependency_id = j.id AND w.status = 'waiting')
RETURNING j.id;
