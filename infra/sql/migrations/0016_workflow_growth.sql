-- Workflows that grow and recover: nodes added to a running workflow, and a finished workflow
-- run again from its failed and cancelled nodes.
--
-- One lock orders every change to a workflow's nodes: its row in `workflows`. A node's job
-- finishing (the job trigger), a cancel, an addition and a retry each take it before they touch
-- a node, so they happen one after another, and always in the same order (job, workflow, nodes):
-- an addition racing with the workflow's last node either comes first (the step sees the raised
-- nodes_left and the new children) or sees the workflow finished and adds nothing; two retries,
-- or a retry and a cancel, cannot both act on the state they read.
--
-- Adding nodes (conveyor_nodes_added): the caller stores them under that lock; a new node waits
-- for the parents that have not finished, starts at once if they all have, and under
-- cancel_dependents is cancelled at once (with what hangs below it) when one of them failed or
-- was cancelled; under continue it runs, as a node does today.
--
-- Retrying (conveyor_workflow_retry): the caller chooses the nodes (schemas.workflows.retry_plan).
-- Succeeded nodes keep their results and their jobs do not run again. A plain node's job goes
-- back to `waiting` with the params it was submitted with (its `$ref`s are resolved afresh when
-- its parents have finished, from their results then) and a fresh retry budget (retry_base =
-- attempts, as retry_job does). A for_each node that never expanded (cancelled or failed before
-- its list was read) expands when ready, as the first time. One that expanded keeps its list and
-- its items: succeeded items keep their results, the failed and cancelled ones run again when
-- the node is ready (they keep their last status until then), and its result is then every
-- item's, in order. The workflow is `running` again (announced as `workflow.started`, its
-- `retries` and `retried_at` telling a retry from the first start), and each retry is recorded
-- in workflow_retries.

ALTER TABLE workflows
    ADD COLUMN retries    integer NOT NULL DEFAULT 0,  -- how many times it was run again
    ADD COLUMN retried_at timestamptz;                 -- when it was last run again

ALTER TABLE workflow_nodes
    -- a plain node's params as submitted, when they hold `$ref`s: a re-run resolves them afresh
    ADD COLUMN params   jsonb,
    -- when the node was added to its running workflow (null: submitted with it)
    ADD COLUMN added_at timestamptz;

CREATE TABLE workflow_retries (
    workflow_id uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    number      integer NOT NULL CHECK (number > 0),
    at          timestamptz NOT NULL DEFAULT now(),
    requested   text[],          -- the keys asked for; null: every failed and cancelled node
    nodes       text[] NOT NULL, -- the nodes run again (those asked for and what follows them)
    PRIMARY KEY (workflow_id, number)
);

-- A retried node's job waits for its parents again. schemas/jobs.py TRANSITIONS holds the same table.
INSERT INTO job_transitions (from_status, to_status) VALUES ('failed', 'waiting'), ('cancelled', 'waiting');

-- As in 0002, taking the workflow's row before the node's (see the top of this file).
CREATE OR REPLACE FUNCTION conveyor_workflow_job_finished() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    node workflow_nodes;
BEGIN
    IF current_setting('conveyor.quiet_step', true) = 'on' THEN
        RETURN NULL;  -- ended by the workflow machinery, which records the node itself
    END IF;
    PERFORM 1 FROM workflows WHERE id = NEW.workflow_id FOR NO KEY UPDATE;
    IF NEW.item_index IS NULL THEN
        PERFORM conveyor_node_finished(NEW.workflow_id,
            jsonb_build_object('key', NEW.node_key, 'status', NEW.status, 'error', NEW.error));
        RETURN NULL;
    END IF;
    UPDATE workflow_nodes
    SET items_left = items_left - 1, items_failed = items_failed + (NEW.status <> 'succeeded')::int
    WHERE workflow_id = NEW.workflow_id AND key = NEW.node_key AND status = 'running'
    RETURNING * INTO node;
    IF FOUND AND node.items_left = 0 THEN
        PERFORM conveyor_node_finished(NEW.workflow_id, conveyor_items_outcome(node));
    END IF;
    RETURN NULL;
END
$$;

