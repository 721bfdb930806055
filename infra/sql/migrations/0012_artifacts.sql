-- Artifacts: the binary outputs of jobs (images, audio, video), stored in chunks so that no
-- row, and no process reading one, holds a large file whole. They belong to their job and go
-- with it (retention, deletion: ON DELETE CASCADE).
CREATE TABLE artifacts (
    job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    tenant text NOT NULL,
    content_type text NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    sha256 text NOT NULL,
    chunk_bytes integer NOT NULL CHECK (chunk_bytes > 0),
    -- the attempt that wrote it (a later attempt replaces it)
    attempt integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, name)
);

CREATE TABLE artifact_chunks (
    job_id uuid NOT NULL,
    name text NOT NULL,
    seq integer NOT NULL CHECK (seq >= 0),
    data bytea NOT NULL,
    PRIMARY KEY (job_id, name, seq),
    FOREIGN KEY (job_id, name) REFERENCES artifacts (job_id, name) ON DELETE CASCADE
);
-- media is compressed already: store chunks out of line without trying to compress them again
ALTER TABLE artifact_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
