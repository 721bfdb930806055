-- name: stats_window
-- The rollup rows of a window (given as its (span, bucket) pairs), and the pending changes of
-- its minutes, summed per group (tokens and cost of generative jobs too); the key columns not
-- grouped on are null. One tenant's rows, or every tenant's.
-- $1 spans, $2 bucket starts (pairs with $1), $3 tenant (null: all), $4 group by: 'queue',
-- 'operation' (within its queue) or 'tenant', $5 window start
WITH rows AS (
    SELECT s.tenant, s.engine, s.operation, s.submitted, s.started, s.succeeded, s.failed,
           s.cancelled, s.retried, s.run_hist, s.wait_hist, s.prompt_tokens, s.completion_tokens, s.cost
    FROM unnest($1::text[], $2::timestamptz[]) AS w(span, bucket)
    JOIN job_stats s ON s.span = w.span AND s.bucket = w.bucket
    UNION ALL
    SELECT p.tenant, p.engine, p.operation, sum(p.submitted), sum(p.started), sum(p.succeeded),
           sum(p.failed), sum(p.cancelled), sum(p.retried), conveyor_hist_of(conveyor_buckets(p.run_buckets)),
           conveyor_hist_of(conveyor_buckets(p.wait_buckets)), sum(p.prompt_tokens), sum(p.completion_tokens),
           sum(p.cost)
    FROM job_stats_pending p
    WHERE p.minute >= $5
    GROUP BY p.tenant, p.engine, p.operation
)
SELECT CASE WHEN $4::text IN ('queue', 'operation') THEN r.engine END AS engine,
       CASE WHEN $4::text = 'operation' THEN r.operation END AS operation,
       CASE WHEN $4::text = 'tenant' THEN r.tenant END AS tenant,
       sum(r.submitted)::bigint AS submitted, sum(r.started)::bigint AS started,
       sum(r.succeeded)::bigint AS succeeded, sum(r.failed)::bigint AS failed,
       sum(r.cancelled)::bigint AS cancelled, sum(r.retried)::bigint AS retried,
       conveyor_hist_sum(r.run_hist) AS run_hist, conveyor_hist_sum(r.wait_hist) AS wait_hist,
       sum(r.prompt_tokens)::bigint AS prompt_tokens, sum(r.completion_tokens)::bigint AS completion_tokens,
       sum(r.cost)::double precision AS cost
FROM rows r
WHERE ($3::text IS NULL OR r.tenant = $3::text)
GROUP BY 1, 2, 3
HAVING sum(r.submitted + r.started + r.succeeded + r.failed + r.cancelled + r.retried) > 0;

-- name: stats_backlog
-- Jobs queued, scheduled or retrying now, per group (as stats_window groups them): the totals'
-- gauges and the pending changes to them.
-- $1 tenant (null: all), $2 group by
WITH rows AS (
    SELECT tenant, engine, operation, queued + scheduled + retrying AS backlog FROM job_stats_totals
    UNION ALL
    SELECT tenant, engine, operation, queued + scheduled + retrying FROM job_stats_pending
)
SELECT CASE WHEN $2::text IN ('queue', 'operation') THEN r.engine END AS engine,
       CASE WHEN $2::text = 'operation' THEN r.operation END AS operation,
       CASE WHEN $2::text = 'tenant' THEN r.tenant END AS tenant,
       sum(r.backlog)::bigint AS backlog
FROM rows r
WHERE ($1::text IS NULL OR r.tenant = $1::text)
GROUP BY 1, 2, 3
HAVING sum(r.backlog) > 0;

