-- Jobs, their history, the publish outbox and API keys.

CREATE TYPE job_status AS ENUM (
    'scheduled', 'waiting', 'queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled'
);

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    tenant      text NOT NULL CHECK (tenant <> ''),
    name        text NOT NULL DEFAULT '',
    prefix      text NOT NULL,
    key_hash    bytea NOT NULL UNIQUE,
    scopes      text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE jobs (
    id                        uuid PRIMARY KEY,
    tenant                    text NOT NULL,
    engine                    text NOT NULL,
    operation                 text NOT NULL,
    status                    job_status NOT NULL,
    priority                  smallint NOT NULL CHECK (priority BETWEEN 0 AND 9),
    params                    jsonb NOT NULL,
    result                    jsonb,
    error                     jsonb,
    progress                  real NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    progress_message          text,
    attempts                  integer NOT NULL DEFAULT 0,
    -- attempts made before the latest manual retry; the retry budget counts from here
    retry_base                integer NOT NULL DEFAULT 0,
    max_retries               integer NOT NULL CHECK (max_retries >= 0),
    retry_backoff_seconds     double precision NOT NULL,
    retry_backoff_max_seconds double precision NOT NULL,
    timeout_seconds           double precision NOT NULL CHECK (timeout_seconds > 0),
    tags                      text[] NOT NULL DEFAULT '{}',
    metadata                  jsonb NOT NULL DEFAULT '{}',
    idempotency_key           text,
    run_at                    timestamptz,
    worker_id                 text,
    heartbeat_at              timestamptz,
    cancel_requested_at       timestamptz,
    worker_losses             integer NOT NULL DEFAULT 0,
    created_at                timestamptz NOT NULL DEFAULT now(),
    started_at                timestamptz,
    finished_at               timestamptz
) WITH (fillfactor = 80);  -- room on each page, so heartbeat and progress updates stay HOT

-- Every status change writes a new entry in each index below: keep them few and, where a
-- predicate allows, partial. No index covers heartbeat_at or progress, so the updates a
-- running job makes twice a second touch no index at all.
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_tenant_id ON jobs (tenant, id DESC);
CREATE INDEX jobs_tenant_status_id ON jobs (tenant, status, id DESC);
CREATE INDEX jobs_tags ON jobs USING gin (tags) WHERE tags <> '{}';
CREATE INDEX jobs_due ON jobs (run_at) WHERE status IN ('scheduled', 'retrying');
CREATE INDEX jobs_running ON jobs (id) WHERE status = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE status IN ('succeeded', 'failed', 'cancelled');

-- Every allowed status change; schemas/jobs.py TRANSITIONS holds the same table.
CREATE TABLE job_transitions (
    from_status job_status NOT NULL,
    to_status   job_status NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO job_transitions (from_status, to_status) VALUES
    ('scheduled', 'queued'), ('scheduled', 'cancelled'),
    ('waiting', 'scheduled'), ('waiting', 'queued'), ('waiting', 'failed'), ('waiting', 'cancelled'),
    ('queued', 'running'), ('queued', 'cancelled'),
    ('running', 'succeeded'), ('running', 'failed'), ('running', 'retrying'),
    ('running', 'cancelled'), ('running', 'queued'),
    ('retrying', 'queued'), ('retrying', 'cancelled'),
    ('failed', 'queued'),
    ('cancelled', 'queued');

CREATE TABLE job_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    tenant      text NOT NULL,
    type        text NOT NULL,
    from_status job_status,
    to_status   job_status,
    attempt     integer NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_events_job ON job_events (job_id, id);

-- A row here is a publish intent: the job's message for this attempt is not yet confirmed
-- by RabbitMQ. Written by the trigger below in the transaction that queues the job.
CREATE TABLE outbox (
    job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, attempt)
);
CREATE INDEX outbox_created ON outbox (created_at);

-- One place that every status change passes: refuse transitions not in job_transitions,
-- append the event, write the publish intent of a job entering `queued`, and wake the
-- scheduler when a job starts waiting for a time.
CREATE FUNCTION conveyor_job_changed() RETURNS trigger LANGUAGE plpgsql AS $$
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
        INSERT INTO outbox (job_id, attempt) VALUES (NEW.id, NEW.attempts) ON CONFLICT DO NOTHING;
    ELSIF NEW.status IN ('scheduled', 'retrying') THEN
        PERFORM pg_notify('conveyor_timers', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION conveyor_job_changed();
CREATE TRIGGER jobs_changed AFTER UPDATE OF status, worker_id ON jobs
    FOR EACH ROW EXECUTE FUNCTION conveyor_job_changed();

-- Whether the worker that owns a running job is gone: its heartbeat is older than the lease,
-- or its liveness session (application_name 'conveyor-worker:<id>') has left PostgreSQL,
-- which happens the moment the worker process dies.
CREATE FUNCTION conveyor_worker_gone(p_worker_id text, p_heartbeat timestamptz, p_lease double precision)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p_heartbeat IS NULL
        OR p_heartbeat < now() - make_interval(secs => p_lease)
        OR NOT EXISTS (
            SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'conveyor-worker:' || p_worker_id
        )
$$;
