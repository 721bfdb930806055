-- name: insert_workflow
-- Store a workflow's own row; nothing if the tenant used its idempotency key before.
-- $1 id, $2 tenant, $3 name, $4 on_failure, $5 tags, $6 metadata, $7 node count, $8 idempotency key,
-- $9 notify (null: none)
INSERT INTO workflows (id, tenant, name, on_failure, tags, metadata, nodes_total, nodes_left, idempotency_key, notify)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)
ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *;

-- name: get_workflow_by_idempotency_key
-- The workflow a tenant submitted under an idempotency key.
-- $1 tenant, $2 key
SELECT * FROM workflows WHERE tenant = $1 AND idempotency_key = $2;

-- name: insert_workflow_nodes
-- Store a workflow's nodes (all of a new one, or those added to a running one); roots start
-- `running` (their jobs are queued with them). An added node's parents_left is set by
-- conveyor_nodes_added, which counts only its parents that have not finished.
-- $1 workflow id, $2 keys, $3 depends_on (JSON texts), $4 children (JSON texts),
-- $5 job ids (null for for_each nodes), $6 for_each paths, $7 templates (JSON texts),
-- $8 run_at, $9 delay seconds, $10 params as submitted (JSON texts; null unless they hold $refs),
-- $11 position of the first, $12 added (false: submitted with the workflow)
INSERT INTO workflow_nodes (workflow_id, key, position, depends_on, children, parents_left, status,
                            job_id, for_each, template, run_at, delay_seconds, params, added_at)
SELECT $1, n.key, $11::integer + n.position - 1,
       ARRAY(SELECT jsonb_array_elements_text(n.depends_on::jsonb)),
       ARRAY(SELECT jsonb_array_elements_text(n.children::jsonb)),
       jsonb_array_length(n.depends_on::jsonb),
       CASE WHEN jsonb_array_length(n.depends_on::jsonb) = 0 THEN 'running' ELSE 'waiting' END,
       n.job_id, n.for_each, n.template::jsonb, n.run_at, n.delay_seconds, n.params::jsonb,
       CASE WHEN $12::boolean THEN now() END
FROM unnest($2::text[], $3::text[], $4::text[], $5::uuid[], $6::text[], $7::text[], $8::timestamptz[],
            $9::float8[], $10::text[]) WITH ORDINALITY
     AS n(key, depends_on, children, job_id, for_each, template, run_at, delay_seconds, params, position);

-- name: insert_workflow_jobs
-- Store the jobs of a workflow's plain nodes (roots queued or scheduled, the rest waiting).
-- $1 … $15 as for insert_jobs, $16 workflow id, $17 node keys, $18 retry_on (JSON texts or
-- nulls), $19 template (`name@<version>` or nulls)
INSERT INTO jobs (id, tenant, engine, operation, status, priority, params, max_retries,
                  retry_backoff_seconds, retry_backoff_max_seconds, timeout_seconds, tags,
                  metadata, run_at, notify, workflow_id, node_key, retry_on, template)
SELECT j.id, $2, j.engine, j.operation, j.status, j.priority, j.params::jsonb, j.max_retries,
       j.backoff, j.backoff_max, j.timeout_seconds,
       ARRAY(SELECT jsonb_array_elements_text(j.tags::jsonb)), j.metadata::jsonb, j.run_at,
       j.notify::jsonb, $16, j.node_key,
       CASE WHEN j.retry_on IS NOT NULL THEN ARRAY(SELECT jsonb_array_elements_text(j.retry_on::jsonb)) END,
       j.template
FROM unnest($1::uuid[], $3::text[], $4::text[], $5::job_status[], $6::smallint[], $7::text[],
            $8::integer[], $9::float8[], $10::float8[], $11::float8[], $12::text[], $13::text[],
            $14::timestamptz[], $15::text[], $17::text[], $18::text[], $19::text[])
     AS j(id, engine, operation, status, priority, params, max_retries, backoff, backoff_max,
          timeout_seconds, tags, metadata, run_at, notify, node_key, retry_on, template)
RETURNING *;

-- name: get_workflow
-- One workflow of a tenant.
-- $1 id, $2 tenant
SELECT * FROM workflows WHERE id = $1 AND tenant = $2;

-- name: get_workflow_nodes
-- A workflow's nodes in submission order; a plain node shows its job's status and error.
-- $1 workflow id
SELECT n.key, n.job_id, n.depends_on, n.for_each, n.items_total, n.added_at,
       n.items_total - n.items_left AS items_finished,
       coalesce(j.status::text, n.status) AS status,
       coalesce(j.engine, n.template ->> 'engine') AS engine,
       coalesce(j.operation, n.template ->> 'operation') AS operation,
       coalesce(j.error, n.error) AS error,
       coalesce(j.finished_at, n.finished_at) AS finished_at
