-- Workflows: DAGs of job nodes. Advancing a workflow happens in the database, in the
-- transaction that finishes a node's job, so a child is queued exactly once however many
-- parents finish at the same moment, and no crash can leave a workflow half advanced.

CREATE TYPE workflow_status AS ENUM ('running', 'succeeded', 'failed', 'cancelled');

CREATE TABLE workflows (
    id                  uuid PRIMARY KEY,
    tenant              text NOT NULL,
    name                text NOT NULL,
    status              workflow_status NOT NULL DEFAULT 'running',
    on_failure          text NOT NULL CHECK (on_failure IN ('cancel_dependents', 'continue')),
    tags                text[] NOT NULL DEFAULT '{}',
    metadata            jsonb NOT NULL DEFAULT '{}',
    idempotency_key     text,
    nodes_total         integer NOT NULL CHECK (nodes_total > 0),
    nodes_left          integer NOT NULL CHECK (nodes_left >= 0),  -- nodes not yet finished
    nodes_failed        integer NOT NULL DEFAULT 0,
    nodes_cancelled     integer NOT NULL DEFAULT 0,
    cancel_requested_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz
);
CREATE UNIQUE INDEX workflows_idempotency_key ON workflows (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX workflows_tenant_id ON workflows (tenant, id DESC);
CREATE INDEX workflows_tenant_status_id ON workflows (tenant, status, id DESC);
CREATE INDEX workflows_finished ON workflows (finished_at) WHERE finished_at IS NOT NULL;

-- One row per node. A plain node has one job (created with the workflow, `waiting` until its
-- parents finish); a `for_each` node gets one job per element of a parent's result list
-- when it becomes ready, built from `template`.
CREATE TABLE workflow_nodes (
    workflow_id   uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    key           text NOT NULL,
    position      integer NOT NULL,
    depends_on    text[] NOT NULL,
    children      text[] NOT NULL,
    parents_left  integer NOT NULL CHECK (parents_left >= 0),
    status        text NOT NULL CHECK (status IN ('waiting', 'running', 'succeeded', 'failed', 'cancelled')),
    job_id        uuid,
    for_each      text,
    template      jsonb,
    run_at        timestamptz,       -- a fixed time to run at once ready
    delay_seconds double precision,  -- or a delay counted from when it is ready
    items_total   integer,
    items_left    integer,
    items_failed  integer NOT NULL DEFAULT 0,
    result        jsonb,             -- a for_each node's item results, in order
    error         jsonb,
    finished_at   timestamptz,
    PRIMARY KEY (workflow_id, key)
);

ALTER TABLE jobs
    ADD COLUMN workflow_id uuid REFERENCES workflows (id) ON DELETE CASCADE,
    ADD COLUMN node_key    text,
    ADD COLUMN item_index  integer;
CREATE INDEX jobs_workflow ON jobs (workflow_id, node_key, item_index) WHERE workflow_id IS NOT NULL;

-- A publish intent nobody is about to send (a job queued by a workflow step, not by a
-- gateway): the relay sends it at once instead of after its grace period.
ALTER TABLE outbox ADD COLUMN urgent boolean NOT NULL DEFAULT false;

-- A time-ordered UUID (version 7), like schemas.ids.uuid7, for jobs made in the database.
CREATE FUNCTION conveyor_uuid7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

-- The value a `$ref` names: "<parent key>.result.<path>" or "$item.<path>".
-- Raises SQLSTATE CV001 with a message for the node's error when it cannot be found.
CREATE FUNCTION conveyor_lookup(ref text, inputs jsonb, item jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    parts text[] := string_to_array(ref, '.');
    base  jsonb;
    found jsonb;
BEGIN
    IF parts[1] = '$item' THEN
        IF item IS NULL THEN
            RAISE EXCEPTION '$ref "%": $item exists only in a for_each node', ref USING ERRCODE = 'CV001';
        END IF;
        base := item;
        parts := parts[2:];
    ELSE
        IF NOT coalesce(inputs ? parts[1], false) THEN
            RAISE EXCEPTION '$ref "%": "%" is not in depends_on', ref, parts[1] USING ERRCODE = 'CV001';
        END IF;
        IF inputs -> parts[1] ->> 'status' <> 'succeeded' THEN
            RAISE EXCEPTION '$ref "%": node "%" did not succeed (it is %)', ref, parts[1],
                inputs -> parts[1] ->> 'status' USING ERRCODE = 'CV001';
        END IF;
        IF parts[2] IS DISTINCT FROM 'result' THEN
            RAISE EXCEPTION '$ref "%": write "%.result.<path>"', ref, parts[1] USING ERRCODE = 'CV001';
        END IF;
        base := inputs -> parts[1] -> 'result';
        parts := parts[3:];
    END IF;
    found := base #> parts;
    IF found IS NULL THEN
        RAISE EXCEPTION '$ref "%": no such value in the result', ref USING ERRCODE = 'CV001';
    END IF;
    RETURN found;
END
$$;

-- `value` with every {"$ref": "..."} replaced by the value it names.
CREATE FUNCTION conveyor_resolve(value jsonb, inputs jsonb, item jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    out jsonb;
BEGIN
    IF jsonb_typeof(value) = 'object' THEN
        IF value ? '$ref' AND jsonb_typeof(value -> '$ref') = 'string'
           AND (SELECT count(*) FROM jsonb_object_keys(value)) = 1 THEN
            RETURN conveyor_lookup(value ->> '$ref', inputs, item);
        END IF;
        SELECT coalesce(jsonb_object_agg(e.key, conveyor_resolve(e.value, inputs, item)), '{}')
        INTO out FROM jsonb_each(value) e;
        RETURN out;
    ELSIF jsonb_typeof(value) = 'array' THEN
        SELECT coalesce(jsonb_agg(conveyor_resolve(e.value, inputs, item) ORDER BY e.ord), '[]')
        INTO out FROM jsonb_array_elements(value) WITH ORDINALITY AS e(value, ord);
        RETURN out;
    END IF;
    RETURN value;
END
$$;

-- The status and result of each parent of a node: the inputs its `$ref`s read.
CREATE FUNCTION conveyor_node_inputs(p_workflow uuid, p_parents text[]) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_object_agg(n.key, jsonb_build_object(
               'status', n.status, 'result', coalesce(n.result, j.result))), '{}')
    FROM workflow_nodes n LEFT JOIN jobs j ON j.id = n.job_id
    WHERE n.workflow_id = p_workflow AND n.key = ANY(p_parents)
$$;

-- How a workflow advances. One node finishing may finish others at once (a child whose
-- input cannot be resolved fails; under cancel_dependents everything downstream of a failed
-- node is cancelled), so finished nodes go through a work list, never through recursion: a
-- chain of 1,000 nodes failing one after another costs no stack.
--
-- A node's job ended by this machinery itself changes status with `conveyor.quiet_step` on,
-- so the job trigger does not report it again.

-- Ends a node that will not run; the list entry that records it.
CREATE FUNCTION conveyor_node_stop(node workflow_nodes, p_status text, p_error jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    IF node.job_id IS NOT NULL THEN
        PERFORM set_config('conveyor.quiet_step', 'on', true);
        UPDATE jobs SET status = p_status::job_status, error = p_error, finished_at = now(), run_at = NULL
        WHERE id = node.job_id AND status IN ('waiting', 'scheduled', 'queued', 'retrying');
        PERFORM set_config('conveyor.quiet_step', 'off', true);
    END IF;
    RETURN jsonb_build_object('key', node.key, 'status', p_status, 'error', p_error);
END
$$;

-- One job per element of the for_each list, each with `$item` bound to its element; the
-- list entry of the node if that finishes it at once (an empty list).
CREATE FUNCTION conveyor_node_expand(w workflows, node workflow_nodes, inputs jsonb, due timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    items jsonb := conveyor_lookup(node.for_each, inputs, NULL);
    t     jsonb := node.template;
    n     integer;
BEGIN
    IF jsonb_typeof(items) <> 'array' THEN
        RAISE EXCEPTION 'for_each "%": the value is %, not a list', node.for_each, jsonb_typeof(items)
            USING ERRCODE = 'CV001';
    END IF;
    n := jsonb_array_length(items);
    IF n > 10000 THEN
        RAISE EXCEPTION 'for_each "%": % items, more than the 10000 one node may run', node.for_each, n
            USING ERRCODE = 'CV001';
    END IF;
    UPDATE workflow_nodes SET items_total = n, items_left = n WHERE workflow_id = w.id AND key = node.key;
    IF n = 0 THEN
        RETURN jsonb_build_object('key', node.key, 'status', 'succeeded', 'result', '[]'::jsonb);
    END IF;
    INSERT INTO jobs (id, tenant, engine, operation, status, priority, params, max_retries,
                      retry_backoff_seconds, retry_backoff_max_seconds, timeout_seconds, tags,
                      metadata, run_at, workflow_id, node_key, item_index)
    SELECT conveyor_uuid7(), w.tenant, t ->> 'engine', t ->> 'operation',
           CASE WHEN due IS NULL THEN 'queued' ELSE 'scheduled' END::job_status,
           (t ->> 'priority')::smallint, conveyor_resolve(t -> 'params', inputs, e.item),
           (t ->> 'max_retries')::integer, (t ->> 'retry_backoff_seconds')::float8,
           (t ->> 'retry_backoff_max_seconds')::float8, (t ->> 'timeout_seconds')::float8,
           ARRAY(SELECT jsonb_array_elements_text(t -> 'tags')), t -> 'metadata', due,
           w.id, node.key, (e.ord - 1)::integer
    FROM jsonb_array_elements(items) WITH ORDINALITY AS e(item, ord);
    RETURN NULL;
END
$$;

-- A node whose parents have all finished: resolve its inputs and queue its job (or one job
-- per element for a for_each node); or stop it, when the workflow is being cancelled or an
-- input cannot be resolved. The list entry of the node if it finished at once.
CREATE FUNCTION conveyor_node_ready(w workflows, p_key text) RETURNS jsonb
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
    inputs := conveyor_node_inputs(w.id, node.depends_on);
    due := coalesce(node.run_at, now() + make_interval(secs => coalesce(node.delay_seconds, 0)));
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

-- Stop every node downstream of one that failed or was cancelled (cancel_dependents); their
-- list entries.
CREATE FUNCTION conveyor_cancel_downstream(w workflows, origin workflow_nodes) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    reason  jsonb := jsonb_build_object(
        'type', 'UpstreamFailed', 'category', 'cancelled',
        'message', format('upstream node "%s" %s', origin.key, origin.status));
    node    workflow_nodes;
    entries jsonb := '[]';
BEGIN
    FOR node IN
        WITH RECURSIVE down(key) AS (
            SELECT unnest(origin.children)
            UNION
            SELECT unnest(n.children) FROM workflow_nodes n JOIN down d ON n.key = d.key
            WHERE n.workflow_id = w.id
        )
        SELECT n.* FROM workflow_nodes n JOIN down d ON n.key = d.key
        WHERE n.workflow_id = w.id AND n.status = 'waiting'
        ORDER BY n.position
    LOOP
        entries := entries || jsonb_build_array(conveyor_node_stop(node, 'cancelled', reason));
    END LOOP;
    RETURN entries;
END
$$;

-- Record one finished node: its status, the workflow's counts (finishing the workflow with
-- its last node), and what follows — children released, or everything downstream stopped.
-- The list entries of the nodes that finished in consequence.
CREATE FUNCTION conveyor_node_step(p_workflow uuid, entry jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    p_status text := entry ->> 'status';
    node     workflow_nodes;
    w        workflows;
    child    workflow_nodes;
    ready    jsonb;
    entries  jsonb := '[]';
BEGIN
    UPDATE workflow_nodes
    SET status = p_status, result = entry -> 'result', error = entry -> 'error', finished_at = now()
    WHERE workflow_id = p_workflow AND key = entry ->> 'key' AND status IN ('waiting', 'running')
    RETURNING * INTO node;
    IF NOT FOUND THEN
        RETURN entries;
    END IF;
    UPDATE workflows
    SET nodes_left = nodes_left - 1,
        nodes_failed = nodes_failed + (p_status = 'failed')::int,
        nodes_cancelled = nodes_cancelled + (p_status = 'cancelled')::int,
        finished_at = CASE WHEN nodes_left = 1 THEN now() END,
        status = CASE WHEN nodes_left > 1 THEN 'running'
                      WHEN cancel_requested_at IS NOT NULL THEN 'cancelled'
                      WHEN nodes_failed + (p_status = 'failed')::int > 0 THEN 'failed'
                      WHEN nodes_cancelled + (p_status = 'cancelled')::int > 0 THEN 'cancelled'
                      ELSE 'succeeded' END::workflow_status
    WHERE id = p_workflow
    RETURNING * INTO w;
    IF w.finished_at IS NOT NULL THEN
        PERFORM pg_notify('conveyor_workflows', p_workflow::text);
    END IF;
    IF p_status <> 'succeeded' AND w.on_failure = 'cancel_dependents' THEN
        IF coalesce(entry -> 'error' ->> 'type', '') = 'UpstreamFailed' THEN
            RETURN entries;  -- the node that failed first stopped everything downstream
        END IF;
        RETURN conveyor_cancel_downstream(w, node);
    END IF;
    FOR child IN
        UPDATE workflow_nodes SET parents_left = parents_left - 1
        WHERE workflow_id = p_workflow AND key = ANY(node.children) AND status = 'waiting'
        RETURNING *
    LOOP
        IF child.parents_left = 0 THEN
            ready := conveyor_node_ready(w, child.key);
            IF ready IS NOT NULL THEN
                entries := entries || jsonb_build_array(ready);
            END IF;
        END IF;
    END LOOP;
    RETURN entries;
END
$$;

-- A node has finished: step it, then every node that finished in consequence, in order.
CREATE FUNCTION conveyor_node_finished(p_workflow uuid, first jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    todo jsonb := jsonb_build_array(first);
BEGIN
    WHILE jsonb_array_length(todo) > 0 LOOP
        todo := (todo - 0) || conveyor_node_step(p_workflow, todo -> 0);
    END LOOP;
END
$$;

-- The job trigger's part in workflows: a node's job (or one of a for_each node's jobs)
-- reached a final status.
CREATE FUNCTION conveyor_workflow_job_finished() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    node workflow_nodes;
BEGIN
    IF current_setting('conveyor.quiet_step', true) = 'on' THEN
        RETURN NULL;  -- ended by the workflow machinery, which records the node itself
    END IF;
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

-- How a for_each node whose items have all finished ends: their results in order if all
-- succeeded; failed if one failed; otherwise cancelled.
CREATE FUNCTION conveyor_items_outcome(node workflow_nodes) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN node.items_failed = 0 THEN jsonb_build_object('key', node.key, 'status', 'succeeded',
            'result', (SELECT jsonb_agg(j.result ORDER BY j.item_index) FROM jobs j
                       WHERE j.workflow_id = node.workflow_id AND j.node_key = node.key))
        WHEN EXISTS (SELECT 1 FROM jobs j WHERE j.workflow_id = node.workflow_id AND j.node_key = node.key
                                             AND j.status = 'failed')
        THEN jsonb_build_object('key', node.key, 'status', 'failed', 'error', jsonb_build_object(
            'type', 'ItemsFailed', 'category', 'permanent',
            'message', format('%s of %s items did not succeed', node.items_failed, node.items_total)))
        ELSE jsonb_build_object('key', node.key, 'status', 'cancelled', 'error', jsonb_build_object(
            'type', 'Cancelled', 'category', 'cancelled',
            'message', format('%s of %s items were cancelled', node.items_failed, node.items_total)))
    END
$$;

CREATE TRIGGER jobs_workflow_step AFTER UPDATE OF status ON jobs
    FOR EACH ROW
    WHEN (NEW.workflow_id IS NOT NULL AND NEW.status IN ('succeeded', 'failed', 'cancelled')
          AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION conveyor_workflow_job_finished();

-- As in 0001, and: a publish intent written by a workflow step is urgent (no gateway is
-- about to send it), and the relay is woken for it.
CREATE OR REPLACE FUNCTION conveyor_job_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    urgent boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO job_events (job_id, tenant, type, to_status, attempt)
        VALUES (NEW.id, NEW.tenant, 'submitted', NEW.status, NEW.attempts);
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT EXISTS (
            SELECT 1 FROM job_transitions t WHERE t.from_status = OLD.status AND t.to_status = NEW.status
        ) THEN
            RAISE EXCEPTION 'job % cannot go from % to %', OLD.id, OLD.status, NEW.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'job_transition';
        END IF;
        INSERT INTO job_events (job_id, tenant, type, from_status, to_status, attempt, data)
        VALUES (NEW.id, NEW.tenant, 'transition', OLD.status, NEW.status, NEW.attempts,
                jsonb_strip_nulls(jsonb_build_object(
                    'worker_id', CASE WHEN NEW.status = 'running' THEN NEW.worker_id END,
                    'error', CASE WHEN NEW.status IN ('failed', 'retrying', 'cancelled') THEN NEW.error END,
                    'run_at', NEW.run_at)));
    ELSIF NEW.status = 'running' AND NEW.worker_id IS DISTINCT FROM OLD.worker_id THEN
        INSERT INTO job_events (job_id, tenant, type, from_status, to_status, attempt, data)
        VALUES (NEW.id, NEW.tenant, 'taken_over', OLD.status, NEW.status, NEW.attempts,
                jsonb_build_object('worker_id', NEW.worker_id, 'previous_worker_id', OLD.worker_id));
    ELSE
        RETURN NULL;
    END IF;
    IF NEW.status = 'queued' THEN
        urgent := NEW.workflow_id IS NOT NULL
                  AND (NEW.item_index IS NOT NULL OR (TG_OP = 'UPDATE' AND OLD.status = 'waiting'));
        INSERT INTO outbox (job_id, attempt, urgent) VALUES (NEW.id, NEW.attempts, urgent) ON CONFLICT DO NOTHING;
        IF urgent THEN
            PERFORM pg_notify('conveyor_outbox', '');
        END IF;
    ELSIF NEW.status IN ('scheduled', 'retrying') THEN
        PERFORM pg_notify('conveyor_timers', '');
    END IF;
    RETURN NULL;
END
$$;
