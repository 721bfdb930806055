-- name: link_dependencies
-- Link new waiting jobs to the jobs they depend on. The dependencies are locked in id order
-- and flagged, so one that finishes meanwhile waits for this transaction, and its trigger then
-- sees these links; the pairs whose dependency is no job of the tenant's are not linked.
-- $1 dependent ids, $2 dependency ids (one pair per position), $3 tenant
WITH locked AS (
    SELECT id FROM jobs WHERE id = ANY($2::uuid[]) AND tenant = $3 ORDER BY id FOR NO KEY UPDATE
), flagged AS (
    UPDATE jobs SET has_dependents = true FROM locked
    WHERE jobs.id = locked.id AND NOT jobs.has_dependents
)
INSERT INTO job_dependencies (dependency_id, job_id)
SELECT l.dependency_id, l.job_id
FROM unnest($1::uuid[], $2::uuid[]) AS l(job_id, dependency_id)
WHERE l.dependency_id IN (SELECT id FROM locked)
ON CONFLICT DO NOTHING
RETURNING dependency_id, job_id;

-- name: settle_finished_dependencies
-- Count at once the dependencies among these that have already finished (their links are
-- settled, and their dependents released or stopped as if they had just finished).
-- $1 dependency ids
SELECT conveyor_dependencies_settle(id, status)
FROM jobs
WHERE id = ANY($1::uuid[]) AND status IN ('succeeded', 'failed', 'cancelled')
ORDER BY id;

-- name: unfinished_dependencies
-- Each of these jobs' dependencies that have not finished, in depends_on order.
-- $1 job ids
SELECT j.id, array_agg(d.dependency_id ORDER BY array_position(j.depends_on, d.dependency_id)) AS ids
FROM jobs j JOIN job_dependencies d ON d.job_id = j.id AND d.settled IS NULL
WHERE j.id = ANY($1::uuid[])
GROUP BY j.id;

-- name: list_dependents
-- The jobs that depend on a job of the tenant's, oldest first.
-- $1 job id, $2 tenant, $3 the id to continue after (or null), $4 limit
SELECT j.*
FROM job_dependencies d JOIN jobs j ON j.id = d.job_id
WHERE d.dependency_id = $1 AND j.tenant = $2 AND ($3::uuid IS NULL OR j.id > $3)
ORDER BY j.id
LIMIT $4;
