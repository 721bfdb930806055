-- Events and notifications: one event log for jobs and workflows (read by streams), the
-- subscriptions that turn events into deliveries (webhook, e-mail: jobs of the
-- `notifications` queue; inbox: a row of `notifications`), and their records.
--
-- Everything here happens in the transaction that changes the job or workflow, so an event,
-- its deliveries and its inbox notices exist exactly when the change does.

CREATE TABLE events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant      text NOT NULL,
    type        text NOT NULL,
    job_id      uuid REFERENCES jobs (id) ON DELETE CASCADE,
    workflow_id uuid REFERENCES workflows (id) ON DELETE CASCADE,
    tags        text[] NOT NULL DEFAULT '{}',
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT statement_timestamp()
);
CREATE INDEX events_tenant ON events (tenant, id);
CREATE INDEX events_job ON events (job_id, id) WHERE job_id IS NOT NULL;
CREATE INDEX events_workflow ON events (workflow_id, id) WHERE workflow_id IS NOT NULL;

-- What a client asked to be told about one job or workflow at submission:
-- {"webhook": url?, "email": [addresses]?, "inbox": bool?, "events": [types]?}.
ALTER TABLE jobs ADD COLUMN notify jsonb;
ALTER TABLE workflows ADD COLUMN notify jsonb;

-- A tenant's standing orders: deliver matching events to a URL, an address or the inbox.
-- `events` holds exact types, `<kind>.*` or `*`; an empty filter array matches anything.
CREATE TABLE subscriptions (
    id              uuid PRIMARY KEY,
    tenant          text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('webhook', 'email', 'inbox')),
    url             text,
    address         text,
    events          text[] NOT NULL CHECK (events <> '{}'),
    tags            text[] NOT NULL DEFAULT '{}',
    engines         text[] NOT NULL DEFAULT '{}',
    operations      text[] NOT NULL DEFAULT '{}',
    description     text NOT NULL DEFAULT '',
    secret          text,  -- a webhook's signing secret, whsec_…; shown once, at creation
    disabled_at     timestamptz,
    disabled_reason text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((channel = 'webhook') = (url IS NOT NULL AND secret IS NOT NULL)),
    CHECK ((channel = 'email') = (address IS NOT NULL))
);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant, id DESC);
CREATE INDEX subscriptions_active ON subscriptions (tenant) WHERE disabled_at IS NULL;

-- The secret that signs the webhooks of `notify` (one per tenant), made on first use.
CREATE TABLE callback_secrets (
    tenant     text PRIMARY KEY,
    secret     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One message to one receiver: an event (or a `ping`) for a subscription or a `notify`.
-- `id` is what the receiver deduplicates on (Standard Webhooks' webhook-id), the same on every
-- attempt and redelivery. `job_id` is the notifications job that sends it now.
CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    tenant          text NOT NULL,
    subscription_id uuid REFERENCES subscriptions (id) ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel IN ('webhook', 'email')),
    target          text NOT NULL,  -- the URL or the address
    event_id        bigint REFERENCES events (id) ON DELETE CASCADE,  -- null for a ping
    event_type      text NOT NULL,
    job_id          uuid NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_attempt_at timestamptz,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, id DESC) WHERE subscription_id IS NOT NULL;
CREATE INDEX deliveries_job ON deliveries (job_id);
CREATE INDEX deliveries_event ON deliveries (event_id) WHERE event_id IS NOT NULL;

