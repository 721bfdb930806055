-- name: insert_ui_session
-- Store a new dashboard session (the hash of its id only).
-- $1 id hash, $2 key id, $3 csrf token, $4 expires at
INSERT INTO ui_sessions (id_hash, key_id, csrf_token, expires_at)
VALUES ($1, $2, $3, $4);

-- name: find_ui_session
-- The key, tenant, scopes and csrf token of a live session whose key still works.
-- $1 id hash
SELECT s.csrf_token, k.id AS key_id, k.tenant, k.scopes
FROM ui_sessions s
JOIN api_keys k ON k.id = s.key_id
WHERE s.id_hash = $1 AND s.expires_at > now() AND k.revoked_at IS NULL;

-- name: delete_ui_session
-- Sign out: forget one session.
-- $1 id hash
DELETE FROM ui_sessions WHERE id_hash = $1;

-- name: delete_expired_ui_sessions
-- Forget sessions past their expiry (done at each sign-in).
DELETE FROM ui_sessions WHERE expires_at <= now();
