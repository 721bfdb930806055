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
-- moment they were read: the oldest still running (the snapshot's xmin) and the next to be
-- handed out (xmin + age(xmin): age() reads the next id without taking one; the snapshot's own
-- xmax is only one past the latest completed, below ids already taken). One row with null
-- event fields when there is no event. Only the events of tenants somebody follows carry
-- their fields (the others pass by as id and tenant: nobody decodes what nobody reads).
-- $1 after event id, $2 limit, $3 the tenants with subscribers
SELECT s.xmin, s.next_xid, e.id, e.tenant,
       CASE WHEN e.tenant = ANY($3::text[]) THEN e.type END AS type,
       CASE WHEN e.tenant = ANY($3::text[]) THEN e.job_id END AS job_id,
       CASE WHEN e.tenant = ANY($3::text[]) THEN e.workflow_id END AS workflow_id,
       CASE WHEN e.tenant = ANY($3::text[]) THEN e.tags END AS tags,
       CASE WHEN e.tenant = ANY($3::text[]) THEN e.data END AS data,
       CASE WHEN e.tenant = ANY($3::text[]) THEN e.created_at END AS created_at
FROM (SELECT x::text::bigint AS xmin, x::text::bigint + age(xid(x)) AS next_xid
      FROM pg_snapshot_xmin(pg_current_snapshot()) AS x) AS s
LEFT JOIN LATERAL (
    SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2
) AS e ON true
ORDER BY e.id;

-- name: hub_event_rows
-- Whole events by id: those a read passed by as id and tenant whose tenant gained a
-- subscriber while the read ran.
-- $1 event ids
SELECT id, tenant, type, job_id, workflow_id, tags, data, created_at FROM events WHERE id = ANY($1::bigint[]);

-- name: hub_horizon
-- The oldest transaction of THIS database still running (the next to be handed out when none
-- is): asked before a read of the log, every transaction below it ended before that read's
-- snapshot, so the read sees all it wrote. Transactions of other databases can hold no event
-- id; this lets a gap settle while one of them holds the cluster's snapshot xmin back.
SELECT db_xmin FROM conveyor_xid_horizon();

-- name: hub_start
-- Where the hub starts: the newest event id, and the next transaction id to be handed out then.
SELECT coalesce((SELECT max(id) FROM events), 0) AS last_id, x::text::bigint + age(xid(x)) AS next_xid
FROM pg_snapshot_xmin(pg_current_snapshot()) AS x;

-- name: wake_event_streams
-- Wake the gateways' event hubs, after a commit whose triggers deferred it.
SELECT pg_notify('conveyor_events', '');
