-- Retry policies by error: a job's `retry_on` lists the error categories (transient, timeout,
-- worker_lost) and error types (`error.type`, such as ProviderRateLimited) that are retried, up
-- to max_retries; any other error fails it at once (actors.outcome.decide). Null is the default:
-- transient errors are retried, and a job whose worker dies is taken over until it has lost
-- CONVEYOR_MAX_WORKER_LOSSES workers.
ALTER TABLE jobs ADD COLUMN retry_on text[];

-- How many workers a job may lose before it fails: `fallback` (the setting), or one when its
-- retry_on leaves out worker_lost. Inlined by the planner where jobs are claimed and rescued.
CREATE FUNCTION conveyor_max_worker_losses(retry_on text[], fallback integer) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN retry_on IS NULL OR 'worker_lost' = ANY(retry_on) THEN fallback ELSE 1 END
$$;

-- The error message of a job failed for losing its worker.
CREATE FUNCTION conveyor_worker_lost_message(retry_on text[], fallback integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN conveyor_max_worker_losses(retry_on, fallback) = fallback
                THEN 'the worker running this job was lost ' || fallback || ' times'
                ELSE 'the worker running this job was lost, and its retry_on does not list worker_lost' END
$$;