-- name: stats_timeseries
-- Rollup rows of one span, and pending changes, summed per step-long bucket (aligned to
-- 2000-01-01 UTC), for one tenant or all, optionally one engine and one operation.
-- $1 span, $2 first bucket start, $3 end (exclusive), $4 step in seconds, $5 tenant (null:
-- all), $6 engine (null: all), $7 operation (null: all)
WITH rows AS (
    SELECT s.bucket AS at, s.tenant, s.engine, s.operation, s.submitted, s.started, s.succeeded,
           s.failed, s.cancelled, s.retried, s.run_hist
    FROM job_stats s
    WHERE s.span = $1 AND s.bucket >= $2 AND s.bucket < $3
    UNION ALL
    SELECT p.minute, p.tenant, p.engine, p.operation, sum(p.submitted), sum(p.started),
           sum(p.succeeded), sum(p.failed), sum(p.cancelled), sum(p.retried),
           conveyor_hist_of(conveyor_buckets(p.run_buckets))
    FROM job_stats_pending p
    WHERE p.minute >= $2 AND p.minute < $3
    GROUP BY p.minute, p.tenant, p.engine, p.operation
)
SELECT date_bin(make_interval(secs => $4), r.at, '2000-01-01 00:00:00+00'::timestamptz) AS start,
       sum(r.submitted)::bigint AS submitted, sum(r.started)::bigint AS started,
       sum(r.succeeded)::bigint AS succeeded, sum(r.failed)::bigint AS failed,
       sum(r.cancelled)::bigint AS cancelled, sum(r.retried)::bigint AS retried,
       conveyor_hist_sum(r.run_hist) AS run_hist
FROM rows r
WHERE ($5::text IS NULL OR r.tenant = $5::text)
  AND ($6::text IS NULL OR r.engine = $6::text)
  AND ($7::text IS NULL OR r.operation = $7::text)
GROUP BY 1
ORDER BY 1;

-- name: metrics_jobs
-- Cumulative counts and current gauges of every engine and operation, all tenants together
-- (totals and the pending changes to them).
WITH rows AS (
    SELECT engine, operation, submitted, started, succeeded, failed, cancelled, retried,
           scheduled, waiting, queued, running, retrying
    FROM job_stats_totals
    UNION ALL
    SELECT engine, operation, submitted, started, succeeded, failed, cancelled, retried,
           scheduled, waiting, queued, running, retrying
    FROM job_stats_pending
)
SELECT engine, operation,
       sum(submitted)::bigint AS submitted, sum(started)::bigint AS started,
       sum(succeeded)::bigint AS succeeded, sum(failed)::bigint AS failed,
       sum(cancelled)::bigint AS cancelled, sum(retried)::bigint AS retried,
       sum(scheduled)::bigint AS scheduled, sum(waiting)::bigint AS waiting,
       sum(queued)::bigint AS queued, sum(running)::bigint AS running, sum(retrying)::bigint AS retrying
FROM rows
GROUP BY engine, operation
ORDER BY engine, operation;

-- name: metrics_latency
-- Cumulative run and wait time histograms (with their sums in ms) of every engine.
WITH rows AS (
    SELECT engine, run_hist::bigint[] AS run_hist, run_ms, wait_hist::bigint[] AS wait_hist, wait_ms
    FROM job_stats_totals
    UNION ALL
    SELECT engine, conveyor_hist_of(conveyor_buckets(run_buckets))::bigint[], sum(run_ms),
           conveyor_hist_of(conveyor_buckets(wait_buckets))::bigint[], sum(wait_ms)
    FROM job_stats_pending
    GROUP BY engine
)
SELECT engine, conveyor_hist_sum(run_hist) AS run_hist, sum(run_ms) AS run_ms,
       conveyor_hist_sum(wait_hist) AS wait_hist, sum(wait_ms) AS wait_ms
FROM rows
GROUP BY engine
ORDER BY engine;

