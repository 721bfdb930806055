-- Workflow nodes pass artifacts on: `{"$ref": "<parent key>.artifacts.<name>"}` resolves, when
-- the node is queued, to `{"$artifact": "<the parent's job id>/<name>"}`, an input the worker
-- copies in (actors.sdk.JobContext.fetch_artifact). A name the parent did not make fails the
-- node at once with an error naming what it did make.

-- The status, result, job and finished artifacts of each parent of a node.
CREATE OR REPLACE FUNCTION conveyor_node_inputs(p_workflow uuid, p_parents text[]) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_object_agg(n.key, jsonb_build_object(
               'status', n.status, 'result', coalesce(n.result, j.result), 'job_id', n.job_id,
               'artifacts', (SELECT coalesce(jsonb_agg(a.name ORDER BY a.name), '[]') FROM artifacts a
                             WHERE a.job_id = n.job_id AND a.sha256 <> ''))), '{}')
    FROM workflow_nodes n LEFT JOIN jobs j ON j.id = n.job_id
    WHERE n.workflow_id = p_workflow AND n.key = ANY(p_parents)
$$;

-- The value a `$ref` names: "<parent key>.result.<path>", "<parent key>.artifacts.<name>" or
-- "$item.<path>". Raises SQLSTATE CV001 with a message for the node's error when it cannot be found.
CREATE OR REPLACE FUNCTION conveyor_lookup(ref text, inputs jsonb, item jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    parts text[] := string_to_array(ref, '.');
    base  jsonb;
    found jsonb;
BEGIN
    IF parts[1] = '$item' THEN
        IF item IS NULL THEN
            RAISE EXCEPTION '$ref "%": $item exists only in a for_each node', ref USING ERRCODE = 'CV001';
        END IF;
        base := item;
        parts := parts[2:];
    ELSE
        IF NOT coalesce(inputs ? parts[1], false) THEN
            RAISE EXCEPTION '$ref "%": "%" is not in depends_on', ref, parts[1] USING ERRCODE = 'CV001';
        END IF;
        IF inputs -> parts[1] ->> 'status' <> 'succeeded' THEN
            RAISE EXCEPTION '$ref "%": node "%" did not succeed (it is %)', ref, parts[1],
                inputs -> parts[1] ->> 'status' USING ERRCODE = 'CV001';
        END IF;
        IF parts[2] = 'artifacts' THEN
            -- an artifact name may hold dots: the rest of the reference is the name
            IF inputs -> parts[1] ->> 'job_id' IS NULL THEN
                RAISE EXCEPTION '$ref "%": node "%" ran no single job, so it has no artifacts', ref, parts[1]
                    USING ERRCODE = 'CV001';
            END IF;
            IF NOT coalesce(inputs -> parts[1] -> 'artifacts' ? array_to_string(parts[3:], '.'), false) THEN
                RAISE EXCEPTION '$ref "%": node "%" made no artifact "%" (it made: %)', ref, parts[1],
                    array_to_string(parts[3:], '.'),
                    coalesce(nullif((SELECT string_agg(value, ', ')
                                     FROM jsonb_array_elements_text(inputs -> parts[1] -> 'artifacts')), ''), 'none')
                    USING ERRCODE = 'CV001';
            END IF;
            RETURN jsonb_build_object('$artifact',
                (inputs -> parts[1] ->> 'job_id') || '/' || array_to_string(parts[3:], '.'));
        END IF;
        IF parts[2] IS DISTINCT FROM 'result' THEN
            RAISE EXCEPTION '$ref "%": write "%.result.<path>" or "%.artifacts.<name>"', ref, parts[1], parts[1]
                USING ERRCODE = 'CV001';
        END IF;
        base := inputs -> parts[1] -> 'result';
        parts := parts[3:];
    END IF;
    found := base #> parts;
    IF found IS NULL THEN
        RAISE EXCEPTION '$ref "%": no such value in the result', ref USING ERRCODE = 'CV001';
    END IF;
    RETURN found;
END
$$;
