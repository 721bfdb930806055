-- name: delete_outbox
-- Forget publish intents RabbitMQ has confirmed.
-- $1 job ids, $2 attempts
DELETE FROM outbox o
USING unnest($1::uuid[], $2::integer[]) AS d(job_id, attempt)
WHERE o.job_id = d.job_id AND o.attempt = d.attempt;

-- name: lock_stale_outbox
-- Publish intents older than the grace period, or urgent ones (written by a workflow step,
-- which no gateway is about to send), locked for this relay (others skip them).
-- $1 grace seconds, $2 limit
SELECT o.job_id AS id, o.attempt AS attempts, j.engine, j.operation, j.priority,
       j.status = 'queued' AS publish
FROM outbox o JOIN jobs j ON j.id = o.job_id
WHERE (o.urgent OR o.created_at < now() - make_interval(secs => $1))
ORDER BY o.created_at
LIMIT $2
FOR UPDATE OF o SKIP LOCKED;
