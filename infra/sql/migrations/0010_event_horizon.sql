-- What the event hub needs to know of running transactions (infra/event_order.py): the next
-- transaction id to be handed out, and how far below it the oldest transaction of THIS
-- database that holds an id lies (0 when none does). A transaction of another database can
-- hold no event id, so it must not hold the streams up as the cluster-wide snapshot xmin would.
CREATE FUNCTION conveyor_xid_horizon(OUT next_xid bigint, OUT oldest_age bigint)
LANGUAGE sql STABLE AS $$
    SELECT n.next_xid,
           coalesce((SELECT max(a) FROM (
                SELECT age(backend_xid) AS a FROM pg_stat_activity
                WHERE datname = current_database() AND backend_xid IS NOT NULL
                UNION ALL
                SELECT age(transaction) FROM pg_prepared_xacts WHERE database = current_database()
           ) running), 0)::bigint
    FROM (SELECT x::text::bigint + age(xid(x)) AS next_xid
          FROM pg_snapshot_xmin(pg_current_snapshot()) AS x) AS n
$$;