-- Each try of a delivery: when, how it ended (an HTTP status or an error), how long it took.
CREATE TABLE delivery_attempts (
    delivery_id uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    status_code integer,
    error       text,
    duration_ms double precision NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

-- The inbox: notices for a tenant, newest first, read or not.
CREATE TABLE notifications (
    id              uuid PRIMARY KEY,
    tenant          text NOT NULL,
    subscription_id uuid,
    event_id        bigint,
    event_type      text NOT NULL,
    title           text NOT NULL,
    body            text NOT NULL,
    job_id          uuid,
    workflow_id     uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    read_at         timestamptz
);
CREATE INDEX notifications_tenant ON notifications (tenant, id DESC);
CREATE INDEX notifications_unread ON notifications (tenant, id DESC) WHERE read_at IS NULL;

-- A job as the API shows it (JobView, less what is computed at read time).
CREATE FUNCTION conveyor_job_view(j jobs) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT to_jsonb(j) - ARRAY['tenant', 'retry_base', 'heartbeat_at', 'worker_losses',
                               'fire_time', 'dead_letter_purged_at', 'queued_at']
$$;

-- A workflow as listings show it (WorkflowSummary).
CREATE FUNCTION conveyor_workflow_view(w workflows) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT (to_jsonb(w) - ARRAY['tenant', 'nodes_left'])
           || jsonb_build_object('nodes_finished', w.nodes_total - w.nodes_left)
$$;

-- The public event type of a job entering `status`.
CREATE FUNCTION conveyor_job_event_type(status job_status) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE status WHEN 'running' THEN 'job.started' ELSE 'job.' || status::text END
$$;

-- Whether an event type is one of `patterns` (exact types, `<kind>.*`, `*`).
CREATE FUNCTION conveyor_event_matches(patterns text[], type text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT type = ANY(patterns) OR '*' = ANY(patterns) OR split_part(type, '.', 1) || '.*' = ANY(patterns)
$$;

-- The types `notify` sends when it names none: the terminal ones.
CREATE FUNCTION conveyor_notify_default_events() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['job.succeeded', 'job.failed', 'job.cancelled',
                 'workflow.succeeded', 'workflow.failed', 'workflow.cancelled']
$$;

-- A short title and body for an event, as the inbox and e-mail show it.
CREATE FUNCTION conveyor_event_notice(type text, data jsonb, OUT title text, OUT body text)
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
                WHEN 'job.waiting' THEN 'waits for the nodes it depends on'
                ELSE 'is ' || (data ->> 'status') END)
        END
$$;

-- A delivery of event `ev` over `channel` to `target`, and the notifications job that sends it.
CREATE FUNCTION conveyor_deliver(ev events, p_subscription uuid, p_channel text, p_target text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    delivery uuid := conveyor_uuid7();
    job      uuid := conveyor_uuid7();
BEGIN
    -- max_retries is a ceiling only: the delivery's operation keeps its own retry schedule.
    INSERT INTO jobs (id, tenant, engine, operation, status, priority, params, max_retries,
                      retry_backoff_seconds, retry_backoff_max_seconds, timeout_seconds, queued_at)
    VALUES (job, ev.tenant, 'notifications', p_channel, 'queued', 5,
            jsonb_build_object('delivery_id', delivery), 100, 5, 36000, 120, now());
    INSERT INTO deliveries (id, tenant, subscription_id, channel, target, event_id, event_type, job_id)
    VALUES (delivery, ev.tenant, p_subscription, p_channel, p_target, ev.id, ev.type, job);
END
$$;

-- An inbox notice of event `ev`.
CREATE FUNCTION conveyor_inbox(ev events, p_subscription uuid) RETURNS void LANGUAGE sql AS $$
    INSERT INTO notifications (id, tenant, subscription_id, event_id, event_type, title, body, job_id, workflow_id)
    SELECT conveyor_uuid7(), ev.tenant, p_subscription, ev.id, ev.type, n.title, n.body, ev.job_id, ev.workflow_id
    FROM conveyor_event_notice(ev.type, ev.data) n
$$;

-- Turn event `ev` into the deliveries and notices its tenant's subscriptions and the
-- submission's `notify` ask for. `engine` and `operation` are the job's (null for a workflow).
CREATE FUNCTION conveyor_fan_out(ev events, notify jsonb, engine text, operation text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    s       subscriptions;
    wanted  text[];
    address text;
BEGIN
    FOR s IN
        SELECT * FROM subscriptions
        WHERE tenant = ev.tenant AND disabled_at IS NULL
          AND conveyor_event_matches(events, ev.type)
          AND (tags = '{}' OR tags && ev.tags)
          AND (engines = '{}' OR engine = ANY(engines))
          AND (operations = '{}' OR operation = ANY(operations) OR engine || '.' || operation = ANY(operations))
        ORDER BY id
    LOOP
        IF s.channel = 'inbox' THEN
            PERFORM conveyor_inbox(ev, s.id);
        ELSE
            PERFORM conveyor_deliver(ev, s.id, s.channel, coalesce(s.url, s.address));
        END IF;
    END LOOP;
    IF notify IS NULL THEN
        RETURN;
    END IF;
    wanted := coalesce(ARRAY(SELECT jsonb_array_elements_text(notify -> 'events')), conveyor_notify_default_events());
    IF wanted = '{}' THEN
        wanted := conveyor_notify_default_events();
    END IF;
    IF NOT conveyor_event_matches(wanted, ev.type) THEN
        RETURN;
    END IF;
    IF notify ->> 'webhook' IS NOT NULL THEN
        PERFORM conveyor_deliver(ev, NULL, 'webhook', notify ->> 'webhook');
    END IF;
    FOR address IN SELECT jsonb_array_elements_text(coalesce(notify -> 'email', '[]')) LOOP
        PERFORM conveyor_deliver(ev, NULL, 'email', address);
    END LOOP;
    IF (notify ->> 'inbox')::boolean THEN
        PERFORM conveyor_inbox(ev, NULL);
    END IF;
END
$$;

-- Append an event, wake the streams, and fan it out if anybody listens.
CREATE FUNCTION conveyor_emit(p_tenant text, p_type text, p_job uuid, p_workflow uuid, p_tags text[],
                              p_data jsonb, p_notify jsonb, p_engine text, p_operation text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    ev events;
BEGIN
    INSERT INTO events (tenant, type, job_id, workflow_id, tags, data)
    VALUES (p_tenant, p_type, p_job, p_workflow, p_tags, p_data)
    RETURNING * INTO ev;
    -- A NOTIFY holds PostgreSQL's notification lock from commit to end, so committers that
    -- notify queue behind one another; writers of many events (the workers) set this and
    -- send one NOTIFY of their own after commit (infra/event_signal.py).
    IF current_setting('conveyor.defer_event_notify', true) IS DISTINCT FROM 'on' THEN
        PERFORM pg_notify('conveyor_events', '');
    END IF;
    IF p_notify IS NOT NULL
       OR EXISTS (SELECT 1 FROM subscriptions WHERE tenant = p_tenant AND disabled_at IS NULL) THEN
        PERFORM conveyor_fan_out(ev, p_notify, p_engine, p_operation);
    END IF;
END
$$;

-- The history of jobs before this migration, in the new log's terms.
INSERT INTO events (tenant, type, job_id, workflow_id, tags, data, created_at)
SELECT e.tenant,
       CASE WHEN e.type = 'taken_over' THEN 'job.started' ELSE conveyor_job_event_type(e.to_status) END,
       e.job_id, j.workflow_id, j.tags,
       e.data || jsonb_build_object('id', e.job_id, 'engine', j.engine, 'operation', j.operation,
                                    'status', e.to_status, 'attempts', e.attempt),
       e.created_at
FROM job_events e JOIN jobs j ON j.id = e.job_id
ORDER BY e.id;
DROP TABLE job_events;

-- As in 0002, writing the public event log instead of job_events. A notifications job writes
-- no events (its deliveries and their attempts are its record), and its publish intent is
-- urgent: no gateway is about to send it.
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
        -- job pays this three times, and each function call costs more than the insert (a test
        -- keeps the copies equal). A running job whose worker changed was taken over: it started again.
        INSERT INTO events (tenant, type, job_id, workflow_id, tags, data)
        VALUES (NEW.tenant, CASE NEW.status WHEN 'running' THEN 'job.started' ELSE 'job.' || NEW.status::text END,
                NEW.id, NEW.workflow_id, NEW.tags,
                to_jsonb(NEW) - ARRAY['tenant', 'retry_base', 'heartbeat_at', 'worker_losses',
                                      'fire_time', 'dead_letter_purged_at', 'queued_at'])
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
        urgent := NEW.engine = 'notifications' OR (NEW.workflow_id IS NOT NULL
                  AND (NEW.item_index IS NOT NULL OR (TG_OP = 'UPDATE' AND OLD.status = 'waiting')));
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

-- Progress of a running job, as the worker writes it back (already throttled there).
CREATE FUNCTION conveyor_job_progressed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM conveyor_emit(NEW.tenant, 'job.progress', NEW.id, NEW.workflow_id, NEW.tags,
                          conveyor_job_view(NEW), NEW.notify, NEW.engine, NEW.operation);
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_progressed AFTER UPDATE OF progress, progress_message ON jobs
    FOR EACH ROW
    WHEN (NEW.status = 'running' AND OLD.status = 'running' AND NEW.engine <> 'notifications'
          AND (NEW.progress IS DISTINCT FROM OLD.progress OR NEW.progress_message IS DISTINCT FROM OLD.progress_message))
    EXECUTE FUNCTION conveyor_job_progressed();

-- A workflow started (inserted) or finished.
CREATE FUNCTION conveyor_workflow_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM conveyor_emit(NEW.tenant, CASE WHEN TG_OP = 'INSERT' THEN 'workflow.started' ELSE 'workflow.' || NEW.status::text END,
                          NULL, NEW.id, NEW.tags, conveyor_workflow_view(NEW), NEW.notify, NULL, NULL);
    RETURN NULL;
END
$$;

CREATE TRIGGER workflows_inserted AFTER INSERT ON workflows
    FOR EACH ROW EXECUTE FUNCTION conveyor_workflow_changed();
CREATE TRIGGER workflows_changed AFTER UPDATE OF status ON workflows
    FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status) EXECUTE FUNCTION conveyor_workflow_changed();
