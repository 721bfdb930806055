-- name: register_worker
-- A worker process says it is alive (first time: who it is); long-gone ones are forgotten.
-- $1 id, $2 host, $3 pid, $4 queues, $5 threads
WITH forgotten AS (
    DELETE FROM workers WHERE last_seen < now() - interval '1 hour'
)
INSERT INTO workers (id, host, pid, queues, threads) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET last_seen = now();

-- name: unregister_worker
-- A worker process stopped.
-- $1 id
DELETE FROM workers WHERE id = $1;

-- name: live_workers
-- Worker processes seen within the lease, with the jobs each runs.
-- $1 lease seconds
SELECT w.*, coalesce(r.ids, '{}') AS running_job_ids
FROM workers w
LEFT JOIN (
    SELECT worker_id, array_agg(id ORDER BY id) AS ids FROM jobs WHERE status = 'running' GROUP BY worker_id
) r ON r.worker_id = w.id
WHERE w.last_seen > now() - make_interval(secs => $1)
ORDER BY w.host, w.started_at;

-- name: scheduler_leader
-- The scheduler session that holds the leader lock: its name (which carries the scheduler's
-- id) and since when.
SELECT a.application_name, a.backend_start FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.application_name LIKE 'conveyor-scheduler-leader:%'
  AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted)
LIMIT 1;
