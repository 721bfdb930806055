-- Operating Conveyor: queue controls (pause, limits, backpressure), their audit log, and the
-- registry of worker processes.

-- One row per queue that an operator has steered, plus the row '*' for the caps over all
-- queues. No row means no control. Every worker reads this table every fraction of a second;
-- the statement that claims jobs enforces it, so it holds across processes and hosts.
CREATE TABLE queue_controls (
    queue           text PRIMARY KEY CHECK (queue <> ''),
    paused          boolean NOT NULL DEFAULT false,
    max_concurrency integer CHECK (max_concurrency > 0),
    max_backlog     integer CHECK (max_backlog >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text
);

-- Who did what to which queue, and when.
CREATE TABLE audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    tenant     text NOT NULL,
    key_id     uuid,
    action     text NOT NULL,
    target     text NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}'
);

-- Worker processes, each renewing last_seen a few times a second; one whose last_seen is
-- older than the lease is gone.
CREATE TABLE workers (
    id          text PRIMARY KEY,
    host        text NOT NULL,
    pid         integer NOT NULL,
    queues      text[] NOT NULL,
    threads     integer NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 50);  -- last_seen updates stay HOT

-- Running jobs by queue and worker: limits count them, /v1/workers lists them. Replaces the
-- index on id alone (the same entries, so a status change costs no more).
DROP INDEX jobs_running;
CREATE INDEX jobs_running ON jobs (engine, worker_id) WHERE status = 'running';

-- The backlog of each queue: counted for backpressure and queue figures, and walked in
-- priority order to tell a queued job its position.
CREATE INDEX jobs_backlog ON jobs (engine, status, priority DESC, id)
    WHERE status IN ('queued', 'scheduled', 'retrying');
