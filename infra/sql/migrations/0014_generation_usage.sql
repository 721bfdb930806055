-- Tokens and cost of generative jobs in the stats (migration 0005's rollups): when a job
-- succeeds with a result carrying `usage` (`prompt_tokens`, `completion_tokens`) and `cost`
-- (US dollars), the update trigger counts them in the minute it finished, like its other
-- figures, and the flush folds them into the rollups and totals. Results without them (every
-- operation that is not generative) count nothing. A failed attempt has no result, so its
-- tokens are not counted.

ALTER TABLE job_stats
    ADD COLUMN prompt_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN completion_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN cost double precision NOT NULL DEFAULT 0;
ALTER TABLE job_stats_totals
    ADD COLUMN prompt_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN completion_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN cost double precision NOT NULL DEFAULT 0;
ALTER TABLE job_stats_pending
    ADD COLUMN prompt_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN completion_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN cost double precision NOT NULL DEFAULT 0;

ALTER TYPE conveyor_job_change
    ADD ATTRIBUTE prompt_tokens bigint,
    ADD ATTRIBUTE completion_tokens bigint,
    ADD ATTRIBUTE cost double precision;

-- A count of tokens, or a cost, from a result's JSON: null unless a number from 0 to 10^15 (so
-- no odd result can make the statement that finishes its job fail).
CREATE FUNCTION conveyor_usage_number(value jsonb) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'number' AND (value #>> '{}')::numeric BETWEEN 0 AND 1e15
                THEN (value #>> '{}')::numeric::double precision END
$$;

CREATE OR REPLACE FUNCTION conveyor_stats_record(changes conveyor_job_change[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_stats_pending
    SELECT date_trunc('minute', c.at, 'UTC'), c.tenant, c.engine, c.operation,
           count(*) FILTER (WHERE c.submitted), count(*) FILTER (WHERE c.started),
           count(*) FILTER (WHERE c.outcome = 'succeeded'), count(*) FILTER (WHERE c.outcome = 'failed'),
           count(*) FILTER (WHERE c.outcome = 'cancelled'), count(*) FILTER (WHERE c.outcome = 'retrying'),
           coalesce(sum(c.run_ms), 0), coalesce(sum(c.wait_ms), 0),
           coalesce(array_agg(conveyor_stats_bucket(c.run_ms)) FILTER (WHERE c.run_ms IS NOT NULL), '{}'),
           coalesce(array_agg(conveyor_stats_bucket(c.wait_ms)) FILTER (WHERE c.wait_ms IS NOT NULL), '{}'),
           count(*) FILTER (WHERE c.came = 'scheduled') - count(*) FILTER (WHERE c.gone = 'scheduled'),
           count(*) FILTER (WHERE c.came = 'waiting') - count(*) FILTER (WHERE c.gone = 'waiting'),
           count(*) FILTER (WHERE c.came = 'queued') - count(*) FILTER (WHERE c.gone = 'queued'),
           count(*) FILTER (WHERE c.came = 'running') - count(*) FILTER (WHERE c.gone = 'running'),
           count(*) FILTER (WHERE c.came = 'retrying') - count(*) FILTER (WHERE c.gone = 'retrying'),
           coalesce(sum(c.prompt_tokens), 0), coalesce(sum(c.completion_tokens), 0), coalesce(sum(c.cost), 0)
    FROM unnest(changes) c
    GROUP BY 1, 2, 3, 4;
END
$$;

CREATE OR REPLACE FUNCTION conveyor_stats_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM conveyor_stats_record(ARRAY(
        SELECT ROW(n.tenant, n.engine, n.operation, n.created_at, true, false, NULL, NULL, NULL,
                   NULL, n.status, NULL, NULL, NULL)::conveyor_job_change
        FROM new_jobs n));
    RETURN NULL;
END
$$;

-- As in 0005, and a job that succeeds counts its result's tokens and cost.
CREATE OR REPLACE FUNCTION conveyor_stats_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changes conveyor_job_change[];
BEGIN
    changes := ARRAY(
        SELECT ROW(n.tenant, n.engine, n.operation,
                   CASE WHEN n.status = 'running' THEN coalesce(n.started_at, now())
                        WHEN n.status IN ('succeeded', 'failed', 'cancelled') THEN coalesce(n.finished_at, now())
                        ELSE now() END,
                   false,
                   o.status = 'queued' AND n.status = 'running',
                   CASE WHEN n.status IN ('succeeded', 'failed', 'cancelled', 'retrying') THEN n.status END,
                   CASE WHEN o.status = 'running' AND n.status IN ('succeeded', 'failed', 'cancelled')
                        THEN greatest(0, extract(epoch FROM coalesce(n.finished_at, now()) - o.started_at) * 1000) END,
                   CASE WHEN o.status = 'queued' AND n.status = 'running'
                        THEN greatest(0, extract(epoch FROM n.started_at - coalesce(o.queued_at, o.created_at)) * 1000) END,
                   o.status, n.status,
                   CASE WHEN n.status = 'succeeded' AND jsonb_typeof(n.result) = 'object'
                        THEN conveyor_usage_number(n.result -> 'usage' -> 'prompt_tokens')::bigint END,
                   CASE WHEN n.status = 'succeeded' AND jsonb_typeof(n.result) = 'object'
                        THEN conveyor_usage_number(n.result -> 'usage' -> 'completion_tokens')::bigint END,
                   CASE WHEN n.status = 'succeeded' AND jsonb_typeof(n.result) = 'object'
                        AND jsonb_typeof(n.result -> 'usage') = 'object'
                        THEN conveyor_usage_number(n.result -> 'cost') END)::conveyor_job_change
        FROM new_jobs n JOIN old_jobs o ON o.id = n.id
        WHERE n.status <> o.status);
    IF cardinality(changes) > 0 THEN
        PERFORM conveyor_stats_record(changes);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION conveyor_stats_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changes conveyor_job_change[];
BEGIN
    changes := ARRAY(
        SELECT ROW(o.tenant, o.engine, o.operation, now(), false, false, NULL, NULL, NULL, o.status, NULL,
                   NULL, NULL, NULL)::conveyor_job_change
        FROM old_jobs o
        WHERE o.status NOT IN ('succeeded', 'failed', 'cancelled'));
    IF cardinality(changes) > 0 THEN
        PERFORM conveyor_stats_record(changes);
    END IF;
    RETURN NULL;
END
$$;
