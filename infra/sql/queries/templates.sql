-- name: lock_template_name
-- Serialize the saving of one template name of a tenant until the transaction ends.
-- $1 tenant, $2 name
SELECT pg_advisory_xact_lock(hashtextextended('conveyor_template:' || $1 || ':' || $2, 0));

-- name: latest_template
-- The newest version of a tenant's template, or nothing.
-- $1 tenant, $2 name
SELECT t.*, t.version AS latest_version
FROM job_templates t
WHERE t.tenant = $1 AND t.name = $2
ORDER BY t.version DESC
LIMIT 1;

-- name: insert_template
-- Save a new version of a template (the caller holds lock_template_name).
-- $1 tenant, $2 name, $3 version, $4 description, $5 body
INSERT INTO job_templates (tenant, name, version, description, body)
VALUES ($1, $2, $3, $4, $5)
RETURNING *, version AS latest_version;

-- name: get_templates
-- Versions of a tenant's templates, each named with a version (or null: its latest), and each
-- template's newest version number.
-- $1 tenant, $2 names, $3 versions (nulls for the latest)
SELECT t.*, latest.version AS latest_version, wanted.position
FROM unnest($2::text[], $3::integer[]) WITH ORDINALITY AS wanted(name, version, position)
JOIN LATERAL (
    SELECT max(version) AS version FROM job_templates WHERE tenant = $1 AND name = wanted.name
) latest ON true
JOIN job_templates t
  ON t.tenant = $1 AND t.name = wanted.name AND t.version = coalesce(wanted.version, latest.version)
ORDER BY wanted.position;

-- name: list_templates
-- A tenant's templates at their latest version, by name, after a name.
-- $1 tenant, $2 the name to continue after (or null), $3 limit
SELECT DISTINCT ON (t.name) t.*, t.version AS latest_version
FROM job_templates t
WHERE t.tenant = $1 AND ($2::text IS NULL OR t.name > $2)
ORDER BY t.name, t.version DESC
LIMIT $3;

-- name: list_template_versions
-- Every version of a tenant's template, newest first.
-- $1 tenant, $2 name
SELECT t.*, max(t.version) OVER () AS latest_version
FROM job_templates t
WHERE t.tenant = $1 AND t.name = $2
ORDER BY t.version DESC;

-- name: delete_template
-- Delete every version of a tenant's template (jobs made from it keep its name); how many.
-- $1 tenant, $2 name
WITH deleted AS (DELETE FROM job_templates WHERE tenant = $1 AND name = $2 RETURNING 1)
SELECT count(*) FROM deleted;