FROM workflow_nodes n LEFT JOIN jobs j ON j.id = n.job_id
WHERE n.workflow_id = $1
ORDER BY n.position;

-- name: list_workflows
-- A tenant's workflows, newest first, after the cursor id, with optional filters.
-- $1 tenant, $2 statuses, $3 name, $4 tag, $5 created at or after, $6 created before,
-- $7 cursor id, $8 limit
SELECT * FROM workflows
WHERE tenant = $1
  AND ($2::workflow_status[] IS NULL OR status = ANY($2::workflow_status[]))
  AND ($3::text IS NULL OR name = $3::text)
  AND ($4::text[] IS NULL OR tags @> $4::text[])
  AND ($5::timestamptz IS NULL OR created_at >= $5::timestamptz)
  AND ($6::timestamptz IS NULL OR created_at < $6::timestamptz)
  AND ($7::uuid IS NULL OR id < $7::uuid)
ORDER BY id DESC
LIMIT $8;

-- name: request_cancel_workflow_jobs
-- Ask the workers running a workflow's jobs to stop them (first: row locks on running jobs
-- are taken before the workflow's, in the order a finishing worker takes them).
-- $1 workflow id, $2 tenant
WITH job AS (
    UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, now())
    WHERE workflow_id = $1 AND tenant = $2 AND status = 'running'
    RETURNING *
)
SELECT id FROM job;

-- name: mark_workflow_cancelled
-- Record that a running workflow is to stop: no node of it is queued from now on.
-- $1 workflow id, $2 tenant
UPDATE workflows SET cancel_requested_at = coalesce(cancel_requested_at, now())
WHERE id = $1 AND tenant = $2 AND finished_at IS NULL
RETURNING *;

-- name: cancel_workflow_jobs
-- Cancel a workflow's jobs that have not started; their nodes finish through the job trigger.
-- $1 workflow id, $2 statuses cancellable at once
UPDATE jobs
SET status = 'cancelled', finished_at = now(), run_at = NULL,
    error = jsonb_build_object('type', 'Cancelled', 'message', 'the workflow was cancelled', 'category', 'cancelled')
WHERE workflow_id = $1 AND status = ANY($2::job_status[]);

-- name: delete_workflow
-- Delete a finished workflow of the tenant whole: its nodes, its jobs and their events and
-- artifacts go with it (ON DELETE CASCADE); not while a job outside it waits on one of its
-- jobs. Answers the id, or nothing.
-- $1 id, $2 tenant
DELETE FROM workflows w
WHERE w.id = $1 AND w.tenant = $2 AND w.finished_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM jobs j
                  JOIN job_dependencies d ON d.dependency_id = j.id
                  JOIN jobs waiting ON waiting.id = d.job_id AND waiting.status = 'waiting'
                  WHERE j.workflow_id = w.id)
RETURNING w.id;

-- name: lock_workflow
-- One workflow of a tenant, its row locked until the transaction ends. The steps of its nodes
-- (the job trigger), a cancel, an addition of nodes and a retry all take it before they touch
-- a node, so they happen one after another (migration 0016).
-- $1 id, $2 tenant
SELECT * FROM workflows WHERE id = $1 AND tenant = $2 FOR NO KEY UPDATE;

-- name: get_workflow_graph
-- A workflow's nodes as its rules see them, in submission order.
-- $1 workflow id
SELECT key, depends_on, status FROM workflow_nodes WHERE workflow_id = $1 ORDER BY position;

-- name: grow_workflow
-- Count nodes added to a running workflow that is not being cancelled: it ends only after them.
-- $1 workflow id, $2 how many
UPDATE workflows SET nodes_total = nodes_total + $2, nodes_left = nodes_left + $2
WHERE id = $1 AND finished_at IS NULL AND cancel_requested_at IS NULL
RETURNING *;

-- name: link_added_nodes
-- Join stored added nodes to the workflow: parents told, parents counted, ready ones started.
-- $1 workflow id, $2 the added nodes' keys
SELECT conveyor_nodes_added($1, $2::text[]);

-- name: retry_workflow_nodes
-- Run a finished workflow again from these nodes, recording the retry; whether it did.
-- $1 workflow id, $2 keys of the nodes to run again, $3 keys asked for (null: all)
SELECT conveyor_workflow_retry($1, $2::text[], $3::text[]);

-- name: get_workflow_retries
-- A workflow's retries, oldest first.
-- $1 workflow id
SELECT number, at, requested, nodes FROM workflow_retries WHERE workflow_id = $1 ORDER BY number;
