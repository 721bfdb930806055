-- Cron schedules, and the jobs they create: one job per (schedule, fire time).

CREATE TABLE schedules (
    id           uuid PRIMARY KEY,
    tenant       text NOT NULL,
    name         text NOT NULL,
    -- 5 fields, or 6 with seconds first; read in `timezone` (an IANA name)
    cron         text NOT NULL,
    timezone     text NOT NULL,
    -- the job body as submitted (schemas.jobs.JobSubmit), checked again at every fire time
    job          jsonb NOT NULL,
    enabled      boolean NOT NULL DEFAULT true,
    -- the fire time the next job will carry; in the past while no scheduler runs
    next_run_at  timestamptz,
    -- when the schedule last created a job, and which
    last_run_at  timestamptz,
    last_job_id  uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT enabled OR next_run_at IS NOT NULL)
);
CREATE INDEX schedules_tenant_id ON schedules (tenant, id DESC);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled;

-- A job keeps the schedule that made it after the schedule is deleted: no foreign key.
ALTER TABLE jobs ADD COLUMN schedule_id uuid, ADD COLUMN fire_time timestamptz;
-- Each fire time of a schedule yields at most one job, whichever scheduler fires it.
CREATE UNIQUE INDEX jobs_schedule_fire ON jobs (schedule_id, fire_time) WHERE schedule_id IS NOT NULL;
