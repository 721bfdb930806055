-- name: get_delivery_to_send
-- A delivery with what sending it takes: the subscription's secret and state, the event's
-- data and time, and the notice text of the event (title, body).
-- $1 delivery id
SELECT d.id, d.tenant, d.subscription_id, d.channel, d.target, d.event_id, d.event_type, d.job_id,
       d.status, d.attempts, d.created_at,
       s.secret AS subscription_secret, s.disabled_at AS subscription_disabled_at,
       s.description AS subscription_description,
       e.data AS event_data, e.created_at AS event_at, e.job_id AS event_job_id,
       e.workflow_id AS event_workflow_id,
       n.title, n.body
FROM deliveries d
LEFT JOIN subscriptions s ON s.id = d.subscription_id
LEFT JOIN events e ON e.id = d.event_id
LEFT JOIN LATERAL conveyor_event_notice(d.event_type, coalesce(e.data, '{}'::jsonb)) n ON true
WHERE d.id = $1;

-- name: record_delivery_attempt
-- Write one attempt of a pending delivery and the delivery's new state, together; nothing
-- when the delivery is no longer pending (an attempt already settled it). The attempt number.
-- $1 delivery id, $2 new status (pending, delivered, failed), $3 attempt time,
-- $4 status code (null: none came), $5 error (null: none), $6 duration in ms
WITH d AS (
    UPDATE deliveries
    SET attempts = attempts + 1, status = $2, last_attempt_at = $3,
        delivered_at = CASE WHEN $2 = 'delivered' THEN $3 ELSE delivered_at END
    WHERE id = $1 AND status = 'pending'
    RETURNING id, attempts
)
INSERT INTO delivery_attempts (delivery_id, attempt, at, status_code, error, duration_ms)
SELECT d.id, d.attempts, $3, $4, $5, $6 FROM d
RETURNING attempt;

-- name: disable_subscription
-- Disable a subscription (once) and tell its tenant in the inbox. The notice's id, or nothing
-- if it was already disabled or is gone.
-- $1 subscription id, $2 reason, $3 notice title, $4 notice body
WITH s AS (
    UPDATE subscriptions SET disabled_at = now(), disabled_reason = $2
    WHERE id = $1 AND disabled_at IS NULL
    RETURNING id, tenant
)
INSERT INTO notifications (id, tenant, subscription_id, event_type, title, body)
SELECT conveyor_uuid7(), s.tenant, s.id, 'subscription.disabled', $3, $4 FROM s
RETURNING id;
