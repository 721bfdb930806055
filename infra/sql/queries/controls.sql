-- name: queue_control_state
-- Every queue control, with the jobs running now where a limit makes them count.
SELECT c.queue, c.paused, c.max_concurrency, c.max_backlog,
       CASE WHEN c.max_concurrency IS NULL THEN NULL
            WHEN c.queue = '*' THEN (SELECT count(*) FROM jobs WHERE status = 'running')
            ELSE (SELECT count(*) FROM jobs WHERE status = 'running' AND engine = c.queue) END AS running
FROM queue_controls c;

-- name: get_queue_control
-- One queue's controls (or the global ones, '*').
-- $1 queue
SELECT * FROM queue_controls WHERE queue = $1;

-- name: set_queue_paused
-- Pause or resume a queue.
-- $1 queue, $2 paused, $3 who
INSERT INTO queue_controls (queue, paused, updated_by) VALUES ($1, $2, $3)
ON CONFLICT (queue) DO UPDATE SET paused = EXCLUDED.paused, updated_at = now(), updated_by = EXCLUDED.updated_by
RETURNING *;

-- name: set_queue_limits
-- Set a queue's (or the global) limits; a limit whose flag is false keeps its value.
-- $1 queue, $2 change max_concurrency, $3 max_concurrency, $4 change max_backlog, $5 max_backlog, $6 who
INSERT INTO queue_controls (queue, max_concurrency, max_backlog, updated_by)
VALUES ($1, CASE WHEN $2::boolean THEN $3::integer END, CASE WHEN $4::boolean THEN $5::integer END, $6)
ON CONFLICT (queue) DO UPDATE
SET max_concurrency = CASE WHEN $2::boolean THEN $3::integer ELSE queue_controls.max_concurrency END,
    max_backlog = CASE WHEN $4::boolean THEN $5::integer ELSE queue_controls.max_backlog END,
    updated_at = now(),
    updated_by = EXCLUDED.updated_by
RETURNING *;

-- name: backlog_of_queue
-- Queued and scheduled jobs of a queue, or of all queues (what max_backlog bounds).
-- $1 engine (null: every queue)
SELECT count(*) FROM jobs WHERE ($1::text IS NULL OR engine = $1::text) AND status IN ('queued', 'scheduled');

-- name: queue_job_counts
-- Jobs waiting or running, per queue and status.
SELECT engine, status, count(*) AS n FROM jobs
WHERE status IN ('queued', 'scheduled', 'retrying')
GROUP BY engine, status
UNION ALL
SELECT engine, 'running'::job_status, count(*) FROM jobs WHERE status = 'running' GROUP BY engine;

-- name: queue_recent_outcomes
-- Per queue and operation over the last hour: jobs finished in the last five minutes,
-- succeeded and failed ones, and the mean run time of those that succeeded.
SELECT engine, operation,
       count(*) FILTER (WHERE finished_at > now() - interval '5 minutes') AS finished_5m,
       count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       avg(extract(epoch FROM finished_at - started_at)) FILTER (WHERE status = 'succeeded') AS mean_run_seconds
FROM jobs
WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at > now() - interval '1 hour'
GROUP BY engine, operation;

-- name: jobs_ahead
-- For queued jobs, how many queued jobs of their queue run before them (higher priority, or
-- the same and older): one walk of each queue's backlog in priority order.
-- $1 ids, $2 engines
SELECT id, ahead FROM (
    SELECT id, row_number() OVER (PARTITION BY engine ORDER BY priority DESC, id) - 1 AS ahead
    FROM jobs
    WHERE status = 'queued' AND engine = ANY($2::text[])
) ranked
WHERE id = ANY($1::uuid[]);

-- name: oldest_queued
-- The oldest queued job's age per queue, in seconds.
SELECT engine, extract(epoch FROM now() - min(created_at))::float8 AS age_seconds
FROM jobs WHERE status = 'queued' GROUP BY engine;

-- name: insert_audit
-- Record an operator's action.
-- $1 tenant, $2 key id, $3 action, $4 target, $5 details
INSERT INTO audit_log (tenant, key_id, action, target, details) VALUES ($1, $2, $3, $4, $5)
RETURNING *;

-- name: list_audit
-- Audit entries, newest first, before an entry id.
-- $1 before id (null: from the newest), $2 limit, $3 action, $4 target
SELECT * FROM audit_log
WHERE ($1::bigint IS NULL OR id < $1::bigint)
  AND ($3::text IS NULL OR action = $3::text)
  AND ($4::text IS NULL OR target = $4::text)
ORDER BY id DESC
LIMIT $2;

-- name: eta_inputs
-- For pairs of (engine, operation): the jobs of the engine running now, and the mean run time
-- of the operation's jobs that succeeded in the last hour (null: none did).
-- $1 engines, $2 operations
SELECT t.engine, t.operation,
       (SELECT count(*) FROM jobs r WHERE r.status = 'running' AND r.engine = t.engine) AS running,
       (SELECT avg(extract(epoch FROM f.finished_at - f.started_at))::float8 FROM jobs f
        WHERE f.status = 'succeeded' AND f.finished_at > now() - interval '1 hour'
          AND f.engine = t.engine AND f.operation = t.operation) AS mean_run_seconds
FROM unnest($1::text[], $2::text[]) AS t(engine, operation);
