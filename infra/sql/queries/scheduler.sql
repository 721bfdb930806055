-- name: try_leader_lock
-- Become the scheduler leader if nobody is (held until this session ends).
-- $1 lock key
SELECT pg_try_advisory_lock($1);
