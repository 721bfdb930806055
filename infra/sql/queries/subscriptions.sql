-- name: lock_tenant_subscriptions
-- Serialise the creations of a tenant's subscriptions until the transaction ends (so that its
-- count cannot pass the limit), and answer how many it has.
-- $1 tenant
SELECT pg_advisory_xact_lock(hashtextextended('conveyor_subscriptions:' || $1::text, 0)),
       (SELECT count(*) FROM subscriptions WHERE tenant = $1::text) AS count;

-- name: insert_subscription
-- Store a new subscription of a tenant.
-- $1 id, $2 tenant, $3 channel, $4 url, $5 address, $6 events, $7 tags, $8 engines,
-- $9 operations, $10 description, $11 secret (webhooks only)
INSERT INTO subscriptions (id, tenant, channel, url, address, events, tags, engines, operations, description, secret)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING *;

-- name: get_subscription
-- One subscription of a tenant.
-- $1 id, $2 tenant
SELECT * FROM subscriptions WHERE id = $1 AND tenant = $2;

-- name: list_subscriptions
-- A tenant's subscriptions, newest first, after the cursor id.
-- $1 tenant, $2 cursor id, $3 limit
SELECT * FROM subscriptions
WHERE tenant = $1 AND ($2::uuid IS NULL OR id < $2::uuid)
ORDER BY id DESC
LIMIT $3;

-- name: delete_subscription
-- Delete a subscription of a tenant, and with it its deliveries (their pending jobs then
-- find no delivery and send nothing).
-- $1 id, $2 tenant
DELETE FROM subscriptions WHERE id = $1 AND tenant = $2 RETURNING id;

-- name: enable_subscription
-- Enable a subscription of a tenant again (a 410 from its receiver disabled it).
-- $1 id, $2 tenant
UPDATE subscriptions SET disabled_at = NULL, disabled_reason = NULL
WHERE id = $1 AND tenant = $2
RETURNING *;

-- name: rotate_subscription_secret
-- Give a webhook subscription of a tenant a new signing secret; nothing for other channels.
-- $1 id, $2 tenant, $3 secret
UPDATE subscriptions SET secret = $3
WHERE id = $1 AND tenant = $2 AND channel = 'webhook'
RETURNING *;

-- name: enqueue_ping
-- A `ping` delivery of a subscription of a tenant (webhook or e-mail), with the job that
-- sends it; the delivery's id.
-- $1 subscription id, $2 tenant
SELECT conveyor_enqueue_delivery(tenant, id, channel, coalesce(url, address), NULL, 'ping')
FROM subscriptions
WHERE id = $1 AND tenant = $2 AND channel IN ('webhook', 'email');

-- name: insert_ping_notice
-- A test notice in the inbox of a tenant from one of its inbox subscriptions.
-- $1 notice id, $2 tenant, $3 subscription id, $4 title, $5 body
INSERT INTO notifications (id, tenant, subscription_id, event_type, title, body)
VALUES ($1, $2, $3, 'ping', $4, $5)
RETURNING *;

-- name: get_delivery
-- One delivery of a subscription of a tenant, with its last 100 attempts (oldest first).
-- $1 delivery id, $2 subscription id, $3 tenant
SELECT d.*, coalesce(a.log, '[]') AS attempt_log
FROM deliveries d
LEFT JOIN LATERAL (
    SELECT jsonb_agg(to_jsonb(t) - 'delivery_id' ORDER BY t.attempt) AS log
    FROM (SELECT * FROM delivery_attempts WHERE delivery_id = d.id ORDER BY attempt DESC LIMIT 100) t
) a ON true
WHERE d.id = $1 AND d.subscription_id = $2 AND d.tenant = $3;

-- name: list_deliveries
-- A page of a subscription's deliveries, newest first, each with its last 100 attempts.
-- $1 subscription id, $2 tenant, $3 statuses (null: all), $4 cursor id, $5 limit
SELECT d.*, coalesce(a.log, '[]') AS attempt_log
FROM deliveries d
LEFT JOIN LATERAL (
    SELECT jsonb_agg(to_jsonb(t) - 'delivery_id' ORDER BY t.attempt) AS log
    FROM (SELECT * FROM delivery_attempts WHERE delivery_id = d.id ORDER BY attempt DESC LIMIT 100) t
) a ON true
WHERE d.subscription_id = $1 AND d.tenant = $2
  AND ($3::text[] IS NULL OR d.status = ANY($3::text[]))
  AND ($4::uuid IS NULL OR d.id < $4::uuid)
ORDER BY d.id DESC
LIMIT $5;

-- name: redeliver
-- Send a finished delivery (delivered or failed) of an enabled subscription of a tenant again,
-- under the same id, by a new notifications job; the delivery's id, or nothing if it is not
-- one such (unknown, still pending, or its subscription disabled).
-- $1 delivery id, $2 subscription id, $3 tenant
UPDATE deliveries d
SET job_id = conveyor_delivery_job(d.tenant, d.channel, d.id), status = 'pending', delivered_at = NULL
FROM subscriptions s
WHERE d.id = $1 AND d.subscription_id = $2 AND d.tenant = $3
  AND s.id = d.subscription_id AND s.disabled_at IS NULL
  AND d.status IN ('delivered', 'failed')
RETURNING d.id;

-- name: get_or_create_callback_secret
-- The secret that signs a tenant's `notify` webhooks, stored first if it has none. Empty
-- when another transaction stored one at the same moment: ask again.
-- $1 tenant, $2 a new secret
WITH made AS (
    INSERT INTO callback_secrets (tenant, secret) VALUES ($1, $2)
    ON CONFLICT (tenant) DO NOTHING
    RETURNING secret, created_at
)
SELECT secret, created_at FROM made
UNION ALL
SELECT secret, created_at FROM callback_secrets WHERE tenant = $1
LIMIT 1;

-- name: rotate_callback_secret
-- Replace the secret that signs a tenant's `notify` webhooks (made if it had none).
-- $1 tenant, $2 the new secret
INSERT INTO callback_secrets (tenant, secret) VALUES ($1, $2)
ON CONFLICT (tenant) DO UPDATE SET secret = EXCLUDED.secret, created_at = now()
RETURNING secret, created_at;
