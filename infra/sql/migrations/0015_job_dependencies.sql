-- Jobs that wait for other jobs: a job submitted with `depends_on` (ids of jobs that exist) is
-- `waiting` until each of them has finished. As in workflows, the database advances it in the
-- transaction that finishes its last dependency, so it is queued exactly once however many
-- dependencies finish at the same moment, and a crash never leaves it half released.
--
-- A link is settled once, with the status its dependency finished in: a dependency that is
-- retried and finishes again settles nothing again, so a dependent that ran is not run twice.
-- A cycle cannot be made: a job can only depend on jobs that exist before it.

ALTER TABLE jobs
    ADD COLUMN depends_on            uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN dependencies_left     integer NOT NULL DEFAULT 0 CHECK (dependencies_left >= 0),
    ADD COLUMN on_dependency_failure text NOT NULL DEFAULT 'cancel' CHECK (on_dependency_failure IN ('cancel', 'run')),
    -- set on a job the moment another one depends on it, so the trigger below costs nothing
    -- for the jobs nobody waits for
    ADD COLUMN has_dependents        boolean NOT NULL DEFAULT false;

CREATE TABLE job_dependencies (
    dependency_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    job_id        uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    settled       job_status,  -- the status the dependency finished in; null while unfinished
    PRIMARY KEY (dependency_id, job_id)
);
CREATE INDEX job_dependencies_job ON job_dependencies (job_id);

-- A job as the API shows it (JobView, less what is computed at read time).
CREATE OR REPLACE FUNCTION conveyor_job_view(j jobs) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT to_jsonb(j) - ARRAY['tenant', 'retry_base', 'heartbeat_at', 'worker_losses',
                               'fire_time', 'dead_letter_purged_at', 'queued_at',
                               'dependencies_left', 'has_dependents']
$$;

-- The status, result, id and finished artifacts of each dependency of a job, under its id:
-- the inputs its `{"$ref": "<job id>.result.<path>"}`s read (conveyor_lookup). A dependency
-- that finished again since it was settled (retried) counts as it is now.
CREATE FUNCTION conveyor_dependency_inputs(p_job uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_object_agg(j.id::text, jsonb_build_object(
               'status', CASE WHEN j.status IN ('succeeded', 'failed', 'cancelled') THEN j.status ELSE d.settled END,
               'result', j.result, 'job_id', j.id,
               'artifacts', (SELECT coalesce(jsonb_agg(a.name ORDER BY a.name), '[]') FROM artifacts a
                             WHERE a.job_id = j.id AND a.sha256 <> ''))), '{}')
    FROM job_dependencies d JOIN jobs j ON j.id = d.dependency_id
    WHERE d.job_id = p_job
$$;

-- The params a job runs with when it is retried: as they are, or, for one whose `$ref`s were
-- never resolved (it was cancelled while it waited for its dependencies), resolved from its
-- dependencies now; null when one cannot be (a dependency it reads has not succeeded).
CREATE FUNCTION conveyor_retry_params(j jobs) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF j.depends_on = '{}' OR j.params::text NOT LIKE '%"$ref"%' THEN
        RETURN j.params;
    END IF;
    RETURN conveyor_resolve(j.params, conveyor_dependency_inputs(j.id), NULL);
EXCEPTION WHEN SQLSTATE 'CV001' THEN
    RETURN NULL;
END
$$;

