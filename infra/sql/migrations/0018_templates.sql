-- Job templates: a tenant's named job bodies, versioned. Saving a changed body under a name adds
-- its next version; every version stays readable, and a job names the one it was made from.
CREATE TABLE job_templates (
    tenant      text NOT NULL,
    name        text NOT NULL,
    version     integer NOT NULL CHECK (version > 0),
    description text NOT NULL DEFAULT '',
    body        jsonb NOT NULL,  -- the job body (schemas.templates.template_body)
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, name, version)
);

ALTER TABLE jobs ADD COLUMN template text;  -- `name@<version>` of the template it was made from
