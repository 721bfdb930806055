-- A delivery whose notifications job ended without the operation settling it (its worker kept
-- dying: worker_lost; an operator cancelled the job; a dead letter) is failed with the job,
-- so no delivery stays `pending` with nothing left to send it.
CREATE FUNCTION conveyor_delivery_job_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE deliveries SET status = 'failed'
    WHERE job_id = NEW.id AND status = 'pending';
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_delivery_ended AFTER UPDATE OF status ON jobs
    FOR EACH ROW
    WHEN (NEW.engine = 'notifications' AND NEW.status IN ('failed', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION conveyor_delivery_job_ended();