-- Ends a waiting dependent that will not run; the work-list entry of its own dependents, if any.
-- It changes status with `conveyor.quiet_dependents` on: the caller's work list handles it.
CREATE FUNCTION conveyor_dependent_stop(d jobs, p_status text, p_error jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('conveyor.quiet_dependents', 'on', true);
    UPDATE jobs SET status = p_status::job_status, error = p_error, finished_at = now(), run_at = NULL
    WHERE id = d.id AND status = 'waiting';
    PERFORM set_config('conveyor.quiet_dependents', 'off', true);
    RETURN CASE WHEN d.has_dependents THEN jsonb_build_object('id', d.id, 'status', p_status) END;
END
$$;

-- A dependent with nothing left to wait for: its `$ref`s resolved, queued (or scheduled, when
-- its run_at is still ahead); failed when a reference cannot be resolved.
CREATE FUNCTION conveyor_dependent_ready(d jobs) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        UPDATE jobs
        SET params = CASE WHEN params::text LIKE '%"$ref"%'
                          THEN conveyor_resolve(params, conveyor_dependency_inputs(d.id), NULL)
                          ELSE params END,
            status = CASE WHEN run_at > now() THEN 'scheduled' ELSE 'queued' END::job_status,
            run_at = CASE WHEN run_at > now() THEN run_at END
        WHERE id = d.id AND status = 'waiting';
        RETURN NULL;
    EXCEPTION WHEN SQLSTATE 'CV001' THEN
        RETURN conveyor_dependent_stop(d, 'failed',
            jsonb_build_object('type', 'InputError', 'message', SQLERRM, 'category', 'permanent'));
    END;
END
$$;

-- Settle the unsettled links of a job that finished in `p_status`, and release or stop each
-- waiting dependent this decides; the work-list entries of those that ended in consequence.
-- Dependents are locked in id order, so two dependencies finishing at once cannot deadlock
-- over the dependents they share.
CREATE FUNCTION conveyor_dependency_settle(p_id uuid, p_status job_status) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    d       jobs;
    entry   jsonb;
    entries jsonb := '[]';
BEGIN
    PERFORM 1 FROM jobs WHERE id IN (SELECT job_id FROM job_dependencies
                                     WHERE dependency_id = p_id AND settled IS NULL)
    ORDER BY id FOR NO KEY UPDATE;
    FOR d IN
        WITH settled AS (
            UPDATE job_dependencies SET settled = p_status
            WHERE dependency_id = p_id AND settled IS NULL
            RETURNING job_id
        )
        UPDATE jobs j SET dependencies_left = j.dependencies_left - 1
        FROM settled s
        WHERE j.id = s.job_id AND j.status = 'waiting' AND j.dependencies_left > 0
        RETURNING j.*
    LOOP
        IF p_status <> 'succeeded' AND d.on_dependency_failure = 'cancel' THEN
            entry := conveyor_dependent_stop(d, 'cancelled', jsonb_build_object(
                'type', 'DependencyFailed', 'category', 'cancelled',
                'message', format('dependency %s %s', p_id, p_status)));
        ELSIF d.dependencies_left = 0 THEN
            entry := conveyor_dependent_ready(d);
        ELSE
            entry := NULL;
        END IF;
        IF entry IS NOT NULL THEN
            entries := entries || jsonb_build_array(entry);
        END IF;
    END LOOP;
    RETURN entries;
END
$$;

-- A job with dependents finished: settle it, then every dependent that ended in consequence,
-- through a work list (a chain of 1,000 jobs cancelled one after another costs no stack).
CREATE FUNCTION conveyor_dependencies_settle(p_id uuid, p_status job_status) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    todo jsonb := jsonb_build_array(jsonb_build_object('id', p_id, 'status', p_status));
BEGIN
    WHILE jsonb_array_length(todo) > 0 LOOP
        todo := (todo - 0) || conveyor_dependency_settle((todo -> 0 ->> 'id')::uuid,
                                                         (todo -> 0 ->> 'status')::job_status);
    END LOOP;
END
$$;

CREATE FUNCTION conveyor_dependency_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('conveyor.quiet_dependents', true) = 'on' THEN
        RETURN NULL;  -- ended by conveyor_dependency_settle, whose work list goes on from it
    END IF;
    PERFORM conveyor_dependencies_settle(NEW.id, NEW.status);
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_dependency_finished AFTER UPDATE OF status ON jobs
    FOR EACH ROW
    WHEN (NEW.has_dependents AND NEW.status IN ('succeeded', 'failed', 'cancelled')
          AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION conveyor_dependency_finished();

-- As in 0008, and: a job released from `waiting` (by a workflow step or by its dependencies)
-- has an urgent publish intent, since no gateway is about to send it; the event's view leaves
-- out the dependency bookkeeping.
CREATE OR REPLACE FUNCTION conveyor_job_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    urgent boolean;
    ev events;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
        IF NEW.status <> 'running' OR NEW.worker_id IS NOT DISTINCT FROM OLD.worker_id THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'UPDATE' AND NOT EXISTS (
        SELECT 1 FROM job_transitions t WHERE t.from_status = OLD.status AND t.to_status = NEW.status
    ) THEN
        RAISE EXCEPTION 'job % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'job_transition';
    END IF;
    IF NEW.engine <> 'notifications' THEN
        -- conveyor_emit with conveyor_job_event_type and conveyor_job_view, written out: every
        -- job pays this three times, and each function call costs more than the insert.
        -- A running job whose worker changed was taken over: it started again.
        INSERT INTO events (tenant, type, job_id, workflow_id, tags, data)
        VALUES (NEW.tenant, CASE NEW.status WHEN 'running' THEN 'job.started' ELSE 'job.' || NEW.status::text END,
                NEW.id, NEW.workflow_id, NEW.tags,
                to_jsonb(NEW) - ARRAY['tenant', 'retry_base', 'heartbeat_at', 'worker_losses',
                                      'fire_time', 'dead_letter_purged_at', 'queued_at',
                                      'dependencies_left', 'has_dependents'])
        RETURNING * INTO ev;
        IF current_setting('conveyor.defer_event_notify', true) IS DISTINCT FROM 'on' THEN
            PERFORM pg_notify('conveyor_events', '');
        END IF;
        IF NEW.notify IS NOT NULL
           OR EXISTS (SELECT 1 FROM subscriptions WHERE tenant = NEW.tenant AND disabled_at IS NULL) THEN
            PERFORM conveyor_fan_out(ev, NEW.notify, NEW.engine, NEW.operation);
        END IF;
    END IF;
    IF NEW.status = 'queued' THEN
        urgent := NEW.engine = 'notifications' OR NEW.item_index IS NOT NULL
                  OR (TG_OP = 'UPDATE' AND OLD.status = 'waiting');
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

-- As in 0008, and a job waiting for jobs (not for workflow nodes) says so.
CREATE OR REPLACE FUNCTION conveyor_event_notice(type text, data jsonb, OUT title text, OUT body text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT
        CASE WHEN type LIKE 'workflow.%'
             THEN format('Workflow %s %s', data ->> 'name', split_part(type, '.', 2))
             ELSE format('Job %s %s', data ->> 'operation', split_part(type, '.', 2)) END,
        CASE
            WHEN data -> 'error' ->> 'message' IS NOT NULL AND type NOT IN ('job.succeeded', 'workflow.succeeded')
                THEN left(data -> 'error' ->> 'message', 1000)
            WHEN type LIKE 'workflow.%'
                THEN format('%s of %s nodes finished, %s failed, %s cancelled.', data ->> 'nodes_finished',
                            data ->> 'nodes_total', data ->> 'nodes_failed', data ->> 'nodes_cancelled')
            WHEN type = 'job.progress'
                THEN format('%s%% %s', round((data ->> 'progress')::numeric * 100),
                            coalesce(data ->> 'progress_message', ''))
            ELSE format('%s.%s %s.', data ->> 'engine', data ->> 'operation', CASE type
                WHEN 'job.succeeded' THEN format('succeeded in %s s (attempt %s)', round(extract(epoch FROM
                    (data ->> 'finished_at')::timestamptz - (data ->> 'started_at')::timestamptz)::numeric, 1),
                    data ->> 'attempts')
                WHEN 'job.started' THEN format('started (attempt %s)', data ->> 'attempts')
                WHEN 'job.scheduled' THEN format('is scheduled for %s', data ->> 'run_at')
                WHEN 'job.waiting' THEN CASE WHEN data ->> 'workflow_id' IS NULL THEN 'waits for the jobs it depends on'
                                             ELSE 'waits for the nodes it depends on' END
                ELSE 'is ' || (data ->> 'status') END)
        END
$$;
