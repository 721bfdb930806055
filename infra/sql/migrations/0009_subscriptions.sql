-- Deliveries made outside the fan-out (a subscription's ping, a redelivery) take the same
-- shape as those of events: one function makes the notifications job that sends a delivery,
-- one makes a delivery and its job; conveyor_deliver (0008) now calls them.

-- A notifications job of `p_tenant` that sends delivery `p_delivery` over `p_channel`; its id.
-- max_retries is a ceiling only: the delivery's operation keeps its own retry schedule.
CREATE FUNCTION conveyor_delivery_job(p_tenant text, p_channel text, p_delivery uuid)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    job uuid := conveyor_uuid7();
BEGIN
    INSERT INTO jobs (id, tenant, engine, operation, status, priority, params, max_retries,
                      retry_backoff_seconds, retry_backoff_max_seconds, timeout_seconds, queued_at)
    VALUES (job, p_tenant, 'notifications', p_channel, 'queued', 5,
            jsonb_build_object('delivery_id', p_delivery), 100, 5, 36000, 120, now());
    RETURN job;
END
$$;

-- A delivery (of event `p_event_id`, or of a ping when null) and the job that sends it; its id.
CREATE FUNCTION conveyor_enqueue_delivery(p_tenant text, p_subscription uuid, p_channel text, p_target text,
                                          p_event_id bigint, p_event_type text)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    delivery uuid := conveyor_uuid7();
BEGIN
    INSERT INTO deliveries (id, tenant, subscription_id, channel, target, event_id, event_type, job_id)
    VALUES (delivery, p_tenant, p_subscription, p_channel, p_target, p_event_id, p_event_type,
            conveyor_delivery_job(p_tenant, p_channel, delivery));
    RETURN delivery;
END
$$;

-- As in 0008, through the functions above.
CREATE OR REPLACE FUNCTION conveyor_deliver(ev events, p_subscription uuid, p_channel text, p_target text)
RETURNS void LANGUAGE sql AS $$
    SELECT conveyor_enqueue_delivery(ev.tenant, p_subscription, p_channel, p_target, ev.id, ev.type);
$$;
