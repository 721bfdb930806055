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

-- As in 0002, and each item job of a for_each node takes its node's retry_on (0017) and the
-- template version the node was made from.
CREATE OR REPLACE FUNCTION conveyor_node_expand(w workflows, node workflow_nodes, inputs jsonb, due timestamptz)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    items jsonb := conveyor_lookup(node.for_each, inputs, NULL);
    t     jsonb := node.template;
    n     integer;
BEGIN
    IF jsonb_typeof(items) <> 'array' THEN
        RAISE EXCEPTION 'for_each "%": the value is %, not a list', node.for_each, jsonb_typeof(items)
            USING ERRCODE = 'CV001';
    END IF;
    n := jsonb_array_length(items);
    IF n > 10000 THEN
        RAISE EXCEPTION 'for_each "%": % items, more than the 10000 one node may run', node.for_each, n
            USING ERRCODE = 'CV001';
    END IF;
    UPDATE workflow_nodes SET items_total = n, items_left = n WHERE workflow_id = w.id AND key = node.key;
    IF n = 0 THEN
        RETURN jsonb_build_object('key', node.key, 'status', 'succeeded', 'result', '[]'::jsonb);
    END IF;
    INSERT INTO jobs (id, tenant, engine, operation, status, priority, params, max_retries,
                      retry_backoff_seconds, retry_backoff_max_seconds, timeout_seconds, tags,
                      metadata, run_at, workflow_id, node_key, item_index, retry_on, template)
    SELECT conveyor_uuid7(), w.tenant, t ->> 'engine', t ->> 'operation',
           CASE WHEN due IS NULL THEN 'queued' ELSE 'scheduled' END::job_status,
           (t ->> 'priority')::smallint, conveyor_resolve(t -> 'params', inputs, e.item),
           (t ->> 'max_retries')::integer, (t ->> 'retry_backoff_seconds')::float8,
           (t ->> 'retry_backoff_max_seconds')::float8, (t ->> 'timeout_seconds')::float8,
           ARRAY(SELECT jsonb_array_elements_text(t -> 'tags')), t -> 'metadata', due,
           w.id, node.key, (e.ord - 1)::integer,
           CASE WHEN jsonb_typeof(t -> 'retry_on') = 'array'
                THEN ARRAY(SELECT jsonb_array_elements_text(t -> 'retry_on')) END,
           t ->> 'template'
    FROM jsonb_array_elements(items) WITH ORDINALITY AS e(item, ord);
    RETURN NULL;
END
$$;
