-- name: list_notifications
-- A page of a tenant's inbox, newest first, after the cursor id.
-- $1 tenant, $2 unread only, $3 cursor id, $4 limit
SELECT * FROM notifications
WHERE tenant = $1 AND (NOT $2::boolean OR read_at IS NULL) AND ($3::uuid IS NULL OR id < $3::uuid)
ORDER BY id DESC
LIMIT $4;

-- name: count_unread_notifications
-- How many notices of a tenant's inbox are unread.
-- $1 tenant
SELECT count(*) FROM notifications WHERE tenant = $1 AND read_at IS NULL;

-- name: read_notification
-- Mark a notice of a tenant read; one read already keeps its first read_at.
-- $1 id, $2 tenant
UPDATE notifications SET read_at = coalesce(read_at, now())
WHERE id = $1 AND tenant = $2
RETURNING *;

-- name: read_all_notifications
-- Mark every unread notice of a tenant read (those up to a given id only, when one is given);
-- how many it marked.
-- $1 tenant, $2 the newest id to mark (null: all)
WITH marked AS (
    UPDATE notifications SET read_at = now()
    WHERE tenant = $1 AND read_at IS NULL AND ($2::uuid IS NULL OR id <= $2::uuid)
    RETURNING 1
)
SELECT count(*) FROM marked;