-- name: flush_stats
-- Fold a batch of pending changes into the rollups (minute, 5-minute, hour and day rows) and the totals,
-- deleting them in the same statement, so each is counted exactly once. Run by one process
-- (the scheduler leader); rows are upserted in key order. Answers how many were folded.
-- $1 batch size
WITH moved AS (
    DELETE FROM job_stats_pending
    WHERE ctid = ANY (ARRAY(SELECT ctid FROM job_stats_pending LIMIT $1))
    RETURNING *
), totals AS (
    INSERT INTO job_stats_totals AS t (
        tenant, engine, operation, submitted, started, succeeded, failed, cancelled, retried,
        run_ms, wait_ms, run_hist, wait_hist, scheduled, waiting, queued, running, retrying,
        prompt_tokens, completion_tokens, cost)
    SELECT m.tenant, m.engine, m.operation, sum(m.submitted), sum(m.started), sum(m.succeeded),
           sum(m.failed), sum(m.cancelled), sum(m.retried), sum(m.run_ms), sum(m.wait_ms),
           conveyor_hist_of(conveyor_buckets(m.run_buckets)), conveyor_hist_of(conveyor_buckets(m.wait_buckets)), sum(m.scheduled),
           sum(m.waiting), sum(m.queued), sum(m.running), sum(m.retrying),
           sum(m.prompt_tokens), sum(m.completion_tokens), sum(m.cost)
    FROM moved m
    GROUP BY m.tenant, m.engine, m.operation
    ORDER BY m.tenant, m.engine, m.operation
    ON CONFLICT (tenant, engine, operation) DO UPDATE SET
        submitted = t.submitted + excluded.submitted,
        started = t.started + excluded.started,
        succeeded = t.succeeded + excluded.succeeded,
        failed = t.failed + excluded.failed,
        cancelled = t.cancelled + excluded.cancelled,
        retried = t.retried + excluded.retried,
        run_ms = t.run_ms + excluded.run_ms,
        wait_ms = t.wait_ms + excluded.wait_ms,
        run_hist = conveyor_hist_add(t.run_hist, excluded.run_hist),
        wait_hist = conveyor_hist_add(t.wait_hist, excluded.wait_hist),
        scheduled = t.scheduled + excluded.scheduled,
        waiting = t.waiting + excluded.waiting,
        queued = t.queued + excluded.queued,
        running = t.running + excluded.running,
        retrying = t.retrying + excluded.retrying,
        prompt_tokens = t.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = t.completion_tokens + excluded.completion_tokens,
        cost = t.cost + excluded.cost
), rollups AS (
    INSERT INTO job_stats AS s (
        span, bucket, tenant, engine, operation, submitted, started, succeeded, failed, cancelled,
        retried, run_ms, wait_ms, run_hist, wait_hist, prompt_tokens, completion_tokens, cost)
    SELECT g.span, g.bucket, m.tenant, m.engine, m.operation, sum(m.submitted), sum(m.started),
           sum(m.succeeded), sum(m.failed), sum(m.cancelled), sum(m.retried), sum(m.run_ms),
           sum(m.wait_ms), conveyor_hist_of(conveyor_buckets(m.run_buckets)), conveyor_hist_of(conveyor_buckets(m.wait_buckets)),
           sum(m.prompt_tokens), sum(m.completion_tokens), sum(m.cost)
    FROM moved m
    CROSS JOIN LATERAL (VALUES
        ('minute', m.minute),
        ('five_minutes', date_bin('5 minutes', m.minute, '2000-01-01 00:00:00+00'::timestamptz)),
        ('hour', date_trunc('hour', m.minute, 'UTC')),
        ('day', date_trunc('day', m.minute, 'UTC'))) AS g(span, bucket)
    WHERE m.submitted + m.started + m.succeeded + m.failed + m.cancelled + m.retried > 0
    GROUP BY g.span, g.bucket, m.tenant, m.engine, m.operation
    ORDER BY g.span, g.bucket, m.tenant, m.engine, m.operation
    ON CONFLICT (span, bucket, tenant, engine, operation) DO UPDATE SET
        submitted = s.submitted + excluded.submitted,
        started = s.started + excluded.started,
        succeeded = s.succeeded + excluded.succeeded,
        failed = s.failed + excluded.failed,
        cancelled = s.cancelled + excluded.cancelled,
        retried = s.retried + excluded.retried,
        run_ms = s.run_ms + excluded.run_ms,
        wait_ms = s.wait_ms + excluded.wait_ms,
        run_hist = conveyor_hist_add(s.run_hist, excluded.run_hist),
        wait_hist = conveyor_hist_add(s.wait_hist, excluded.wait_hist),
        prompt_tokens = s.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = s.completion_tokens + excluded.completion_tokens,
        cost = s.cost + excluded.cost
)
SELECT count(*) FROM moved;

-- name: prune_stats
-- Delete one batch of rollup rows whose bucket started before the cutoff; how many went.
-- Totals are never pruned (Prometheus counters must not go down).
-- $1 retention in days, $2 batch size
WITH deleted AS (
    DELETE FROM job_stats
    WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM job_stats
        WHERE span = ANY ('{minute,five_minutes,hour,day}'::text[]) AND bucket < now() - make_interval(days => $1)
        LIMIT $2
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING 1
)
SELECT count(*) FROM deleted;
