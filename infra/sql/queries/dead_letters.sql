-- A dead letter is a failed job whose dead letter was not purged (migration 0004): status
-- 'failed' AND (dead_letter_purged_at IS NULL OR dead_letter_purged_at < finished_at).
-- The listings read the partial indexes of that predicate, newest failure first.

-- name: list_dead_letters
-- A tenant's dead letters, newest failure first, after the cursor, with optional filters
-- (on the jobs_dead_letters index).
-- $1 tenant, $2 engine, $3 operation, $4 error category, $5 tag, $6 failed at or after,
-- $7 cursor time and $8 cursor id (both null: from the newest), $9 limit
SELECT id, tenant, engine, operation, error, attempts, tags, finished_at, created_at, workflow_id, node_key
FROM jobs
WHERE tenant = $1::text
  AND status = 'failed' AND (dead_letter_purged_at IS NULL OR dead_letter_purged_at < finished_at)
  AND ($2::text IS NULL OR engine = $2::text)
  AND ($3::text IS NULL OR operation = $3::text)
  AND ($4::text IS NULL OR error ->> 'category' = $4::text)
  AND ($5::text IS NULL OR tags @> ARRAY[$5::text])
  AND ($6::timestamptz IS NULL OR finished_at >= $6::timestamptz)
  AND (finished_at, id) < (coalesce($7::timestamptz, 'infinity'),
                           coalesce($8::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
ORDER BY finished_at DESC, id DESC
LIMIT $9;

-- name: list_dead_letters_of_all_tenants
-- Every tenant's dead letters, as list_dead_letters (on the jobs_dead_letters_all index).
-- $1 engine, $2 operation, $3 error category, $4 tag, $5 failed at or after,
-- $6 cursor time and $7 cursor id (both null: from the newest), $8 limit
SELECT id, tenant, engine, operation, error, attempts, tags, finished_at, created_at, workflow_id, node_key
FROM jobs
WHERE status = 'failed' AND (dead_letter_purged_at IS NULL OR dead_letter_purged_at < finished_at)
  AND ($1::text IS NULL OR engine = $1::text)
  AND ($2::text IS NULL OR operation = $2::text)
  AND ($3::text IS NULL OR error ->> 'category' = $3::text)
  AND ($4::text IS NULL OR tags @> ARRAY[$4::text])
  AND ($5::timestamptz IS NULL OR finished_at >= $5::timestamptz)
  AND (finished_at, id) < (coalesce($6::timestamptz, 'infinity'),
                           coalesce($7::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
ORDER BY finished_at DESC, id DESC
LIMIT $8;

-- name: find_dead_letters
-- Which of these ids are dead letters (of the tenant; of any tenant when it is null).
-- $1 ids, $2 tenant (null: any)
SELECT id, engine, workflow_id
FROM jobs
WHERE id = ANY($1::uuid[]) AND ($2::text IS NULL OR tenant = $2::text)
  AND status = 'failed' AND (dead_letter_purged_at IS NULL OR dead_letter_purged_at < finished_at);

-- name: replay_dead_letters
-- Run dead letters again as retry_job runs a job again (attempts continue, the retry budget
-- starts afresh): queued at once, or, when paced, scheduled for the second its place gives
-- it (place / jobs per second, rounded down; the jobs of second 0 are queued at once), for
-- the scheduler to queue then. A workflow's nodes are not run again alone.
-- $1 ids, $2 their places in the replay (0, 1, …), $3 tenant (null: any),
-- $4 jobs per second (null: not paced)
UPDATE jobs j
SET status = CASE WHEN p.second = 0 THEN 'queued' ELSE 'scheduled' END::job_status,
    run_at = CASE WHEN p.second = 0 THEN NULL ELSE now() + make_interval(secs => p.second) END,
    retry_base = j.attempts, worker_losses = 0, error = NULL, result = NULL, progress = 0,
    progress_message = NULL, cancel_requested_at = NULL, finished_at = NULL
FROM (SELECT r.id, coalesce(floor(r.place / $4::float8), 0) AS second
      FROM unnest($1::uuid[], $2::integer[]) AS r(id, place)) p
WHERE j.id = p.id AND ($3::text IS NULL OR j.tenant = $3::text)
  AND j.status = 'failed' AND j.workflow_id IS NULL
  AND (j.dead_letter_purged_at IS NULL OR j.dead_letter_purged_at < j.finished_at)
RETURNING j.id, j.engine, j.operation, j.priority, j.attempts, j.status, p.second;

-- name: purge_dead_letters
-- Take dead letters off the list; the jobs stay failed. The stamp is the clock's time, later
-- than the failure it hides (a transaction's now() could be earlier).
-- $1 ids, $2 tenant (null: any)
UPDATE jobs
SET dead_letter_purged_at = clock_timestamp()
WHERE id = ANY($1::uuid[]) AND ($2::text IS NULL OR tenant = $2::text)
  AND status = 'failed' AND (dead_letter_purged_at IS NULL OR dead_letter_purged_at < finished_at)
RETURNING id, engine, attempts;

-- name: stale_dead_letter_messages
-- Which of these job ids (read from messages in a .XQ) have no dead letter to keep there:
-- the job is gone (retention), runs again or ran again (any status but running or failed),
-- or its dead letter was purged. A running job's message stays: it may be the attempt whose
-- failure its worker is recording right now.
-- $1 job ids
SELECT m.id
FROM unnest($1::uuid[]) AS m(id) LEFT JOIN jobs j ON j.id = m.id
WHERE j.id IS NULL
   OR j.status NOT IN ('running', 'failed')
   OR (j.status = 'failed' AND j.dead_letter_purged_at >= j.finished_at);

-- name: lock_dead_letter_queue
-- Wait to be the only one sweeping a dead-letter queue (until unlocked, or the session ends).
-- $1 queue name
SELECT pg_advisory_lock(hashtextextended('conveyor.dead_letter_queue:' || $1::text, 0));

-- name: unlock_dead_letter_queue
-- Let others sweep a dead-letter queue again.
-- $1 queue name
SELECT pg_advisory_unlock(hashtextextended('conveyor.dead_letter_queue:' || $1::text, 0));