-- As in 0002, and a for_each node that expanded before (it is being retried) does not expand
-- again: its items that did not succeed run again, each with the params it had.
CREATE OR REPLACE FUNCTION conveyor_node_ready(w workflows, p_key text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    node   workflow_nodes;
    inputs jsonb;
    due    timestamptz;
BEGIN
    UPDATE workflow_nodes SET status = 'running'
    WHERE workflow_id = w.id AND key = p_key AND status = 'waiting'
    RETURNING * INTO node;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF w.cancel_requested_at IS NOT NULL THEN
        RETURN conveyor_node_stop(node, 'cancelled',
            jsonb_build_object('type', 'Cancelled', 'message', 'the workflow was cancelled', 'category', 'cancelled'));
    END IF;
    due := coalesce(node.run_at, now() + make_interval(secs => coalesce(node.delay_seconds, 0)));
    IF node.for_each IS NOT NULL AND node.items_total IS NOT NULL THEN
        PERFORM conveyor_items_rerun(node, CASE WHEN due > now() THEN due END);
        RETURN NULL;
    END IF;
    inputs := conveyor_node_inputs(w.id, node.depends_on);
    BEGIN
        IF node.for_each IS NOT NULL THEN
            RETURN conveyor_node_expand(w, node, inputs, CASE WHEN due > now() THEN due END);
        END IF;
        UPDATE jobs
        SET params = CASE WHEN params::text LIKE '%"$ref"%' THEN conveyor_resolve(params, inputs, NULL)
                          ELSE params END,
            status = CASE WHEN due > now() THEN 'scheduled' ELSE 'queued' END::job_status,
            run_at = CASE WHEN due > now() THEN due END
        WHERE id = node.job_id AND status = 'waiting';
        RETURN NULL;
    EXCEPTION WHEN SQLSTATE 'CV001' THEN
        RETURN conveyor_node_stop(node, 'failed',
            jsonb_build_object('type', 'InputError', 'message', SQLERRM, 'category', 'permanent'));
    END;
END
$$;

-- The items of a retried for_each node that did not succeed, run again with a fresh retry
-- budget: queued, or scheduled for `due`.
CREATE FUNCTION conveyor_items_rerun(node workflow_nodes, due timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE jobs
    SET status = 'waiting', retry_base = attempts, worker_losses = 0, error = NULL, result = NULL,
        progress = 0, progress_message = NULL, run_at = NULL, cancel_requested_at = NULL, finished_at = NULL
    WHERE workflow_id = node.workflow_id AND node_key = node.key AND status IN ('failed', 'cancelled');
    UPDATE jobs
    SET status = CASE WHEN due IS NULL THEN 'queued' ELSE 'scheduled' END::job_status, run_at = due
    WHERE workflow_id = node.workflow_id AND node_key = node.key AND status = 'waiting';
END
$$;

-- Run a list of finished-node entries through the workflow's work list, one after another.
CREATE FUNCTION conveyor_nodes_finished(p_workflow uuid, entries jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    entry jsonb;
BEGIN
    FOR entry IN SELECT e FROM jsonb_array_elements(entries) AS e LOOP
        PERFORM conveyor_node_finished(p_workflow, entry);
    END LOOP;
END
$$;

-- Start, in position order, the `waiting` nodes of `p_keys` that have no parent left to wait
-- for; the nodes that finish at once (an input that cannot be resolved, an empty list) step on.
CREATE FUNCTION conveyor_nodes_start(w workflows, p_keys text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    k     text;
    ready jsonb;
BEGIN
    FOR k IN
        SELECT key FROM workflow_nodes
        WHERE workflow_id = w.id AND key = ANY(p_keys) AND status = 'waiting' AND parents_left = 0
        ORDER BY position
    LOOP
        ready := conveyor_node_ready(w, k);
        IF ready IS NOT NULL THEN
            PERFORM conveyor_node_finished(w.id, ready);
        END IF;
    END LOOP;
END
$$;

-- Nodes `p_keys` were just stored in a running workflow, counted in its nodes_total and
-- nodes_left, by a caller holding the workflow's row: their existing parents learn of them, each
-- waits for the parents that have not finished, and those with none left start. Under
-- cancel_dependents, a new node below a parent that failed or was cancelled is cancelled at once,
-- with everything new below it.
CREATE FUNCTION conveyor_nodes_added(p_workflow uuid, p_keys text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    w       workflows;
    parent  workflow_nodes;
    stopped jsonb := '[]';
BEGIN
    SELECT * INTO w FROM workflows WHERE id = p_workflow;
    UPDATE workflow_nodes p
    SET children = p.children || c.keys
    FROM (
        SELECT d.parent, array_agg(n.key ORDER BY n.position) AS keys
        FROM workflow_nodes n, unnest(n.depends_on) AS d(parent)
        WHERE n.workflow_id = p_workflow AND n.key = ANY(p_keys) AND NOT d.parent = ANY(p_keys)
        GROUP BY d.parent
    ) c
    WHERE p.workflow_id = p_workflow AND p.key = c.parent;
    UPDATE workflow_nodes n
    SET parents_left = (SELECT count(*) FROM workflow_nodes p
                        WHERE p.workflow_id = p_workflow AND p.key = ANY(n.depends_on)
                          AND p.status IN ('waiting', 'running'))
    WHERE n.workflow_id = p_workflow AND n.key = ANY(p_keys);
    IF w.on_failure = 'cancel_dependents' THEN
        FOR parent IN
            SELECT * FROM workflow_nodes
            WHERE workflow_id = p_workflow AND status IN ('failed', 'cancelled') AND children && p_keys
            ORDER BY position
        LOOP
            -- what was below it before was stopped when it ended: only new nodes are waiting
            stopped := stopped || conveyor_cancel_downstream(w, parent);
        END LOOP;
        PERFORM conveyor_nodes_finished(p_workflow, stopped);
    END IF;
    PERFORM conveyor_nodes_start(w, p_keys);
END
$$;

-- Run a finished (failed or cancelled) workflow again from nodes `p_keys`, chosen by a caller
-- holding the workflow's row (schemas.workflows.retry_plan: failed or cancelled nodes, each
-- of whose parents succeeded or is among them, unless on_failure is continue); `p_requested`
-- the keys asked for (null: all), as recorded. False, and nothing changed, if the workflow is
-- not finished or none of `p_keys` is a failed or cancelled node.
CREATE FUNCTION conveyor_workflow_retry(p_workflow uuid, p_keys text[], p_requested text[]) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    w           workflows;
    n_rerun     integer;
    n_failed    integer;
    n_cancelled integer;
BEGIN
    SELECT count(*), count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'cancelled')
    INTO n_rerun, n_failed, n_cancelled
    FROM workflow_nodes WHERE workflow_id = p_workflow AND key = ANY(p_keys) AND status IN ('failed', 'cancelled');
    UPDATE workflows
    SET status = 'running', finished_at = NULL, cancel_requested_at = NULL, nodes_left = n_rerun,
        nodes_failed = nodes_failed - n_failed, nodes_cancelled = nodes_cancelled - n_cancelled,
        retries = retries + 1, retried_at = now()
    WHERE id = p_workflow AND status IN ('failed', 'cancelled') AND n_rerun > 0
    RETURNING * INTO w;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO workflow_retries (workflow_id, number, at, requested, nodes)
    VALUES (p_workflow, w.retries, w.retried_at, p_requested, p_keys);
    -- a plain node's job waits again, with the params it was submitted with
    UPDATE jobs j
    SET status = 'waiting', params = coalesce(n.params, j.params), retry_base = j.attempts, worker_losses = 0,
        error = NULL, result = NULL, progress = 0, progress_message = NULL, run_at = NULL,
        cancel_requested_at = NULL, finished_at = NULL
    FROM workflow_nodes n
    WHERE n.workflow_id = p_workflow AND n.key = ANY(p_keys) AND n.status IN ('failed', 'cancelled')
      AND n.for_each IS NULL AND j.id = n.job_id AND j.status IN ('failed', 'cancelled');
    -- each node waits for its parents that run again; a for_each node's items that did not
    -- succeed are counted as left to run
    UPDATE workflow_nodes n
    SET status = 'waiting', result = NULL, error = NULL, finished_at = NULL, items_failed = 0,
        parents_left = (SELECT count(*) FROM unnest(n.depends_on) AS d(key) WHERE d.key = ANY(p_keys)),
        items_left = CASE WHEN n.items_total IS NOT NULL THEN
            (SELECT count(*) FROM jobs j WHERE j.workflow_id = p_workflow AND j.node_key = n.key
                                           AND j.status IN ('failed', 'cancelled')) END
    WHERE n.workflow_id = p_workflow AND n.key = ANY(p_keys) AND n.status IN ('failed', 'cancelled');
    PERFORM conveyor_nodes_start(w, p_keys);
    RETURN true;
END
$$;

-- As in 0008, and a workflow that runs again (retried) announces `workflow.started` again.
CREATE OR REPLACE FUNCTION conveyor_workflow_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM conveyor_emit(NEW.tenant,
                          CASE WHEN TG_OP = 'INSERT' OR NEW.status = 'running' THEN 'workflow.started'
                               ELSE 'workflow.' || NEW.status::text END,
                          NULL, NEW.id, NEW.tags, conveyor_workflow_view(NEW), NEW.notify, NULL, NULL);
    RETURN NULL;
END
$$;
