-- name: stats_window
-- The rollup rows of a window (given as its (span, bucket) pairs) summed per group; the key
-- columns that are not grouped on are null. One tenant's rows, or every tenant's.
-- $1 spans, $2 bucket starts (pairs with $1), $3 tenant (null: all), $4 group by: 'queue',
-- 'operation' (within its queue) or 'tenant'
SELECT CASE WHEN $4::text IN ('queue', 'operation') THEN s.engine END AS engine,
       CASE WHEN $4::text = 'operation' THEN s.operation END AS operation,
       CASE WHEN $4::text = 'tenant' THEN s.tenant END AS tenant,
       sum(s.submitted)::bigint AS submitted, sum(s.started)::bigint AS started,
       sum(s.succeeded)::bigint AS succeeded, sum(s.failed)::bigint AS failed,
       sum(s.cancelled)::bigint AS cancelled, sum(s.retried)::bigint AS retried,
       conveyor_hist_sum(s.run_hist) AS run_hist, conveyor_hist_sum(s.wait_hist) AS wait_hist
FROM unnest($1::text[], $2::timestamptz[]) AS w(span, bucket)
JOIN job_stats s ON s.span = w.span AND s.bucket = w.bucket
WHERE ($3::text IS NULL OR s.tenant = $3::text)
GROUP BY 1, 2, 3;

-- name: stats_backlog
-- Jobs queued, scheduled or retrying now, per group (as stats_window groups them).
-- $1 tenant (null: all), $2 group by
SELECT CASE WHEN $2::text IN ('queue', 'operation') THEN t.engine END AS engine,
       CASE WHEN $2::text = 'operation' THEN t.operation END AS operation,
       CASE WHEN $2::text = 'tenant' THEN t.tenant END AS tenant,
       sum(t.queued + t.scheduled + t.retrying)::bigint AS backlog
FROM job_stats_totals t
WHERE ($1::text IS NULL OR t.tenant = $1::text)
GROUP BY 1, 2, 3
HAVING sum(t.queued + t.scheduled + t.retrying) > 0;

-- name: stats_timeseries
-- Rollup rows of one span summed per step-long bucket (aligned to 2000-01-01 UTC), for one
-- tenant or all, optionally one engine and one operation.
-- $1 span, $2 first bucket start, $3 end (exclusive), $4 step in seconds, $5 tenant (null:
-- all), $6 engine (null: all), $7 operation (null: all)
SELECT date_bin(make_interval(secs => $4), s.bucket, '2000-01-01 00:00:00+00'::timestamptz) AS start,
       sum(s.submitted)::bigint AS submitted, sum(s.started)::bigint AS started,
       sum(s.succeeded)::bigint AS succeeded, sum(s.failed)::bigint AS failed,
       sum(s.cancelled)::bigint AS cancelled, sum(s.retried)::bigint AS retried,
       conveyor_hist_sum(s.run_hist) AS run_hist
FROM job_stats s
WHERE s.span = $1 AND s.bucket >= $2 AND s.bucket < $3
  AND ($5::text IS NULL OR s.tenant = $5::text)
  AND ($6::text IS NULL OR s.engine = $6::text)
  AND ($7::text IS NULL OR s.operation = $7::text)
GROUP BY 1
ORDER BY 1;

-- name: metrics_jobs
-- Cumulative counts and current gauges of every engine and operation, all tenants together.
SELECT engine, operation,
       sum(submitted)::bigint AS submitted, sum(started)::bigint AS started,
       sum(succeeded)::bigint AS succeeded, sum(failed)::bigint AS failed,
       sum(cancelled)::bigint AS cancelled, sum(retried)::bigint AS retried,
       sum(scheduled)::bigint AS scheduled, sum(waiting)::bigint AS waiting,
       sum(queued)::bigint AS queued, sum(running)::bigint AS running, sum(retrying)::bigint AS retrying
FROM job_stats_totals
GROUP BY engine, operation
ORDER BY engine, operation;

-- name: metrics_latency
-- Cumulative run and wait time histograms (with their sums in ms) of every engine.
SELECT engine, conveyor_hist_sum(run_hist) AS run_hist, sum(run_ms) AS run_ms,
       conveyor_hist_sum(wait_hist) AS wait_hist, sum(wait_ms) AS wait_ms
FROM job_stats_totals
GROUP BY engine
ORDER BY engine;

-- name: prune_stats
-- Delete one batch of rollup rows whose bucket started before the cutoff; how many went.
-- Totals are never pruned (Prometheus counters must not go down).
-- $1 retention in days, $2 batch size
WITH deleted AS (
    DELETE FROM job_stats
    WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM job_stats
        WHERE span = ANY ('{minute,hour,day}'::text[]) AND bucket < now() - make_interval(days => $1)
        LIMIT $2
        FOR UPDATE SKIP LOCKED
    ))
    RETURNING 1
)
SELECT count(*) FROM deleted;
