-- name: insert_schedule
-- Store a new schedule of a tenant.
-- $1 id, $2 tenant, $3 name, $4 cron, $5 timezone, $6 job body, $7 enabled, $8 next run at
INSERT INTO schedules (id, tenant, name, cron, timezone, job, enabled, next_run_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- name: get_schedule
-- One schedule of a tenant.
-- $1 id, $2 tenant
SELECT * FROM schedules WHERE id = $1 AND tenant = $2;

-- name: lock_schedule
-- One schedule of a tenant, locked until the transaction ends (a firing waits, or skips it).
-- $1 id, $2 tenant
SELECT * FROM schedules WHERE id = $1 AND tenant = $2 FOR UPDATE;

-- name: list_schedules
-- A tenant's schedules, newest first, after the cursor id.
-- $1 tenant, $2 cursor id, $3 limit
SELECT * FROM schedules
WHERE tenant = $1 AND ($2::uuid IS NULL OR id < $2::uuid)
ORDER BY id DESC
LIMIT $3;

-- name: update_schedule
-- Replace the settings of a schedule of a tenant.
-- $1 id, $2 tenant, $3 name, $4 cron, $5 timezone, $6 job body, $7 enabled, $8 next run at
UPDATE schedules
SET name = $3, cron = $4, timezone = $5, job = $6, enabled = $7, next_run_at = $8, updated_at = now()
WHERE id = $1 AND tenant = $2
RETURNING *;

-- name: delete_schedule
-- Delete a schedule of a tenant (its jobs stay, still naming it).
-- $1 id, $2 tenant
DELETE FROM schedules WHERE id = $1 AND tenant = $2 RETURNING id;

-- name: notify_schedules
-- Wake the leading scheduler (at commit): a schedule's times changed.
SELECT pg_notify('conveyor_schedules', '');

-- name: due_schedules
-- Enabled schedules whose next fire time has come, locked for this transaction; competing
-- schedulers skip each other's. `fired_at` is the transaction's time, which the jobs
-- created in it carry as created_at.
-- $1 limit
SELECT s.*, now() AS fired_at
FROM schedules s
WHERE s.enabled AND s.next_run_at <= now()
ORDER BY s.next_run_at
LIMIT $1
FOR UPDATE SKIP LOCKED;

-- name: fire_schedule
-- One run of a due schedule: its job, queued (the jobs trigger writes the event and outbox
-- row) unless this fire time already has a job; then the schedule's next fire time (null:
-- it never fires again, and is disabled). Answers the job's publish details, or nothing.
-- $1 schedule id, $2 fire time, $3 next fire time, $4 job id, $5 engine, $6 operation,
-- $7 priority, $8 params, $9 max_retries, $10 retry_backoff_seconds,
-- $11 retry_backoff_max_seconds, $12 timeout_seconds, $13 tags, $14 metadata, $15 notify,
-- $16 retry_on, $17 template
WITH job AS (
    INSERT INTO jobs (id, tenant, engine, operation, status, priority, params, max_retries,
                      retry_backoff_seconds, retry_backoff_max_seconds, timeout_seconds, tags,
                      metadata, notify, schedule_id, fire_time, retry_on, template)
    SELECT $4, s.tenant, $5, $6, 'queued', $7, $8, $9, $10, $11, $12, $13, $14, $15, s.id, $2, $16, $17
    FROM schedules s WHERE s.id = $1
    ON CONFLICT (schedule_id, fire_time) WHERE schedule_id IS NOT NULL DO NOTHING
    RETURNING id, engine, operation, priority, attempts
), schedule AS (
    UPDATE schedules
    SET next_run_at = $3,
        enabled = enabled AND $3::timestamptz IS NOT NULL,
        last_run_at = CASE WHEN EXISTS (SELECT 1 FROM job) THEN now() ELSE last_run_at END,
        last_job_id = coalesce((SELECT id FROM job), last_job_id)
    WHERE id = $1
)
SELECT * FROM job;

-- name: advance_schedule
-- Move a schedule to its next fire time without a job (its job no longer fits its
-- operation, or its cron no longer parses); null disables it.
-- $1 schedule id, $2 next fire time
UPDATE schedules
SET next_run_at = $2, enabled = enabled AND $2::timestamptz IS NOT NULL
WHERE id = $1;

-- name: seconds_until_next_schedule
-- Seconds until the next enabled schedule is due (null: none is enabled).
SELECT extract(epoch FROM min(next_run_at) - now())::float8 FROM schedules WHERE enabled;
