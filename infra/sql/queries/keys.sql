-- name: insert_api_key
-- Store a new API key (its hash only).
-- $1 id, $2 tenant, $3 name, $4 prefix, $5 key hash, $6 scopes
INSERT INTO api_keys (id, tenant, name, prefix, key_hash, scopes)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id, tenant, name, prefix, scopes, created_at, revoked_at;

-- name: find_api_key
-- The tenant and scopes of a live key, by the hash of its secret.
-- $1 key hash
SELECT id, tenant, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL;

-- name: api_key_is_live
-- Whether a key still works (an open stream asks now and then).
-- $1 id
SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = $1 AND revoked_at IS NULL);

-- name: list_api_keys
-- Every key, or those of one tenant, newest first.
-- $1 tenant (null: all)
SELECT id, tenant, name, prefix, scopes, created_at, revoked_at
FROM api_keys
WHERE $1::text IS NULL OR tenant = $1::text
ORDER BY created_at DESC;

-- name: revoke_api_key
-- Revoke a key by id.
-- $1 id
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
WHERE id = $1
RETURNING id, tenant, name, prefix, scopes, created_at, revoked_at;
