-- Dead letters: the failed jobs operators look at, replay or purge.
--
-- A failed job is a dead letter until it runs again or its dead letter is purged. Purging
-- stamps `dead_letter_purged_at`; the job stays `failed`. The stamp hides only the failure it
-- follows: should the job be retried and fail again later, its new failure (a later
-- finished_at) is a dead letter again. Writing the stamp changes no status, so the job
-- trigger does not fire for it.
ALTER TABLE jobs ADD COLUMN dead_letter_purged_at timestamptz;

-- The listings, newest failure first: one tenant's, and every tenant's (for admin keys).
-- Partial: only failed jobs not purged are in them, so neither grows with all jobs.
CREATE INDEX jobs_dead_letters ON jobs (tenant, finished_at DESC, id DESC)
    WHERE status = 'failed' AND (dead_letter_purged_at IS NULL OR dead_letter_purged_at < finished_at);
CREATE INDEX jobs_dead_letters_all ON jobs (finished_at DESC, id DESC)
    WHERE status = 'failed' AND (dead_letter_purged_at IS NULL OR dead_letter_purged_at < finished_at);

-- A replay paced by max_per_second schedules each job for its second; the scheduler queues
-- it then, as any scheduled job (so a crash of the gateway cannot lose the rest of a replay).
-- schemas/jobs.py TRANSITIONS holds the same table.
INSERT INTO job_transitions (from_status, to_status) VALUES ('failed', 'scheduled');
