-- name: begin_artifact
-- Start (or start again) an artifact of a running job's current attempt: an earlier copy of
-- the same name is reset (its chunks are cleared by clear_artifact_chunks). Answers nothing
-- when the job is no longer running that attempt (a lease lost, a cancellation).
-- $1 job id, $2 name, $3 content type, $4 chunk bytes, $5 attempt
INSERT INTO artifacts (job_id, name, tenant, content_type, size, sha256, chunk_bytes, attempt)
SELECT id, $2, tenant, $3, 0, '', $4, $5 FROM jobs WHERE id = $1 AND status = 'running' AND attempts = $5
ON CONFLICT (job_id, name) DO UPDATE
    SET content_type = EXCLUDED.content_type, size = 0, sha256 = '', chunk_bytes = EXCLUDED.chunk_bytes,
        attempt = EXCLUDED.attempt, created_at = now()
RETURNING job_id;

-- name: clear_artifact_chunks
-- The chunks an artifact had before begin_artifact reset it.
-- $1 job id, $2 name
DELETE FROM artifact_chunks WHERE job_id = $1 AND name = $2;

-- name: add_artifact_chunk
-- One chunk of an artifact that the attempt still owns (a stale attempt's chunk is dropped).
-- $1 job id, $2 name, $3 seq, $4 data, $5 attempt
INSERT INTO artifact_chunks (job_id, name, seq, data)
SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM artifacts WHERE job_id = $1 AND name = $2 AND attempt = $5)
RETURNING seq;

-- name: finish_artifact
-- An artifact's size and digest once every chunk is written, which makes it visible.
-- $1 job id, $2 name, $3 size, $4 sha256, $5 attempt
UPDATE artifacts SET size = $3, sha256 = $4 WHERE job_id = $1 AND name = $2 AND attempt = $5 RETURNING job_id;

-- name: list_artifacts
-- A tenant's job's finished artifacts, by name.
-- $1 job id, $2 tenant
SELECT name, content_type, size, sha256, created_at
FROM artifacts WHERE job_id = $1 AND tenant = $2 AND sha256 <> '' ORDER BY name;

-- name: get_artifact
-- One finished artifact of a tenant's job.
-- $1 job id, $2 tenant, $3 name
SELECT name, content_type, size, sha256, chunk_bytes, created_at
FROM artifacts WHERE job_id = $1 AND tenant = $2 AND name = $3 AND sha256 <> '';

-- name: artifact_chunk
-- One chunk's bytes.
-- $1 job id, $2 name, $3 seq
SELECT data FROM artifact_chunks WHERE job_id = $1 AND name = $2 AND seq = $3;

-- name: artifacts_present
-- Which of these (job id, name) pairs are finished artifacts of the tenant's jobs.
-- $1 tenant, $2 job ids, $3 names (pairwise)
SELECT a.job_id, a.name
FROM artifacts a JOIN unnest($2::uuid[], $3::text[]) AS wanted(job_id, name)
    ON a.job_id = wanted.job_id AND a.name = wanted.name
WHERE a.tenant = $1 AND a.sha256 <> '';
