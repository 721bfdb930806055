-- The public event log: listings, stream catch-up and the gateway's event hub.

-- name: list_events
-- A tenant's events after an event id (and at most `until`), oldest first, with optional filters.
-- $1 tenant, $2 after event id, $3 until event id (null: no bound), $4 limit,
-- $5 job id, $6 workflow id, $7 tags (all required), $8 types or patterns (any)
SELECT id, type, job_id, workflow_id, tags, data, created_at
FROM events
WHERE tenant = $1
  AND id > $2
  AND ($3::bigint IS NULL OR id <= $3::bigint)
  AND ($5::uuid IS NULL OR job_id = $5::uuid)
  AND ($6::uuid IS NULL OR workflow_id = $6::uuid)
  AND ($7::text[] IS NULL OR tags @> $7::text[])
  AND ($8::text[] IS NULL OR conveyor_event_matches($8::text[], type))
ORDER BY id
LIMIT $4;

-- name: hub_events
-- Every tenant's events after the hub's cursor, oldest first, with two transaction ids of the
-- moment they were read: the next to be handed out (xmin + age(xmin): age() reads the next id
-- without taking one; the snapshot's own xmax is only one past the latest completed, below ids
-- already taken), and the oldest still running IN THIS DATABASE (the next one when none is):
-- only those can hold an event id, so a long transaction in another database of the cluster
-- holds nothing up. Prepared transactions count too. One row with null event fields when
-- there is no event.
-- $1 after event id, $2 limit
SELECT s.next_xid - s.oldest_age AS xmin, s.next_xid,
       e.id, e.tenant, e.type, e.job_id, e.workflow_id, e.tags, e.data, e.created_at
FROM conveyor_xid_horizon() AS s
LEFT JOIN LATERAL (
    SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2
) AS e ON true
ORDER BY e.id;

-- name: hub_start
-- Where the hub starts: the newest event id, and the next transaction id to be handed out then.
SELECT coalesce((SELECT max(id) FROM events), 0) AS last_id, s.next_xid
FROM conveyor_xid_horizon() AS s;
